"""`smartml <command>`: one entry point for the eight commands, `--version`, defaults
in `--help`, and the one-line error for an unknown command."""

import subprocess
import sys

import pytest

import smartml
from smartml import cli
from smartml.__main__ import COMMANDS, main


@pytest.fixture(autouse=True)
def module_invocation(monkeypatch):
    """The umbrella switches usage lines to `smartml <command>`; undo it per test."""
    monkeypatch.setattr(cli, "invoked_through_umbrella", False)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert (
        capsys.readouterr().out
        == f"smartml {smartml.__version__} (Python {sys.version.split()[0]})\n"
    )


def test_no_command_lists_all_eight_and_fails(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: smartml <command>")
    for name in ("train", "evaluate", "export", "config", "tune", "convert", "inspect", "mem"):
        assert f"\n  {name} " in out


def test_unknown_command_is_one_line(capsys):
    assert main(["trian", "x.json"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "smartml: error: unknown command 'trian'; known: "
        "train, evaluate, export, config, tune, convert, inspect, mem\n"
    )


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_and_version_under_its_umbrella_name(name, capsys):
    with pytest.raises(SystemExit) as exit_help:
        main([name, "--help"])
    assert exit_help.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: smartml {name} ")
    with pytest.raises(SystemExit) as exit_version:
        main([name, "--version"])
    assert exit_version.value.code == 0
    assert capsys.readouterr().out.startswith(f"smartml {smartml.__version__} ")


def test_help_shows_defaults(capsys):
    from smartml import inspect

    with pytest.raises(SystemExit):
        inspect.main(["--help"])
    help_text = capsys.readouterr().out
    assert "rows read at a time (default: 100000)" in help_text
    assert "--json       print one JSON object\n" in help_text  # a flag: no default shown
    assert "usage: python -m smartml.inspect" in help_text


def test_a_bad_command_line_under_the_umbrella_names_the_command(tmp_path):
    missing = tmp_path / "missing.root"
    run = subprocess.run(
        [sys.executable, "-m", "smartml", "inspect", str(missing)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr == f"smartml.inspect: error: {missing}: no such file\n"


def test_a_ctrl_c_while_exiting_after_the_work_says_so_and_keeps_the_status():
    """^C during interpreter shutdown (after the command finished) is one line, and the
    command's own exit status stands (was: 130 and no word)."""
    script = (
        "import atexit, os, signal\n"
        "from smartml import cli\n"
        "atexit.register(lambda: os.kill(os.getpid(), signal.SIGINT))\n"
        "cli.exit_with(0, 'smartml.train')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stderr == "smartml.train: interrupted while exiting; the command had finished\n"
