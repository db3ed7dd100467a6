"""Strict run configurations: no value is coerced to another type, numbers that can
only be mistakes are out of range, and a bad command-line value names its option."""

import json
from pathlib import Path
from types import UnionType
from typing import Union, get_args, get_origin

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from smartml.cli import OptionValue
from smartml.config import StrictModel, load_config, save_config
from smartml.config.json_schema import run_config_json_schema
from smartml.config.registered import fill_registries
from smartml.config.strict import validate_json_section
from smartml.errors import ConfigError
from smartml.registry import TASKS
from smartml.runs.directory import RunDirectory

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.json"))
PIXEL_2T = Path(__file__).parents[1] / "configs" / "pixel_2t.json"


@pytest.fixture
def base_config(tmp_path) -> dict:
    config = json.loads(PIXEL_2T.read_text())
    config["output"]["dir"] = str(tmp_path / "run")
    return config


@pytest.fixture(scope="module")
def schema_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(run_config_json_schema())


def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    return path


def error_of(path: Path, overrides: dict | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path, overrides)
    message = str(raised.value)
    assert "\n" not in message
    return message


def set_key(config: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        config = config.setdefault(key, {})
    config[leaf] = value


RELU = {"bits": 8, "integer": 3}
COERCIONS = [
    ("training.epochs", "3", "training.epochs: Input should be a valid integer (got '3')"),
    ("training.epochs", True, "training.epochs: Input should be a valid integer (got True)"),
    ("training.epochs", 1e9, "training.epochs: Input should be a valid integer (got 1000000000.0)"),
    (
        "training.learning_rate",
        "1e-3",
        "training.learning_rate: Input should be a valid number (got '1e-3')",
    ),
    ("training.verbose", True, "training.verbose: Input should be a valid integer (got True)"),
    ("output.plots", 1, "output.plots: Input should be a valid boolean (got 1)"),
    ("output.plots", "true", "output.plots: Input should be a valid boolean (got 'true')"),
    (
        "data.time_slices",
        ["0", 19],
        "data.time_slices[0]: Input should be a valid integer (got '0')",
    ),
    ("data.contained_only", 0, "data.contained_only: Input should be a valid boolean (got 0)"),
    ("data.split.seed", "0", "data.split.seed: Input should be a valid integer (got '0')"),
    (
        "data.simulation.sensor.thickness_um",
        "100",
        "data.simulation.sensor.thickness_um: Input should be a valid number (got '100')",
    ),
    (
        "model.hidden_units",
        ["16"],
        "model.hidden_units[0]: Input should be a valid integer (got '16')",
    ),
    (
        "model.conv_weights.signed",
        1,
        "model.conv_weights.signed: Input should be a valid boolean (got 1)",
    ),
    ("export.reuse_factor", "2", "export.reuse_factor: Input should be a valid integer (got '2')"),
    (
        "export.rtl_stage_levels",
        2.5,
        "export.rtl_stage_levels: Input should be a valid integer (got 2.5)",
    ),
    ("schema_version", True, "schema_version: True is not supported; expected 1"),
]


@pytest.mark.parametrize(("key", "value", "expected"), COERCIONS)
def test_values_of_another_type_are_rejected_not_coerced(
    tmp_path, base_config, schema_validator, key, value, expected
):
    set_key(base_config, key, value)
    path = write(tmp_path, base_config)
    assert error_of(path) == f"{path}: {expected}"
    # The JSON Schema an editor uses (an independent validator) agrees.
    assert not schema_validator.is_valid(base_config)


def test_a_float_is_not_an_integer_even_when_whole(tmp_path, base_config):
    # Stricter than JSON Schema (whose "integer" takes 3.0): 1e9 and 3.0 are floats.
    base_config["training"]["epochs"] = 3.0
    message = error_of(write(tmp_path, base_config))
    assert message.endswith("training.epochs: Input should be a valid integer (got 3.0)")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            {"name": "mlp", "quantization": {"activation": {**RELU, "signed": 0}}},
            "model.quantization.activation.signed: Input should be a valid boolean (got 0)",
        ),
        (
            {"name": "mlp", "quantization": {"activation": {**RELU, "signed": True}}},
            "model.quantization.activation.signed: Value error, quantized_relu is unsigned",
        ),
    ],
)
def test_an_unsigned_quantizer_takes_only_false(tmp_path, base_config, model, expected):
    base_config["model"] = model
    assert expected in error_of(write(tmp_path, base_config))


def test_a_constraint_value_of_another_type_is_rejected(tmp_path, base_config):
    base_config["training"]["mdmm"] = {"constraints": [{"type": "sparsity", "target": "0.5"}]}
    message = error_of(write(tmp_path, base_config))
    assert "training.mdmm.constraints[0].target: Input should be a valid number" in message


def test_integers_are_valid_floats_and_keep_float_type(tmp_path, base_config):
    base_config["training"]["learning_rate"] = 1
    base_config["export"] = {"clock_period_ns": 25, "agreement_threshold": 1}
    base_config["data"]["simulation"]["sensor"]["thickness_um"] = 150
    config = load_config(write(tmp_path, base_config))
    values = (
        config.training.learning_rate,
        config.export.clock_period_ns,
        config.export.agreement_threshold,
        config.data.simulation.sensor.thickness_um,
    )
    assert values == (1.0, 25.0, 1.0, 150.0)
    assert all(type(value) is float for value in values)


# (key, the largest or smallest value accepted, the first value refused, message)
BOUNDS = [
    ("training.epochs", 10_000, 10_001, "less than or equal to 10000"),
    ("training.batch_size", 1 << 20, (1 << 20) + 1, "less than or equal to 1048576"),
    ("training.shuffle_buffer", 10_000_000, 10_000_001, "less than or equal to 10000000"),
    ("training.learning_rate", 1.0, 1.5, "less than or equal to 1"),
    ("training.backup_every_batches", 1_000_000, 1_000_001, "less than or equal to 1000000"),
    ("training.early_stopping_patience", 10_000, 10_001, "less than or equal to 10000"),
    ("training.seed", 2**32 - 1, 2**32, "less than or equal to 4294967295"),
    ("training.lr_schedule.patience", 10_000, 10_001, "less than or equal to 10000"),
    ("data.split.seed", 0, -1, "greater than or equal to 0"),
    ("data.simulation.n_clusters", 100_000_000, 100_000_001, "less than or equal to 100000000"),
    ("model.filters", 4096, 4097, "less than or equal to 4096"),
    ("model.kernel_size", 13, 14, "less than or equal to 13"),
    ("model.pool_size", 13, 14, "less than or equal to 13"),
    ("export.clock_period_ns", 1000.0, 1000.5, "less than or equal to 1000"),
    ("export.reuse_factor", 65536, 65537, "less than or equal to 65536"),
    ("export.testbench_vectors", 1_000_000, 1_000_001, "less than or equal to 1000000"),
]


@pytest.mark.parametrize(("key", "limit", "beyond", "expected"), BOUNDS)
def test_bounds_accept_their_limit_and_refuse_beyond(
    tmp_path, base_config, schema_validator, key, limit, beyond, expected
):
    set_key(base_config, key, limit)
    assert schema_validator.is_valid(base_config)
    load_config(write(tmp_path, base_config))
    set_key(base_config, key, beyond)
    assert not schema_validator.is_valid(base_config)
    message = error_of(write(tmp_path, base_config))
    assert f"{key}: Input should be {expected} (got {beyond!r})" in message


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("pixel_mdn", "hidden_units"),
        ("mlp", "hidden_units"),
        ("deepsets", "point_units"),
        ("deepsets", "head_units"),
        ("pointnet", "point_units"),
        ("dgcnn", "head_units"),
    ],
)
def test_layer_widths_are_bounded(tmp_path, base_config, model, key):
    base_config["model"] = {"name": model, key: [16, 4096]}
    load_config(write(tmp_path, base_config))
    for width in (0, 4097):
        base_config["model"][key] = [16, width]
        assert f"model.{key}[1]: Input should be" in error_of(write(tmp_path, base_config))


def test_the_json_schema_documents_the_bounds():
    definitions = run_config_json_schema()["$defs"]
    training = definitions["TrainingConfig"]["properties"]
    assert training["epochs"]["maximum"] == 10_000
    assert training["learning_rate"]["maximum"] == 1
    assert training["verbose"] == {**training["verbose"], "minimum": 0, "maximum": 2}
    assert definitions["PixelMDNConfig"]["properties"]["hidden_units"]["items"]["maximum"] == 4096
    assert definitions["ExportConfig"]["properties"]["reuse_factor"]["maximum"] == 65536


@pytest.mark.parametrize("path", CONFIGS, ids=[path.name for path in CONFIGS])
def test_every_shipped_config_validates_and_round_trips(tmp_path, path):
    config = load_config(path)
    save_config(config, tmp_path / "config.json")
    assert load_config(tmp_path / "config.json") == config


class WindowData(StrictModel):
    window: tuple[int, int] = (13, 21)


@pytest.fixture
def window_task():
    # Only the schema is looked up while validating; the implementation is never imported.
    TASKS.register("window", implementation="nowhere:Nothing")(WindowData)
    yield
    TASKS.unregister("window")


def test_a_json_array_is_a_valid_tuple_and_round_trips(tmp_path, base_config, window_task):
    base_config["task"] = {"name": "window"}
    base_config["data"] = {"window": [7, 9]}
    config = load_config(write(tmp_path, base_config))
    assert config.data.window == (7, 9)
    save_config(config, tmp_path / "config.json")
    assert load_config(tmp_path / "config.json") == config
    base_config["data"] = {"window": ["7", 9]}
    message = error_of(write(tmp_path, base_config))
    assert "data.window[0]: Input should be a valid integer (got '7')" in message


def test_an_option_value_is_reported_under_its_option(tmp_path, base_config):
    path = write(tmp_path, base_config)
    overrides = {"training.epochs": OptionValue("--epochs", -1)}
    assert error_of(path, overrides) == "--epochs -1: must be greater than 0"
    # A plain override (a program's, not a command line's) is named by its key.
    assert error_of(path, {"training.epochs": -1}).startswith(f"{path}: training.epochs: ")


def test_a_bad_file_value_is_still_named_by_the_file_beside_good_options(tmp_path, base_config):
    base_config["training"]["batch_size"] = "big"
    path = write(tmp_path, base_config)
    message = error_of(path, {"training.epochs": OptionValue("--epochs", 2)})
    assert message == f"{path}: training.batch_size: Input should be a valid integer (got 'big')"


def one_line_error(capsys, prog: str) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{prog}: error: "), lines
    return lines[0].removeprefix(f"{prog}: error: ")


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--epochs", "-1"], "--epochs -1: must be greater than 0"),
        (["--epochs", "20000"], "--epochs 20000: must be less than or equal to 10000"),
        (["--batch-size", "0"], "--batch-size 0: must be greater than 0"),
        (["--seed", "-3"], "--seed -3: must be greater than or equal to 0"),
        (["--device", "tpu"], "--device tpu: String should match pattern"),
    ],
)
def test_train_names_the_option_of_a_bad_value(tmp_path, base_config, capsys, options, expected):
    from smartml.train import main as train_main

    base_config["training"]["epochs"] = 3  # the file is fine: the option is at fault
    assert train_main([str(write(tmp_path, base_config)), *options]) == 2
    assert one_line_error(capsys, "smartml.train").startswith(expected)
    assert not (tmp_path / "run").exists()


@pytest.fixture
def finished_run(tmp_path, base_config) -> Path:
    """A run directory marked complete, holding its config and an empty model.h5:
    export reads and validates the config (with the options) before the model."""
    run = RunDirectory(tmp_path / "run")
    run.open_for_training()
    config = load_config(write(tmp_path, base_config))
    save_config(config, run.config)
    run.model.write_bytes(b"")
    run.mark_complete(config, {})
    return run.path


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--reuse-factor", "0"], "--reuse-factor 0: must be greater than 0"),
        (["--clock-period", "-1"], "--clock-period -1: must be greater than 0"),
        (["--threshold", "2"], "--threshold 2: must be less than or equal to 1"),
        (["--verify-examples", "0"], "--verify-examples 0: must be greater than 0"),
        (["--verify-clusters", "0"], "--verify-clusters 0: must be greater than 0"),
        (
            ["--verify-examples", "5", "--verify-clusters", "5"],
            "--verify-clusters and --verify-examples are one option; give --verify-examples only",
        ),
        (["--part", "foo"], "--part foo: unknown part 'foo' for Vitis"),
    ],
)
def test_export_names_the_option_of_a_bad_value(finished_run, tmp_path, capsys, options, expected):
    from smartml.export.__main__ import main as export_main

    output = tmp_path / "firmware"
    assert export_main([str(finished_run), "--hls", "--output", str(output), *options]) == 2
    assert one_line_error(capsys, "smartml.export").startswith(expected)
    assert not output.exists()


def test_the_deprecated_verify_clusters_key_is_read_as_verify_examples(
    tmp_path, base_config, caplog
):
    base_config["export"] = {"verify_clusters": 40}
    with caplog.at_level("WARNING", logger="smartml.config"):
        config = load_config(write(tmp_path, base_config))
    assert config.export.verify_examples == 40
    assert caplog.messages == [
        "export.verify_clusters is deprecated; it is now export.verify_examples"
    ]
    # Saved under the new name only: the saved configuration loads without a warning.
    save_config(config, tmp_path / "saved.json")
    saved = json.loads((tmp_path / "saved.json").read_text())["export"]
    assert saved["verify_examples"] == 40 and "verify_clusters" not in saved
    caplog.clear()
    with caplog.at_level("WARNING", logger="smartml.config"):
        assert load_config(tmp_path / "saved.json").export.verify_examples == 40
    assert caplog.messages == []


def test_a_null_deprecated_key_is_dropped_without_a_warning(tmp_path, base_config, caplog):
    # what every configuration saved before the rename holds
    base_config["export"] = {"verify_clusters": None, "verify_examples": 7}
    with caplog.at_level("WARNING", logger="smartml.config"):
        assert load_config(write(tmp_path, base_config)).export.verify_examples == 7
    assert caplog.messages == []


def test_both_names_of_a_renamed_key_are_an_error_naming_both(tmp_path, base_config):
    base_config["export"] = {"verify_clusters": 40, "verify_examples": 30}
    path = write(tmp_path, base_config)
    assert error_of(path).startswith(
        f"{path}: export: Value error, export.verify_clusters and export.verify_examples are "
        "one setting; keep export.verify_examples only (export.verify_clusters is its "
        "deprecated name)"
    )


@pytest.mark.parametrize("option", ["--verify-examples", "--verify-clusters"])
def test_the_verify_option_wins_over_the_deprecated_key_of_a_run_config(
    tmp_path, base_config, caplog, option
):
    from smartml.export.__main__ import overrides_from, parse_args

    base_config["export"] = {"verify_clusters": 500}  # a run configured before the rename
    path = write(tmp_path, base_config)
    with caplog.at_level("WARNING"):
        overrides = overrides_from(parse_args(["--hls", option, "7"]))
    assert overrides["export.verify_examples"] == OptionValue(option, 7)
    assert load_config(path, overrides).export.verify_examples == 7
    deprecated = ["--verify-clusters is deprecated; it is now --verify-examples"]
    assert caplog.messages == (deprecated if option == "--verify-clusters" else [])
    assert error_of(path, overrides_from(parse_args(["--hls", option, "0"]))) == (
        f"{option} 0: must be greater than 0"
    )


@pytest.fixture
def toy_tasks():
    import conformance_tasks

    conformance_tasks.register()
    yield
    conformance_tasks.unregister()


def scalar_fields(schema: type[BaseModel], path: str = "") -> list[tuple[str, type]]:
    """(dotted key, int/float/bool) of every number or flag field, sub-sections included."""
    found = []
    for name, field in schema.model_fields.items():
        annotation = field.annotation
        members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
        kinds = [kind for kind in (annotation, *members) if kind in (int, float, bool)]
        sections = [kind for kind in (annotation, *members) if isinstance(kind, type)]
        found += [(f"{path}{name}", kind) for kind in kinds[:1]]
        for section in sections:
            if issubclass(section, BaseModel):
                found += scalar_fields(section, f"{path}{name}.")
    return found


def test_every_registered_schema_refuses_numbers_and_flags_written_as_text(toy_tasks):
    # Task-generic: every task and model schema (the conformance suite's toy tasks too)
    # inherits strictness from StrictModel; none converts "1" to a number or a flag.
    tasks, models = fill_registries()
    schemas = [tasks.schema(name) for name in tasks.names()]
    schemas += [models.schema(name) for name in models.names()]
    assert {"toy_rings", "toy_signal", "smart_pixels"} <= set(tasks.names())
    checked = 0
    for schema in schemas:
        for dotted, kind in scalar_fields(schema):
            raw: dict = {}
            set_key(raw, dotted, "1")
            with pytest.raises(ValidationError) as raised:
                validate_json_section(schema, raw)
            where = tuple(dotted.split("."))
            # a union (features: FeatureSelection | str) tags its member's errors with
            # the member (its class, or a validator around it) in the location
            types = {
                error["type"]
                for error in raised.value.errors()
                if tuple(p for p in error["loc"] if p in where) == where
            }
            assert types == {f"{kind.__name__}_type"}, (schema.__name__, dotted, types)
            checked += 1
    assert checked > 40
