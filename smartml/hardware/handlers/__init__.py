"""Layer handlers, one module per layer family; importing this package registers them
all (:mod:`smartml.hardware.registry`). A new layer's export and cost rules go into a
module here, imported below."""

from smartml.hardware.handlers import (  # noqa: F401  (imported to register)
    activation,
    kernel,
    merge,
    pooling,
    reshaping,
)
