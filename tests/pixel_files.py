"""Tiny writers of smart-pixel parquet files, in both layouts, for tests.

The content is random but valid: sparse, non-negative, cumulative-in-time pixel
charges (electrons) and finite labels, in the layout of
:mod:`smartml.tasks.smart_pixels.layout`. Every writer returns what it wrote, in file order,
so a test can compare a reader's output with the truth.

``tests/conftest.py`` puts this directory on ``sys.path`` (pytest runs with
``--import-mode=importlib``), so tests write ``from pixel_files import write_parts``.

>>> pixels, labels = random_clusters(3, seed=0)
>>> pixels.shape, labels.shape, bool((pixels >= 0).all())
((3, 5460), (3, 4), True)
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from smartml.tasks.smart_pixels.layout import (
    EXTRA_LABELS,
    N_PIXEL_COLUMNS,
    PIXELS_PER_SLICE,
    TARGET_UNITS,
    TARGETS,
)

N_SLICES = N_PIXEL_COLUMNS // PIXELS_PER_SLICE
N_ROWS, N_COLUMNS = 13, 21
HITS_PER_CLUSTER = 8


@dataclass(frozen=True)
class WrittenClusters:
    """What a writer put on disk, concatenated over its files in file order."""

    pixels: np.ndarray  # (n, 5460) float32, the file's pixel columns
    labels: np.ndarray  # (n, 4) float32, TARGETS order
    files: list[Path]  # pixel files, in the order their rows appear above
    directory: Path  # the pixel directory (``data.path``)
    label_directory: Path | None = None  # recon3d only (``data.labels_path``)

    def contained(self) -> np.ndarray:
        """(n,) bool: no charge on the border of the final slice (independent check)."""
        final = self.pixels[:, -PIXELS_PER_SLICE:].reshape(-1, N_ROWS, N_COLUMNS)
        border = np.concatenate(
            [final[:, 0, :], final[:, -1, :], final[:, 1:-1, 0], final[:, 1:-1, -1]], axis=1
        )
        return ~(border != 0).any(axis=1)

    def images(self, time_slices: list[int]) -> np.ndarray:
        """(n, 13, 21, T) of the given slices, time last, computed independently."""
        slices = self.pixels.reshape(-1, N_SLICES, N_ROWS, N_COLUMNS)[:, time_slices]
        return np.moveaxis(slices, 1, -1)


def random_clusters(
    n: int, seed: int, border_fraction: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Random clusters: (n, 5460) float32 pixels and (n, 4) float32 labels.

    Each cluster has a few hits near a random centre inside the window; a fraction
    ``border_fraction`` also has one hit on the window's border (not contained).
    Each hit arrives in a random time slice and stays (slices are cumulative).
    """
    rng = np.random.default_rng(seed)
    rows = rng.integers(3, N_ROWS - 3, (n, 1)) + rng.integers(-2, 3, (n, HITS_PER_CLUSTER))
    cols = rng.integers(4, N_COLUMNS - 4, (n, 1)) + rng.integers(-3, 4, (n, HITS_PER_CLUSTER))
    on_border = rng.random(n) < border_fraction
    rows[on_border, 0] = rng.choice([0, N_ROWS - 1], on_border.sum())
    charge = rng.uniform(500.0, 6000.0, (n, HITS_PER_CLUSTER)).astype(np.float32)
    arrival = rng.integers(0, N_SLICES, (n, HITS_PER_CLUSTER))

    pixels = np.zeros((n, N_SLICES, N_ROWS * N_COLUMNS), np.float32)
    cluster = np.repeat(np.arange(n), HITS_PER_CLUSTER)
    flat = (rows * N_COLUMNS + cols).ravel()
    for t in range(N_SLICES):  # 20 vectorised passes; hits sharing a pixel add up
        arrived = (arrival <= t).ravel()
        np.add.at(pixels[:, t], (cluster[arrived], flat[arrived]), charge.ravel()[arrived])

    labels = np.column_stack(
        [
            rng.uniform(-25.0, 25.0, n),  # x-midplane, µm
            rng.uniform(-6.25, 6.25, n),  # y-midplane, µm
            rng.normal(0.0, 0.2, n),  # cotAlpha
            rng.normal(0.0, 1.5, n),  # cotBeta
        ]
    ).astype(np.float32)
    return pixels.reshape(n, N_PIXEL_COLUMNS), labels


def pixel_table(pixels: np.ndarray | None, labels: np.ndarray | None, seed: int = 0) -> pa.Table:
    """Table with pixel columns "0".. (if ``pixels``) and all label columns (if ``labels``).

    Label columns are the 4 targets followed by random ``EXTRA_LABELS``, as in the
    public files. Pixel columns are named by position, so a (n, 2730) array gives
    columns "0".."2729".
    """
    arrays, names = [], []
    if pixels is not None:
        arrays += list(pixels.T)
        names += [str(i) for i in range(pixels.shape[1])]
    if labels is not None:
        extra = np.random.default_rng(seed).normal(size=(len(EXTRA_LABELS), len(labels)))
        arrays += list(labels.T) + list(extra.astype(np.float32))
        names += list(TARGETS) + list(EXTRA_LABELS)
    return pa.Table.from_arrays([pa.array(a) for a in arrays], names=names)


def write_table(path: Path, table: pa.Table, rows_per_group: int) -> Path:
    """Write ``table`` to ``path`` with row groups of ``rows_per_group`` rows."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=rows_per_group)
    return Path(path)


def write_parts(
    directory: Path,
    n_files: int = 2,
    rows_per_file: int = 40,
    rows_per_group: int = 20,
    seed: int = 0,
    part_numbers: list[int] | None = None,
) -> WrittenClusters:
    """Write ``part.<k>.parquet`` files (pixels and labels together).

    Args:
        directory: created if missing.
        n_files, rows_per_file, rows_per_group: sizes.
        seed: content seed.
        part_numbers: the ``k`` of each file (default 0..n_files-1); the returned
            arrays follow the files in natural order of ``k``.
    """
    numbers = sorted(part_numbers if part_numbers is not None else range(n_files))
    pixels, labels = random_clusters(len(numbers) * rows_per_file, seed)
    files = []
    for i, number in enumerate(numbers):
        rows = slice(i * rows_per_file, (i + 1) * rows_per_file)
        table = pixel_table(pixels[rows], labels[rows], seed + i)
        files.append(write_table(Path(directory) / f"part.{number}.parquet", table, rows_per_group))
    return WrittenClusters(pixels, labels, files, Path(directory))


def write_recon3d(
    pixel_dir: Path,
    label_dir: Path,
    n_files: int = 2,
    rows_per_file: int = 40,
    rows_per_group: int = 20,
    label_rows_per_group: int = 15,
    seed: int = 0,
) -> WrittenClusters:
    """Write ``recon3D_d<k>.parquet`` pixel files and ``labels_d<k>.parquet`` label files.

    The label files use a different row-group size (default 15 vs 20) on purpose, so
    readers must align labels by row offset, not by row group.
    """
    pixels, labels = random_clusters(n_files * rows_per_file, seed)
    files = []
    for i in range(n_files):
        rows = slice(i * rows_per_file, (i + 1) * rows_per_file)
        suffix = f"_d{17301 + i}"
        pixel_file = Path(pixel_dir) / f"recon3D{suffix}.parquet"
        files.append(write_table(pixel_file, pixel_table(pixels[rows], None), rows_per_group))
        label_table = pixel_table(None, labels[rows], seed + i)
        write_table(Path(label_dir) / f"labels{suffix}.parquet", label_table, label_rows_per_group)
    return WrittenClusters(pixels, labels, files, Path(pixel_dir), Path(label_dir))


def pixel_model(input_shape=(13, 21, 2), **settings):
    """The smart-pixel MDN built for the pixel task's input and output (``settings``:
    keys of the ``model`` section)."""
    from smartml.models.pixel_mdn.builder import PixelMDN
    from smartml.models.pixel_mdn.schema import PixelMDNConfig
    from smartml.outputs.gaussian_mdn import GaussianMDN
    from smartml.tasks.base import InputSpec

    image = {"pixels": InputSpec("pixels", input_shape)}
    return PixelMDN.build(PixelMDNConfig(**settings), image, GaussianMDN(TARGETS, TARGET_UNITS))
