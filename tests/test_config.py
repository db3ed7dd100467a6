"""Run configurations: the shipped files validate, and every mistake is named."""

import json
from pathlib import Path

import pytest

from smartml.config import load_config, save_config
from smartml.config.registered import fill_registries
from smartml.errors import ConfigError

CONFIGS = Path(__file__).parents[1] / "configs"


def write(tmp_path: Path, config: dict, name: str = "run.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


@pytest.fixture
def base_config() -> dict:
    return json.loads((CONFIGS / "pixel_2t.json").read_text())


@pytest.mark.parametrize(
    "name",
    [
        "pixel_2t.json",
        "pixel_20t.json",
        "pixel_2t_l1l2.json",
        "pixel_2t_mdmm.json",
        "pixel_2t_mdmm75.json",
        "pixel_2t_mdmm90.json",
        "pixel_2t_float.json",
        "pixel_20t_float.json",
    ],
)
def test_shipped_configs_validate(name):
    config = load_config(CONFIGS / name)
    assert config.task.name == "smart_pixels"
    assert config.run_dir() == f"runs/{name.removesuffix('.json')}"


def test_time_slices_of_the_two_configs():
    assert load_config(CONFIGS / "pixel_2t.json").data.time_slices == [0, 19]
    assert load_config(CONFIGS / "pixel_20t.json").data.time_slices == list(range(20))


def test_overrides_win_and_the_resolved_config_round_trips(tmp_path):
    overrides = {"training.epochs": 3, "training.device": "cpu", "output.dir": str(tmp_path / "r")}
    config = load_config(CONFIGS / "pixel_2t.json", overrides)
    assert config.training.epochs == 3 and config.run_dir() == str(tmp_path / "r")
    save_config(config, tmp_path / "resolved.json")
    assert load_config(tmp_path / "resolved.json") == config


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c.update(trainig={}),
            "trainig: unknown key 'trainig'; did you mean 'training'?",
        ),
        (
            lambda c: c["data"]["simulation"].update(n_cluster=5),
            "data.simulation.n_cluster: unknown key 'n_cluster'; did you mean 'n_clusters'?",
        ),
        (
            lambda c: c["data"]["simulation"]["sensor"].update(thicknes_um=5),
            "data.simulation.sensor.thicknes_um: unknown key 'thicknes_um'; did you mean 'thickness_um'?",
        ),
        (
            lambda c: c["model"].update(filter=3),
            "model.filter: unknown key 'filter'; did you mean 'filters'?",
        ),
        (
            lambda c: c["training"].update(epochs=0),
            "training.epochs: Input should be greater than 0",
        ),
        (
            lambda c: c["training"].update(epochs="many"),
            "training.epochs: Input should be a valid integer",
        ),
        (
            lambda c: c["training"].update(device="tpu"),
            "training.device: String should match pattern",
        ),
        (
            lambda c: c["data"].update(time_slices=[0, 25]),
            "data.time_slices: Value error, time slice 25",
        ),
        (
            lambda c: c["data"].update(time_slices=[]),
            "data.time_slices: List should have at least 1 item",
        ),
        (
            lambda c: c["data"]["split"].update(train=0.5),
            "data.split: Value error, train + validation + test",
        ),
        (
            lambda c: c["task"].update(name="pixles"),
            "task.name: unknown task 'pixles'; known: {tasks}",
        ),
        (
            lambda c: c["model"].update(name="mpl"),
            "model.name: unknown model 'mpl'; known: {models}",
        ),
        (lambda c: c.pop("data"), "data: required section is missing"),
        (lambda c: c.update(schema_version=2), "schema_version: 2 is not supported; expected 1"),
        (
            lambda c: c["training"].update(learning_rate=float("nan")),
            "training.learning_rate: Input should be a finite number",
        ),
        (
            lambda c: c["data"].update(source="parquet"),
            "data: Value error, source 'parquet' needs data.path",
        ),
        (
            lambda c: c.update(export={"backnd": "Vitis"}),
            "export.backnd: unknown key 'backnd'; did you mean 'backend'?",
        ),
        (
            lambda c: c.update(export={"clock_period_ns": -5}),
            "export.clock_period_ns: Input should be greater than 0",
        ),
        (
            lambda c: c["training"].update(
                mdmm={
                    "feasibility_tolerance": -0.1,
                    "constraints": [{"type": "sparsity", "target": 0.5}],
                }
            ),
            "training.mdmm.feasibility_tolerance: Input should be greater than or equal to 0",
        ),
        (
            lambda c: c["training"].update(initial_weights=3),
            "training.initial_weights: Input should be a valid string",
        ),
        (
            lambda c: c["data"].update(non_finite="skip"),
            "data.non_finite: Input should be 'drop' or 'error'",
        ),
        (
            lambda c: c["data"].update(memory_cache_mb=-1),
            "data.memory_cache_mb: Input should be greater than or equal to 0",
        ),
        (
            lambda c: c["data"].update(memory_cache=512),
            "data.memory_cache: unknown key 'memory_cache'; did you mean 'memory_cache_mb'?",
        ),
    ],
)
def test_bad_values_name_file_and_key(tmp_path, base_config, mutate, expected):
    mutate(base_config)
    path = write(tmp_path, base_config)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    # every registered name is offered: smartml's and the installed plugins'
    tasks, models = fill_registries()
    assert {"smart_pixels", "rich_pid"} <= set(tasks.names()) and "mlp" in models.names()
    names = {"{tasks}": ", ".join(tasks.names()), "{models}": ", ".join(models.names())}
    for placeholder, listed in names.items():
        expected = expected.replace(placeholder, listed)
    assert expected in message
    assert "\n" not in message


def test_bad_override_is_reported_like_a_bad_file_value():
    with pytest.raises(ConfigError, match=r"training.batch_size: Input should be greater than 0"):
        load_config(CONFIGS / "pixel_2t.json", {"training.batch_size": -1})


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such configuration file"),
        ("", "file is empty; expected a JSON object"),
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object at the top level"),
    ],
)
def test_unreadable_files(tmp_path, content, expected):
    path = tmp_path / "c.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=expected):
        load_config(path)
