"""Layer handlers, one module per layer family (:mod:`smartml.hardware.registry`).
The registry imports every module of this folder at its first lookup: a new layer's
export and cost rules go into a new module here, with no edit of this file."""
