"""A Dynamic Graph CNN for point clouds with a padding mask (see :mod:`.builder`)."""
