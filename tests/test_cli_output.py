"""What the commands print, run as a user runs them (subprocesses): smartml's own log
lines and a short summary by default; TensorFlow/absl/CUDA/hls4ml lines only with
``--verbose``; JSON only with ``--json``; export's steps with their timings; and no
such noise in executed notebooks either."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_runs import run_notebook, text_of
from pixel_files import write_parts

import smartml
from smartml.evaluate import main as evaluate_main

REPO = Path(__file__).parents[1]
CHECKOUT = str(Path(smartml.__file__).resolve().parents[1])
SMARTML_LINE = re.compile(r"\d\d:\d\d:\d\d smartml(\.\w+)*: ")
# What the noise looks like: absl's native lines and its Python logger, TensorFlow's
# and CUDA's notices, hls4ml's root-logger lines.
NOISE = re.compile(
    r"absl|InitializeLog|oneDNN|cudart|cuInit|cuda|tensorflow|keras dict|^[IWE]\d{4} ", re.I
)
# smart pixels' summary metrics as the task declares them (labels, in order)
PIXEL_LABELS = [
    f"{target} {what}"
    for target in ("x", "y", "cotα", "cotβ")
    for what in ("width", "RMS", "pull std")
]


def command(*arguments: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m <arguments>`` from ``cwd`` with this checkout's smartml."""
    return subprocess.run(
        [sys.executable, "-m", *arguments],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": CHECKOUT},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def shown(value: float | None) -> str:
    """A number as the summary table shows it: 4 significant digits, "–" for none."""
    return "–" if value is None else f"{value:.4g}"


def tiny_config(tmp_path: Path, data: Path, run: str) -> Path:
    """Two short epochs on 600 clusters, a backup every 2 batches (absl logs each)."""
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["name"] = "tiny"
    config["data"].update(source="parquet", path=str(data))
    config["training"].update(epochs=2, batch_size=32, verbose=0, backup_every_batches=2)
    config["output"]["dir"] = str(tmp_path / run)
    path = tmp_path / f"{run}.json"
    path.write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A tiny run trained by ``python -m smartml.train`` (default output)."""
    tmp_path = tmp_path_factory.mktemp("cli_output")
    write_parts(tmp_path / "data", rows_per_file=200, rows_per_group=50, part_numbers=[1, 2, 3])
    config = tiny_config(tmp_path, tmp_path / "data", "run")
    done = command("smartml.train", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return tmp_path / "run", done


def assert_only_smartml_lines(stderr: str) -> None:
    lines = stderr.splitlines()
    assert lines, "smartml's own log lines are missing"
    for line in lines:
        assert SMARTML_LINE.match(line), f"not a smartml log line: {line!r}"
        assert not NOISE.search(line.split(": ", 1)[1]), line


def assert_summary_table(stdout: str, run: Path) -> None:
    """The run's summary metrics with the values of its metrics.json, the centroid
    baseline beside x and y, and the run directory."""
    metrics = json.loads((run / "metrics.json").read_text())
    lines = stdout.splitlines()
    assert lines[0].split() == ["metric", "tiny", "centroid", "baseline"]
    assert lines[-1] == f"run directory: {run}"
    rows = lines[1:-1]
    assert len(rows) == len(PIXEL_LABELS)
    for label, row in zip(PIXEL_LABELS, rows, strict=True):
        target = {"x": "x-midplane", "y": "y-midplane", "cotα": "cotAlpha", "cotβ": "cotBeta"}[
            label.split()[0]
        ]
        key = {"width": "robust_width", "RMS": "rms", "pull std": "pull_std"}[
            label.split(" ", 1)[1]
        ]
        assert row.startswith(label), row
        value, baseline = row.split()[-2:]
        assert value == shown(metrics[target][key])
        expected_baseline = metrics["centroid_baseline"].get(target, {}).get(key)
        assert baseline == shown(expected_baseline)


def test_training_prints_its_log_lines_and_a_summary_without_noise(trained):
    run, done = trained
    assert_only_smartml_lines(done.stderr)
    assert "smartml.train: run complete" in done.stderr
    assert_summary_table(done.stdout, run)


def test_verbose_training_shows_the_third_party_lines(trained, tmp_path):
    run, _ = trained
    data = Path(json.loads((run / "config.json").read_text())["data"]["path"])
    config = tiny_config(tmp_path, data, "loud")
    done = command("smartml.train", str(config), "--epochs", "1", "--verbose", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "absl: Sharding callback duration" in done.stderr
    assert "absl::InitializeLog" in done.stderr or re.search(r"^[IWE]\d{4} ", done.stderr, re.M)
    assert "smartml.train: run complete" in done.stderr


def test_evaluate_prints_the_summary_table_without_noise(trained):
    run, _ = trained
    done = command("smartml.evaluate", str(run), cwd=run.parent)
    assert done.returncode == 0, done.stderr
    assert_only_smartml_lines(done.stderr)
    assert_summary_table(done.stdout, run)
    assert len(done.stdout.splitlines()) == len(PIXEL_LABELS) + 2


def test_evaluate_json_prints_what_it_wrote(trained, capsys):
    run, _ = trained
    assert evaluate_main([str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads((run / "metrics.json").read_text())
    assert printed["x-midplane"] == written["x-midplane"]
    assert printed["centroid_baseline"] == written["centroid_baseline"]


@pytest.mark.slow
def test_export_shows_its_steps_with_timings_and_a_short_summary(trained, tmp_path):
    run, _ = trained
    done = command(
        "smartml.export",
        str(run),
        "--hls",
        "--output",
        str(tmp_path / "firmware"),
        "--verify-examples",
        "40",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert_only_smartml_lines(done.stderr)
    finished = re.findall(r"smartml\.export: (.+): done \((\d+\.\d) s\)", done.stderr)
    steps = [step for step, _ in finished]
    for expected in (
        "loading",
        "converting to hls4ml",
        "compiling",
        "C-simulating 40",
        "comparing",
    ):
        assert any(expected in step for step in steps), (expected, steps)
    report = json.loads((tmp_path / "firmware" / "tiny" / "report.json").read_text())
    seconds = {step: float(value) for step, value in finished}
    compile_step = next(step for step in steps if "compiling" in step)
    assert seconds[compile_step] == pytest.approx(report["timing_seconds"]["compile"], abs=0.06)
    assert done.stdout.splitlines() == [
        f"project:       {tmp_path / 'firmware' / 'tiny'} (report.json)",
        "bit-identical: 100.000% of the outputs of 40 test examples (largest difference 0 LSB)",
        "passed:        yes",
    ]
    assert report["provenance"]["packages"]["hls4ml"] == "1.3.0"
    card = (run / "MODEL_CARD.md").read_text()
    assert (
        f"- project `{tmp_path / 'firmware' / 'tiny'}`: 100.00% of 40 test examples "
        "bit-identical to QKeras (passed)"
    ) in card


def test_importing_tensorflow_through_smartml_prints_nothing(tmp_path):
    """QKeras imports TensorFlow before smartml.backend does: still filtered."""
    for statement in ("import smartml, qkeras", "import smartml.backend"):
        done = subprocess.run(
            [sys.executable, "-c", statement],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": CHECKOUT},
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stderr == "", (statement, done.stderr)


def test_executed_notebook_holds_no_tensorflow_lines(tmp_path, monkeypatch):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import smartml\n"
            "from smartml.backend import tf\n"
            "print('devices', len(tf.config.list_physical_devices()))"
        ),
    ]
    source = tmp_path / "probe.ipynb"
    nbformat.write(notebook, source)
    # ipykernel forwards what is written to descriptor 2 into the notebook, as for a
    # user, except under pytest (it looks for this variable).
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    executed = run_notebook(source, {}, tmp_path, monkeypatch)
    text = text_of(executed)
    assert "devices" in text
    assert not NOISE.search(text), text
