"""Validating a configuration imports no TensorFlow, and configuration code does not
import the task and model packages (it finds their schemas by name)."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import smartml.config

ROOT = Path(__file__).parents[1]
CONFIG_PACKAGE = ROOT / "smartml" / "config"
# awkward and uproot cost 0.3 s of the one-second budget; only reading a file needs them
HEAVY = ("tensorflow", "tf_keras", "keras", "qkeras", "hls4ml", "awkward", "uproot")
SCHEMA_PACKAGES = ("smartml.tasks", "smartml.models")


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter at the repository root; its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def no_heavy_modules_check() -> str:
    return (
        "import sys\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, f'imported {loaded}'\n"
    )


def test_loading_a_config_imports_no_tensorflow_and_takes_under_a_second():
    """CPU seconds, not wall: a loaded CI machine (tests run two at a time) stretches
    the wall clock of the same work."""
    code = (
        "import time\n"
        "start = time.process_time()\n"
        "from smartml.config import load_config\n"
        "config = load_config('configs/pixel_2t.json')\n"
        "elapsed = time.process_time() - start\n"
        "assert config.model.name == 'pixel_mdn', config.model\n"
        + no_heavy_modules_check()
        + "print(elapsed)\n"
    )
    assert float(run_python(code)) < 1.0


def config_modules() -> list[str]:
    return sorted(
        f"smartml.config.{module.name}"
        for module in pkgutil.iter_modules([str(CONFIG_PACKAGE)])
        if module.name != "__main__"
    )


@pytest.mark.parametrize(
    "first",
    [
        *config_modules(),
        "smartml.config",
        "smartml.registry",
        "smartml.tasks",
        "smartml.models",
        "smartml.models.pixel_mdn.schema",
    ],
)
def test_any_module_imported_first_then_a_config_loads(first):
    # A cycle shows as an ImportError of a partly initialised module, depending on
    # which module of the cycle is imported first: try each in a fresh interpreter.
    code = (
        f"import {first}\n"
        "from smartml.config import load_config\n"
        "load_config('configs/pixel_20t.json')\n" + no_heavy_modules_check()
    )
    run_python(code)


def test_json_schema_command_imports_no_tensorflow():
    code = (
        "import contextlib, io, json, runpy, sys\n"
        "sys.argv = ['smartml.config', 'schema']\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        "    runpy.run_module('smartml.config', run_name='__main__')\n"
        "assert 'pixel_mdn' in json.loads(out.getvalue())['properties']['model']['properties']"
        "['name']['enum']\n" + no_heavy_modules_check()
    )
    run_python(code)


def imports_of_schema_packages(path: Path) -> list[tuple[str, str | None]]:
    """(imported module, enclosing function or None) for every import in ``path`` of
    smartml.tasks or smartml.models (or something inside them)."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module] + [f"{child.module}.{a.name}" for a in child.names]
            else:
                names = []
            for name in names:
                if name.startswith(SCHEMA_PACKAGES):
                    found.append((name, function))
            visit(child, function)

    visit(ast.parse(path.read_text()), None)
    return found


def test_config_code_has_no_import_of_the_task_and_model_packages():
    """config is a low layer: it finds the schemas by scanning the packages' folders
    (smartml.config.registered), never by importing them."""
    for path in sorted(CONFIG_PACKAGE.glob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        assert imports_of_schema_packages(path) == [], f"{relative} imports a schema package"


def test_the_ast_check_sees_imports_hidden_in_functions(tmp_path):
    source = tmp_path / "sneaky.py"
    source.write_text(
        "def later():\n    from smartml.tasks.smart_pixels import SmartPixelsTask\n"
        "import smartml.models.saved\n"
    )
    assert imports_of_schema_packages(source) == [
        ("smartml.tasks.smart_pixels", "later"),
        ("smartml.tasks.smart_pixels.SmartPixelsTask", "later"),
        ("smartml.models.saved", None),
    ]


def test_config_package_is_what_was_walked():
    assert Path(smartml.config.__file__).parent == CONFIG_PACKAGE
