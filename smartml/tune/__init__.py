"""Hyperparameter search with Optuna: ``python -m smartml.tune`` (see :mod:`smartml.tune.__main__`).

The ``tune`` section of a run configuration (:mod:`smartml.config.tune`) gives the
search space and the objectives; :mod:`smartml.tune.search` checks them before any
trial, :mod:`smartml.tune.worker` runs trials as run directories,
:mod:`smartml.tune.results` reports the best trial or the Pareto front.
"""
