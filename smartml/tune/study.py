"""An Optuna study on shared storage and the worker loop that runs its trials.

Each trial is a normal run directory ``<run dir>/tune/trial-<n>/`` trained by
:func:`smartml.training.trainer.train`; its objectives are read on the validation
split (:mod:`smartml.tune.objectives`). Several workers (processes, on one machine or
many) share one study through its storage; Optuna numbers trials atomically, and a
worker that finds, after asking, that ``trials`` results are already finished or on
their way gives its trial back as failed (``fail_reason: surplus``), so the study
never holds more results than asked for. A trial whose process died (same host,
process gone) is marked failed by the next worker and does not count.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from smartml.errors import ConfigError, SmartmlError, first_line

if TYPE_CHECKING:
    from smartml.config import RunConfig
    from smartml.tune.objectives import ResolvedObjective

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
UNDER_WAY = (TrialState.RUNNING, TrialState.WAITING)
WORKER_ATTR = "worker"
FAIL_REASON = "fail_reason"
MAX_FAILURES_IN_A_ROW = 3


class TuneError(SmartmlError):
    """A search cannot go on (storage unreachable, trials failing, a worker died)."""


def open_storage(url: str | None, tune_dir: Path) -> optuna.storages.BaseStorage:
    """The study's storage.

    Args:
        url: an RDB URL (``sqlite:///x.db``, ``postgresql://user@host/db``), a journal
            file path, or None for ``<tune_dir>/study.log``: an Optuna journal file,
            which parallel processes on a shared filesystem may append to (SQLite's
            locking is not safe on NFS nor meant for concurrent writers).
        tune_dir: the search's directory.
    """
    if url is None or "://" not in url:
        return _journal(Path(url) if url else tune_dir / "study.log", url is not None)
    if url.split("://", 1)[0] in ("postgresql", "postgres") and not _has_psycopg2():
        raise TuneError(
            f"--storage {url}: a PostgreSQL storage needs the psycopg2 driver: "
            'pip install "smartml-hep[postgres]"'
        )
    try:
        return optuna.storages.RDBStorage(with_driver(url))
    except Exception as err:  # sqlalchemy/driver errors: one line for the user
        reason = first_line(err)
        raise TuneError(f"--storage {url}: cannot open ({reason})") from None


def _journal(path: Path, given: bool) -> optuna.storages.BaseStorage:
    """The journal-file storage at ``path``; a path that cannot hold one is one line
    naming it (and ``--storage`` when the user gave it)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    where = f"--storage {path}" if given else str(path)
    if path.is_dir():
        raise TuneError(f"{where}: is a directory; expected a journal file, e.g. {path}/study.log")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise TuneError(f"{where}: {blocking} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    except OSError as err:
        raise TuneError(f"{where}: cannot write the journal file ({err.strerror or err})") from None


def _has_psycopg2() -> bool:
    import importlib.util

    return importlib.util.find_spec("psycopg2") is not None


def with_driver(url: str) -> str:
    """``url`` with the PostgreSQL driver smartml uses (psycopg2, the ``postgres``
    extra) made explicit:
    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3.

    >>> with_driver("postgresql://me@db.cern.ch/tune")
    'postgresql+psycopg2://me@db.cern.ch/tune'
    >>> with_driver("sqlite:///tune.db")
    'sqlite:///tune.db'
    """
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgresql", "postgres") else url


def open_study(
    storage: optuna.storages.BaseStorage,
    name: str,
    objectives: list[ResolvedObjective],
    pruner: str,
) -> optuna.Study:
    """Create the study, or load it with the same objectives (a rerun resumes it).

    Raises:
        ConfigError: the stored study optimises other metrics or directions.
    """
    pruners = {
        "none": optuna.pruners.NopPruner(),
        "median": optuna.pruners.MedianPruner(n_startup_trials=2),
        "asha": optuna.pruners.SuccessiveHalvingPruner(),
    }
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        directions=[objective.direction for objective in objectives],
        pruner=pruners[pruner],
        load_if_exists=True,
    )
    wanted = [[objective.metric, objective.direction] for objective in objectives]
    stored = study.user_attrs.get("objectives")
    if stored is None:
        study.set_user_attr("objectives", wanted)
    elif stored != wanted:
        raise ConfigError(
            f"study {name!r} optimises {stored}, not {wanted}; choose another --study name"
        )
    return study


def count_results(study: optuna.Study) -> int:
    """Finished trials (complete or pruned): the search's results so far."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def count_under_way(study: optuna.Study) -> int:
    """Trials running or waiting (of live workers, or of dead ones on other hosts)."""
    return len(study.get_trials(deepcopy=False, states=UNDER_WAY))


@dataclass(frozen=True)
class WorkerIdentity:
    """Who runs a trial: host, process id and the process's start time (so that a
    reused process id is not taken for the dead process)."""

    host: str
    pid: int
    started: str

    @classmethod
    def this_process(cls) -> WorkerIdentity:
        return cls(socket.gethostname(), os.getpid(), _process_start(os.getpid()))

    def is_dead(self) -> bool:
        """Known dead: on this host, and its process is gone (or another process now
        has its id). A process on another host is never declared dead."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # someone else's live process
        return _process_start(self.pid) != self.started or _is_zombie(self.pid)


def fail_dead_trials(study: optuna.Study) -> list[int]:
    """Mark failed the running trials whose worker process died; returns their numbers."""
    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        if worker and WorkerIdentity(**worker).is_dead():
            study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            failed.append(trial.number)
    return failed


def is_surplus(study: optuna.Study, number: int, wanted: int) -> bool:
    """Whether trial ``number`` comes after ``wanted`` trials that are finished or
    under way (another worker asked first)."""
    ahead = study.get_trials(deepcopy=False, states=FINISHED + UNDER_WAY)
    return sum(trial.number < number for trial in ahead) >= wanted


def suggest(trial: optuna.Trial, config: RunConfig) -> dict[str, Any]:
    """The trial's value of every parameter of ``config.tune``, by dotted key."""
    assert config.tune is not None
    values: dict[str, Any] = {}
    for parameter in config.tune.parameters:
        if parameter.type == "int":
            values[parameter.key] = trial.suggest_int(
                parameter.key, parameter.low, parameter.high, step=parameter.step, log=parameter.log
            )
        elif parameter.type == "float":
            values[parameter.key] = trial.suggest_float(
                parameter.key, parameter.low, parameter.high, log=parameter.log
            )
        else:
            values[parameter.key] = trial.suggest_categorical(parameter.key, parameter.choices)
    return values


def pruning_sign(objective: ResolvedObjective, better: str) -> float:
    """+1 when the validation curve (``better``: lower/higher) improves in the
    objective's direction, -1 otherwise: the pruner compares reported values in the
    study's direction.

    >>> from smartml.tune.objectives import ResolvedObjective
    >>> pruning_sign(ResolvedObjective("roc.auc", "maximize", "summary"), "lower")
    -1.0
    """
    return 1.0 if (better == "lower") == (objective.direction == "minimize") else -1.0


def format_values(objectives: list[ResolvedObjective], values: list[float]) -> str:
    """``metric=value`` pairs of one trial.

    >>> from smartml.tune.objectives import ResolvedObjective
    >>> format_values([ResolvedObjective("hardware.bops", "minimize", "hardware")], [3512.0])
    'hardware.bops=3512'
    """
    return " ".join(
        f"{objective.metric}={value:.5g}"
        for objective, value in zip(objectives, values, strict=True)
    )


def best_so_far(study: optuna.Study, objectives: list[ResolvedObjective]) -> str:
    """The best trial (one objective) or the Pareto front's trial numbers."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return "best: none yet"
    if len(objectives) == 1:
        best = study.best_trial
        return f"best: trial {best.number} {format_values(objectives, best.values)}"
    front = sorted(trial.number for trial in study.best_trials)
    return f"Pareto front: trials {front}"


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ('' where /proc is absent)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
