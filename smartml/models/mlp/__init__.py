"""A multilayer perceptron for tabular inputs, float or quantized (see :mod:`.builder`)."""
