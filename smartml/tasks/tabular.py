"""What the tasks on ROOT ntuples share: one ``features`` input read through a
:class:`~smartml.ntuples.tabular_source.TabularSource`, the feature selection of the
``data`` section (inline or a features file), and a versioned JSON file of scalers
fitted on the training split.

A subclass says how its samples are opened (:meth:`TabularTask.open_source`) and what
its scaling file holds; everything else of the :class:`~smartml.tasks.base.Task`
contract stays its own.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Any

from smartml.data.chunks import Chunk
from smartml.data.scaling import TargetScaling
from smartml.errors import RunDirectoryError
from smartml.files import read_json_object
from smartml.ntuples.feature_file import load_feature_file
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.tabular_source import FEATURES, TabularRows, TabularSource
from smartml.tasks.base import DataConfig, InputSpec, Task

SCALING_FORMAT_VERSION = 1


class TabularTask(Task[DataConfig]):
    """A task whose model takes ``features (k,)``, standardised, from ROOT trees."""

    _tabular: TabularSource | None = None
    splits: dict[str, list[Chunk]]

    @abstractmethod
    def open_source(self) -> TabularSource:
        """Open the samples (generating the built-in ones first where needed)."""

    @property
    def source(self) -> TabularSource:
        """The samples' reader, opened once."""
        if self._tabular is None:
            self._tabular = self.open_source()
        return self._tabular

    @property
    def inputs(self) -> dict[str, InputSpec]:
        names = self.source.feature_names
        description = f"standardised features: {', '.join(names)}"
        return {FEATURES: InputSpec(FEATURES, (len(names),), description=description)}

    def feature_selection(self) -> FeatureSelection:
        """``data.features``: a selection, or the path of a features file."""
        features = self.config.data.features  # type: ignore[attr-defined]
        return load_feature_file(features) if isinstance(features, str) else features

    def rows(self, split: str, max_n: int | None) -> list[TabularRows]:
        """About ``max_n`` rows of ``split`` (all when None), from every chunk."""
        return self.source.read_sample(self.splits[split], max_n)

    def read_scaling(self, path: Path, what: str, blocks: tuple[str, ...]) -> dict[str, Any]:
        """A scaling file written by the task: its version checked, ``blocks`` objects,
        the ``features`` block's names those of the selection now.

        Raises:
            RunDirectoryError: one line naming the file and the key at fault.
        """
        content = read_json_object(path, what, RunDirectoryError)
        if content.get("version") != SCALING_FORMAT_VERSION:
            raise RunDirectoryError(
                f"{path}: key 'version' is {content.get('version')!r}, "
                f"expected {SCALING_FORMAT_VERSION}"
            )
        for key in blocks:
            if not isinstance(content.get(key), dict):
                raise RunDirectoryError(f"{path}: key '{key}' must be an object")
        names = list(TargetScaling.from_dict(content["features"], f"{path}: features").target_names)
        if names != self.source.feature_names:
            raise RunDirectoryError(
                f"{path}: features {names} differ from those the selection gives now "
                f"({self.source.feature_names})"
            )
        return content
