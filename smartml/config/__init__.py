"""Run configuration: one JSON file per run, validated against versioned schemas."""

from smartml.config.base import OutputConfig, RunConfig, StrictModel, TrainingConfig
from smartml.config.loader import apply_overrides, load_config, save_config

__all__ = [
    "OutputConfig",
    "RunConfig",
    "StrictModel",
    "TrainingConfig",
    "apply_overrides",
    "load_config",
    "save_config",
]
