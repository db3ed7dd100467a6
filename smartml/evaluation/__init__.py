"""Evaluation of trained models: metrics, plots and classic baselines.

- :mod:`smartml.evaluation.regression_metrics`: resolution, pulls, covariance
  calibration (Mahalanobis d²) and residual profiles of a Gaussian regression;
- :mod:`smartml.evaluation.regression_plots`: the matching PNG plots and the
  training-history plot.

Task-specific baselines live in their task's package (e.g.
:mod:`smartml.tasks.smart_pixels.centroid_baseline`).
"""
