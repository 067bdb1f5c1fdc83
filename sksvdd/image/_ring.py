"""Exact ring median of a hyperspectral cube: min/max selection networks, no sorting.

The ring of a pixel is the ``outer x outer`` square centred on it minus the
centred ``inner x inner`` guard square. Its median (band by band, the upper of
the two middle values, as :func:`scipy.ndimage.median_filter` takes it) is the
local background of dual-window detectors.

A min/max network only ever moves values around, so its output is one of its
inputs: the result is bit for bit the order statistic scipy returns, with no
arithmetic to round. The network is built once per window pair and shares work
between neighbouring windows:

1. vertical: each column of a window is sorted once per image position, from
   sorted half-columns that serve both the window below them and the one
   above;
2. horizontal: consecutive sorted columns are merged (Batcher's odd-even
   merge) into sorted blocks computed once per position, each used by the
   window on its right and by the window on its left;
3. per window: the left block, the right block and the guard columns are
   merged, and after every merge the values that cannot reach the median's
   rank are dropped, so only the comparators that feed the median remain.

Every stage is a list of elementwise ``minimum`` / ``maximum`` calls on tiles of
the image that fit in cache, in the image's own ``(rows, cols, bands)`` layout:
a step of one column is a step of ``bands`` values in memory, so each tile is a
few rows times a long contiguous run of columns and bands.
"""

from functools import lru_cache
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs

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


# ---------------------------------------------------------------------------
# Plans: min/max networks built, pruned and scheduled once per window pair.


class _Stage:
    """One network applied to a tile.

    ``inputs`` are ``(source stage or -1 for the padded image, slot, row
    offset, column offset)``; ``ops`` are ``(is_max, a, b, dest)`` over
    ``values = inputs + slots (+ out)``; ``final`` (last stage only) is the
    index in ``values`` of the median.
    """

    def __init__(self, inputs, ops, n_slots, final=None):
        self.inputs = inputs
        self.ops = ops
        self.n_slots = n_slots
        self.final = final


class _Plan:
    def __init__(self, radius, stages):
        self.radius = radius
        self.stages = stages
        self.n_ops = sum(len(stage.ops) for stage in stages)
        self.n_slots = sum(stage.n_slots for stage in stages)

    def extents(self, h, w, bands):
        """Rows and flat columns ``(r0, r1, c0, c1)`` each stage covers for an h x w tile."""
        n = len(self.stages)
        ext = [None] * n
        ext[-1] = (0, h, 0, w)
        for s in range(n - 1, -1, -1):
            if ext[s] is None:
                continue
            r0, r1, c0, c1 = ext[s]
            for src, _, dr, dc in self.stages[s].inputs:
                if src < 0:
                    continue
                need = (r0 + dr, r1 + dr, c0 + dc * bands, c1 + dc * bands)
                old = ext[src] or need
                ext[src] = (
                    min(old[0], need[0]),
                    max(old[1], need[1]),
                    min(old[2], need[2]),
                    max(old[3], need[3]),
                )
        return ext


class _Network:
    """Symbolic min/max network: node ``i`` is an input or ``(is_max, a, b)``."""

    def __init__(self, n_inputs):
        self.n_inputs = n_inputs
        self.nodes = [None] * n_inputs

    def compare(self, a, b):
        self.nodes.append((False, a, b))
        self.nodes.append((True, a, b))
        return len(self.nodes) - 2, len(self.nodes) - 1

    def needed(self, outputs):
        need = set(outputs)
        stack = list(outputs)
        while stack:
            node = self.nodes[stack.pop()]
            if node is not None:
                for s in node[1:]:
                    if s not in need:
                        need.add(s)
                        stack.append(s)
        return need

    def n_ops(self, outputs):
        return sum(1 for i in self.needed(outputs) if i >= self.n_inputs)

    def schedule(self, outputs, final=False):
        """Pruned ops with buffer slots reused as soon as a value is dead.

        Returns ``(ops, n_slots, output_slots, needed_inputs)``; with
        ``final``, the single output is written to the value after the slots.
        """
        need = self.needed(outputs)
        order = sorted(i for i in need if i >= self.n_inputs)
        last_use = {}
        for i in order:
            for s in self.nodes[i][1:]:
                last_use[s] = i
        keep = set(outputs)
        where = {i: ("in", i) for i in range(self.n_inputs)}
        free, n_slots, raw = [], 0, []
        for i in order:
            is_max, a, b = self.nodes[i]
            for s in (a, b):
                if s >= self.n_inputs and last_use[s] == i and s not in keep:
                    free.append(where[s][1])
            if final and i == outputs[0]:
                where[i] = ("out", 0)
            elif free:
                where[i] = ("slot", free.pop())
            else:
                where[i] = ("slot", n_slots)
                n_slots += 1
            raw.append((is_max, where[a], where[b], where[i]))
        n_in = self.n_inputs

        def index(ref):
            kind, j = ref
            return j if kind == "in" else (n_in + j if kind == "slot" else n_in + n_slots)

        ops = [(is_max, index(a), index(b), index(d)) for is_max, a, b, d in raw]
        output_refs = [where[o] for o in outputs]
        needed_inputs = sorted(i for i in need if i < self.n_inputs)
        return ops, n_slots, output_refs, needed_inputs


def _merge(net, a, b):
    """Batcher's odd-even merge of two sorted lists of nodes, any lengths."""
    if not a or not b:
        return list(a or b)
    if len(a) == 1 and len(b) == 1:
        return list(net.compare(a[0], b[0]))
    even = _merge(net, a[0::2], b[0::2])
    odd = _merge(net, a[1::2], b[1::2])
    # Interleaved, the two are sorted but for adjacent (odd, next even) pairs.
    merged = [even[0]]
    for i, o in enumerate(odd):
        if i + 1 < len(even):
            merged.extend(net.compare(o, even[i + 1]))
        else:
            merged.append(o)
    merged.extend(even[len(odd) + 1 :])
    return merged


def _sort(net, nodes):
    if len(nodes) <= 1:
        return list(nodes)
    half = len(nodes) // 2
    return _merge(net, _sort(net, nodes[:half]), _sort(net, nodes[half:]))


def _trim(lists, n, k):
    """Drop the values of sorted lists that cannot be the rank-``k`` value of ``n``.

    Position ``j`` of a sorted list of ``s`` has at least ``j`` values below
    it and ``s - 1 - j`` above; it can be of rank ``k`` only if ``k - (n - s)
    <= j <= k``. Values dropped below the range lower ``k``.
    """
    kept = []
    for values in lists:
        s = len(values)
        lo, hi = max(0, k - (n - s)), min(s - 1, k)
        kept.append(values[lo : hi + 1])
        k -= lo
        n -= s - (hi + 1 - lo)
    return kept, n, k


def _select(net, lists, k, order):
    """Rank-``k`` node of the union of sorted lists, merged pairwise in ``order``."""
    lists, n, k = _trim([list(v) for v in lists if v], sum(map(len, lists)), k)
    for i, j in order:
        merged = _merge(net, lists[i], lists[j])
        lists = [v for t, v in enumerate(lists) if t not in (i, j)] + [merged]
        lists, n, k = _trim(lists, n, k)
    (values,) = lists
    return values[k]


@lru_cache(maxsize=None)
def _plan(outer, inner, split_half):
    """Stages for the ring of ``outer`` minus ``inner``, pruned back from the median.

    Offsets are relative to a window's top-left padded pixel: rows and columns
    ``0 .. 2R`` (``R = outer // 2``); the guard covers ``R - r .. R + r``
    (``r = inner // 2``), with ``side = R - r`` rows above it and as many
    below, ``side`` full columns left of it and as many right.
    """
    R, r = outer // 2, inner // 2
    side = R - r
    n_partial = outer - inner
    k = (outer * outer - inner * inner) // 2
    # A stage is (network, output nodes, input refs); a ref is (source, output
    # position, row offset, column offset), the source "image" being the
    # padded cube.
    specs = {}

    # Vertical: sorted half-columns, shared by windows side + inner rows apart;
    # then each column without its guard rows (partial) and whole (full).
    # On tiles of fewer rows than that, one stage over the rows of both halves
    # would mostly compute rows nobody uses, so each half has its own stage.
    halves = ("top", "bottom") if split_half else ("top", "top")
    for name in dict.fromkeys(halves):
        net = _Network(side)
        refs = [("image", 0, dr, 0) for dr in range(side)]
        specs[name] = (net, _sort(net, list(range(side))), refs)
    net = _Network(2 * side + inner)
    partial = _merge(net, list(range(side)), list(range(side, 2 * side)))
    full = _merge(net, partial, _sort(net, list(range(2 * side, 2 * side + inner))))
    refs = [(halves[0], i, 0, 0) for i in range(side)]
    refs += [(halves[1], i, R + r + 1, 0) for i in range(side)]
    refs += [("image", 0, side + j, 0) for j in range(inner)]
    specs["column"] = (net, full + partial, refs)

    # Horizontal: a block of w consecutive sorted columns is the merge of the
    # block of w // 2 at its left and the block of w - w // 2 after it; every
    # block is computed once per position and shared by the windows holding it.
    def block(kind, w, i, dc):
        if w == 1:
            return ("column", i if kind == "full" else outer + i, 0, dc)
        return ((kind, w), i, 0, dc)

    def add_blocks(kind, w, length):
        if w <= 1 or (kind, w) in specs:
            return
        left, right = w // 2, w - w // 2
        net = _Network(w * length)
        merged = _merge(net, list(range(left * length)), list(range(left * length, w * length)))
        refs = [block(kind, left, i, 0) for i in range(left * length)]
        refs += [block(kind, right, i, left) for i in range(right * length)]
        specs[(kind, w)] = (net, merged, refs)
        add_blocks(kind, left, length)
        add_blocks(kind, right, length)

    add_blocks("full", side, outer)
    add_blocks("partial", inner, n_partial)

    # Per window: left block, right block and guard block, merged in the
    # cheapest order, keeping only what can reach rank k.
    n_full, n_guard = side * outer, inner * n_partial
    bounds = [0, n_full, 2 * n_full, 2 * n_full + n_guard]
    best = None
    for order in ([(0, 1), (0, 1)], [(0, 2), (0, 1)], [(1, 2), (0, 1)]):
        net = _Network(bounds[-1])
        lists = [list(range(lo, hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]
        node = _select(net, lists, k, order)
        if best is None or net.n_ops([node]) < best[0]:
            best = (net.n_ops([node]), net, node)
    refs = [block("full", side, i, 0) for i in range(n_full)]
    refs += [block("full", side, i, R + r + 1) for i in range(n_full)]
    refs += [block("partial", inner, i, side) for i in range(n_guard)]
    specs["final"] = (best[1], [best[2]], refs)
    return _build_stages(specs, R)


def _build_stages(specs, radius):
    """Prune back to front, then number the stages front to back."""
    trees = sorted((key for key in specs if isinstance(key, tuple)), key=lambda t: -t[1])
    back = ["final", *trees, "column", *(key for key in ("top", "bottom") if key in specs)]
    needed = {key: set() for key in back}
    needed["final"].add(0)
    scheduled = {}
    for key in back:
        net, outputs, refs = specs[key]
        positions = sorted(needed[key])
        ops, n_slots, out_refs, used = net.schedule(
            [outputs[p] for p in positions], final=key == "final"
        )
        scheduled[key] = (ops, n_slots, dict(zip(positions, out_refs)), used)
        for i in used:
            if refs[i][0] != "image":
                needed[refs[i][0]].add(refs[i][1])

    # An output that is one of a stage's inputs (nothing to compute) is found
    # where that input lives, offsets added up.
    stages, located = [], {}
    for number, key in enumerate(back[::-1]):
        net, _, refs = specs[key]
        ops, n_slots, out_refs, used = scheduled[key]
        inputs, remap = [], {}
        for i in used:
            source, position, dr, dc = refs[i]
            if source == "image":
                inputs.append((-1, 0, dr, dc))
            else:
                s, slot, r0, c0 = located[(source, position)]
                inputs.append((s, slot, r0 + dr, c0 + dc))
            remap[i] = len(inputs) - 1
        n_in = net.n_inputs

        def renumber(v, n_in=n_in, remap=remap, n_used=len(inputs)):
            return remap[v] if v < n_in else v - n_in + n_used

        ops = [(is_max, renumber(a), renumber(b), renumber(d)) for is_max, a, b, d in ops]
        final = None
        for position, (where, j) in out_refs.items():
            if where == "in":
                located[(key, position)] = inputs[remap[j]]
                final = remap[j]
            elif where == "slot":
                located[(key, position)] = (number, j, 0, 0)
            else:
                final = len(inputs) + n_slots
        stages.append(_Stage(inputs, ops, n_slots, final if key == "final" else None))
    return _Plan(radius, stages)
