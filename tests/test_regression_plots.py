"""Figures of the Gaussian regression and of the training history: their content, and
the PNG files save_figures writes."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from smartml.metrics.figures import save_figures
from smartml.metrics.gaussian import mahalanobis_squared
from smartml.metrics.gaussian_plots import gaussian_figures
from smartml.metrics.history_plots import history_figures, plot_history
from smartml.metrics.point_regression import robust_width

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NAMES = ("x-midplane", "y-midplane", "cotAlpha", "cotBeta")
UNITS = ("µm", "µm", "", "")
PLOT_KINDS = ("residual", "pull", "profile", "sigma")


def predictions(n: int = 400, k: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    sigmas = rng.uniform(0.5, 2.0, size=(n, k))
    cov = sigmas[:, :, None] ** 2 * np.eye(k)
    y_true = rng.normal(size=(n, k)) * 50.0
    mean = y_true + sigmas * rng.normal(size=(n, k))
    return y_true, mean, cov


def assert_png_files(paths: list[Path], out_dir: Path, expected_names: set[str]) -> None:
    assert {path.name for path in paths} == expected_names
    assert sorted(out_dir.iterdir()) == sorted(paths)
    for path in paths:
        assert path.read_bytes()[:8] == PNG_MAGIC
    assert plt.get_fignums() == []


def write_gaussian_figures(*args, **kwargs) -> list[Path]:
    """gaussian_figures written by save_figures, as the evaluation of a task does."""
    out_dir = args[5]
    return save_figures(gaussian_figures(*args[:5], **kwargs), out_dir)


def expected_files(stems) -> set[str]:
    return {f"{kind}_{stem}.png" for stem in stems for kind in PLOT_KINDS} | {"mahalanobis_d2.png"}


def test_plots_with_a_baseline(tmp_path):
    y_true, mean, cov = predictions()
    centroid_x = y_true[:, 0] + np.random.default_rng(1).normal(0.0, 5.0, size=len(y_true))
    centroid_x[:20] = np.nan  # clusters without charge have no centroid
    baseline = {"x-midplane": centroid_x, "y-midplane": y_true[:, 1] + 3.0}
    out_dir = tmp_path / "plots" / "test"  # created, parents included
    paths = write_gaussian_figures(
        y_true, mean, cov, NAMES, UNITS, out_dir, baseline=baseline, baseline_label="centroid"
    )
    assert_png_files(paths, out_dir, expected_files(NAMES))
    assert paths[-1].name == "mahalanobis_d2.png"


def test_plots_without_a_baseline_and_with_correlations(tmp_path):
    y_true, mean, cov = predictions()
    cov[:, 0, 2] = cov[:, 2, 0] = 0.5 * np.sqrt(cov[:, 0, 0] * cov[:, 2, 2])
    paths = write_gaussian_figures(y_true, mean, cov, NAMES, UNITS, tmp_path)
    assert_png_files(paths, tmp_path, expected_files(NAMES))


def test_a_single_target_with_an_awkward_name(tmp_path):
    y_true, mean, cov = predictions(k=1)
    paths = write_gaussian_figures(y_true, mean, cov, ["cot β / x"], ["µm"], tmp_path)
    assert_png_files(paths, tmp_path, expected_files(["cot_x"]))


def test_an_all_nan_baseline_and_constant_truth_still_plot(tmp_path):
    y_true, mean, cov = predictions(k=2)
    y_true[:, 1] = 7.0  # a target that does not vary in this sample: no profile bins
    baseline = {"x-midplane": np.full(len(y_true), np.nan)}
    paths = write_gaussian_figures(
        y_true, mean, cov, ["x-midplane", "t"], ["µm", ""], tmp_path, baseline=baseline
    )
    assert_png_files(paths, tmp_path, expected_files(["x-midplane", "t"]))


def test_the_figures_are_released_even_when_pyplot_is_in_use(tmp_path):
    plt.figure()  # a figure of the caller's own must stay open, and be the only one
    try:
        write_gaussian_figures(*predictions(k=1), ["x"], [""], tmp_path)
        assert len(plt.get_fignums()) == 1
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    ("baseline", "names", "match"),
    [
        ({"z": np.zeros(400)}, NAMES, r"baseline has target 'z', which is not one of"),
        ({"cotBeta": np.zeros(399)}, NAMES, r"baseline\['cotBeta'\] must have shape \(400,\)"),
        (None, ("a b", "a/b", "c", "d"), "clashing file names"),
        (None, ("a", "b"), "names must be a list of 4 strings"),
    ],
)
def test_bad_arguments_raise_before_writing(tmp_path, baseline, names, match):
    with pytest.raises(ValueError, match=match):
        write_gaussian_figures(*predictions(), names, UNITS, tmp_path / "out", baseline=baseline)
    assert not (tmp_path / "out").exists()


def test_bad_predictions_are_rejected(tmp_path):
    y_true, mean, cov = predictions()
    cov[3, 1, 1] = -1.0
    with pytest.raises(ValueError, match="cov has 1 non-positive variances"):
        write_gaussian_figures(y_true, mean, cov, NAMES, UNITS, tmp_path)


def write_history(path: Path, header: str, rows: int = 5) -> Path:
    columns = header.split(",")
    lines = [header] + [
        ",".join(str(epoch) if c == "epoch" else f"{1.0 / (epoch + 1):.4f}" for c in columns)
        for epoch in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("header", "panels"),
    [
        ("epoch,learning_rate,loss,val_loss", 2),
        ("epoch,loss,lr,val_loss", 2),
        ("epoch,loss,val_loss", 1),
        ("epoch,loss", 1),
    ],
)
def test_history_plots(tmp_path, header, panels):
    history = write_history(tmp_path / "history.csv", header)
    out_dir = tmp_path / "plots"
    paths = plot_history(history, out_dir)
    assert_png_files(paths, out_dir, {"loss.png"})
    assert len(history_figures(history)["loss"].axes) == panels


def test_history_without_loss_names_the_file(tmp_path):
    history = write_history(tmp_path / "history.csv", "epoch,val_loss,lr")
    with pytest.raises(ValueError, match=r"history\.csv: no 'loss' column") as error:
        plot_history(history, tmp_path / "plots")
    assert str(history) in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "training history file not found"), ("", "cannot read as a CSV file")],
)
def test_missing_or_empty_history_names_the_file(tmp_path, content, match):
    history = tmp_path / "history.csv"
    if content is not None:
        history.write_text(content)
    with pytest.raises(ValueError, match=match) as error:
        plot_history(history, tmp_path / "plots")
    assert str(history) in str(error.value)


def test_history_with_a_header_only_has_no_epochs(tmp_path):
    history = write_history(tmp_path / "history.csv", "epoch,loss,val_loss", rows=0)
    with pytest.raises(ValueError, match="has no epochs"):
        plot_history(history, tmp_path / "plots")


def stairs_data(axes):
    """(values, edges) of every step histogram drawn on ``axes``, by legend label."""
    return {
        patch.get_label(): (patch.get_data().values, patch.get_data().edges)
        for patch in axes.patches
    }


def test_residual_and_pull_figures_show_the_computed_histograms():
    y_true, mean, cov = predictions(k=1)
    baseline = y_true[:, 0] + 3.0
    figures = gaussian_figures(
        y_true,
        mean,
        cov,
        ["x"],
        ["µm"],
        baseline={"x": baseline},
        baseline_label="centroid",
        run_name="run-a",
    )
    assert set(figures) == {"residual_x", "pull_x", "profile_x", "sigma_x", "mahalanobis_d2"}
    residual_axes = figures["residual_x"].axes[0]
    assert residual_axes.get_xlabel() == "x residual (prediction − truth) [µm]"
    assert residual_axes.get_title() == "residual of x — run-a"
    histograms = stairs_data(residual_axes)
    model_label = next(label for label in histograms if label.startswith("model"))
    residual = mean[:, 0] - y_true[:, 0]
    assert f"68% width {robust_width(residual):.3g} µm" in model_label
    counts, edges = histograms[model_label]
    np.testing.assert_array_equal(counts, np.histogram(residual, bins=edges)[0])
    assert any(label.startswith("centroid: 68% width 0 µm, bias 3 µm") for label in histograms)

    pull_axes = figures["pull_x"].axes[0]
    pull = residual / np.sqrt(cov[:, 0, 0])
    ((density, pull_edges),) = (
        v for k, v in stairs_data(pull_axes).items() if k.startswith("model")
    )
    np.testing.assert_allclose(density, np.histogram(pull, bins=pull_edges, density=True)[0])
    assert pull_edges[0] == -5.0 and pull_edges[-1] == 5.0
    assert pull_axes.get_title().startswith("pull of x")


def test_d2_and_profile_figures_show_the_computed_numbers():
    y_true, mean, cov = predictions(n=2000, k=2)
    figures = gaussian_figures(y_true, mean, cov, ["a", "b"], ["", ""])
    d2_axes = figures["mahalanobis_d2"].axes[0]
    ((density, edges),) = (v for k, v in stairs_data(d2_axes).items() if k.startswith("model"))
    d2 = mahalanobis_squared(y_true, mean, cov)
    np.testing.assert_allclose(density, np.histogram(d2, bins=edges, density=True)[0])
    chi2_line = d2_axes.get_lines()[0]
    assert chi2_line.get_label().startswith("χ²(2)")

    bias_axes, width_axes = figures["profile_a"].axes
    assert bias_axes.get_xlabel() == "true a"
    centres, widths = width_axes.get_lines()[0].get_data()
    residual = mean[:, 0] - y_true[:, 0]
    low, high = np.quantile(y_true[:, 0], [0.01, 0.99])
    edges = np.linspace(low, high, 21)
    inside = (y_true[:, 0] >= low) & (y_true[:, 0] <= high)
    bin_of = np.clip(np.digitize(y_true[inside, 0], edges) - 1, 0, 19)
    expected = [
        robust_width(residual[inside][bin_of == b]) for b in range(20) if np.sum(bin_of == b) >= 10
    ]
    np.testing.assert_allclose(widths, expected)
    assert len(centres) == len(expected)


def test_save_figures_refuses_names_that_are_not_file_stems(tmp_path):
    figures = history_figures(write_history(tmp_path / "history.csv", "epoch,loss"))
    with pytest.raises(ValueError, match=r"figure names \['../b', 'a/b/c'\] are not file stems"):
        save_figures({"../b": figures["loss"], "a/b/c": figures["loss"]}, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (written,) = save_figures({"inputs/loss": figures["loss"]}, tmp_path / "out")
    assert written == tmp_path / "out" / "inputs" / "loss.png" and written.stat().st_size > 0
