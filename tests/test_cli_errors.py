"""Every command line keeps the README's promise on bad input: one line on stderr,
``<prog>: error: <message>``, exit status 2; an unexpected exception is one line
saying it is a bug and naming the log file that holds its traceback, exit status 3.

(Option naming of configuration overrides and the model-against-config check have
their own tests, beside the configuration and the run directory.)
"""

import json
from pathlib import Path

import pytest

from smartml.config.__main__ import main as config_main
from smartml.evaluate import main as evaluate_main
from smartml.export.__main__ import main as export_main
from smartml.train import main as train_main

REPO = Path(__file__).parents[1]
BUG = "internal error (a bug in smartml, please report it): "


def exit_status(main, argv: list[str]) -> int:
    """What ``python -m ...`` would exit with (argparse exits by SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exited:
        assert isinstance(exited.code, int)
        return exited.code


def one_stderr_line(capsys) -> str:
    captured = capsys.readouterr().err
    lines = captured.splitlines()
    assert len(lines) == 1, captured
    return lines[0]


def write_config(path: Path, data_dir: Path, run_dir: Path) -> Path:
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["data"].update(source="parquet", path=str(data_dir))
    config["output"]["dir"] = str(run_dir)
    path.write_text(json.dumps(config))
    return path


def complete_run(path: Path, data_dir: Path) -> Path:
    """A run directory as training leaves it, as far as the commands look before any
    work: its config, metrics.json and the completion marker."""
    path.mkdir(parents=True)
    write_config(path / "config.json", data_dir, path)
    (path / "metrics.json").write_text(json.dumps({"x-midplane": {"robust_width": 6.0}}))
    (path / "COMPLETE.json").write_text(json.dumps({"finished": "2026-01-01T00:00:00"}))
    return path


@pytest.fixture
def files(tmp_path, pixel_parts):
    """Paths the cases use: a config, two complete runs, an incomplete one, a corrupt
    config and a plain file where a directory is expected."""
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"name": "x",')
    a_file = tmp_path / "a_file"
    a_file.write_text("not a directory")
    (tmp_path / "incomplete").mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    return {
        "<CONFIG>": str(
            write_config(tmp_path / "config.json", pixel_parts.directory, tmp_path / "r")
        ),
        "<CORRUPT>": str(corrupt),
        "<RUN>": str(complete_run(tmp_path / "run_a", pixel_parts.directory)),
        "<RUN_B>": str(complete_run(tmp_path / "run_b", pixel_parts.directory)),
        "<INCOMPLETE>": str(tmp_path / "incomplete"),
        "<MISSING>": str(tmp_path / "missing"),
        "<A_FILE>": str(a_file),
        "<BELOW_A_FILE>": str(a_file / "sub"),
        "<EMPTY>": str(empty),
    }


MAINS = {
    "smartml.train": train_main,
    "smartml.evaluate": evaluate_main,
    "smartml.export": export_main,
    "smartml.config": config_main,
}

# (command, arguments with placeholders of `files`, part of the expected message)
CASES = [
    ("smartml.train", [], "the following arguments are required: config"),
    ("smartml.train", ["<CONFIG>", "--bogus"], "unrecognized arguments: --bogus"),
    ("smartml.train", ["<CONFIG>", "--epochs", "three"], "argument --epochs: invalid int value"),
    ("smartml.train", ["<CONFIG>", "--seed"], "argument --seed: expected one argument"),
    ("smartml.train", ["<MISSING>"], "missing: no such configuration file"),
    ("smartml.train", ["<CORRUPT>"], "corrupt.json:1:14: invalid JSON"),
    ("smartml.train", ["<CONFIG>", "--output", "<A_FILE>"], "a_file"),
    ("smartml.evaluate", [], "the following arguments are required: RUN_DIR"),
    ("smartml.evaluate", ["<RUN>", "--bogus"], "unrecognized arguments: --bogus"),
    ("smartml.evaluate", ["<MISSING>"], "missing: no such run directory"),
    ("smartml.evaluate", ["<INCOMPLETE>"], "incomplete: run is incomplete (COMPLETE.json missing)"),
    ("smartml.evaluate", ["<RUN>", "<MISSING>"], "missing: no such run directory"),
    (
        "smartml.evaluate",
        ["<RUN>", "<RUN_B>", "--output", "<A_FILE>"],
        "--output <A_FILE>: is a file; expected a directory",
    ),
    (
        "smartml.evaluate",
        ["<RUN>", "<RUN_B>", "--output", "<BELOW_A_FILE>"],
        "--output <BELOW_A_FILE>: <A_FILE> is a file; expected a directory",
    ),
    ("smartml.export", ["<RUN>"], "choose what to export: --hls"),
    ("smartml.export", ["<RUN>", "--hls", "--bogus"], "unrecognized arguments: --bogus"),
    ("smartml.export", ["<RUN>", "--hls", "--reuse-factor", "two"], "invalid int value: 'two'"),
    ("smartml.export", ["<RUN>", "--hls", "--threshold", "high"], "invalid float value: 'high'"),
    ("smartml.export", ["<MISSING>", "--hls"], "missing: no such run directory"),
    ("smartml.export", ["<INCOMPLETE>", "--hls"], "run is incomplete"),
    ("smartml.export", ["--hls", "--runs", "<EMPTY>"], "no complete run found"),
    (
        "smartml.export",
        ["<RUN>", "--hls", "--output", "<A_FILE>"],
        "--output <A_FILE>: is a file; expected a directory",
    ),
    (
        "smartml.export",
        ["<RUN>", "--hls", "--output", "<BELOW_A_FILE>"],
        "--output <BELOW_A_FILE>: <A_FILE> is a file; expected a directory",
    ),
    ("smartml.config", [], "the following arguments are required: command"),
    ("smartml.config", ["draw"], "argument command: invalid choice: 'draw'"),
    ("smartml.config", ["schema", "--bogus"], "unrecognized arguments: --bogus"),
    ("smartml.config", ["schema", "--output"], "argument --output: expected one argument"),
    ("smartml.config", ["schema", "--output", "<EMPTY>"], "cannot write the JSON Schema"),
    (
        "smartml.config",
        ["--verbose", "schema", "--output", "<BELOW_A_FILE>"],
        "cannot write the JSON Schema",
    ),
]


def substituted(text: str, files: dict[str, str]) -> str:
    """``text`` with each placeholder (a key of ``files``) replaced by its path."""
    for placeholder, path in files.items():
        text = text.replace(placeholder, path)
    return text


@pytest.mark.parametrize(
    ("command", "arguments", "expected"),
    CASES,
    ids=[f"{command} {' '.join(arguments)}" for command, arguments, _ in CASES],
)
def test_bad_input_is_one_line_and_exit_status_2(command, arguments, expected, files, capsys):
    argv = [substituted(argument, files) for argument in arguments]
    expected = substituted(expected, files)
    assert exit_status(MAINS[command], argv) == 2
    line = one_stderr_line(capsys)
    assert line.startswith(f"{command}: error: "), line
    assert expected in line, line


def test_bad_input_to_train_writes_no_run(files, capsys, tmp_path):
    assert exit_status(train_main, [files["<CONFIG>"], "--epochs", "three"]) == 2
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("command", "arguments", "broken"),
    [
        ("smartml.train", ["<CONFIG>"], "smartml.config.load_config"),
        ("smartml.evaluate", ["<RUN>"], "smartml.runs.opening.open_task"),
        ("smartml.evaluate", ["<RUN>", "<RUN_B>"], "smartml.runs.opening.open_task"),
        ("smartml.export", ["<RUN>", "--hls"], "smartml.config.load_config"),
        ("smartml.config", ["schema"], "smartml.config.json_schema.write_json_schema"),
    ],
)
def test_unexpected_exception_is_one_line_naming_its_log_and_exit_status_3(
    command, arguments, broken, files, capsys, monkeypatch, tmp_path
):
    def fail(*args, **kwargs):
        raise RuntimeError("something unforeseen\nwith a second line")

    monkeypatch.setattr(broken, fail)
    monkeypatch.setenv("SMARTML_LOG_DIR", str(tmp_path / "logs"))
    argv = [substituted(argument, files) for argument in arguments]
    assert exit_status(MAINS[command], argv) == 3
    line = one_stderr_line(capsys)
    assert line.startswith(f"{command}: {BUG}RuntimeError: something unforeseen [...]; "), line
    log = Path(line.split("; traceback in ")[1])
    assert log.parent == tmp_path / "logs"
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in fail" in text
    assert "with a second line" in text


def test_interrupt_is_one_line_and_exit_status_130(files, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("smartml.config.load_config", interrupt)
    assert exit_status(train_main, [files["<CONFIG>"]]) == 130
    assert "interrupted; run the same command again to resume" in one_stderr_line(capsys)


@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("smartml.evaluate", ["<RUN>", "<RUN_B>", "--output", "<EMPTY>/comparison"]),
        ("smartml.export", ["<RUN>", "--hls", "--output", "<EMPTY>/firmware"]),
    ],
)
def test_unwritable_output_is_one_line_before_any_work(
    command, arguments, files, capsys, monkeypatch
):
    """A folder that refuses new files (read-only, another user's), as the operating
    system reports it to whoever is not root."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.TemporaryFile", refuse)
    argv = [substituted(argument, files) for argument in arguments]
    assert exit_status(MAINS[command], argv) == 2
    line = one_stderr_line(capsys)
    assert line == (
        f"{command}: error: --output {argv[-1]}: cannot write in {files['<EMPTY>']} "
        "(Permission denied); choose another directory"
    )
    assert list(Path(files["<EMPTY>"]).iterdir()) == []


@pytest.mark.parametrize("command", sorted(MAINS))
def test_every_command_offers_verbose(command, capsys):
    assert exit_status(MAINS[command], ["--help"]) == 0
    assert "--verbose" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["schema", "--verbose"], ["--verbose", "schema"]], ids=["after", "before"]
)
def test_verbose_is_read_before_or_after_a_sub_command(argv):
    from smartml.config.__main__ import parse_args

    assert parse_args(argv).verbose is True
    assert parse_args(["schema"]).verbose is False
