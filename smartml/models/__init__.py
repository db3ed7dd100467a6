"""Model builders, registered by name in :data:`smartml.registry.MODELS`.

Importing this package registers every builder it contains.
"""

from smartml.models import pixel_mdn  # noqa: F401  (registers "pixel_mdn")
from smartml.models.custom_objects import custom_objects, load_model

__all__ = ["custom_objects", "load_model"]
