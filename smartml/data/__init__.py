"""Data: detector simulators, file readers and the tf.data input pipelines."""
