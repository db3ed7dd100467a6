"""An example smartml plugin: a task, a model and an exportable layer.

smartml imports this package through its entry point (group ``smartml.plugins``);
importing it registers what it adds, without TensorFlow (validating a configuration
stays light):

- ``schema``: the task ``example_waves`` (its ``data`` section) and the model
  ``example_qdense`` (its ``model`` section);
- ``handler``: the export and cost rules of the layer
  :class:`~smartml_plugin_example.layer.PowerOfTwoScale`, registered by name.

The implementations (``task``, ``builder``, ``layer``: TensorFlow) are imported when
smartml first asks for them.
"""

from smartml_plugin_example import handler, schema  # noqa: F401  (imported to register)
