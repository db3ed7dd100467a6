"""Detector tasks, registered by name in :data:`smartml.registry.TASKS`.

A task owns what is specific to one detector problem: where its data come from, how
they are normalised, its loss, and how a trained model is judged (metrics, plots,
baselines). Each task is a package ``smartml/tasks/<task>/``, found by scanning this
folder (:func:`smartml.config.registered.fill_registries`): only its ``schema``
module is imported then (it registers the task without importing TensorFlow), the
task class on first use. The trainer sees only the :class:`~smartml.tasks.base.Task`
interface.
"""
