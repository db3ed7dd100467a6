"""Unknown keys are named with the path the user wrote and the keys that section accepts,
in optional sections, union members, list items, dict values and every section."""

import json
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Discriminator, Field, Tag, ValidationError, create_model

from smartml.config import StrictModel, load_config
from smartml.config.messages import describe, locate
from smartml.config.strict import validate_json_section
from smartml.errors import ConfigError
from smartml.registry import TASKS

CONFIGS = Path(__file__).parents[1] / "configs"


@pytest.fixture
def base_config() -> dict:
    return json.loads((CONFIGS / "pixel_2t.json").read_text())


def error_of(tmp_path: Path, config: dict) -> str:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message.removeprefix(f"{path}: ")


def sparsity(**settings) -> dict:
    return {"type": "sparsity", "target": 0.5, **settings}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        pytest.param(
            lambda c: c.update(trainig={}),
            "trainig: unknown key 'trainig'; did you mean 'training'?",
            id="top level",
        ),
        pytest.param(
            lambda c: c.update(zzz={}),
            "zzz: unknown key 'zzz'; expected one of: schema_version, name, task, data, model, "
            "training, output, export, tune, $schema",
            id="top level, no close key",
        ),
        pytest.param(
            lambda c: c["training"].update(mdmm={"dampng": 1, "constraints": [sparsity()]}),
            "training.mdmm.dampng: unknown key 'dampng'; did you mean 'damping'?",
            id="optional section",
        ),
        pytest.param(
            lambda c: c["training"].update(mdmm={"qqq": 1, "constraints": [sparsity()]}),
            "training.mdmm.qqq: unknown key 'qqq'; expected one of: constraints, "
            "lambda_learning_rate, damping, feasibility_tolerance, schedule",
            id="optional section, no close key",
        ),
        pytest.param(
            lambda c: c["training"].update(
                mdmm={"constraints": [{"type": "sparsity", "targt": 1}]}
            ),
            "training.mdmm.constraints[0].targt: unknown key 'targt'; did you mean 'target'?",
            id="union member",
        ),
        pytest.param(
            lambda c: c["training"].update(
                mdmm={"constraints": [sparsity(), {"type": "bops", "max_bops": 9, "zzz": 1}]}
            ),
            "training.mdmm.constraints[1].zzz: unknown key 'zzz'; expected one of: type, name, "
            "max_bops, scale, default_bits, temperature",
            id="list index, second union member",
        ),
        pytest.param(
            lambda c: c["training"].update(
                mdmm={"constraints": [{"type": "norm", "max_value": 1, "kind": "l3"}]}
            ),
            "training.mdmm.constraints[0].kind: Input should be 'l1' or 'l2'",
            id="bad value in a union member",
        ),
        pytest.param(
            lambda c: c["data"]["simulation"]["tracks"].update(pt_min=1),
            "data.simulation.tracks.pt_min: unknown key 'pt_min'; did you mean 'pt_min_gev'?",
            id="data section",
        ),
        pytest.param(
            lambda c: c["model"].update(input_quantizer={"bits": 4, "zzz": 1}),
            "model.input_quantizer.zzz: unknown key 'zzz'; expected one of: bits, integer, signed",
            id="model section, optional",
        ),
        pytest.param(
            lambda c: c["model"].update(regularization={"activty_l2": 0.1}),
            "model.regularization.activty_l2: unknown key 'activty_l2'; did you mean 'activity_l2'?",
            id="model section, shared schema piece",
        ),
    ],
)
def test_unknown_keys_name_the_written_path_and_the_known_keys(
    tmp_path, base_config, mutate, expected
):
    mutate(base_config)
    assert error_of(tmp_path, base_config).startswith(expected)


def test_an_unknown_key_is_reported_before_the_missing_key_it_causes(tmp_path, base_config):
    base_config["training"]["mdmm"] = {"constraints": [{"type": "sparsity", "targt": 0.5}]}
    message = error_of(tmp_path, base_config)
    assert "(and 1 more problem)" in message  # 'target' is missing too
    assert "unknown key 'targt'" in message


def test_editor_schema_key_is_accepted_and_ignored(tmp_path, base_config):
    base_config["$schema"] = "../smartml-config.schema.json"
    path = tmp_path / "run.json"
    path.write_text(json.dumps(base_config))
    assert "$schema" not in load_config(path).model_dump()


class Channel(StrictModel):
    gain: float = 1.0
    offset: float = 0.0


class CalibrationData(StrictModel):
    channels: dict[str, Channel] = Field(default_factory=dict)


@pytest.fixture
def calibration_task():
    # Only the schema is looked up while validating; the implementation is never imported.
    TASKS.register("calibration", implementation="nowhere:Nothing")(CalibrationData)
    yield
    TASKS.unregister("calibration")


def test_dict_values_of_a_registered_task_are_named_by_their_key(
    tmp_path, base_config, calibration_task
):
    base_config["task"] = {"name": "calibration"}
    base_config["data"] = {"channels": {"north": {"gain": 2.0}, "south": {"gian": 1.0}}}
    message = error_of(tmp_path, base_config)
    assert message == "data.channels.south.gian: unknown key 'gian'; did you mean 'gain'?"


# Two sections whose classes share a name: a lookup by class name would mix them up.
FirstSettings = create_model("Settings", __base__=StrictModel, alpha=(int, 0))
SecondSettings = create_model("Settings", __base__=StrictModel, beta=(int, 0), gamma=(int, 0))
assert FirstSettings.__name__ == SecondSettings.__name__


class Cut(StrictModel):
    kind: Literal["cut"]
    low: float = 0.0


class Window(StrictModel):
    kind: Literal["window"]
    width: float = 1.0


def first_letter_of_kind(value) -> str:
    return (value["kind"] if isinstance(value, dict) else value.kind)[0]


# A callable discriminator: pydantic names the member by its Tag ("c", "w").
Probe = Annotated[
    Annotated[Cut, Tag("c")] | Annotated[Window, Tag("w")], Discriminator(first_letter_of_kind)
]


class Detector(StrictModel):
    first: FirstSettings = FirstSettings()  # type: ignore[valid-type]
    second: SecondSettings | None = None  # type: ignore[valid-type]
    selections: tuple[Annotated[Cut | Window, Field(discriminator="kind")], ...] = ()
    fallback: Cut | Window | None = None
    probes: list[Probe] = Field(default_factory=list)
    layers: dict[str, list[Channel]] = Field(default_factory=dict)


@pytest.mark.parametrize(
    ("raw", "keys", "section_fields"),
    [
        ({"second": {"alpha": 1}}, "second.alpha", ["beta", "gamma"]),
        ({"first": {"beta": 1}}, "first.beta", ["alpha"]),
        (
            {"selections": [{"kind": "cut"}, {"kind": "window", "low": 1}]},
            "selections[1].low",
            ["kind", "width"],
        ),
        ({"layers": {"l0": [{}, {"gane": 1}]}}, "layers.l0[1].gane", ["gain", "offset"]),
        ({"probes": [{"kind": "window", "widht": 1}]}, "probes[0].widht", ["kind", "width"]),
        ({"extra": 1}, "extra", [*Detector.model_fields]),
    ],
)
def test_locate_follows_the_schema_not_class_names(raw, keys, section_fields):
    with pytest.raises(ValidationError) as raised:
        validate_json_section(Detector, raw)  # as the loader does: a JSON array is a tuple
    where = locate(Detector, raised.value.errors()[0]["loc"])
    assert where.keys == keys
    assert list(where.section.model_fields) == section_fields


def test_a_union_without_discriminator_offers_the_keys_of_every_member():
    with pytest.raises(ValidationError) as raised:
        Detector.model_validate({"fallback": {"kind": "cut", "lenght": 2}})
    message = describe(raised.value, Detector, "d.json", "detector")
    assert message.startswith(
        "d.json: detector.fallback.lenght: unknown key 'lenght'; expected one of: kind, low, width"
    )


def test_a_problem_at_the_top_of_a_section_names_the_section():
    with pytest.raises(ValidationError) as raised:
        Detector.model_validate([])
    assert describe(raised.value, Detector, "d.json", "detector").startswith(
        "d.json: detector: Input should be a valid dictionary"
    )
