"""Whether a configured model can be exported to bit-exact firmware.

A builder declares ``exportable`` (a class attribute; ``not_exportable_reason`` says
why not). A builder whose exportability depends on its configuration (``mlp``: float
or quantized) also defines ``export_refusal(config) -> str | None``. Callers ask
here, never the attribute alone.

>>> from smartml.models.mlp.schema import MLPConfig
>>> is_exportable(MLPConfig(quantization={})), is_exportable(MLPConfig())
(True, False)
"""

from smartml.config.base import ModelSection
from smartml.registry import MODELS

DEFAULT_REASON = "its builder declares it not exportable"


def export_refusal(section: ModelSection) -> str | None:
    """Why the model of ``section`` cannot be exported; None when it can.

    Args:
        section: the run's ``model`` section (its ``name`` picks the builder).

    Returns:
        the builder's reason in words, or None.
    """
    builder = MODELS.get(section.name)
    if not builder.exportable:
        return getattr(builder, "not_exportable_reason", DEFAULT_REASON)
    refusal = getattr(builder, "export_refusal", None)
    return refusal(section) if refusal is not None else None


def is_exportable(section: ModelSection) -> bool:
    """True when the model of ``section`` has a bit-exact firmware form."""
    return export_refusal(section) is None
