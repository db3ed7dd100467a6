"""A quantized DeepSets network for point clouds with a padding mask (see :mod:`.builder`)."""
