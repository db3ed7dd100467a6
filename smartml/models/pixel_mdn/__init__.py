"""The quantized Mixture Density Network of the smart-pixels design.

``schema`` holds its configuration (imports no TensorFlow; registers ``pixel_mdn``),
``builder`` the Keras/QKeras network, imported only when a model is built.
"""
