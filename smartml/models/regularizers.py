"""Keras regularizers of the configuration's ``regularization`` block (builder side)."""

from smartml.backend import keras
from smartml.config.common import Regularization


def kernel_regularizer(penalties: Regularization) -> keras.regularizers.Regularizer | None:
    """L1 + L2 penalty on a weight tensor, or None when both are 0.

    Args:
        penalties: the model's ``regularization`` section.

    Returns:
        a new ``L1L2`` regularizer or None.

    >>> kernel_regularizer(Regularization()) is None
    True
    """
    if penalties.kernel_l1 == penalties.kernel_l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=penalties.kernel_l1, l2=penalties.kernel_l2)


def activity_regularizer(penalties: Regularization) -> keras.regularizers.Regularizer | None:
    """L2 penalty on a layer's output, or None when it is 0.

    Args:
        penalties: the model's ``regularization`` section.

    Returns:
        a new ``L2`` regularizer or None.

    >>> round(float(activity_regularizer(Regularization(activity_l2=0.01)).l2), 6)
    0.01
    """
    return keras.regularizers.L2(penalties.activity_l2) if penalties.activity_l2 else None
