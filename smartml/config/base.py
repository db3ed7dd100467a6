"""Schema of the task-independent sections of a run configuration.

A run configuration is one JSON object::

    {"schema_version": 1, "name": "...", "task": {"name": "..."},
     "data": {...}, "model": {"name": "...", ...}, "training": {...}, "output": {...}}

``data`` is validated by the schema the task registers and ``model`` by the schema
the model registers (see :mod:`smartml.config.loader`); everything else is here.
Every section forbids unknown keys, so a misspelled key is an error, not a silent
default.
"""

from typing import Final, Literal

from pydantic import Field, SerializeAsAny, model_validator

from smartml.config.distribution import DefaultDistribution, Distribution
from smartml.config.export import ExportConfig
from smartml.config.inputs import InputPath
from smartml.config.mdmm import MDMMConfig
from smartml.config.strict import FiniteFloat, PositiveFloat, PositiveInt, Seed, StrictModel
from smartml.config.tune import TuneConfig

SCHEMA_VERSION: Final = 1
__all__ = ["FiniteFloat", "PositiveFloat", "PositiveInt", "StrictModel"]  # re-exported
# Beyond these a value is a typing mistake ("epochs": 1e9 would run for ever, and a
# cosine schedule over it would never move the learning rate).
MAX_EPOCHS: Final = 10_000
MAX_BATCH_SIZE: Final = 1 << 20
MAX_SHUFFLE_BUFFER: Final = 10_000_000
MAX_BACKUP_INTERVAL: Final = 1_000_000


class TaskSection(StrictModel):
    name: str = Field(description="registered task, e.g. 'smart_pixels'")


class ModelSection(StrictModel):
    """Common part of every model schema: the registered builder's name."""

    name: str = Field(description="registered model builder, e.g. 'pixel_mdn'")


class LearningRateSchedule(StrictModel):
    """How the learning rate evolves during training.

    - ``constant``: the optimizer's learning rate throughout;
    - ``reduce_on_plateau``: multiply by ``factor`` after ``patience`` epochs without
      a better validation loss, never below ``min_learning_rate``;
    - ``cosine``: cosine decay from the initial rate to ``min_learning_rate`` over all
      epochs;
    - ``exponential``: multiply by ``factor`` after every epoch.
    """

    kind: Literal["constant", "reduce_on_plateau", "cosine", "exponential"] = "cosine"
    factor: float = Field(0.5, gt=0, lt=1)
    patience: int = Field(4, ge=1, le=MAX_EPOCHS)
    min_learning_rate: float = Field(1e-5, ge=0, le=1)


FEASIBLE_VAL_LOSS = "val_loss_feasible"
"""The log key of an MDMM run's validation loss, infinite in epochs whose weights miss a
constraint (:class:`smartml.training.callbacks.HardwareCostLogger`)."""


class DistillationConfig(StrictModel):
    """Train the model to match a trained teacher's predictions as well as the targets:
    the loss is ``(1 - weight) * task loss + weight * distillation loss``, the latter
    the output kind's (a Gaussian's: the NLL expected under the teacher's Gaussian, so
    its means and covariances both; a classifier's: cross-entropy against the teacher's
    probabilities). The teacher takes the same inputs and gives the same outputs."""

    teacher: InputPath = Field(
        description="the teacher: a complete run directory or its model.h5, e.g. a float "
        "reference (configs/pixel_2t_float.json)"
    )
    weight: float = Field(
        0.5, gt=0, le=1, allow_inf_nan=False, description="share of the distillation loss"
    )


class TrainingConfig(StrictModel):
    epochs: int = Field(32, gt=0, le=MAX_EPOCHS, description="maximum epochs")
    batch_size: int = Field(1024, gt=0, le=MAX_BATCH_SIZE)
    learning_rate: float = Field(
        2e-3, gt=0, le=1, allow_inf_nan=False, description="Adam's initial learning rate"
    )
    lr_schedule: LearningRateSchedule = LearningRateSchedule()
    early_stopping_patience: int = Field(
        12,
        ge=0,
        le=MAX_EPOCHS,
        description="epochs without a better validation loss before stopping; 0: never",
    )
    shuffle_buffer: int = Field(
        65536, gt=0, le=MAX_SHUFFLE_BUFFER, description="examples mixed by the input pipeline"
    )
    seed: Seed = Field(42, description="weights and shuffling")
    device: str = Field("cpu", pattern=r"^(cpu|gpu(:[0-9]+)?)$")
    distribution: Distribution = Field(
        DefaultDistribution(),
        description="default (one device: training.device), mirrored (several local "
        "devices) or multi_worker (several processes/nodes); batch_size is the global batch",
    )
    backup_every_batches: int = Field(
        200,
        gt=0,
        le=MAX_BACKUP_INTERVAL,
        description="BackupAndRestore interval: a killed run resumes from here, mid-epoch",
    )
    mdmm: MDMMConfig | None = Field(
        None, description="constraints (sparsity, BOPs, norms) trained by MDMM; null: none"
    )
    initial_weights: InputPath | None = Field(
        None,
        description="start from these weights: a complete run directory or its model.h5 "
        "(same architecture), e.g. to prune a trained dense model with MDMM; null: random",
    )
    distillation: DistillationConfig | None = Field(
        None, description="learn from a trained teacher's predictions too; null: none"
    )
    # An int, not Literal[0, 1, 2]: pydantic would take true for the literal 1.
    verbose: int = Field(
        2, ge=0, le=2, description="Keras fit verbosity: 0 silent, 1 bar, 2 line/epoch"
    )

    @model_validator(mode="after")
    def _one_training_method(self) -> "TrainingConfig":
        if self.distillation is not None and self.mdmm is not None:
            raise ValueError(
                "training.distillation and training.mdmm cannot be combined yet: "
                "distil first, then constrain with training.initial_weights"
            )
        return self

    @property
    def checkpoint_monitor(self) -> str:
        """The log key whose lowest value picks the kept weights (model.h5)."""
        return "val_loss" if self.mdmm is None else FEASIBLE_VAL_LOSS


PlotStyle = Literal["default", "CMS", "ATLAS", "LHCb2", "ALICE"]
PlotFormat = Literal["png", "pdf", "svg"]


class OutputConfig(StrictModel):
    dir: str | None = Field(None, description="run directory; default runs/<name>")
    plots: bool = True
    plot_style: PlotStyle = Field(
        "default", description="matplotlib's default, or an mplhep experiment style"
    )
    plot_formats: list[PlotFormat] = Field(
        ["png"],
        min_length=1,
        description="file formats of every figure (vector formats for papers: pdf, svg)",
    )


class RunConfig(StrictModel):
    """A whole run. Build it with :func:`smartml.config.load_config`, which validates
    ``data`` and ``model`` against the schemas their task and model register."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="run name, used for paths")
    task: TaskSection
    data: SerializeAsAny[StrictModel]
    model: SerializeAsAny[ModelSection]
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()
    export: ExportConfig = ExportConfig()
    tune: TuneConfig | None = Field(
        None, description="hyperparameter search (python -m smartml.tune); null: none"
    )

    def run_dir(self) -> str:
        return self.output.dir or f"runs/{self.name}"
