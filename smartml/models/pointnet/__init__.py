"""A quantized PointNet for point clouds with a padding mask (see :mod:`.builder`)."""
