"""The smart-pixel MDN on charge profiles: the cluster's row and column sums.

``schema`` holds its configuration (imports no TensorFlow; registers
``pixel_profile_mdn``), ``builder`` the Keras/QKeras network, imported only when a model
is built.
"""
