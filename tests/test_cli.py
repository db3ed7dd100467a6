"""The command lines: --help, and bad input reported in one line with exit status 2."""

import json
from pathlib import Path

import pytest

from smartml.evaluate import main as evaluate_main
from smartml.train import main as train_main

REPO = Path(__file__).parents[1]


def parquet_config(tmp_path: Path, data_dir: Path) -> Path:
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["data"].update(source="parquet", path=str(data_dir))
    config["output"]["dir"] = str(tmp_path / "run")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def one_line_error(capsys, prog: str) -> str:
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"{prog}: error: "), message
    assert "\n" not in message, message
    return message


@pytest.mark.parametrize("main", [train_main, evaluate_main])
def test_help(main, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "usage: python -m smartml." in capsys.readouterr().out


def test_train_help_lists_every_override(capsys):
    with pytest.raises(SystemExit):
        train_main(["--help"])
    text = capsys.readouterr().out
    for option in ("--epochs", "--batch-size", "--device", "--output", "--seed"):
        assert option in text


def test_missing_config(tmp_path, capsys):
    assert train_main([str(tmp_path / "nope.json")]) == 2
    assert "nope.json: no such configuration file" in one_line_error(capsys, "smartml.train")


def test_bad_device_option_is_a_config_error(capsys):
    assert train_main([str(REPO / "configs" / "pixel_2t.json"), "--device", "gpu0"]) == 2
    assert "--device gpu0: String should match pattern" in one_line_error(capsys, "smartml.train")


def test_missing_data_directory_leaves_no_complete_run(tmp_path, capsys):
    config = parquet_config(tmp_path, tmp_path / "absent")
    assert train_main([str(config)]) == 2
    message = one_line_error(capsys, "smartml.train")
    assert str(tmp_path / "absent") in message
    assert not (tmp_path / "run" / "COMPLETE.json").exists()


def test_corrupt_parquet_file_is_named(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "part.0.parquet").write_bytes(b"not parquet at all")
    assert train_main([str(parquet_config(tmp_path, data))]) == 2
    assert "part.0.parquet" in one_line_error(capsys, "smartml.train")
    assert not (tmp_path / "run" / "COMPLETE.json").exists()


def test_evaluate_missing_run_directory(tmp_path, capsys):
    assert evaluate_main([str(tmp_path / "no-run")]) == 2
    assert "no such run directory" in one_line_error(capsys, "smartml.evaluate")


def test_gpu_that_is_not_there_is_one_line(tmp_path, capsys):
    config = json.loads((REPO / "configs" / "pixel_2t.json").read_text())
    config["output"]["dir"] = str(tmp_path / "run")
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    import smartml.backend as backend

    if backend.tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")  # pragma: no cover
    assert train_main([str(path), "--device", "gpu:0"]) == 2
    message = one_line_error(capsys, "smartml.train")
    assert "--device gpu:0: this machine has 0 visible GPU(s)" in message
    assert not (tmp_path / "run" / "COMPLETE.json").exists()
