"""Model builders, registered by name in :data:`smartml.registry.MODELS`.

Each model is a package with a ``schema`` module (its ``model`` section, registered
with the dotted path of its builder; no TensorFlow) and a ``builder`` module (Keras)
whose builder is a :class:`~smartml.models.contract.ModelBuilder`. The packages are
found by scanning this folder (:func:`smartml.config.registered.fill_registries`),
which imports the schemas only; a builder is imported when
:func:`~smartml.models.contract.builder_of` first asks for it. Saved models load with
:func:`smartml.models.saved.load_model`.
"""
