"""A LO density that kills the worker process integrating a high-mass event (pT above
100 GeV in the dimuon's rest frame), as a segmentation fault or the kernel's
out-of-memory killer would: for the Dask engine's tests, importable by the workers of
a LocalCluster (``tests/`` is on their ``sys.path``, inherited from the test process).
"""

import os

import numpy as np

from smartml.collider.matrix_element_method import DrellYanDensity


class ProcessKillingDensity:
    """``DrellYanDensity``, except that the process exits at once (no exception, no
    clean-up) when asked for a dimuon of pT above 100 GeV."""

    def __init__(self) -> None:
        self.density = DrellYanDensity()

    def __call__(self, pt: np.ndarray, eta1: np.ndarray, eta2: np.ndarray) -> np.ndarray:
        if np.any(pt > 100.0):
            os._exit(70)
        return self.density(pt, eta1, eta2)
