"""Evaluation of complete runs: a run's model on its test split, metrics.json, figures
and tables written into the run (:mod:`~smartml.evaluation.run`), and several runs
compared through their task's summary metrics
(:mod:`~smartml.evaluation.run_comparison`).

The numbers themselves are computed in :mod:`smartml.metrics` and by the tasks.
"""
