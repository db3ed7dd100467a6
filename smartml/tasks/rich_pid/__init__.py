"""RICH particle identification: pion or muon from the hits of a Cherenkov ring.

The task's vertical package: ``layout`` (the NA62 RICH HDF5 layout and PMT table),
``physics`` (Cherenkov angle, ring radius and thresholds in NA62's neon RICH), and
the modules built on them (schema, reader, simulator, ring-fit baseline, task). This
file imports nothing, so that config validation can import ``schema`` without
TensorFlow.
"""
