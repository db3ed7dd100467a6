"""Signal/background classification of events in ROOT ntuples (the NN-trainer seed).

``schema`` (the data section: samples, features, class weighting), ``task`` (reading,
weighting, feature validation, evaluation with an overtraining check). This file
imports nothing, so that config validation can import ``schema`` without TensorFlow.
"""
