"""The generated reference pages (docs/generate.py): committed pages are current, a
stale one is reported by name, every schema key reaches the configuration page, every
command's help reaches the CLI page, and generating imports no TensorFlow."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "docs" / "generate.py"


def load_generator():
    spec = importlib.util.spec_from_file_location("docs_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = load_generator()


@pytest.mark.parametrize("name", sorted(generate.PAGES))
def test_committed_page_is_current(name):
    committed = (ROOT / "docs" / name).read_text()
    assert committed == generate.PAGES[name](), (
        f"docs/{name} is stale: run `{generate.REGENERATE}` and commit the page"
    )


def test_a_stale_page_is_named(tmp_path):
    generate.write_pages(tmp_path)
    assert generate.stale_pages(tmp_path) == []
    page = tmp_path / "reference" / "cli.md"
    page.write_text(page.read_text().replace("--epochs", "--epoch"))
    (tmp_path / "reference" / "configuration.md").unlink()
    assert generate.stale_pages(tmp_path) == [
        "docs/reference/configuration.md",
        "docs/reference/cli.md",
    ]


def test_every_schema_key_is_on_the_configuration_page():
    from smartml.config.json_schema import run_config_json_schema

    page = generate.configuration_page()
    schema = run_config_json_schema(builtin_only=True)
    missing = [
        f"{definition}.{key}"
        for definition, body in schema["$defs"].items()
        for key in body.get("properties", {})
        if f".{key}` |" not in page
    ]
    assert missing == []
    for key in schema["properties"]:  # a row, or (task, data, model) a section of its own
        assert f"`{key}` |" in page or f"\n## {key}" in page


def test_configuration_page_gives_defaults_and_bounds():
    page = generate.configuration_page()
    assert "| `training.epochs` | integer | `32` | maximum epochs | > 0; ≤ 10000 |" in page
    assert "## data (task `smart_pixels`)" in page
    assert "### training.distribution (kind: mirrored)" in page


def test_cli_page_holds_every_command_help():
    from smartml.__main__ import COMMANDS

    page = generate.cli_page()
    for name in COMMANDS:
        assert f"## smartml {name}\n" in page
        assert f"usage: smartml {name} " in page
    assert "### smartml config schema\n" in page
    assert "--distribution {default,mirrored,multi_worker}" in page


def test_generating_imports_no_tensorflow(tmp_path):
    script = (
        "import json, runpy, sys\n"
        f"generate = runpy.run_path({str(GENERATOR)!r})\n"
        "generate['configuration_page'](); generate['cli_page']()\n"
        "print(json.dumps(sorted(m for m in ('tensorflow', 'qkeras', 'hls4ml') "
        "if m in sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []
