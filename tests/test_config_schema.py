"""``python -m smartml.config schema``: a JSON Schema that accepts the shipped configs,
rejects misspelled keys, and follows the registered tasks and models."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from smartml.config import StrictModel, load_config
from smartml.config.__main__ import main
from smartml.config.base import ModelSection
from smartml.config.json_schema import DIALECT, run_config_json_schema
from smartml.config.registered import fill_registries
from smartml.registry import MODELS, TASKS

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.json"))


def validator(schema: dict | None = None) -> jsonschema.Draft202012Validator:
    schema = schema if schema is not None else run_config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def problems(config: dict, schema: dict | None = None) -> list[str]:
    """Every message, including those under anyOf/oneOf (an optional section)."""
    pending = list(validator(schema).iter_errors(config))
    messages = []
    while pending:
        error = pending.pop(0)
        messages.append(error.message)
        pending.extend(error.context or [])
    return messages


@pytest.fixture
def base_config() -> dict:
    return json.loads((Path(__file__).parents[1] / "configs" / "pixel_2t.json").read_text())


def test_schema_is_draft_2020_12():
    assert (
        run_config_json_schema()["$schema"]
        == DIALECT
        == ("https://json-schema.org/draft/2020-12/schema")
    )


@pytest.mark.parametrize("path", CONFIGS, ids=[path.name for path in CONFIGS])
def test_every_shipped_config_validates(path):
    assert CONFIGS, "no configs found"
    assert problems(json.loads(path.read_text())) == []


@pytest.mark.parametrize(
    ("mutate", "unexpected"),
    [
        (lambda c: c.update(trainig={}), "trainig"),
        (lambda c: c["data"]["simulation"].update(n_cluster=5), "n_cluster"),
        (lambda c: c["model"].update(filter=3), "filter"),
        (lambda c: c["model"].update(input_quantizer={"bits": 4, "bitz": 1}), "bitz"),
        (
            lambda c: c["training"].update(
                mdmm={"dampng": 1, "constraints": [{"type": "norm", "max_value": 1}]}
            ),
            "dampng",
        ),
        (
            lambda c: c["training"].update(
                mdmm={"constraints": [{"type": "sparsity", "target": 1, "targt": 1}]}
            ),
            "targt",
        ),
        (lambda c: c.update(export={"backnd": "Vitis"}), "backnd"),
    ],
)
def test_a_misspelled_key_fails(base_config, mutate, unexpected):
    mutate(base_config)
    assert any(f"'{unexpected}' was unexpected" in message for message in problems(base_config))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["task"].update(name="pixles"),
            "'pixles' is not one of {tasks}",
        ),
        (
            lambda c: c["model"].update(name="mpl"),
            "'mpl' is not one of {models}",
        ),
        (lambda c: c["training"].update(epochs=0), "0 is less than or equal to the minimum of 0"),
        (lambda c: c.pop("model"), "'model' is a required property"),
    ],
)
def test_unknown_names_bad_values_and_missing_sections_fail(base_config, mutate, expected):
    # every registered name is offered: smartml's and the installed plugins'
    tasks, models = fill_registries()
    assert {"smart_pixels", "rich_pid"} <= set(tasks.names()) and "mlp" in models.names()
    mutate(base_config)
    assert expected.format(tasks=tasks.names(), models=models.names()) in problems(base_config)


def test_editor_schema_key_is_allowed_and_the_loader_agrees(base_config, tmp_path):
    base_config["$schema"] = "../smartml-config.schema.json"
    assert problems(base_config) == []
    path = tmp_path / "run.json"
    path.write_text(json.dumps(base_config))
    assert load_config(path).name == "pixel_2t"


class LineData(StrictModel):
    n_points: int = 512
    slope: float = 3.0


class LinearModel(ModelSection):
    name: str = "linear"
    units: int = 1


@pytest.fixture
def line_components():
    TASKS.register("line", implementation="nowhere:LineTask")(LineData)
    MODELS.register("linear", implementation="nowhere:Linear")(LinearModel)
    yield
    TASKS.unregister("line")
    MODELS.unregister("linear")


def test_task_and_model_names_select_the_schema_of_data_and_model(base_config, line_components):
    schema = run_config_json_schema()
    line = {"name": "line", "task": {"name": "line"}, "data": {"slope": 2.0}}
    line_config = {**line, "model": {"name": "linear", "units": 3}}
    assert problems(line_config, schema) == []
    # The smart-pixels data and model do not fit the line task's and linear model's schemas.
    mixed = {**line, "data": base_config["data"], "model": {"name": "linear", "filters": 5}}
    messages = problems(mixed, schema)
    assert any("'source'" in m and "unexpected" in m for m in messages)
    assert any("'filters' was unexpected" in m for m in messages)
    # ...and the pixel config still validates against the same, larger schema.
    assert problems(base_config, schema) == []
    pixel_with_line_data = copy.deepcopy(base_config)
    pixel_with_line_data["data"] = {"slope": 2.0}
    assert "Additional properties are not allowed ('slope' was unexpected)" in problems(
        pixel_with_line_data, schema
    )


def test_command_writes_the_schema_to_a_file_or_stdout(tmp_path, capsys):
    output = tmp_path / "config.schema.json"
    assert main(["schema", "--output", str(output)]) == 0
    assert json.loads(output.read_text()) == run_config_json_schema()
    assert capsys.readouterr().out == ""
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == run_config_json_schema()


def test_command_reports_an_unwritable_file_in_one_line(tmp_path, capsys):
    target = tmp_path / "missing" / "schema.json"
    assert main(["schema", "--output", str(target)]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"smartml.config: error: {target}: cannot write the JSON Schema "
        "(No such file or directory)\n"
    )
