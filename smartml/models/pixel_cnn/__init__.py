"""A float convolutional network for smart-pixel clusters: the reference that measures
the resolution the clusters allow (no quantization, not exportable).

``schema`` holds its configuration (imports no TensorFlow; registers ``pixel_cnn``),
``builder`` the Keras network, imported only when a model is built.
"""
