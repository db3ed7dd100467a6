"""Output kinds: what a model's output vector means.

A task declares one (:attr:`smartml.tasks.base.Task.output`); the kind brings the
loss, the decoding of raw outputs into predictions, and the metrics and figures of
that kind of prediction (computed by :mod:`smartml.evaluation`):

- :class:`~smartml.outputs.gaussian_mdn.GaussianMDN`: a k-dimensional Gaussian (mean
  and full covariance through a Cholesky factor), judged by resolution, pulls,
  coverage and d²;
- :class:`~smartml.outputs.point_regression.PointRegression`: k values, judged by
  bias, RMS, robust width and relative error;
- :class:`~smartml.outputs.logits.Logits`: class scores, judged by ROC/AUC, confusion
  matrix, efficiencies per bin at operating points.
"""
