"""Evaluation of trained models by output kind: metrics, figures, comparisons.

- :mod:`~smartml.evaluation.binning`: the one helper for every per-bin quantity
  (edges, bin assignment, a function per bin -> DataFrame);
- :mod:`~smartml.evaluation.point_regression`: bias, RMS, robust width, relative
  error and ratio of a point regression, per bin, and its figures;
- :mod:`~smartml.evaluation.gaussian`: pulls, coverage, d² calibration and residual
  profiles of a Gaussian (MDN) regression; :mod:`~smartml.evaluation.gaussian_plots`
  its figures;
- :mod:`~smartml.evaluation.history_plots`: loss and learning rate per epoch;
- :mod:`~smartml.evaluation.classification`: ROC and AUC, operating points,
  confusion matrix, efficiency per bin with Clopper–Pearson intervals, figures;
- :mod:`~smartml.evaluation.pid_efficiency`: a binary identification (pion against
  muon) by a network beside a baseline, per momentum bin at three operating points
  (global threshold, target efficiency, the baseline's efficiency per bin), ROC per
  range, figures with both on the same axes, predictions file;
- :mod:`~smartml.evaluation.figures`: shared figure helpers, ``save_figures``;
- :mod:`~smartml.evaluation.summary`: ``SummaryMetric``, the numbers a task declares
  for comparisons; :mod:`~smartml.evaluation.run_comparison`: table and plot of
  several runs through them;

Plot functions return :class:`matplotlib.figure.Figure` objects; errors are one-line
:class:`~smartml.evaluation.checks.EvaluationError` (a ``SmartmlError``).
"""
