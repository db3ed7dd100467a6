"""Hardware knowledge shared by training, export and analysis.

* :mod:`~smartml.hardware.registry`: the one registry of layer handlers
  (``@layer_handler``); :func:`~smartml.hardware.registry.supported_layers`;
* :mod:`~smartml.hardware.handlers`: one module per layer family: precision rule,
  weight tensors, multiplication groups, resource estimate, pass-through-ness;
* :mod:`~smartml.hardware.cost`: quantized sparsity, MACs, BOPs (reports and MDMM);
* :mod:`~smartml.hardware.precision`: fixed-point types of QKeras quantizers;
* :mod:`~smartml.hardware.fixed_point`: fixed-point types and their numpy emulation;
* :mod:`~smartml.hardware.resource_estimate`: latency and LUTs without vendor tools;
* :mod:`~smartml.hardware.graph`: the functional graph as the layer walks read it.
"""
