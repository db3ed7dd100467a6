"""Metrics and figures computed from predictions and targets, by kind of prediction;
the output kinds (:mod:`smartml.outputs`) and the tasks call them, and nothing here
reads or writes a run.

- :mod:`~smartml.metrics.binning`: the one helper for every per-bin quantity
  (edges, bin assignment, a function per bin -> DataFrame);
- :mod:`~smartml.metrics.point_regression`: bias, RMS, robust width, relative
  error and ratio of a point regression, per bin, and its figures;
- :mod:`~smartml.metrics.gaussian`: pulls, coverage, d² calibration and residual
  profiles of a Gaussian (MDN) regression; :mod:`~smartml.metrics.gaussian_plots`
  its figures;
- :mod:`~smartml.metrics.history_plots`: loss and learning rate per epoch;
- :mod:`~smartml.metrics.classification`: ROC and AUC, operating points,
  confusion matrix, efficiency per bin with Clopper–Pearson intervals, figures;
- :mod:`~smartml.metrics.figures`: shared figure helpers, ``save_figures``;
- :mod:`~smartml.metrics.summary`: ``SummaryMetric``, the numbers a task declares
  for comparisons, and their table.

Plot functions return :class:`matplotlib.figure.Figure` objects; errors are one-line
:class:`~smartml.metrics.checks.EvaluationError` (a ``SmartmlError``). Metrics of one
task only live in that task's package (e.g. :mod:`smartml.tasks.rich_pid.pid_efficiency`).
"""
