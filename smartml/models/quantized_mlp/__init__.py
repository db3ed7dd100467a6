"""A quantized multilayer perceptron for tabular inputs (see :mod:`.builder`)."""
