"""output.plot_style and output.plot_formats: figures in an experiment's style and in
vector formats; count histograms carry their statistical errors."""

import typing
from pathlib import Path

import numpy as np
import pytest

from smartml.config.base import OutputConfig, PlotFormat, PlotStyle
from smartml.errors import ConfigError
from smartml.metrics.checks import EvaluationError
from smartml.metrics.figures import (
    PLOT_FORMATS,
    PLOT_STYLES,
    new_axes,
    plot_style,
    save_figures,
    step_histogram,
)


def test_config_choices_are_the_ones_the_figures_know():
    assert typing.get_args(PlotStyle) == PLOT_STYLES
    assert typing.get_args(PlotFormat) == PLOT_FORMATS
    assert OutputConfig().plot_style == "default" and OutputConfig().plot_formats == ["png"]


def test_a_style_changes_the_drawing_and_is_undone_after(tmp_path):
    with plot_style("ATLAS"):
        _, axes = new_axes()
        axes.set_xlabel("p_T")
    assert axes.xaxis.label.get_horizontalalignment() == "right"  # ATLAS: labels at the end
    _, default_axes = new_axes()
    default_axes.set_xlabel("p_T")
    assert default_axes.xaxis.label.get_horizontalalignment() == "center"


def test_unknown_style_and_format_are_one_line(tmp_path):
    with pytest.raises(EvaluationError, match=r"plot style 'CDF': expected one of default, CMS"):
        with plot_style("CDF"):
            pass
    figure, _ = new_axes()
    with pytest.raises(EvaluationError, match=r"plot formats \['eps'\]: expected one or more of"):
        save_figures({"a": figure}, tmp_path, ["eps"])
    assert not any(tmp_path.iterdir())


def test_every_format_is_written(tmp_path):
    figure, axes = new_axes()
    axes.plot([0, 1], [0, 1])
    written = save_figures({"line": figure}, tmp_path, ["png", "pdf", "svg"])
    assert [p.name for p in written] == ["line.png", "line.pdf", "line.svg"]
    assert written[1].read_bytes().startswith(b"%PDF")
    assert b"<svg" in written[2].read_bytes()[:500]


@pytest.mark.parametrize("density", [False, True])
def test_histogram_errors_are_root_n_scaled_like_the_counts(density):
    values = np.random.default_rng(3).normal(size=1000)
    _, axes = new_axes()
    counts, edges = step_histogram(axes, values, (-3, 3), "x", density=density, bins=12)
    raw, _ = np.histogram(values, bins=12, range=(-3, 3))
    scale = 1 / (raw.sum() * np.diff(edges)) if density else 1.0
    np.testing.assert_allclose(counts, raw * scale)
    segments = axes.containers[0].lines[2][0].get_segments()
    low = np.array([segment[0][1] for segment in segments])
    high = np.array([segment[1][1] for segment in segments])
    np.testing.assert_allclose((high - low) / 2, np.sqrt(raw) * scale)
    if density:
        np.testing.assert_allclose(np.sum(counts * np.diff(edges)), 1.0)


def test_config_refuses_an_unknown_style_naming_the_key(tmp_path):
    import json

    from smartml.config import load_config

    path = tmp_path / "run.json"
    config = json.loads((Path(__file__).parents[1] / "configs" / "pixel_2t.json").read_text())
    config["output"] = {"plot_style": "CDF"}
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"output.plot_style"):
        load_config(path)
