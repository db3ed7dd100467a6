"""A --storage path that cannot hold an Optuna journal is one line naming it, exit 2
(issue 24), and no study file is left behind."""

from pathlib import Path

import pytest

from smartml.tune.__main__ import main as tune_main

CONFIG = str(Path(__file__).parents[1] / "configs" / "pixel_2t_tune_luts.json")


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ("{tmp}", "--storage {tmp}: is a directory; expected a journal file, e.g. {tmp}/study.log"),
        (
            "{tmp}/a_file/x.log",
            "--storage {tmp}/a_file/x.log: {tmp}/a_file is a file, not a folder",
        ),
        ("/proc/smartml-x.log", "--storage /proc/smartml-x.log: cannot write the journal file ("),
    ],
)
def test_bad_storage_path_is_one_line(storage, message, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    given = storage.format(tmp=tmp_path)
    status = tune_main(
        [
            CONFIG,
            "--storage",
            given,
            "--trials",
            "1",
            "--set",
            f"output.dir={tmp_path}/run",
            "--set",
            "tune.reference_runs=[]",
        ]  # the config's references are runs of a checkout
    )
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smartml.tune: error: {message.format(tmp=tmp_path)}")
    assert err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_postgresql_without_its_driver_names_the_extra(monkeypatch, tmp_path):
    from smartml.errors import SmartmlError
    from smartml.tune import study

    monkeypatch.setattr(study, "_has_psycopg2", lambda: False)
    with pytest.raises(SmartmlError) as err:
        study.open_storage("postgresql://me@db.example/tune", tmp_path)
    assert str(err.value) == (
        "--storage postgresql://me@db.example/tune: a PostgreSQL storage needs the psycopg2 "
        'driver: pip install "smartml-hep[postgres]"'
    )
