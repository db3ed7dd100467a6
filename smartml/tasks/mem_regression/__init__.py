"""The Matrix-Element-Method weight, learnt (the DeepMEM seed).

``schema`` (the data section: events, weights, features, the built-in generator and
integrator settings), ``weight_files`` (reading aligned weight trees, integrating and
caching the built-in weights), ``task`` (targets −log10 w, evaluation of the weight and
the speed-up). This file imports nothing, so that config validation can import
``schema`` without TensorFlow.
"""
