"""The arithmetic of the layer handlers' RTL rules (``trace``): QKeras' rounding and
means on da4ml arrays (:mod:`~smartml.hardware.rtl.arithmetic`), convolution and
pooling windows (:mod:`~smartml.hardware.rtl.windows`). The Verilog project, its
simulation and synthesis are export's (:mod:`smartml.export.rtl`)."""
