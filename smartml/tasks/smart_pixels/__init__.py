"""Smart pixels: the task package (schema, readers, simulator, baselines, the task).

Imports no TensorFlow: the configuration loader imports :mod:`.schema` from here.
"""
