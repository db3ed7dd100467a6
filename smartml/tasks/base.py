"""The contract every detector task fulfils; the trainer, the evaluator, the exporter,
the notebooks and the comparisons know nothing else about tasks.

A task declares

- its **inputs**: named :class:`InputSpec` (``points (N, 3)``, ``mask (N,)``,
  ``momentum (1,)``...), the names of the model's ``keras.Input`` layers;
- its **output kind** (:mod:`smartml.outputs`): ``GaussianMDN``, ``Logits``,
  ``PointRegression``..., which brings the loss, the decoding of raw outputs and the
  metrics and figures of that kind;
- the **files** its :meth:`Task.prepare` writes into the run directory
  (normalisations, baselines: :attr:`Task.run_files`);
- its **summary metrics** (what comparisons, notebooks and searches read) and its
  **primary validation metric** (never computed on the test split).

and provides the data: :meth:`Task.datasets` for training and :meth:`Task.examples`
(inputs, targets and per-example auxiliary columns of any split) for everything else.
:meth:`Task.evaluate` is a template: examples -> predict -> metrics by output kind ->
the task's own metrics, figures and baselines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, TypeVar

import numpy as np
import pandas as pd

from smartml.config.strict import StrictModel
from smartml.errors import DataError
from smartml.metrics.summary import ValidationMetric

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from smartml.backend import keras, tf
    from smartml.config import RunConfig
    from smartml.data.chunks import Chunk
    from smartml.data.source import ChunkSource
    from smartml.metrics.summary import SummaryMetric
    from smartml.outputs.base import OutputKind
    from smartml.runs.directory import RunDirectory

SPLITS = ("train", "validation", "test")
PREDICT_BATCH = 8192
#: The schema of a task's ``data`` section (e.g. ``PixelDataConfig``).
DataConfig = TypeVar("DataConfig", bound=StrictModel)


@dataclass(frozen=True)
class InputShard:
    """The part of the data one worker of a multi-worker run reads
    (:meth:`Task.streamed_datasets`): chunks ``index::count`` of each split.

    >>> InputShard()
    InputShard(index=0, count=1)
    """

    index: int = 0
    count: int = 1


@dataclass(frozen=True)
class InputSpec:
    """One named model input.

    Args:
        name: the ``keras.Input`` name, and the key of this input in every batch.
        shape: shape of one example (no batch axis), e.g. ``(64, 3)``.
        dtype: numpy/TensorFlow dtype name.
        description: what it holds, in words (units included).

    >>> spec = InputSpec("momentum", (1,), description="standardised track momentum")
    >>> spec.shape, spec.dtype
    ((1,), 'float32')
    """

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    description: str = ""


@dataclass
class Examples:
    """Examples of one split, as the model and the evaluation see them.

    Attributes:
        inputs: model input name -> array ``(n, *spec.shape)``, in the units the model
            takes (normalised).
        targets: ``(n, k)`` regression truth in physical units, or ``(n,)`` integer
            class labels.
        aux: per-example columns that are neither input nor target (a track's
            momentum, true values in physical units, a baseline's estimate), ``n`` rows.
    """

    inputs: dict[str, np.ndarray]
    targets: np.ndarray
    aux: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        sizes = {name: len(array) for name, array in self.inputs.items()}
        sizes["targets"] = len(self.targets)
        if len(self.aux.columns):
            sizes["aux"] = len(self.aux)
        if len(set(sizes.values())) > 1:
            raise DataError(f"examples of different lengths: {sizes}")

    def __len__(self) -> int:
        return len(self.targets)

    def head(self, n: int | None) -> Examples:
        """The first ``n`` examples (all when ``n`` is None)."""
        if n is None or n >= len(self):
            return self
        return Examples(
            {name: array[:n] for name, array in self.inputs.items()},
            self.targets[:n],
            self.aux.iloc[:n].reset_index(drop=True),
        )


class Task(ABC, Generic[DataConfig]):
    """One detector problem, bound to a run configuration and its run directory.

    Subclasses are registered through the schema of their ``data`` section, in a
    module without TensorFlow::

        @TASKS.register("my_task", implementation="smartml.tasks.my_task.task:MyTask")
        class MyDataConfig(StrictModel): ...

    and name that schema, which :attr:`data` checks and returns typed::

        class MyTask(Task[MyDataConfig]):
            data_config = MyDataConfig
    """

    #: Files :meth:`prepare` writes into the run directory with ``fit=True`` and reads
    #: back with ``fit=False`` (the trainer refits when one is missing).
    run_files: ClassVar[tuple[str, ...]] = ()
    #: Tables the evaluation writes into the run directory (:meth:`test_tables`, e.g.
    #: ``predictions.parquet``): declared, so that a fresh or overwritten run removes
    #: an earlier run's before it starts.
    products: ClassVar[tuple[str, ...]] = ()
    #: What :meth:`datasets` reads: everything, unless a multi-worker trainer sets
    #: this worker's share.
    input_shard: InputShard = InputShard()

    #: The schema of this task's ``data`` section, returned typed by :attr:`data`.
    data_config: type[DataConfig]

    def __init__(self, config: RunConfig, run_dir: RunDirectory) -> None:
        self.config = config
        self.run_dir = run_dir

    @property
    def data(self) -> DataConfig:
        """The ``data`` section, validated against this task's schema.

        Raises:
            TypeError: the section is of another schema (a bug: the registry binds
                each schema to its task).
        """
        data = self.config.data
        if not isinstance(data, self.data_config):
            raise TypeError(
                f"{type(self).__name__} needs a {self.data_config.__name__}, "
                f"got {type(data).__name__}"
            )
        return data

    # -- declarations --------------------------------------------------------------

    @property
    @abstractmethod
    def inputs(self) -> dict[str, InputSpec]:
        """The model's named inputs."""

    @property
    @abstractmethod
    def output(self) -> OutputKind:
        """The kind of the model's output (loss, decoding, metrics, figures)."""

    def summary_metrics(self) -> list[SummaryMetric]:
        """What a comparison table, a notebook and a search read from metrics.json."""
        return self.output.summary_metrics()

    def validation_metric(self) -> ValidationMetric:
        """The primary validation metric (on the validation split, never the test)."""
        return self.output.validation_metric()

    # -- data ----------------------------------------------------------------------

    @abstractmethod
    def prepare(self, fit: bool) -> None:
        """Make the data available and split them. With ``fit``, fit what is learnt
        from the training split (normalisations, baselines) and write
        :attr:`run_files`; without, read them from the run directory."""

    @abstractmethod
    def datasets(self) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """Training and validation batches of ``(inputs dict, targets)`` in model units."""

    @abstractmethod
    def examples(self, split: str, max_n: int | None = None) -> Examples:
        """At most ``max_n`` examples (all when None) of ``split`` (:data:`SPLITS`)."""

    def streamed_datasets(
        self,
        source_of: Callable[[str], ChunkSource],
        chunks_of: Callable[[str], list[Chunk]],
        transform: Callable,
    ) -> tuple[tf.data.Dataset, tf.data.Dataset]:
        """:meth:`datasets` of a chunked task: the training split shuffled, the
        validation split in order, both through :func:`smartml.data.pipeline.make_dataset`
        with the run's batch size, seed and shuffle buffer; only the chunks of
        :attr:`input_shard` (all by default).

        Args:
            source_of: split -> the chunk source that reads it.
            chunks_of: split -> its chunks.
            transform: the task's normalisation of a batch of (inputs, targets).
        """
        from smartml.data.pipeline import make_dataset

        training, shard = self.config.training, self.input_shard

        def dataset(split: str, shuffle: bool) -> tf.data.Dataset:
            return make_dataset(
                source_of(split),
                chunks_of(split),
                transform,
                batch_size=training.batch_size,
                shuffle=shuffle,
                seed=training.seed,
                shuffle_buffer=training.shuffle_buffer,
                shard=(shard.index, shard.count),
            )

        return dataset("train", True), dataset("validation", False)

    def run_file(self, name: str) -> Path:
        """Path of one of the declared :attr:`run_files` in the run directory."""
        if name not in self.run_files:
            raise ValueError(f"{type(self).__name__}: {name!r} is not among its run_files")
        return self.run_dir.path / name

    def has_run_files(self) -> bool:
        return all(self.run_file(name).is_file() for name in self.run_files)

    # -- prediction and evaluation -------------------------------------------------

    def raw_outputs(self, model: keras.Model, examples: Examples) -> np.ndarray:
        """The model's outputs for ``examples`` (float32, ``(n, n_outputs)``)."""
        # Batch by batch: model.predict would first copy all inputs into a tf.data
        # dataset (+655 MB for 30k 20-slice clusters).
        outputs = [np.zeros((0, *model.output_shape[1:]), np.float32)]
        for start in range(0, len(examples.targets), PREDICT_BATCH):
            batch = {name: x[start : start + PREDICT_BATCH] for name, x in examples.inputs.items()}
            outputs.append(np.asarray(model.predict_on_batch(batch), np.float32))
        return np.concatenate(outputs)

    def decode(self, raw: np.ndarray) -> Any:
        """Predictions in physical units from raw model outputs (the output kind's
        decoding; tasks that scale their targets undo it here)."""
        return self.output.decode(raw)

    def predict(self, model: keras.Model, examples: Examples) -> Any:
        """Decoded predictions of ``model`` for ``examples``."""
        return self.decode(self.raw_outputs(model, examples))

    def metrics_from_outputs(self, raw: np.ndarray, examples: Examples) -> dict:
        """The output kind's metrics of raw outputs (firmware or Keras) on ``examples``."""
        return self.output.metrics(examples.targets, self.decode(raw), examples.aux)

    def split_metrics(self, examples: Examples, prediction: Any) -> dict:
        """The output kind's metrics of ``prediction`` on ``examples``, then the task's
        own (:meth:`task_metrics`), merged."""
        metrics = self.output.metrics(examples.targets, prediction, examples.aux)
        return merge_metrics(metrics, self.task_metrics(examples, prediction))

    def evaluate(self, model: keras.Model, figures: bool = True) -> Evaluation:
        """Judge ``model`` on the test split.

        Returns:
            the :class:`Evaluation`: metrics for metrics.json (the output kind's, then
            the task's own: :meth:`task_metrics`), figures by file stem (the output
            kind's, then :meth:`task_figures`) and the test split's tables
            (:meth:`test_tables`), for the caller to write: nothing is written here.
        """
        examples = self.examples("test")
        if len(examples) == 0:
            raise DataError(f"{self.run_dir.path}: the test split is empty; nothing to evaluate")
        prediction = self.predict(model, examples)
        metrics = self.split_metrics(examples, prediction)
        metrics["test_examples"] = len(examples)
        drawn: dict[str, Figure] = {}
        if figures:
            drawn = self.output.figures(
                examples.targets, prediction, examples.aux, self.config.name
            )
            drawn.update(self.task_figures(examples, prediction))
        return Evaluation(metrics, drawn, self.test_tables(examples, prediction))

    def task_metrics(self, examples: Examples, prediction: Any) -> dict:
        """Metrics beyond the output kind's (baselines, profiles); none by default."""
        return {}

    def task_figures(self, examples: Examples, prediction: Any) -> dict[str, Figure]:
        """Figures beyond the output kind's; none by default."""
        return {}

    def test_tables(self, examples: Examples, prediction: Any) -> dict[str, pd.DataFrame]:
        """Tables of the test split to write into the run, by file name (each among
        :attr:`products`); none by default. Computes, writes nothing."""
        return {}


class Evaluation(NamedTuple):
    """What :meth:`Task.evaluate` found on the test split.

    Attributes:
        metrics: for metrics.json; figures: by file stem, for plots/;
        tables: by file name (the task's :attr:`Task.products`), for the run directory.
    """

    metrics: dict
    figures: dict[str, Figure]
    tables: dict[str, pd.DataFrame]


def merge_metrics(metrics: dict, extra: dict) -> dict:
    """Add ``extra`` into ``metrics`` in place, merging nested blocks key by key.

    >>> merge_metrics({"x": {"rms": 2.0}}, {"x": {"profile": [1]}, "n": 3})
    {'x': {'rms': 2.0, 'profile': [1]}, 'n': 3}
    """
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(metrics.get(key), dict):
            merge_metrics(metrics[key], value)
        else:
            metrics[key] = value
    return metrics
