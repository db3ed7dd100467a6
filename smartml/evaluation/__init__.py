"""Evaluation of trained models: metrics, plots and classic baselines.

- :mod:`smartml.evaluation.regression_metrics`: resolution, pulls, covariance
  calibration (Mahalanobis d²) and residual profiles of a Gaussian regression;
- :mod:`smartml.evaluation.regression_plots`: the matching PNG plots and the
  training-history plot;
- :mod:`smartml.evaluation.centroid_baseline`: the charge-centroid position
  estimate that a smart-pixel network has to beat.
"""
