"""The one registry of layer handlers: what smartml knows about each Keras layer type.

A handler (a :class:`LayerHandler` subclass, one file per layer family under
:mod:`smartml.hardware.handlers`, found by scanning that folder) is registered for its
layer classes with :func:`layer_handler`, as hls4ml registers its converters with
``@keras_handler``; a class is named ``"module:Class"`` (resolved at the first
lookup, so a plugin registers a handler without importing TensorFlow) or given::

    @layer_handler("qkeras:QDense", "qkeras:QConv1D", "qkeras:QConv2D")
    class KernelLayer(LayerHandler): ...

Lookup is by the exact class (a subclass may compute something else, as hls4ml also
matches class names exactly). Export, hardware cost (sparsity, BOPs, MDMM's
``"all"``) and the layer table all ask :func:`handler_for`; a layer without a handler
is one :class:`~smartml.errors.UnsupportedLayerError` naming it, never a silent 0.

>>> import smartml  # noqa: F401
>>> from smartml.backend import keras
>>> handler_for(keras.layers.Flatten(name="f")).pass_through
True
>>> from smartml.hardware import registry
>>> "QConv1D" in registry.SUPPORTED
True
>>> handler_for(keras.layers.Dense(2, name="plain"), "export")
Traceback (most recent call last):
...
smartml.errors.UnsupportedLayerError: layer 'plain' (Dense) is not supported for export; ...
"""

from __future__ import annotations

import math
from collections.abc import Callable

from smartml.errors import ExportError, UnsupportedLayerError
from smartml.registry import ClassMap, import_package_modules, load_plugins

PURPOSES = ("export", "cost")
HANDLER_PACKAGE = "smartml.hardware.handlers"
_HANDLERS: ClassMap[LayerHandler] = ClassMap("handler")
_loaded = False


class LayerHandler:
    """Everything smartml knows about one family of layers.

    Class attributes:
        detail: shown after the class name in :func:`supported_layers`, e.g. the
            quantizers an activation layer may use.
        pass_through: values leave the layer unchanged (reshaping, max pooling), so
            the quantization of its input is that of its output.
        exportable: the layer has a bit-exact firmware rule, verified in C simulation
            (False: known to the cost model only).
        weight_attributes: ``(variable, quantizer attribute, role)`` of each kernel;
            a bias is added with :attr:`bias_attribute` where asked.

    Methods are given the Keras layer; the export methods also the fixed-point types
    of the layer's inputs (one per inbound layer, in call order).
    """

    detail: str = ""
    pass_through: bool = False
    exportable: bool = True
    weight_attributes: tuple[tuple[str, str, str], ...] = ()
    bias_attribute: tuple[str, str, str] = ("bias", "bias_quantizer_internal", "bias")

    def output_bits(self, layer, input_bits: list[int], default_bits: int) -> int:
        """Bits of the layer's output for the BOPs of the layers it feeds: those of a
        quantizer producing it; the inputs' for pass-through; else ``default_bits``."""
        if self.pass_through:
            return max(input_bits, default=default_bits)
        return default_bits

    def mac_fan_in(self, role: str, shape: tuple) -> int:
        """Inputs summed into one output by the kernel ``role`` of ``shape``: all but
        its last (output-channel) axis."""
        return math.prod(int(n) for n in shape[:-1])

    def mac_input_bits(self, role: str, input_bits: int, default_bits: int) -> int:
        """``b_a`` of the kernel ``role``: the layer's input bits."""
        return input_bits

    def precision(self, layer, incoming: list):
        """(:class:`~smartml.hardware.precision.LayerPrecision`, output type)."""
        raise NotImplementedError(f"{type(self).__name__} has no export rule")

    def estimate(self, layer, precision, incoming: list, settings) -> tuple[int, int]:
        """(latency cycles, LUTs) of the layer (see :mod:`resource_estimate`)."""
        raise NotImplementedError(f"{type(self).__name__} has no resource estimate")

    def check_backend(self, layer, backend: str, strategy: str, io_type: str) -> None:
        """Raise :class:`~smartml.errors.ExportError` where hls4ml with these settings
        (``export.backend``, ``strategy``, ``io_type``) cannot compute the layer
        exactly; nothing by default."""

    def check_consumers(self, layer, consumers: list) -> None:
        """Raise :class:`~smartml.errors.ExportError` where the layers fed by ``layer``
        (``consumers``) make QKeras' float32 arithmetic differ from the firmware's;
        nothing by default."""

    def trace(self, layer, inputs: list, precision):
        """The layer's output traced with da4ml, for RTL (:mod:`smartml.export.rtl`):
        bit for bit what QKeras computes.

        Args:
            layer: the Keras layer.
            inputs: one ``da4ml.trace.FixedVariableArray`` per inbound layer (in call
                order), shaped like the layer's inputs without the batch axis.
            precision: the layer's :class:`~smartml.hardware.precision.LayerPrecision`
                (from :meth:`precision`).

        Returns:
            the traced output, shaped like the layer's output without the batch axis.

        Raises:
            ExportError: the layer has no RTL rule (the default), one line naming it.
        """
        raise ExportError(
            f"layer {layer.name!r} ({type(layer).__name__}) has no RTL rule (bit-exact "
            "da4ml trace); export it with hls4ml instead"
        )

    def average_window(self, layer) -> int | None:
        """Values averaged per output (average pooling), None for other layers; Catapult
        needs such inputs widened (:mod:`smartml.export.firmware_graph`)."""
        return None


def layer_handler(*layer_types: type | str) -> Callable[[type], type]:
    """Class decorator: register one instance of the handler for ``layer_types``.

    Args:
        layer_types: layer classes, or their names ``"module:Class"``
            (``"tf_keras.layers:Dense"``), imported at the first lookup.

    Raises:
        ValueError: a class with a handler already (naming both handlers), when the
            second is registered or, for a name, at the first lookup.
    """

    def register(handler_class: type) -> type:
        handler = handler_class()
        owner = f"{handler_class.__module__}.{handler_class.__qualname__}"
        for layer_type in layer_types:
            _HANDLERS.add(layer_type, handler, owner)
        return handler_class

    return register


def handler_for(layer, purpose: str = "cost") -> LayerHandler:
    """The handler of ``layer``'s exact class.

    Args:
        layer: a Keras layer.
        purpose: ``"cost"`` (every handler) or ``"export"`` (exportable ones only).

    Raises:
        UnsupportedLayerError: no handler (for that purpose), one line naming the
            layer, its class and the supported layers.
    """
    load_rules()
    handler = _HANDLERS.get(type(layer))
    if handler is None or (purpose == "export" and not handler.exportable):
        raise UnsupportedLayerError(
            f"layer {layer.name!r} ({type(layer).__name__}) is not supported for {purpose}; "
            f"supported: {', '.join(supported_layers(purpose))}"
        )
    return handler


def supported_layers(purpose: str = "export", package: str | None = None) -> tuple[str, ...]:
    """Labels of the handled layer families, for errors and the docs (export page).

    Args:
        purpose: ``"export"`` (exportable layers) or ``"cost"`` (every handled layer).
        package: only the handlers defined in this package (``"smartml"``: smartml's
            own, without the installed plugins'); None: all.

    >>> "GlobalAveragePooling1D" in supported_layers("export")
    True
    >>> "Dropout" in supported_layers("export"), "Dropout" in supported_layers("cost")
    (False, True)
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose {purpose!r}: expected one of {PURPOSES}")
    load_rules()
    return tuple(
        sorted(
            f"{layer_type.__name__}{handler.detail}"
            for layer_type, handler in _HANDLERS.items()
            if (purpose == "cost" or handler.exportable)
            and (package is None or type(handler).__module__.startswith(f"{package}."))
        )
    )


def load_rules() -> None:
    """Register smartml's layer handlers (every module of their folder) and the
    plugins' handlers and quantizer rules, once. The handler modules import this one
    (for the decorator), so they are loaded on first use, not at import time."""
    global _loaded
    if not _loaded:
        import_package_modules(HANDLER_PACKAGE)
        load_plugins()
        _loaded = True


def __getattr__(name: str):
    # SUPPORTED is computed on first access: the handlers register when first needed.
    if name == "SUPPORTED":
        return supported_layers("export")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
