"""Task-independent data machinery: what every detector task's data code builds on.

- :mod:`smartml.data.chunks`: :class:`~smartml.data.chunks.Chunk` (a piece of a file
  read whole) and the seeded train/validation/test split of chunks, with caps;
- :mod:`smartml.data.source`: the :class:`~smartml.data.source.ChunkSource` protocol
  a task's reader implements (named input specs, target spec, one chunk at a time);
- :mod:`smartml.data.pipeline`: the streaming, shuffled tf.data pipeline of
  ``(inputs dict, targets)`` batches over any chunk source;
- :mod:`smartml.data.cache`: generated datasets cached per settings, published
  atomically, and :class:`~smartml.data.cache.GeneratorCache`, how each generator
  (pixel and RICH simulators, collider events) keys, writes and finds its datasets;
- :mod:`smartml.data.scaling`: target standardisation fitted on the training split.

A task's own readers, simulators and normalisations live in its package
(``smartml/tasks/<task>/``). Only ``pipeline`` imports TensorFlow.
"""
