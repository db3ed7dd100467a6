"""Export trained runs to firmware: hls4ml projects verified bit for bit against QKeras.

``python -m smartml.export [RUN_DIR] --hls`` (:mod:`smartml.export.__main__`) calls
:func:`smartml.export.exporter.export_run`. The pieces, in pipeline order:

* :mod:`~smartml.export.qkeras_precision`: per-layer hls4ml precisions from the QKeras
  quantizers, with exact accumulators, walking the graph with the layer handlers of
  :mod:`smartml.hardware` (which also hold fixed-point types and resource estimates);
* :mod:`~smartml.export.firmware_graph`: backend-specific additions to the graph that
  change no value;
* :mod:`~smartml.export.hls4ml_keras2`: the one call into hls4ml's Keras-2 converter;
* :mod:`~smartml.export.verification`: bit-for-bit comparison;
* :mod:`~smartml.export.vendor_build`: ``--build`` with Vitis, Vivado or Catapult.
"""
