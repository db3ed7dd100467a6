"""Open extension points: a plugin package adds a task, a model and an exportable layer
without an edit under smartml/.

The plugin is ``tests/plugin_example`` (distribution ``smartml-plugin-example``, entry
point group ``smartml.plugins``), installed in the test environment:
``pip install -e tests/plugin_example``. The tests that need it fail, saying so, where
it is not installed. The registries' own mechanisms (lazy handler names, quantizer
rules, plugin import errors, the builder contract) are tested beside it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from qkeras import QDense, quantized_bits

from smartml.backend import keras
from smartml.config.base import ModelSection
from smartml.config.registered import fill_registries
from smartml.errors import ConfigError, ExportError
from smartml.export.qkeras_precision import layer_precisions
from smartml.export.rtl import export_rtl, simulation
from smartml.hardware import cost
from smartml.hardware.fixed_point import FixedType
from smartml.hardware.precision import quantizer_rule, quantizer_type
from smartml.hardware.registry import LayerHandler, handler_for, layer_handler, supported_layers
from smartml.models.contract import builder_of
from smartml.outputs.point_regression import PointRegression
from smartml.registry import MODELS, PLUGIN_GROUP, TASKS, import_package_modules, load_plugins
from smartml.tasks.base import InputSpec
from smartml.train import main as train_main

REPO = Path(__file__).resolve().parents[1]
PLUGIN = "smartml-plugin-example"
INSTALL = f"pip install -e {REPO / 'tests' / 'plugin_example'}"
HEAVY = ("tensorflow", "tf_keras", "keras", "qkeras", "hls4ml")
FEATURE_TYPE = FixedType(10, 3)


@pytest.fixture(scope="module")
def plugin():
    """The example plugin, installed and registered (a failure, not a skip, without it:
    CI installs it)."""
    try:
        metadata.distribution(PLUGIN)
    except metadata.PackageNotFoundError:
        pytest.fail(f"the example plugin {PLUGIN} is not installed; install it: {INSTALL}")
    fill_registries()


def plugin_model() -> keras.Model:
    from smartml_plugin_example.schema import TinyQDenseConfig

    return builder_of("example_qdense").build(
        TinyQDenseConfig(), {"features": InputSpec("features", (2,))}, PointRegression(["y"], [""])
    )


def test_the_registries_list_the_plugins_task_model_and_layer(plugin):
    assert "example_waves" in TASKS.names()
    assert "example_qdense" in MODELS.names()
    assert "PowerOfTwoScale" in supported_layers("export")
    assert "smartml_plugin_example" in load_plugins()  # found through its entry point


def test_a_config_naming_the_plugins_task_and_model_validates_without_tensorflow(plugin):
    code = (
        "import sys\n"
        "from smartml.config.loader import validate_config\n"
        "config = validate_config({'name': 'p', 'task': {'name': 'example_waves'},\n"
        "    'data': {'n_examples': 500}, 'model': {'name': 'example_qdense'}})\n"
        "assert config.model.scale_shift == -1 and config.data.n_examples == 500\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, f'imported {loaded}'\n"
    )
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}  # no SMARTML_PLUGINS
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_the_plugins_task_trains_the_plugins_model_and_evaluates(plugin, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    run = tmp_path / "waves"
    config = {
        "name": "waves",
        "task": {"name": "example_waves"},
        "data": {"n_examples": 400},
        "model": {"name": "example_qdense", "hidden_units": 4},
        "training": {"epochs": 1, "batch_size": 32, "verbose": 0},
        "output": {"dir": str(run)},
    }
    path = tmp_path / "waves.json"
    path.write_text(json.dumps(config))
    assert train_main([str(path)]) == 0
    assert (run / "COMPLETE.json").is_file()
    # evaluated again in a fresh process: the saved model's custom layer is found there
    evaluated = subprocess.run(
        [sys.executable, "-m", "smartml.evaluate", str(run)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(metrics["y"]["rms"])
    # the hardware cost went through the plugin's handler: the output layer's inputs
    # are the scale's, which passes the 6 bits of the hidden quantized_relu on
    assert metrics["hardware"]["layers"]["output"]["bops"] > 0


def test_the_plugins_layer_has_cost_and_export_rules(plugin):
    from smartml_plugin_example.handler import PowerOfTwoScaleHandler

    model = plugin_model()
    assert isinstance(handler_for(model.get_layer("scale"), "export"), PowerOfTwoScaleHandler)
    bits = {group.layer: group.activation_bits for group in cost.mac_groups(model)}
    assert bits == {"hidden": 8, "output": 6}  # adc's 8 bits; relu's 6, through the scale
    types = {p.name: p.types["result"].hls() for p in layer_precisions(model, FEATURE_TYPE)}
    assert types["relu"] == "ufixed<6,2,RND_CONV,SAT>"
    assert types["scale"] == "ufixed<6,1,RND_CONV,SAT>"  # x/2: the binary point moves


def test_the_plugins_layer_is_bit_exact_in_rtl_simulation(plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(simulation, "choose_simulator", lambda: simulation.ICARUS)
    model = plugin_model()
    inputs = [FEATURE_TYPE.quantize(np.random.default_rng(3).uniform(-3, 3, (64, 2)))]
    reference = model.predict([inputs[0].astype("float32")], verbose=0)
    report = export_rtl(model, {"features": FEATURE_TYPE}, inputs, reference, tmp_path / "rtl")
    assert report["bit_identical_fraction"] == 1.0 and report["max_difference_lsb"] == 0.0
    with pytest.raises(ExportError, match=r"^layer 'scale' \(PowerOfTwoScale\): hls4ml has no"):
        handler_for(model.get_layer("scale")).check_backend(
            model.get_layer("scale"), "Vitis", "Latency", "io_parallel"
        )


def test_a_handler_registered_by_name_for_a_handled_class_names_both_handlers():
    assert type(handler_for(QDense(2, name="d"))).__name__ == "KernelLayer"  # loaded first
    layer_handler("qkeras:QDense")(type("Again", (LayerHandler,), {"__module__": __name__}))
    with pytest.raises(
        ValueError,
        match=r"^two handlers for QDense: smartml\.hardware\.handlers\.kernel\.KernelLayer and "
        rf"{__name__}\.Again$",
    ):
        handler_for(QDense(2, name="d"))
    assert type(handler_for(QDense(2, name="d"))).__name__ == "KernelLayer"  # unchanged


class halved_bits(quantized_bits):  # named like the QKeras quantizers
    """A quantizer no rule knows until one is registered."""


def test_a_quantizer_rule_is_added_by_name():
    quantizer = halved_bits(8, 2, alpha=1)
    with pytest.raises(
        ExportError,
        match=r"^layer 'x': quantizer halved_bits is not supported for bit-exact export "
        r"\(supported: quantized_bits with alpha=1, quantized_tanh\)$",
    ):
        quantizer_type(quantizer, "layer 'x'")

    @quantizer_rule(f"{__name__}:halved_bits", label="halved_bits")
    def halved(quantizer, where: str) -> FixedType:
        return FixedType(int(quantizer.bits) // 2, 1)

    assert quantizer_type(quantizer, "layer 'x'") == FixedType(4, 1)


def test_a_plugin_that_fails_to_import_is_one_line_naming_its_entry_point(tmp_path, monkeypatch):
    info = tmp_path / "smartml_broken_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: smartml-broken-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(f"[{PLUGIN_GROUP}]\nbroken = no_such_plugin_module\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError) as error:
        load_plugins()
    assert str(error.value) == (
        "entry point 'broken' of smartml-broken-plugin, group smartml.plugins: "
        "cannot import 'no_such_plugin_module' (No module named 'no_such_plugin_module')"
    )


class NotABuilder:
    """Builds, but says nothing of export."""

    @staticmethod
    def build(config, inputs, output):
        raise AssertionError("never called")


def test_a_registered_model_that_is_not_a_builder_is_refused_in_one_line():
    MODELS.register("not_a_builder", implementation=f"{__name__}:NotABuilder")(ModelSection)
    try:
        with pytest.raises(
            ConfigError,
            match=rf"^model 'not_a_builder': {__name__}:NotABuilder is not a model builder "
            r"\(it lacks export_refusal, exportable; see smartml\.models\.contract\.ModelBuilder\)$",
        ):
            builder_of("not_a_builder")
    finally:
        MODELS.unregister("not_a_builder")


def test_modules_are_discovered_in_their_folder(tmp_path, monkeypatch):
    """A new task or model package, or a new handler module, is found without an edit
    of an ``__init__``: subpackages with the inner module, or plain modules."""
    package = tmp_path / "discovered"
    for folder in ("alpha", "beta", "gamma"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "alpha" / "schema.py").write_text("")
    (package / "gamma" / "schema.py").write_text("")
    (package / "rules.py").write_text("")
    (package / "_private.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_package_modules("discovered", "schema") == [
        "discovered.alpha.schema",
        "discovered.gamma.schema",
    ]
    assert import_package_modules("discovered") == ["discovered.rules"]
    assert "discovered.gamma.schema" in sys.modules


def test_every_task_and_model_package_of_smartml_is_registered():
    tasks, models = fill_registries()
    for package, registry in (("tasks", tasks), ("models", models)):
        folders = {path.parent.name for path in (REPO / "smartml" / package).glob("*/schema.py")}
        prefix = f"smartml.{package}."
        registered = {
            implementation.removeprefix(prefix).split(".")[0]
            for implementation in (registry.entry(name).implementation for name in registry.names())
            if implementation.startswith(prefix)
        }
        assert folders == registered, package
