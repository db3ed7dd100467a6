"""Smart pixels: track position and angles, with a full covariance, from one cluster.

The task's vertical package: ``schema`` (the ``data`` section, registered in
:data:`smartml.registry.TASKS`; no TensorFlow), ``layout`` (the public parquet
layout), ``parquet_reader`` (a :class:`~smartml.data.source.ChunkSource` over it),
``simulator`` (the built-in sensor simulator, cached), ``normalization`` (pixel charge
scale and target standardisation), ``centroid_baseline`` (the classic position
estimate) and ``task`` (the :class:`~smartml.tasks.base.Task`). This file imports
nothing, so that config validation can import ``schema`` without TensorFlow.
"""
