"""Schema of the ``tune`` section: a hyperparameter search (``python -m smartml.tune``).

The search space is a list of parameters, each over any key of the run
configuration by its dotted path (list items by index: ``model.hidden_units.0``);
the objectives are metrics of the task measured on the validation split (see
:mod:`smartml.tune.objectives` for the names allowed). Example::

    "tune": {
      "parameters": [
        {"key": "model.filters", "type": "int", "low": 2, "high": 8},
        {"key": "training.learning_rate", "type": "float", "low": 1e-4, "high": 1e-2,
         "log": true},
        {"key": "model.dense_weights.bits", "type": "categorical", "choices": [4, 6, 8]}
      ],
      "objectives": [{"metric": "y-midplane.robust_width"}, {"metric": "hardware.bops"}],
      "trials": 12,
      "reference_runs": ["../runs/pixel_2t_l1l2"]
    }

Whether a key exists and whether the schema takes a range's ends is checked when
the search starts (:func:`smartml.tune.space.check_space`), before any trial; so are
the reference runs (:mod:`smartml.tune.references`: complete, same task and data).

>>> TuneConfig.model_validate({"parameters": [{"key": "model.filters", "type": "int",
...     "low": 2, "high": 8}], "objectives": [{"metric": "val_loss"}]}).pruner
'none'
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartml.config.strict import FiniteFloat, PositiveInt, Seed, StrictModel

DottedKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+$")]
Choice = bool | int | float | str | None
MAX_TRIALS = 100_000


class IntParameter(StrictModel):
    """An integer from ``low`` to ``high`` (both included), by ``step`` or on a log
    scale (``log``: ``low >= 1``, step 1)."""

    key: DottedKey
    type: Literal["int"]
    low: int
    high: int
    step: PositiveInt = 1
    log: bool = False

    @model_validator(mode="after")
    def _range(self) -> "IntParameter":
        _check_range(self.key, self.low, self.high, self.log)
        if self.log and self.step != 1:
            raise ValueError(f"{self.key}: a log-scale integer needs step 1, not {self.step}")
        return self


class FloatParameter(StrictModel):
    """A real number from ``low`` to ``high``, uniform or on a log scale (``log``:
    ``low > 0``)."""

    key: DottedKey
    type: Literal["float"]
    low: FiniteFloat
    high: FiniteFloat
    log: bool = False

    @model_validator(mode="after")
    def _range(self) -> "FloatParameter":
        _check_range(self.key, self.low, self.high, self.log)
        return self


class CategoricalParameter(StrictModel):
    """One of ``choices`` (numbers, strings, booleans or null)."""

    key: DottedKey
    type: Literal["categorical"]
    choices: list[Choice] = Field(min_length=1)


Parameter = Annotated[
    IntParameter | FloatParameter | CategoricalParameter, Field(discriminator="type")
]


class Objective(StrictModel):
    """A metric to optimise; ``direction`` defaults to the metric's own (``lower`` ->
    ``minimize``)."""

    metric: str = Field(min_length=1)
    direction: Literal["minimize", "maximize"] | None = None


class TuneConfig(StrictModel):
    """``tune``: the search space, the objectives and how trials are chosen."""

    parameters: list[Parameter] = Field(min_length=1)
    objectives: list[Objective] = Field(min_length=1, max_length=4)
    trials: PositiveInt = Field(
        20, le=MAX_TRIALS, description="finished trials wanted (--trials overrides)"
    )
    sampler_seed: Seed = Field(0, description="seed of Optuna's TPE sampler")
    pruner: Literal["none", "median", "asha"] = Field(
        "none", description="stop poor trials early on the validation curve (one objective)"
    )
    reference_runs: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="complete run directories (relative to this configuration file) whose "
        "objectives, on the same validation split, are drawn beside the Pareto front",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "TuneConfig":
        keys = [parameter.key for parameter in self.parameters]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ValueError(f"parameter keys {twice} appear more than once")
        if len(set(self.reference_runs)) < len(self.reference_runs):
            raise ValueError(f"reference_runs {self.reference_runs} repeat a run")
        metrics = [objective.metric for objective in self.objectives]
        if len(set(metrics)) < len(metrics):
            raise ValueError(f"objectives {metrics} repeat a metric")
        if self.pruner != "none" and len(self.objectives) > 1:
            raise ValueError(
                f"pruner {self.pruner!r} needs a single objective; a multi-objective study "
                "cannot prune (set pruner to 'none')"
            )
        return self


def _check_range(key: str, low: float, high: float, log: bool) -> None:
    if low > high:
        raise ValueError(f"{key}: low {low} is above high {high}")
    if log and low <= 0:
        raise ValueError(f"{key}: a log scale needs low > 0, not {low}")
