"""PNG plots of the regression and of the training history."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from smartml.evaluation.regression_plots import plot_history, plot_regression

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


def expected_files(stems) -> set[str]:
    return {f"{kind}_{stem}.png" for stem in stems for kind in PLOT_KINDS} | {"mahalanobis_d2.png"}


def test_plots_with_a_baseline(tmp_path):
    y_true, mean, cov = predictions()
    centroid_x = y_true[:, 0] + np.random.default_rng(1).normal(0.0, 5.0, size=len(y_true))
    centroid_x[:20] = np.nan  # clusters without charge have no centroid
    baseline = {"x-midplane": centroid_x, "y-midplane": y_true[:, 1] + 3.0}
    out_dir = tmp_path / "plots" / "test"  # created, parents included
    paths = plot_regression(
        y_true, mean, cov, NAMES, UNITS, out_dir, baseline=baseline, baseline_label="centroid"
    )
    assert_png_files(paths, out_dir, expected_files(NAMES))
    assert paths[-1].name == "mahalanobis_d2.png"


def test_plots_without_a_baseline_and_with_correlations(tmp_path):
    y_true, mean, cov = predictions()
    cov[:, 0, 2] = cov[:, 2, 0] = 0.5 * np.sqrt(cov[:, 0, 0] * cov[:, 2, 2])
    paths = plot_regression(y_true, mean, cov, NAMES, UNITS, tmp_path)
    assert_png_files(paths, tmp_path, expected_files(NAMES))


def test_a_single_target_with_an_awkward_name(tmp_path):
    y_true, mean, cov = predictions(k=1)
    paths = plot_regression(y_true, mean, cov, ["cot β / x"], ["µm"], tmp_path)
    assert_png_files(paths, tmp_path, expected_files(["cot_x"]))


def test_an_all_nan_baseline_and_constant_truth_still_plot(tmp_path):
    y_true, mean, cov = predictions(k=2)
    y_true[:, 1] = 7.0  # a target that does not vary in this sample: no profile bins
    baseline = {"x-midplane": np.full(len(y_true), np.nan)}
    paths = plot_regression(
        y_true, mean, cov, ["x-midplane", "t"], ["µm", ""], tmp_path, baseline=baseline
    )
    assert_png_files(paths, tmp_path, expected_files(["x-midplane", "t"]))


def test_the_figures_are_released_even_when_pyplot_is_in_use(tmp_path):
    plt.figure()  # a figure of the caller's own must stay open, and be the only one
    try:
        plot_regression(*predictions(k=1), ["x"], [""], tmp_path)
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
        plot_regression(*predictions(), names, UNITS, tmp_path / "out", baseline=baseline)
    assert not (tmp_path / "out").exists()


def test_bad_predictions_are_rejected(tmp_path):
    y_true, mean, cov = predictions()
    cov[3, 1, 1] = -1.0
    with pytest.raises(ValueError, match="cov has 1 non-positive variances"):
        plot_regression(y_true, mean, cov, NAMES, UNITS, tmp_path)


def write_history(path: Path, header: str, rows: int = 5) -> Path:
    columns = header.split(",")
    lines = [header] + [
        ",".join(str(epoch) if c == "epoch" else f"{1.0 / (epoch + 1):.4f}" for c in columns)
        for epoch in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("epoch,learning_rate,loss,val_loss", {"loss.png", "learning_rate.png"}),
        ("epoch,loss,lr,val_loss", {"loss.png", "learning_rate.png"}),
        ("epoch,loss,val_loss", {"loss.png"}),
        ("epoch,loss", {"loss.png"}),
    ],
)
def test_history_plots(tmp_path, header, expected):
    history = write_history(tmp_path / "history.csv", header)
    out_dir = tmp_path / "plots"
    paths = plot_history(history, out_dir)
    assert_png_files(paths, out_dir, expected)


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
