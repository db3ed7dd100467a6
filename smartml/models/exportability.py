"""Whether a configured model can be exported to bit-exact firmware.

A builder (:class:`~smartml.models.contract.ModelBuilder`) declares ``exportable``
(False: never) and says why a configuration is not (``export_refusal(config)``; the
``mlp`` is exportable quantized, not float). Callers ask here, never the attribute
alone.

>>> from smartml.models.mlp.schema import MLPConfig
>>> is_exportable(MLPConfig(quantization={})), is_exportable(MLPConfig())
(True, False)
"""

from smartml.config.base import ModelSection
from smartml.models.contract import builder_of

DEFAULT_REASON = "its builder declares it not exportable"


def export_refusal(section: ModelSection) -> str | None:
    """Why the model of ``section`` cannot be exported; None when it can.

    Args:
        section: the run's ``model`` section (its ``name`` picks the builder).

    Returns:
        the builder's reason in words, or None.
    """
    builder = builder_of(section.name)
    refusal = builder.export_refusal(section)
    if refusal is None and not builder.exportable:
        return DEFAULT_REASON  # declared never exportable, whatever it says of this one
    return refusal


def is_exportable(section: ModelSection) -> bool:
    """True when the model of ``section`` has a bit-exact firmware form."""
    return export_refusal(section) is None
