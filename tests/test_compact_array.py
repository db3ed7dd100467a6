"""CompactArray gives back exactly the rows it was made from; MemoryCache keeps a budget."""

import threading

import numpy as np
import pytest

from smartml.data.compact_array import CompactArray, compact
from smartml.data.memory_cache import MemoryCache


def sparse_rows(shape: tuple[int, ...], density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.exponential(1000.0, shape).astype(np.float32)
    values[rng.random(shape) > density] = 0.0
    return values


@pytest.mark.parametrize(
    ("shape", "density", "sparse"),
    [
        ((500, 13, 21, 20), 0.02, True),  # 20-slice clusters
        ((500, 13, 21, 2), 0.02, True),
        ((300, 8), 0.9, False),  # dense features stay dense
        ((7,), 0.1, False),  # one value per row: nothing to gain
        ((50, 300, 300), 0.001, True),  # 90k values per row: 4-byte positions
    ],
)
def test_rows_come_back_exactly(shape, density, sparse):
    x = sparse_rows(shape, density, seed=1)
    flat = x.reshape(len(x), -1)
    flat[3, 0], flat[4, -1] = np.nan, -np.inf  # non-finite values are kept
    stored = compact(x)
    assert stored.is_sparse is sparse and len(stored) == len(x)
    for start, stop in [(0, len(x)), (3, 4), (10, 10), (len(x) - 5, len(x))]:
        rows = stored.rows(start, stop)
        np.testing.assert_array_equal(rows, x[start:stop])
        assert rows.dtype == x.dtype and rows.flags.writeable and rows.flags.c_contiguous
    if sparse:
        assert stored.nbytes < 0.5 * x.nbytes


def test_positions_widen_beyond_65536_values_per_row():
    wide = compact(sparse_rows((4, 70_000), 0.001, seed=2))
    narrow = compact(sparse_rows((4, 5460), 0.01, seed=2))
    assert wide.positions is not None and wide.positions.dtype == np.uint32
    assert narrow.positions is not None and narrow.positions.dtype == np.uint16


def test_rows_are_independent_copies():
    x = sparse_rows((20, 30), 0.5, seed=3)
    for stored in (compact(x), compact(sparse_rows((20, 300), 0.01, seed=3))):
        first = stored.rows(0, 5)
        first[:] = -1.0
        assert not (stored.rows(0, 5) == -1.0).all()


def test_all_zero_and_empty_arrays():
    zeros = compact(np.zeros((10, 273), np.float32))
    assert zeros.is_sparse and zeros.values is not None and zeros.values.size == 0
    np.testing.assert_array_equal(zeros.rows(2, 6), np.zeros((4, 273), np.float32))
    empty = compact(np.zeros((0, 13, 21, 2), np.float32))
    assert empty.rows(0, 0).shape == (0, 13, 21, 2)


def test_a_sparse_compact_array_needs_its_parts():
    broken = CompactArray((2, 3), np.dtype(np.float32))
    with pytest.raises(ValueError, match="row_starts"):
        broken.rows(0, 1)


def test_memory_cache_keeps_pieces_until_the_budget_is_spent():
    piece = (compact(np.ones((10, 10), np.float32)),)  # 400 bytes, dense
    cache = MemoryCache(budget_bytes=1000)
    assert cache.put("a", piece) and cache.put("b", piece) and not cache.full
    assert not cache.put("c", piece) and cache.full
    assert cache.put("a", piece)  # already kept
    assert cache.get("c") is None and cache.get("a") is piece
    assert cache.used_bytes == 800 and len(cache) == 2


def test_memory_cache_from_several_threads_counts_each_piece_once():
    cache = MemoryCache(budget_bytes=10**6)
    piece = (compact(np.ones((5, 5), np.float32)),)

    def put_all():
        for key in range(50):
            cache.put(key, piece)

    threads = [threading.Thread(target=put_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50 and cache.used_bytes == 50 * piece[0].nbytes
