"""smartml's custom Keras layers, one per module, each registered serializable under
the ``"smartml"`` package so that saved models load through
:func:`smartml.models.saved.load_model`. Importing this package registers them all.

- :class:`~smartml.layers.hard_tanh.HardTanh`: ``clip(x, -1, 1)``, the float twin of
  QKeras' ``quantized_tanh``;
- :class:`~smartml.layers.knn_edge_conv.KNNEdgeConv`: EdgeConv over a dynamic kNN
  graph of the real (unpadded) points;
- :class:`~smartml.layers.masked_global_pooling.MaskedGlobalPooling`: max and/or
  mean over the real points.
"""

from smartml.layers.hard_tanh import HardTanh
from smartml.layers.knn_edge_conv import KNNEdgeConv
from smartml.layers.masked_global_pooling import MaskedGlobalPooling

__all__ = ["HardTanh", "KNNEdgeConv", "MaskedGlobalPooling"]
