"""Where the chunks of a MEM integration run: on Dask workers, those of a
LocalCluster started here or those of any running scheduler (``tcp://host:port``,
e.g. one started on Slurm or HTCondor with dask-jobqueue).

The engine knows nothing of physics: it submits ``function(*arguments)`` tasks, one
per chunk, and hands each result to the caller in this process as it arrives (the
caller saves it, so a killed run resumes). A worker that dies mid-task is Dask's to
handle: the scheduler reruns the task elsewhere, up to
``distributed.scheduler.allowed-failures`` (default 3) deaths of a worker running that
same task, after which the task errs with ``KilledWorker``. A result is received
once per task, so a rerun task can neither be lost nor counted twice.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from smartml.errors import ConfigError

if TYPE_CHECKING:
    from distributed import Client

SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
CONNECT_SECONDS = 30.0
"""How long to try to reach a ``--scheduler`` before giving up."""
MIN_TASKS_AHEAD = 256
TASKS_AHEAD_PER_THREAD = 4
"""Chunks submitted and not yet received: at most max(256, 4 × worker threads), so
that the driver holds a bounded part of the input while an adaptive cluster (e.g.
dask-jobqueue's ``cluster.adapt``) still sees enough queued tasks to scale up."""


@dataclass(frozen=True)
class TaskResult:
    """One task's return value and the address of the worker that computed it."""

    value: Any
    worker: str


SCHEDULER_ADDRESS_EXPECTED = (
    f"expected a Dask scheduler address tcp://host:port (schemes {', '.join(SCHEDULER_SCHEMES)})"
)


def is_scheduler_address(address: str) -> bool:
    """Whether ``address`` names a Dask scheduler: ``tcp://host:port`` (or tls, ws, wss, ucx).

    >>> is_scheduler_address("tcp://10.0.0.5:8786"), is_scheduler_address("10.0.0.5:8786")
    (True, False)
    """
    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        return False
    return parts.scheme in SCHEDULER_SCHEMES and bool(parts.hostname) and port is not None


def check_scheduler_address(address: str, key: str) -> str:
    """``address`` if it names a Dask scheduler (:func:`is_scheduler_address`).

    Args:
        address: the address given; key: the option or configuration key that gave
            it, named in the error.

    Raises:
        ConfigError: one line naming ``key`` when the scheme or the port is missing.

    >>> check_scheduler_address("10.0.0.5", "--scheduler")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    smartml.errors.ConfigError: --scheduler 10.0.0.5: expected a Dask scheduler address ...
    """
    if not is_scheduler_address(address):
        raise ConfigError(f"{key} {address}: {SCHEDULER_ADDRESS_EXPECTED}")
    return address


@contextmanager
def dask_client(workers: int, scheduler: str | None, key: str = "--scheduler") -> Iterator[Client]:
    """A Dask client: of ``scheduler`` when given, else of a LocalCluster of ``workers``
    processes with one thread each (closed on exit).

    Args:
        workers: processes of the LocalCluster (ignored with ``scheduler``).
        scheduler: the address of a running scheduler, or None.
        key: the option or configuration key of ``scheduler``, for the error.

    Raises:
        ConfigError: the scheduler cannot be reached within :data:`CONNECT_SECONDS`.
    """
    from distributed import Client, LocalCluster

    # distributed logs its start-up at INFO on its own logger: show it only where the
    # command shows INFO lines (--verbose)
    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    if scheduler is None:
        # processes, not threads: the integrand holds the GIL most of the time
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                # no dashboard, and its HTTP server on a free port, not on 8787
                dashboard_address=":0",
                scheduler_kwargs={"dashboard": False},
                silence_logs=logging.ERROR,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(check_scheduler_address(scheduler, key), timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as err:
        raise ConfigError(
            f"{key} {scheduler}: cannot connect to the Dask scheduler within "
            f"{CONNECT_SECONDS:g} s ({type(err).__name__}); is it running?"
        ) from None
    with client:
        yield client


def _run_and_name_worker(function: Callable[..., Any], *arguments: Any) -> TaskResult:
    """Run on a worker: ``function(*arguments)`` with the worker's address."""
    from distributed import get_worker

    return TaskResult(function(*arguments), get_worker().address)


def _tasks_ahead(client: Client) -> int:
    threads = sum(client.nthreads().values())
    return max(MIN_TASKS_AHEAD, TASKS_AHEAD_PER_THREAD * threads)


def run_tasks(
    client: Client,
    function: Callable[..., Any],
    tasks: Iterator[tuple[int, tuple[Any, ...]]],
    on_done: Callable[[int, TaskResult], None],
    name: str,
) -> dict[int, int]:
    """Run ``function(*arguments)`` for each ``(index, arguments)`` of ``tasks`` on the
    client's workers, calling ``on_done(index, result)`` here as each finishes.

    ``tasks`` is consumed lazily (see :data:`MIN_TASKS_AHEAD`). ``function`` must be
    importable on the workers (a module-level function of an installed package).

    Args:
        client: from :func:`dask_client`; name: the prefix of the tasks' keys.

    Returns:
        the tasks that erred with ``KilledWorker`` (their workers died more often than
        the scheduler's ``distributed.scheduler.allowed-failures``): index -> that
        limit; the others ran.

    Raises:
        Exception: whatever a task raised (a bug: the chunk functions catch the
            failures of events); the results already passed to ``on_done`` stay there.
        OSError: the scheduler is lost (or ``CancelledError``).
    """
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    running: dict[Any, int] = {}
    finished = as_completed()
    run_id = uuid.uuid4().hex[:8]

    def submit_ahead() -> None:
        for index, arguments in tasks:
            future = client.submit(
                _run_and_name_worker, function, *arguments, key=f"{name}-{run_id}-{index}"
            )
            running[future] = index
            finished.add(future)
            if len(running) >= _tasks_ahead(client):
                return

    killed: dict[int, int] = {}
    submit_ahead()
    try:
        for future in finished:
            index = running.pop(future)
            error = future.exception() if future.status == "error" else None
            if isinstance(error, KilledWorker):
                killed[index] = error.allowed_failures
            else:
                on_done(index, future.result())
            future.release()  # the worker may forget the result: it is saved
            submit_ahead()
    except BaseException:
        # ^C, a failed save or a lost scheduler: queued chunks must not run on (a
        # lost scheduler cannot be told, and the original error is the one to see)
        with contextlib.suppress(Exception):
            client.cancel(list(running))
        raise
    return killed


LOST_SCHEDULER = (OSError, TimeoutError, concurrent.futures.CancelledError)
"""What :func:`run_tasks` raises when the scheduler goes away mid-run."""
