"""Schema pieces shared by the ``data`` sections of several tasks.

Imports no TensorFlow: config validation uses it.

>>> SplitConfig().fractions()
{'train': 0.8, 'validation': 0.1, 'test': 0.1}
"""

from pydantic import Field, model_validator

from smartml.config.strict import StrictModel

SPLIT_NAMES = ("train", "validation", "test")


class SplitConfig(StrictModel):
    """Fractions of the data's chunks (e.g. parquet row groups) in each split, assigned
    after a shuffle seeded with ``seed`` (a data setting, so that ``--seed`` changes
    the training, not the test set)."""

    seed: int = Field(0, ge=0)
    train: float = Field(0.8, gt=0, lt=1)
    validation: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> "SplitConfig":
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must be 1, got {total:g}")
        return self

    def fractions(self) -> dict[str, float]:
        """Split name -> fraction, in the order train, validation, test."""
        return {name: getattr(self, name) for name in SPLIT_NAMES}
