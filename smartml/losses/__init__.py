"""Loss functions, each serialisable so that saved models load without smartml state."""

from smartml.losses.gaussian_nll import (
    MultivariateGaussianNLL,
    gaussian_from_outputs,
    n_mdn_outputs,
)

__all__ = ["MultivariateGaussianNLL", "gaussian_from_outputs", "n_mdn_outputs"]
