"""ring_median and ring_median_torch: value for value against scipy's median_filter."""

import itertools

import numpy as np
import pytest
import torch
from scipy import ndimage

from sksvdd.image import _ring, _ring_network
from sksvdd.image._ring import ring_median, ring_median_torch

WINDOWS = [(3, 1), (5, 1), (5, 3), (7, 3), (9, 1), (7, 1)]
SIZES = [(1, 1), (1, 7), (2, 2), (3, 5), (17, 23)]


def _reference(cube, outer, inner):
    """The definition: scipy's median over the ring footprint, borders reflected."""
    footprint = np.ones((outer, outer, 1), dtype=bool)
    start = (outer - inner) // 2
    footprint[start : start + inner, start : start + inner] = False
    return ndimage.median_filter(cube, footprint=footprint, mode="reflect")


def _cube(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@pytest.mark.parametrize("outer, inner", WINDOWS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_scipy(outer, inner, size, dtype):
    cube = _cube((*size, 3), dtype, seed=outer * 10 + inner)
    expected = _reference(cube, outer, inner)
    result = ring_median(cube, outer, inner)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, expected)
    tensor = ring_median_torch(torch.from_numpy(cube), outer, inner)
    assert tensor.dtype == torch.from_numpy(cube).dtype
    np.testing.assert_array_equal(tensor.numpy(), expected)


@pytest.mark.parametrize("outer, inner", WINDOWS)
def test_ties_equal_scipy(outer, inner):
    # Few distinct values: most rings hold the median several times.
    rng = np.random.default_rng(1)
    cube = rng.integers(0, 4, size=(13, 11, 4)).astype(np.float32)
    cube[0, 0, 0] = np.inf
    cube[5, 5, :] = -np.inf
    expected = _reference(cube, outer, inner)
    np.testing.assert_array_equal(ring_median(cube, outer, inner), expected)
    result = ring_median_torch(torch.from_numpy(cube), outer, inner)
    np.testing.assert_array_equal(result.numpy(), expected)


def test_integer_dtype_equals_scipy():
    cube = np.random.default_rng(2).integers(-50, 50, size=(9, 8, 3)).astype(np.int16)
    result = ring_median(cube, 5, 1)
    assert result.dtype == np.int16
    np.testing.assert_array_equal(result, _reference(cube, 5, 1))


def test_non_contiguous_and_read_only_input():
    base = _cube((12, 10, 8), np.float32)
    strided = base[:, ::-1, ::2]  # band-strided, columns reversed
    assert not strided.flags.c_contiguous
    expected = _reference(np.ascontiguousarray(strided), 5, 1)
    np.testing.assert_array_equal(ring_median(strided, 5, 1), expected)
    read_only = base.copy()
    read_only.setflags(write=False)
    np.testing.assert_array_equal(ring_median(read_only, 7, 3), _reference(base, 7, 3))
    tensor = torch.from_numpy(base.copy())[:, :, ::2]
    np.testing.assert_array_equal(
        ring_median_torch(tensor, 5, 1).numpy(), _reference(base[:, :, ::2], 5, 1)
    )


@pytest.mark.parametrize("outer, inner", [(5, 1), (7, 3)])
def test_n_jobs_gives_the_same_result(outer, inner):
    cube = _cube((41, 19, 6), np.float64)
    one = ring_median(cube, outer, inner, n_jobs=1)
    two = ring_median(cube, outer, inner, n_jobs=2)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, _reference(cube, outer, inner))


@pytest.mark.parametrize("tile_rows", [1, 2, 5])
@pytest.mark.parametrize("outer, inner", [(5, 1), (7, 3), (9, 1)])
def test_tiles_and_row_blocks_join_exactly(monkeypatch, tile_rows, outer, inner):
    # Small tiles and bands of rows put many seams inside a small image,
    # through both the shared and the split half-column stages.
    monkeypatch.setattr(_ring, "_TILE_ROWS", tile_rows)
    monkeypatch.setattr(_ring, "_TILE_VALUES", 64)
    monkeypatch.setattr(_ring, "_BLOCK_ROWS", 7)
    monkeypatch.setattr(_ring, "_TORCH_CPU_TILE_ROWS", tile_rows)
    monkeypatch.setattr(_ring, "_TORCH_CPU_TILE_VALUES", 64)
    cube = _cube((23, 31, 2), np.float32)
    expected = _reference(cube, outer, inner)
    np.testing.assert_array_equal(ring_median(cube, outer, inner, n_jobs=2), expected)
    result = ring_median_torch(torch.from_numpy(cube), outer, inner)
    np.testing.assert_array_equal(result.numpy(), expected)


def test_band_groups_join_exactly(monkeypatch):
    # A small buffer budget forces bands to be processed in groups.
    monkeypatch.setattr(_ring, "_BUFFER_VALUES", 4096)
    monkeypatch.setattr(_ring, "_TORCH_CPU_BUFFER_VALUES", 4096)
    cube = _cube((9, 12, 7), np.float32)
    expected = _reference(cube, 7, 1)
    np.testing.assert_array_equal(ring_median(cube, 7, 1, n_jobs=2), expected)
    result = ring_median_torch(torch.from_numpy(cube), 7, 1)
    np.testing.assert_array_equal(result.numpy(), expected)


def test_very_large_window_equals_scipy():
    # Past a size, ring_median hands over to scipy; the torch network still runs.
    cube = _cube((7, 8, 1), np.float64)
    outer, inner = 51, 21
    plan = _ring._plan(outer, inner, True)
    assert plan.n_ops > _ring._MAX_OPS_PER_RING_VALUE * (outer**2 - inner**2)
    expected = _reference(cube, outer, inner)
    np.testing.assert_array_equal(ring_median(cube, outer, inner, n_jobs=2), expected)
    result = ring_median_torch(torch.from_numpy(cube), outer, inner)
    np.testing.assert_array_equal(result.numpy(), expected)


def _brute_force(cube, outer, inner):
    """Sort every ring of the symmetric-padded cube (numpy's "symmetric" pad)."""
    radius, start = outer // 2, (outer - inner) // 2
    padded = np.pad(cube, ((radius, radius), (radius, radius), (0, 0)), mode="symmetric")
    ring = np.ones((outer, outer), dtype=bool)
    ring[start : start + inner, start : start + inner] = False
    windows = np.lib.stride_tricks.sliding_window_view(padded, (outer, outer), axis=(0, 1))
    values = np.sort(windows[..., ring], axis=-1)
    return values[..., values.shape[-1] // 2]


@pytest.mark.parametrize("size", [(2, 3), (3, 2), (1, 2), (5, 4)])
@pytest.mark.parametrize("outer, inner", [(17, 1), (25, 3)])
def test_window_far_larger_than_image_reflects_periodically(size, outer, inner):
    # Here scipy 1.17 reads outside the array (window reaching 4 n past an
    # axis of n pixels); the reference is a plain sort of the padded rings.
    cube = _cube((*size, 2), np.float64)
    expected = _brute_force(cube, outer, inner)
    np.testing.assert_array_equal(ring_median(cube, outer, inner), expected)
    result = ring_median_torch(torch.from_numpy(cube), outer, inner)
    np.testing.assert_array_equal(result.numpy(), expected)


def test_brute_force_reference_agrees_with_scipy_on_ordinary_sizes():
    cube = _cube((9, 11, 3), np.float64)
    np.testing.assert_array_equal(_brute_force(cube, 7, 3), _reference(cube, 7, 3))


def test_torch_keeps_dtype_device_and_ignores_grad():
    cube = torch.from_numpy(_cube((6, 7, 3), np.float64)).requires_grad_()
    result = ring_median_torch(cube, 5, 3)
    assert result.dtype == torch.float64
    assert result.device == cube.device
    assert not result.requires_grad
    np.testing.assert_array_equal(
        result.numpy(), _reference(cube.detach().numpy(), 5, 3)
    )


def test_empty_cube():
    assert ring_median(np.zeros((0, 4, 3), np.float32), 5, 1).shape == (0, 4, 3)
    assert ring_median_torch(torch.zeros(3, 4, 0), 5, 1).shape == (3, 4, 0)


@pytest.mark.parametrize(
    "outer, inner, match",
    [(4, 1, "odd"), (5, 2, "odd"), (5, 5, "smaller"), (3, 5, "smaller"), (5, 0, "positive")],
)
def test_invalid_windows_raise(outer, inner, match):
    cube = np.zeros((4, 4, 2))
    with pytest.raises(ValueError, match=match):
        ring_median(cube, outer, inner)
    with pytest.raises(ValueError, match=match):
        ring_median_torch(torch.from_numpy(cube), outer, inner)


def test_invalid_cubes_raise():
    with pytest.raises(ValueError, match="n_rows, n_cols, n_bands"):
        ring_median(np.zeros((4, 4)), 3, 1)
    with pytest.raises(TypeError, match="real numbers"):
        ring_median(np.zeros((4, 4, 2), dtype=complex), 3, 1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        ring_median_torch(np.zeros((4, 4, 2)), 3, 1)


@pytest.mark.parametrize("sizes", [(1, 1), (2, 3), (3, 3), (4, 1), (5, 4), (6, 5)])
def test_merge_network_sorts_every_zero_one_input(sizes):
    # The 0-1 principle: a comparator network that merges every pair of sorted
    # 0/1 lists merges every pair of sorted lists.
    n_a, n_b = sizes
    net = _ring_network._Network(n_a + n_b)
    merged = _ring_network._merge(net, list(range(n_a)), list(range(n_a, n_a + n_b)))
    for zeros_a, zeros_b in itertools.product(range(n_a + 1), range(n_b + 1)):
        values = [0] * zeros_a + [1] * (n_a - zeros_a) + [0] * zeros_b + [1] * (n_b - zeros_b)
        for node in net.nodes[n_a + n_b :]:
            is_max, a, b = node
            values.append(max(values[a], values[b]) if is_max else min(values[a], values[b]))
        assert [values[i] for i in merged] == sorted(values[: n_a + n_b])
