"""The simulator of ``example_waves`` (numpy only)."""

import numpy as np


def simulate(n_examples: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_examples`` features ``x`` uniform in ``[-1, 1]²`` and targets
    ``sin(π·x0)·x1 + noise``.

    Returns:
        features ``(n, 2)`` and targets ``(n, 1)``, float32.

    >>> features, targets = simulate(4, 0.0, seed=1)
    >>> features.shape, targets.shape
    ((4, 2), (4, 1))
    """
    rng = np.random.default_rng(seed)
    features = rng.uniform(-1, 1, (n_examples, 2))
    targets = np.sin(np.pi * features[:, :1]) * features[:, 1:]
    targets += rng.normal(0, noise, targets.shape)
    return features.astype(np.float32), targets.astype(np.float32)
