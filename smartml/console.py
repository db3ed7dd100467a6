"""What a person sees on the terminal (and in notebooks): smartml's log lines, without
the start-up chatter of TensorFlow, CUDA and hls4ml, and where tracebacks of bugs go.

This is the one place that decides what is noise:

- native (C++) lines that TensorFlow writes straight to file descriptor 2 while it is
  imported and while it looks for GPUs (absl's "All log messages before
  absl::InitializeLog()", oneDNN and cudart notices, "failed call to cuInit" on every
  machine without a GPU). ``TF_CPP_MIN_LOG_LEVEL`` does not stop them, so
  :func:`filtered_native_stderr` captures descriptor 2 around those two moments and
  writes back every line that is not known noise, so a genuine error still shows.
  ``import smartml`` calls :func:`filter_tensorflow_import`, which puts the import of
  TensorFlow in it whoever imports it first (QKeras, hls4ml, :mod:`smartml.backend`
  or a user's script); :mod:`smartml.backend` puts the GPU probe in it;
- Python loggers of other libraries: absl's "Sharding callback duration" at each
  backup, hls4ml's "keras dict linear" on the root logger, TensorFlow's deprecation
  warnings (:func:`quiet_third_party_loggers`).

With ``--verbose`` (:func:`set_verbose`) everything is shown. Notebooks get the same
filter: they import smartml first.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

LOG_FORMAT = "%(asctime)s %(name)s: %(message)s"
LOG_DIR_VARIABLE = "SMARTML_LOG_DIR"

# Native lines known to carry nothing a user can act on. absl's own lines look like
# "I0000 00:00:1795527957.922820   24543 port.cc:153] message": its informational
# and warning lines (I, W) are all start-up chatter here; error lines (E) only when
# they are the known CUDA probing of a machine without (or with) a GPU.
_ABSL_PREFIX = r"\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] "
NATIVE_NOISE = (
    re.compile(r"WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(rf"[IW]{_ABSL_PREFIX}"),
    re.compile(rf"E{_ABSL_PREFIX}failed call to cuInit"),
    re.compile(rf"E{_ABSL_PREFIX}Unable to register cu(DNN|FFT|BLAS) factory"),
    re.compile(rf"E{_ABSL_PREFIX}.*when one has already been registered"),
    re.compile(r"TF-TRT Warning: Could not find TensorRT"),
)

# Python loggers of other libraries and the level below which they are noise.
THIRD_PARTY_LEVELS = {
    "absl": logging.WARNING,  # "Sharding callback duration" at every backup (INFO)
    "tensorflow": logging.ERROR,  # deprecation notices, "callback is slow"
    "h5py": logging.WARNING,
    "matplotlib": logging.WARNING,
}

_verbose = False


def set_verbose(verbose: bool) -> None:
    """Show (True) or hide (False, the default) third-party noise from now on."""
    global _verbose
    _verbose = verbose


def is_verbose() -> bool:
    """Whether third-party noise is shown (``--verbose``)."""
    return _verbose


def is_native_noise(line: str) -> bool:
    """Whether a line written by native code is known noise.

    >>> is_native_noise("E0000 00:00:1795527960.901368   24543 cuda_platform.cc:52] "
    ...                 "failed call to cuInit: INTERNAL: CUDA error")
    True
    >>> is_native_noise("E0000 00:00:1795527960.901368   24543 op.cc:7] out of memory")
    False
    """
    return any(pattern.match(line) for pattern in NATIVE_NOISE)


@contextmanager
def filtered_native_stderr() -> Iterator[None]:
    """Capture file descriptor 2 while the block runs, then write back every line
    that is not :func:`is_native_noise` (all of them when verbose).

    Native libraries write to the descriptor, not to ``sys.stderr``, so only
    redirecting the descriptor catches them; the block should be short (an import, a
    device probe), since nothing written in it appears before it ends.
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if _verbose or not is_native_noise(line)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _FilteredImport(importlib.abc.MetaPathFinder):
    """A one-shot import hook (``sys.meta_path``): the module ``name`` is executed
    inside :func:`filtered_native_stderr`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # first import only; lets find_spec see the others
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module: ModuleType) -> None:
                with filtered_native_stderr():
                    execute(module)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def filter_tensorflow_import() -> None:
    """Make the first import of TensorFlow, by whomever, run inside
    :func:`filtered_native_stderr` (no-op when TensorFlow is imported already)."""
    if "tensorflow" in sys.modules or any(
        isinstance(finder, _FilteredImport) for finder in sys.meta_path
    ):
        return
    sys.meta_path.insert(0, _FilteredImport("tensorflow"))


def quiet_third_party_loggers() -> None:
    """Raise the levels of other libraries' loggers (:data:`THIRD_PARTY_LEVELS`)
    unless verbose; verbose restores their default (inherit from the root)."""
    for name, level in THIRD_PARTY_LEVELS.items():
        logging.getLogger(name).setLevel(logging.NOTSET if _verbose else level)


def configure_logging(verbose: bool = False) -> None:
    """Log lines of a command: smartml's INFO lines with their time; others' INFO
    lines (hls4ml's root logger) and third-party noise only when ``verbose``."""
    set_verbose(verbose)
    logging.basicConfig(format=LOG_FORMAT, datefmt="%H:%M:%S")
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("smartml").setLevel(logging.INFO)
    quiet_third_party_loggers()


def log_directory() -> Path:
    """Where tracebacks of unexpected errors are written: ``$SMARTML_LOG_DIR``, or the
    user log directory of the platform (``~/.local/state/smartml/log`` on Linux)."""
    configured = os.environ.get(LOG_DIR_VARIABLE)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_log_dir("smartml"))


def write_traceback(prog: str, error: BaseException) -> Path | None:
    """Write ``error``'s traceback to a new file in :func:`log_directory` (the system's
    temporary folder when that cannot be written).

    Args:
        prog: the command (names the file); error: the exception caught.

    Returns:
        the file's path; None when neither folder could be written.
    """
    text = f"{prog} {' '.join(sys.argv[1:])}\n\n" + "".join(traceback.format_exception(error))
    name = f"{prog}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in (log_directory(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return None


class Step:
    """Seconds one :func:`timed_step` took (set when the step ends)."""

    seconds: float = 0.0


@contextmanager
def timed_step(log: logging.Logger, description: str) -> Iterator[Step]:
    """Log ``description`` when a step starts and its wall time when it ends.

    >>> import logging
    >>> with timed_step(logging.getLogger("doctest"), "waiting") as step:
    ...     pass
    >>> step.seconds < 1
    True
    """
    step = Step()
    log.info("%s ...", description)
    started = time.perf_counter()
    yield step
    step.seconds = time.perf_counter() - started
    log.info("%s: done (%.1f s)", description, step.seconds)


PROGRESS_VARIABLE = "SMARTML_PROGRESS"
"""``1``: draw progress bars even when stderr is not a terminal; ``0``: never."""


def in_notebook() -> bool:
    """True inside a Jupyter kernel (an IPython shell with a kernel attached)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = getattr(shell, "get_ipython", lambda: None)()
    return ipython is not None and hasattr(ipython, "kernel")


def progress_enabled() -> bool:
    """Bars show on a terminal and in notebooks, not in logs and pipes (a file full of
    carriage returns helps nobody); :data:`PROGRESS_VARIABLE` overrides."""
    forced = os.environ.get(PROGRESS_VARIABLE)
    if forced in ("0", "1"):
        return forced == "1"
    return in_notebook() or sys.stderr.isatty()


@contextmanager
def progress(
    total: int, unit: str, description: str, initial: int = 0, shown: bool | None = None
) -> Iterator[Any]:
    """A progress bar for long work: tqdm on stderr (``tqdm.auto`` in a notebook), shown
    only where :func:`progress_enabled`. smartml's log lines written while it runs go
    through the bar (``tqdm.write``), so they do not break it.

    Args:
        total: units of work; unit: their name ("event", "cluster"); description:
            what is done, shown before the bar; initial: units already done (a resume).
        shown: False never draws it; None (default) where :func:`progress_enabled`.

    Yields:
        the bar; call ``bar.update(n)`` as work is done.

    >>> with progress(3, "file", "demo") as bar:  # drawn on a terminal only
    ...     bar.update(3)
    """
    import tqdm
    import tqdm.auto
    from tqdm.contrib.logging import logging_redirect_tqdm

    enabled = progress_enabled() if shown is None else shown
    bar_class = tqdm.auto.tqdm if in_notebook() else tqdm.tqdm
    with bar_class(
        total=total,
        initial=initial,
        unit=unit,
        unit_scale=total >= 10_000,  # 300k, not 300000; but 5/5, not 5.00/5.00
        desc=description,
        file=sys.stderr,
        disable=not enabled,
        dynamic_ncols=True,
    ) as bar:
        if not enabled:
            yield bar
            return
        with logging_redirect_tqdm(loggers=[logging.getLogger("smartml")], tqdm_class=bar_class):
            yield bar
