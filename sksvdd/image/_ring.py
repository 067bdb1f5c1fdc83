"""Exact ring median of a hyperspectral cube: min/max selection networks, no sorting.

The ring of a pixel is the ``outer x outer`` square centred on it minus the
centred ``inner x inner`` guard square. Its median (band by band, the upper of
the two middle values, as :func:`scipy.ndimage.median_filter` takes it) is the
local background of dual-window detectors.

A min/max network only ever moves values around, so its output is one of its
inputs: the result is bit for bit the order statistic scipy returns, with no
arithmetic to round. The network is built once per window pair, in
:mod:`sksvdd.image._ring_network`: columns are sorted, merged into blocks
shared between neighbouring windows, and the blocks of each window merged and
pruned back to the comparators that feed the median. This module runs it.

Every stage is a list of elementwise ``minimum`` / ``maximum`` calls on tiles of
the image that fit in cache, in the image's own ``(rows, cols, bands)`` layout:
a step of one column is a step of ``bands`` values in memory, so each tile is a
few rows times a long contiguous run of columns and bands.
"""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

from ._ring_network import _plan

__all__ = ["ring_median", "ring_median_torch"]

# Tile of one call: rows x (columns * bands) values. One row keeps every view
# contiguous (NumPy's cheapest calls); tens of thousands of values amortise
# the per-call overhead while the few dozen live tiles of the 5/1 network stay
# near a core's L2 cache (sizes chosen by timing them on 2 cores).
_TILE_ROWS = 1
_TILE_VALUES = 32768
# torch's CPU kernels split a call over its intra-op threads only above some
# tens of thousands of values, and cost more per call: larger tiles.
_TORCH_CPU_TILE_ROWS = 8
_TORCH_CPU_TILE_VALUES = 1 << 18
# Output rows whose reflected padding is copied at once: bounds the memory of a
# large cube to a band of rows.
_BLOCK_ROWS = 32
# On an accelerator each call costs a kernel launch, so tiles are large.
_DEVICE_TILE_ROWS = 32
_DEVICE_TILE_VALUES = 1 << 21
# Bound on the values held in buffers per thread (large windows need
# thousands of live tiles; bands are then processed in groups).
_BUFFER_VALUES = 1 << 23
_TORCH_CPU_BUFFER_VALUES = 1 << 24
_DEVICE_BUFFER_VALUES = 1 << 26
# The network's cost grows faster with the ring than scipy's selection; past
# this many min/max calls per ring value (windows of about 50 pixels and up)
# ring_median hands over to scipy, which is then the faster exact path.
_MAX_OPS_PER_RING_VALUE = 12


def ring_median(cube, outer, inner, *, n_jobs=None):
    """Per band, the median of the ring between two centred squares.

    For every pixel and band, the median of the ``outer**2 - inner**2``
    values inside the ``outer x outer`` square centred on the pixel but
    outside the centred ``inner x inner`` square. The count is even; the upper
    of the two middle values is returned, so the result equals
    ``scipy.ndimage.median_filter(cube, footprint=F, mode="reflect")`` with the
    ring footprint ``F`` of shape ``(outer, outer, 1)``, value for value.

    Parameters
    ----------
    cube : array-like of shape (n_rows, n_cols, n_bands)
        The image. Float32 and float64 are the intended dtypes; any real
        dtype works. Need not be contiguous or writeable.
    outer : int
        Side of the outer square, odd.
    inner : int
        Side of the guard square, odd, ``1 <= inner < outer``.
    n_jobs : int, default=None
        Threads over which bands of rows are split (joblib, threads). ``None``
        means 1 unless in a :func:`joblib.parallel_config` context; ``-1``
        means all processors. The result does not depend on it.

    Returns
    -------
    median : ndarray of shape (n_rows, n_cols, n_bands)
        The ring median, in the input's dtype.

    See Also
    --------
    ring_median_torch : The same operation on a torch tensor, on any device.
    scipy.ndimage.median_filter : The reference it reproduces.

    Notes
    -----
    Borders are reflected as in scipy's ``mode="reflect"`` (``d c b a | a b c
    d``), repeatedly when the image is smaller than the window: the padded
    image is periodic with period twice the image. (SciPy 1.17 breaks that
    rule where a window reaches exactly 4, 6, ... times an axis of 2 or more
    pixels beyond the image, i.e. ``outer // 2 >= 4 * n``: it then reads
    memory outside the array. Windows of 7 or less are never affected.)

    The value returned is the order statistic of rank ``(outer**2 -
    inner**2) // 2`` (0-based). It is computed by a network of elementwise
    minima and maxima, which returns one of the ring's values, so no rounding
    occurs. Two cases are outside the equality with scipy: NaN (scipy's
    selection is then order dependent) and a median that is a zero of either
    sign when both ``0.0`` and ``-0.0`` are in the ring (they compare equal;
    either may be returned).

    The network's size grows faster with the window than scipy's selection
    does; for windows so large that it would be the slower of the two (about
    50 pixels across), the work is handed to :func:`scipy.ndimage.median_filter`
    itself, bands split over the same threads.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> cube = np.random.default_rng(0).random((6, 7, 3)).astype(np.float32)
    >>> footprint = np.ones((5, 5, 1), dtype=bool)
    >>> footprint[2, 2] = False
    >>> reference = ndimage.median_filter(cube, footprint=footprint, mode="reflect")
    >>> np.array_equal(ring_median(cube, 5, 1), reference)
    True
    """
    cube = np.asarray(cube)
    _check_arguments(cube.ndim, cube.dtype.kind, outer, inner)
    out = np.empty(cube.shape, dtype=cube.dtype)
    if cube.size == 0:
        return out
    n_jobs = effective_n_jobs(n_jobs)
    plan = _plan(outer, inner, _TILE_ROWS < outer // 2 + inner // 2 + 1)
    too_large = plan.n_ops > _MAX_OPS_PER_RING_VALUE * (outer * outer - inner * inner)
    # scipy reads outside the array where a window reaches 4, 6, ... times an
    # axis of n >= 2 pixels beyond it (see Notes); the network is exact there.
    scipy_exact = all(n == 1 or outer // 2 < 4 * n for n in cube.shape[:2])
    if too_large and scipy_exact:
        return _scipy_ring_median(cube, out, outer, inner, n_jobs)
    _fill(_NumpyBackend(), plan, cube, out, _TILE_ROWS, _TILE_VALUES, _BUFFER_VALUES, n_jobs)
    return out


def ring_median_torch(cube, outer, inner):
    """Per band, the ring median of a torch tensor, on the tensor's device.

    The same operation, and the same values, as :func:`ring_median`, written
    with torch operations only (padding by index, selection by
    ``torch.minimum`` / ``torch.maximum``), so that it runs on CPU or on an
    accelerator without leaving it.

    Parameters
    ----------
    cube : torch.Tensor of shape (n_rows, n_cols, n_bands)
        The image, on any device. Float32 and float64 are the intended
        dtypes.
    outer : int
        Side of the outer square, odd.
    inner : int
        Side of the guard square, odd, ``1 <= inner < outer``.

    Returns
    -------
    median : torch.Tensor of shape (n_rows, n_cols, n_bands)
        The ring median, same dtype and device as ``cube``.

    See Also
    --------
    ring_median : The NumPy version, with threads.

    Notes
    -----
    The cube is processed in bands of rows, each padded separately, and in
    tiles within them, so the extra memory is bounded (the network's live
    tiles under a fixed budget, plus one padded band of rows) whatever the size
    of the cube; very large windows are run a group of bands at a time. No
    gradient flows through the result. On CPU, torch's own intra-op threads
    split each call; where other jobs already occupy the cores,
    ``torch.set_num_threads(1)`` avoids their synchronisation cost.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> cube = np.random.default_rng(0).random((6, 7, 3))
    >>> result = ring_median_torch(torch.from_numpy(cube), 5, 1)
    >>> np.array_equal(result.numpy(), ring_median(cube, 5, 1))
    True
    """
    import torch

    if not isinstance(cube, torch.Tensor):
        raise TypeError(f"cube must be a torch.Tensor, got {type(cube).__name__}.")
    kind = "c" if cube.is_complex() else ("f" if cube.is_floating_point() else "i")
    if cube.dtype == torch.bool:
        kind = "b"
    _check_arguments(cube.ndim, kind, outer, inner)
    out = torch.empty(cube.shape, dtype=cube.dtype, device=cube.device)
    if cube.numel() == 0:
        return out
    if cube.device.type == "cpu":
        tile = (_TORCH_CPU_TILE_ROWS, _TORCH_CPU_TILE_VALUES, _TORCH_CPU_BUFFER_VALUES)
    else:
        tile = (_DEVICE_TILE_ROWS, _DEVICE_TILE_VALUES, _DEVICE_BUFFER_VALUES)
    plan = _plan(outer, inner, tile[0] < outer // 2 + inner // 2 + 1)
    # A selection carries no useful gradient, and ``out=`` refuses autograd.
    with torch.no_grad():
        _fill(_TorchBackend(torch, cube.device), plan, cube, out, *tile)
    return out


def _check_arguments(ndim, kind, outer, inner):
    if ndim != 3:
        raise ValueError(f"cube must have shape (n_rows, n_cols, n_bands), got {ndim} dims.")
    if kind not in "fiu":
        raise TypeError("cube must hold real numbers (float or integer dtype).")
    for name, value in (("outer", outer), ("inner", inner)):
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if value % 2 == 0:
            raise ValueError(f"{name}={value} must be odd, so that the window is centred.")
    if inner >= outer:
        raise ValueError(f"inner={inner} must be smaller than outer={outer}.")


# ---------------------------------------------------------------------------
# Execution: bands of rows, padded, then tiles, then the stages of the plan.


class _NumpyBackend:
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)

    def reflect_block(self, cube, rows, cols):
        return cube[np.ix_(rows, cols)]

    def empty(self, shape, like):
        return np.empty(shape, dtype=like.dtype)


class _TorchBackend:
    def __init__(self, torch, device):
        self.torch = torch
        self.device = device
        self.minimum = torch.minimum
        self.maximum = torch.maximum

    def reflect_block(self, cube, rows, cols):
        rows = self.torch.as_tensor(rows, device=self.device)
        cols = self.torch.as_tensor(cols, device=self.device)
        return cube[rows[:, None], cols[None, :]]

    def empty(self, shape, like):
        return self.torch.empty(shape, dtype=like.dtype, device=like.device)


def _reflect_index(n, pad):
    """Source index of each of ``n + 2 * pad`` positions under scipy's "reflect".

    The reflected signal is periodic with period ``2 * n`` (``d c b a | a b c d |
    d c b a``), which also covers pads longer than the signal.
    """
    index = np.arange(-pad, n + pad) % (2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def _scipy_ring_median(cube, out, outer, inner, n_jobs):
    """scipy's median_filter, bands split over threads (it releases the GIL)."""
    from scipy import ndimage

    footprint = np.ones((outer, outer, 1), dtype=bool)
    start = (outer - inner) // 2
    footprint[start : start + inner, start : start + inner] = False
    bounds = np.linspace(0, cube.shape[2], min(n_jobs, cube.shape[2]) + 1).astype(int)

    def fill(lo, hi):
        out[:, :, lo:hi] = ndimage.median_filter(
            cube[:, :, lo:hi], footprint=footprint, mode="reflect"
        )

    Parallel(n_jobs=len(bounds) - 1, prefer="threads")(
        delayed(fill)(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])
    )
    return out


def _fill(backend, plan, cube, out, tile_rows, tile_values, buffer_values, n_jobs=1):
    """Write the ring median of ``cube`` into ``out``, rows split over threads.

    Buffers hold ``plan.n_slots`` tiles, each reaching ``4 * radius`` columns
    past its width; for windows so large that this would exceed
    ``buffer_values``, bands are processed in groups (bands are independent).
    """
    n_rows, n_cols, n_bands = cube.shape
    per_value = plan.n_slots * tile_rows
    halo = 4 * plan.radius
    group = max(1, min(n_bands, buffer_values // (2 * per_value * halo)))
    # Wide enough that the halo stays a fraction of the tile, within the budget.
    width = max(tile_values // tile_rows, halo * group)
    width = min(width, max(group, buffer_values // per_value - halo * group), n_cols * group)
    n_tasks = max(1, min(n_jobs, n_rows))
    bounds = np.linspace(0, n_rows, n_tasks + 1).astype(int)
    for g0 in range(0, n_bands, group):
        g1 = min(g0 + group, n_bands)
        bands = cube[:, :, g0:g1]
        # Tiles address the output as (rows, cols * bands): a contiguous target.
        target = out if group == n_bands else backend.empty(bands.shape, cube)
        args = (backend, plan, bands, target)
        if n_tasks == 1:
            _run_rows(*args, 0, n_rows, tile_rows, width)
        else:
            # Tasks write disjoint rows; NumPy and torch release the GIL inside
            # each minimum / maximum, so threads overlap.
            Parallel(n_jobs=n_tasks, prefer="threads")(
                delayed(_run_rows)(*args, lo, hi, tile_rows, width)
                for lo, hi in zip(bounds[:-1], bounds[1:])
            )
        if target is not out:
            out[:, :, g0:g1] = target


def _run_rows(backend, plan, cube, out, row_lo, row_hi, tile_rows, tile_width):
    """Fill output rows ``[row_lo, row_hi)``; workspaces are private to the call."""
    n_rows, n_cols, n_bands = cube.shape
    radius = plan.radius
    row_index = _reflect_index(n_rows, radius)
    col_index = _reflect_index(n_cols, radius)
    width = n_cols * n_bands
    out2d = out.reshape(n_rows, width)
    workspace = _Workspace(plan, backend, n_bands, cube)
    block_rows = max(_BLOCK_ROWS, tile_rows)
    for b0 in range(row_lo, row_hi, block_rows):
        b1 = min(b0 + block_rows, row_hi)
        # Padded rows b0 .. b1 + 2 * radius hold every window of output rows b0 .. b1.
        block = backend.reflect_block(cube, row_index[b0 : b1 + 2 * radius], col_index)
        block = block.reshape(block.shape[0], -1)
        for t0 in range(b0, b1, tile_rows):
            t1 = min(t0 + tile_rows, b1)
            for p0 in range(0, width, tile_width):
                p1 = min(p0 + tile_width, width)
                workspace.run(block[t0 - b0 :, p0:], out2d[t0:t1, p0:p1])


class _Workspace:
    """Buffers of every stage for one tile shape, reused from tile to tile."""

    def __init__(self, plan, backend, n_bands, like):
        self.plan = plan
        self.backend = backend
        self.n_bands = n_bands
        self.buffers = {}
        self.extents = {}
        self.like = like

    def _extents(self, h, w):
        key = (h, w)
        if key not in self.extents:
            self.extents[key] = self.plan.extents(h, w, self.n_bands)
        return self.extents[key]

    def _buffer(self, stage, n_slots, shape):
        buf = self.buffers.get(stage)
        if buf is None or buf.shape[1] < shape[0] or buf.shape[2] < shape[1]:
            buf = self.backend.empty((n_slots, *shape), self.like)
            self.buffers[stage] = buf
        return buf[:, : shape[0], : shape[1]]

    def run(self, block, out):
        h, w = out.shape
        extents = self._extents(h, w)
        bands = self.n_bands
        minimum, maximum = self.backend.minimum, self.backend.maximum
        arrays = {}
        for s, stage in enumerate(self.plan.stages):
            if extents[s] is None:
                # Every output passes an input through: nothing to compute.
                continue
            r0, r1, c0, c1 = extents[s]
            inputs = []
            for src, slot, dr, dc in stage.inputs:
                if src < 0:
                    base = block
                    br, bc = 0, 0
                else:
                    base = arrays[src][slot]
                    br, bc = extents[src][0], extents[src][2]
                a = r0 + dr - br
                b = c0 + dc * bands - bc
                inputs.append(base[a : a + r1 - r0, b : b + c1 - c0])
            slots = self._buffer(s, stage.n_slots, (r1 - r0, c1 - c0))
            values = inputs + [slots[j] for j in range(stage.n_slots)]
            if stage.final is not None:
                values.append(out)
            for is_max, a, b, d in stage.ops:
                (maximum if is_max else minimum)(values[a], values[b], out=values[d])
            if stage.final is None:
                arrays[s] = values[len(inputs) :]
            elif stage.final < len(inputs):
                out[...] = values[stage.final]
