"""`smartml config validate|show CONFIG [--set KEY=VALUE]` and `--set` on train/tune
(issue 24): the resolved configuration, and one-line errors that name the option."""

import json
from pathlib import Path

import pytest

from smartml.config.__main__ import main as config_main
from smartml.train import main as train_main
from smartml.tune.__main__ import main as tune_main

PIXEL = str(Path(__file__).parents[1] / "configs" / "pixel_2t.json")


def test_show_prints_the_resolved_configuration_with_overrides(capsys):
    argv = ["show", PIXEL, "--set", "training.epochs=3", "--set", 'output.plot_formats=["pdf"]']
    assert config_main(argv) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["training"]["epochs"] == 3
    assert shown["output"]["plot_formats"] == ["pdf"]
    assert shown["training"]["batch_size"] == 1024  # a default, filled in
    assert shown["model"]["name"] == "pixel_mdn"


def test_validate_is_one_line(capsys):
    assert config_main(["validate", PIXEL]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{PIXEL}: valid (task smart_pixels, model pixel_mdn, run directory ")
    assert out.count("\n") == 1


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        (
            "training.epochz=3",
            "--set training.epochz=3: unknown key 'epochz'; did you mean 'epochs'?",
        ),
        ("training.epochs=-1", "--set training.epochs=-1: must be greater than 0"),
        (
            "trainin.epochs=1",
            "--set trainin.epochs=1: unknown key 'trainin'; did you mean 'training'?",
        ),
        ("training.epochs", "--set training.epochs: expected KEY=VALUE, e.g. training.epochs=3"),
        ("output.plot_style=CDF", "--set output.plot_style=CDF: "),
    ],
)
def test_bad_set_is_one_line_naming_the_option(pair, message, capsys):
    assert config_main(["validate", PIXEL, "--set", pair]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"smartml.config: error: {message}") and err.count("\n") == 1


def test_train_and_tune_take_set(capsys):
    assert train_main([PIXEL, "--set", "training.epochs=0"]) == 2
    assert "--set training.epochs=0: must be greater than 0" in capsys.readouterr().err
    tune_config = str(Path(__file__).parents[1] / "configs" / "pixel_2t_tune_luts.json")
    assert tune_main([tune_config, "--set", "tune.trialz=3"]) == 2
    assert "--set tune.trialz=3: unknown key 'trialz'" in capsys.readouterr().err
