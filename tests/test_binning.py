"""The binning helper against numpy.histogram and direct selection."""

import numpy as np
import pytest

from smartml.metrics import binning


def test_assignment_matches_numpy_histogram_and_reports_outside_values():
    rng = np.random.default_rng(0)
    values = rng.normal(size=5000)
    edges = binning.explicit_edges([-1.0, -0.2, 0.0, 0.5, 2.0])
    bins = binning.assign_bins(values, edges)
    counts, _ = np.histogram(values, bins=edges)
    inside = (bins >= 0) & (bins < 4)
    np.testing.assert_array_equal(np.bincount(bins[inside], minlength=4), counts)
    assert np.sum(bins == binning.UNDERFLOW) == np.sum(values < -1.0)
    assert np.sum(bins == binning.overflow_index(edges)) == np.sum(values > 2.0)


def test_per_bin_applies_functions_to_the_rows_of_each_bin():
    rng = np.random.default_rng(1)
    variable = rng.uniform(0.0, 10.0, size=2000)
    weight = rng.exponential(size=2000)
    edges = binning.explicit_edges([0.0, 2.5, 5.0, 10.0])
    frame = binning.per_bin(
        variable,
        edges,
        {"mean": lambda rows: weight[rows].mean(), "max": lambda rows: weight[rows].max()},
    )
    assert list(frame.columns) == ["low", "high", "centre", "count", "mean", "max"]
    assert frame.index.name == "bin"
    for b in range(3):
        selected = (variable >= edges[b]) & (variable < edges[b + 1])
        assert frame.loc[b, "count"] == selected.sum()
        assert frame.loc[b, "mean"] == pytest.approx(weight[selected].mean())
        assert frame.loc[b, "max"] == weight[selected].max()
        assert frame.loc[b, "centre"] == (edges[b] + edges[b + 1]) / 2


def test_overflow_rows_and_sparse_bins():
    variable = np.array([-5.0, 0.5, 0.6, 1.5, 7.0, 8.0])
    edges = binning.explicit_edges([0.0, 1.0, 2.0, 3.0])
    calls = []
    frame = binning.per_bin(
        variable, edges, {"n": lambda rows: calls.append(rows) or rows.size}, overflow="report"
    )
    assert frame.index.tolist() == [-1, 0, 1, 2, 3]
    assert frame["count"].tolist() == [1, 2, 1, 0, 2]
    assert frame.loc[-1, "low"] == -np.inf and frame.loc[3, "high"] == np.inf
    assert np.isnan(frame.loc[2, "n"]) and np.isnan(frame.loc[3, "centre"])
    assert len(calls) == 4  # not called on the empty bin
    sparse = binning.per_bin(variable, edges, {"n": len}, min_count=2)
    assert sparse.index.tolist() == [0]


def test_equal_population_edges_split_the_sample_evenly():
    values = np.random.default_rng(2).exponential(size=9000)
    edges = binning.equal_population_edges(values, 3)
    counts, _ = np.histogram(values, bins=edges)
    assert counts.tolist() == [3000, 3000, 3000]
    few_values = binning.equal_population_edges(np.array([1.0] * 10 + [2.0]), 4)
    assert few_values.tolist() == [1.0, 2.0]


def test_equal_width_edges_between_quantiles():
    values = np.concatenate([np.linspace(0.0, 1.0, 999), [1e6]])
    edges = binning.equal_width_edges(values, 4, (0.0, 0.99))
    np.testing.assert_allclose(edges, np.linspace(0.0, np.quantile(values, 0.99), 5))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: binning.explicit_edges([0.0, 0.0, 1.0]),
            "edges must be at least two strictly increasing",
        ),
        (lambda: binning.explicit_edges([1.0]), "edges must be at least two"),
        (
            lambda: binning.equal_population_edges(np.ones(5), 3, name="momentum"),
            "momentum are all 1; cannot bin",
        ),
        (lambda: binning.equal_width_edges(np.arange(5.0), 0), "bins must be a positive integer"),
        (
            lambda: binning.equal_width_edges(np.arange(5.0), 2, (0.5, 0.2)),
            "quantile_range must satisfy",
        ),
        (lambda: binning.assign_bins([0.0, np.nan], np.array([0.0, 1.0])), "values contains 1 NaN"),
        (
            lambda: binning.per_bin([0.5], np.array([0.0, 1.0]), {}, overflow="keep"),
            "overflow must be",
        ),
        (lambda: binning.per_bin([0.5], np.array([0.0, 1.0]), {"count": len}), "must not be named"),
    ],
)
def test_bad_bins_raise_one_line(call, match):
    with pytest.raises(ValueError, match=match) as error:
        call()
    assert "\n" not in str(error.value)
