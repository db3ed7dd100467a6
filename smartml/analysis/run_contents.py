"""One finished run directory, read for analysis."""

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from smartml.errors import RunDirectoryError
from smartml.training.run_directory import RunDirectory


@dataclass
class RunContents:
    """What a complete run wrote.

    Attributes:
        path: the run directory; ``name`` its configured run name.
        config: config.json as a dict; ``metrics``: metrics.json.
        history: history.csv (one row per epoch), None if the run has none.
    """

    path: Path
    name: str
    config: dict
    metrics: dict
    history: pd.DataFrame | None
    _model: object = field(default=None, repr=False)

    @property
    def model(self):
        """The trained Keras model (loaded on first use)."""
        if self._model is None:
            from smartml.models import load_model

            self._model = load_model(RunDirectory(self.path).model)
        return self._model

    @property
    def targets(self) -> list[str]:
        """Targets with resolution metrics, in metrics.json order."""
        return [k for k, v in self.metrics.items() if isinstance(v, dict) and "pull_std" in v]


def open_run(path: str | Path) -> RunContents:
    """Read a complete run directory; one-line errors for a missing or incomplete run
    and unreadable files."""
    run_dir = RunDirectory(path).require_complete()
    config = RunDirectory.read_json(run_dir.config)
    metrics = RunDirectory.read_json(run_dir.metrics)
    return RunContents(
        run_dir.path, config.get("name", run_dir.path.name), config, metrics, _history(run_dir)
    )


def _history(run_dir: RunDirectory) -> pd.DataFrame | None:
    if not run_dir.history.is_file():
        return None
    try:
        history = pd.read_csv(run_dir.history)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise RunDirectoryError(f"{run_dir.history}: cannot read the history ({err})") from None
    if "epoch" not in history.columns:
        raise RunDirectoryError(f"{run_dir.history}: no 'epoch' column; not a training history")
    return history
