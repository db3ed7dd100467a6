"""The functional graph of a Keras model as the layer walks read it."""

from __future__ import annotations


def inbound_layers(layer) -> list[str]:
    """Names of the layers feeding ``layer``, in call order (``Concatenate([a, b])``
    gives ``[a, b]``); empty for an input layer.

    Only the layer's first call counts: smartml's models call each layer once, and a
    copy of a model (``firmware_graph``) uses fresh layers.
    """
    nodes = layer.inbound_nodes
    if not nodes:
        return []
    parents = nodes[0].inbound_layers
    return [parent.name for parent in (parents if isinstance(parents, list) else [parents])]


def input_layers(model) -> list:
    """The model's ``InputLayer``s, in the order of ``model.inputs`` (hls4ml's too)."""
    return [tensor._keras_history.layer for tensor in model.inputs]


def output_layer(model) -> str:
    """Name of the layer producing the model's single output.

    Raises:
        ValueError: the model has several outputs.
    """
    if len(model.outputs) != 1:
        raise ValueError(f"model {model.name!r} has {len(model.outputs)} outputs; expected one")
    return model.outputs[0]._keras_history.layer.name
