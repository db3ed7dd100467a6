"""Collider physics for the ROOT-ntuple tasks: LO parton densities (GRV94 LO), the
Drell–Yan matrix element, and event generators writing ROOT ntuples.

Imports no TensorFlow.
"""
