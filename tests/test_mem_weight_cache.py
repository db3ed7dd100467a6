"""mem_regression's target production on the Dask engine: ``cached_weights`` on a local
cluster equals a one-process integration, is cached whatever the engine, and the
``data.simulation.scheduler`` / ``workers`` keys are checked."""

import socket

import numpy as np
import pytest
import uproot
from mem_events import generated_like_events, write_events
from pydantic import ValidationError

from smartml.collider import mem_engine, mem_integration
from smartml.collider.mem_settings import MemSettings
from smartml.errors import ConfigError
from smartml.tasks.mem_regression import weight_files
from smartml.tasks.mem_regression.schema import MemSimulation

SETTINGS = MemSettings(neval=300, nitn_adapt=2, nitn=2)


@pytest.fixture
def events_file(tmp_path):
    events = generated_like_events(12, seed=3, resolutions=SETTINGS.resolutions)
    return write_events(tmp_path / "dy.root", events)


def tree_of(path):
    branches = [mem_integration.WEIGHT_BRANCH, mem_integration.ERROR_BRANCH]
    with uproot.open(path) as root_file:
        arrays = root_file[mem_integration.WEIGHT_TREE].arrays(branches, library="np")
    return [arrays[branch] for branch in branches]


def test_cached_weights_of_a_local_cluster_equal_one_process_and_are_cached(
    events_file, tmp_path, monkeypatch
):
    alone = tmp_path / "alone.root"
    mem_integration.integrate_file(events_file, "events", alone, SETTINGS, progress=False)
    weights, manifest = weight_files.cached_weights(events_file, "events", SETTINGS, workers=2)
    for cached, reference in zip(tree_of(weights), tree_of(alone), strict=True):
        np.testing.assert_array_equal(cached, reference)
    assert manifest["engine"] == "a LocalCluster of 2 worker processes"
    assert manifest["failed"] == 0 and manifest["failures"] == []
    assert manifest["seconds_per_event"] > 0 and manifest["workers"] in (1, 2)

    def no_integration(*args, **kwargs):
        raise AssertionError("integrated again")

    monkeypatch.setattr(weight_files, "integrate_file", no_integration)
    again, same_manifest = weight_files.cached_weights(
        events_file, "events", SETTINGS, workers=1, scheduler="tcp://127.0.0.1:1"
    )  # another engine: the same weights, so the same cache entry
    assert again == weights and same_manifest == manifest


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_scheduler_is_one_line_naming_the_key(events_file, monkeypatch):
    monkeypatch.setattr(mem_engine, "CONNECT_SECONDS", 1.0)
    address = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(ConfigError) as raised:
        weight_files.cached_weights(events_file, "events", SETTINGS, 1, scheduler=address)
    assert str(raised.value).startswith(
        f"data.simulation.scheduler {address}: cannot connect to the Dask scheduler within 1 s"
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"scheduler": "10.0.0.5:8786"}, "scheduler '10.0.0.5:8786': expected a Dask scheduler"),
        ({"scheduler": "tcp://10.0.0.5"}, "scheduler 'tcp://10.0.0.5': expected a Dask scheduler"),
        (
            {"scheduler": "tcp://10.0.0.5:8786", "workers": 4},
            "workers and scheduler: the scheduler's workers integrate; give one",
        ),
        ({"scheduler": 8786}, "Input should be a valid string"),
    ],
)
def test_simulation_engine_keys_are_checked(values, message):
    with pytest.raises(ValidationError, match=message):
        MemSimulation.model_validate(values)


def test_a_scheduler_alone_is_accepted():
    simulation = MemSimulation.model_validate({"scheduler": "tls://scheduler.cluster:8786"})
    assert simulation.scheduler == "tls://scheduler.cluster:8786" and simulation.workers == 2
