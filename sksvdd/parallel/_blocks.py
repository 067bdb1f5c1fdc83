"""Block machinery of :mod:`sksvdd.parallel`: lazy scoring of a cube, block by block.

:func:`_map_pixels` is the engine of ``score_cube`` and ``predict_cube``: it
cuts a cube into spatial blocks holding all the bands, reads each block with
a halo when the estimator has spatial steps (:class:`~sksvdd.DualWindowResidual`)
and maps the estimator over the blocks' pixels. The stand-ins
:class:`_MemmapFile` and :class:`_H5Dataset` let Dask read memmaps and HDF5
datasets one block at a time, and travel to ``distributed`` workers as file
names.
"""

import copy
import mmap
import os
from numbers import Integral

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._preprocessing import DualWindowResidual

try:
    import dask
    import dask.array as da
    from dask.array import overlap as _overlap
except ImportError:  # the optional extra sksvdd[dask] is not installed
    dask = da = _overlap = None

import h5py


def _map_pixels(estimator, cube, method, dtype, chunks):
    """Lazy ``(rows, cols)`` map of ``getattr(estimator, method)`` over a cube's pixels."""
    _require_dask()
    check_is_fitted(estimator)
    if not hasattr(estimator, method):
        raise TypeError(f"{type(estimator).__name__} has no {method} method.")
    if not hasattr(cube, "shape") or not hasattr(cube, "ndim"):
        cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(
            f"cube must be a 3-D array of shape (rows, cols, bands); got shape {cube.shape}. "
            "For a (n_pixels, n_bands) matrix call the estimator directly."
        )
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and cube.shape[2] != n_features:
        raise ValueError(
            f"cube has {cube.shape[2]} bands but {type(estimator).__name__} was fitted on "
            f"{n_features} features (bands)."
        )
    n_head, halo = _spatial_head(estimator)
    blocks = _as_dask_cube(cube, chunks)
    # One graph key holds the estimator, so a cluster ships it once per worker, not per block.
    fitted = dask.delayed(estimator, pure=False)
    if n_head == 0:
        return blocks.map_blocks(
            _apply_to_block, fitted, method=method, out_dtype=dtype, dtype=dtype,
            drop_axis=2, meta=np.empty((0, 0), dtype=dtype),
        )
    # Spatial steps: each block is read with a halo of `halo` pixels from its
    # neighbours (mirrored at the image borders, as scipy's mode="reflect"),
    # transformed as one image, and trimmed back to its own pixels.
    depth = []
    for axis in (0, 1):
        if blocks.numblocks[axis] > 1 and blocks.shape[axis] < 2 * halo:
            blocks = blocks.rechunk({axis: -1})
        elif blocks.numblocks[axis] > 1:
            blocks = blocks.rechunk({axis: _overlap.ensure_minimum_chunksize(
                halo, blocks.chunks[axis])})
        # An axis in one block needs no halo: the block's own border is the image's.
        depth.append(halo if blocks.numblocks[axis] > 1 else 0)
    padded = _overlap.overlap(
        blocks, depth={0: depth[0], 1: depth[1], 2: 0},
        boundary={0: "reflect", 1: "reflect", 2: "none"}, allow_rechunk=False,
    )
    return padded.map_blocks(
        _apply_to_padded_block, fitted, method=method, out_dtype=dtype, n_head=n_head,
        depth=tuple(depth), dtype=dtype, drop_axis=2, chunks=blocks.chunks[:2],
        meta=np.empty((0, 0), dtype=dtype),
    )


def _spatial_head(estimator):
    """``(n_head, halo)``: the pipeline steps up to the last spatial one, and their halo.

    ``n_head`` is 0 when ``estimator`` has no :class:`~sksvdd.DualWindowResidual`
    (then blocks are scored independently). ``halo`` is the number of
    neighbouring pixels, on each side, that the output of those steps
    depends on: the sum of ``outer_window // 2`` over the spatial steps,
    since chained steps widen each other's reach.
    """
    found = _dual_windows(estimator, "")
    handled = {path + "image_shape" for path, _ in found}
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    unknown = [
        key for key, value in params.items()
        if key.split("__")[-1] == "image_shape" and value is not None and key not in handled
    ]
    if unknown:
        raise ValueError(
            f"{type(estimator).__name__} has a spatial step ({unknown[0]} is set) that "
            "score_cube cannot split into blocks: only DualWindowResidual steps of "
            "(nested) pipelines are supported. Score the cube in memory instead."
        )
    if not found:
        return 0, 0
    top = {path.split("__")[0] for path, _ in found}
    n_head = 1 + max(i for i, (name, _) in enumerate(estimator.steps) if name in top)
    halo = sum(step.outer_window // 2 for _, step in found)
    return n_head, halo


def _dual_windows(estimator, prefix):
    """``[(param_prefix, step)]`` for every DualWindowResidual, as set_image_shape finds them."""
    if isinstance(estimator, DualWindowResidual):
        return [(prefix, estimator)]
    if isinstance(estimator, Pipeline):
        return [
            found
            for name, step in estimator.steps
            for found in _dual_windows(step, f"{prefix}{name}__")
        ]
    return []


def _with_image_shape(estimator, image_shape):
    """``estimator`` with every DualWindowResidual set to ``image_shape``, on shallow copies.

    The same steps as :func:`sksvdd._pipeline.set_image_shape`, but the
    user's objects are left alone (blocks run in several threads at once):
    pipelines and spatial steps are copied, the fitted detectors shared.
    """
    if isinstance(estimator, DualWindowResidual):
        step = copy.copy(estimator)
        step.image_shape = tuple(image_shape)
        return step
    if isinstance(estimator, Pipeline):
        pipe = copy.copy(estimator)
        pipe.steps = [(name, _with_image_shape(s, image_shape)) for name, s in estimator.steps]
        return pipe
    return estimator


def _apply_to_block(block, estimator, method, out_dtype):
    """``estimator.<method>`` on a ``(r, c, bands)`` block's pixels, back as ``(r, c)``."""
    rows, cols, bands = block.shape
    if rows * cols == 0:
        return np.empty((rows, cols), dtype=out_dtype)
    out = getattr(estimator, method)(np.asarray(block).reshape(rows * cols, bands))
    return np.asarray(out, dtype=out_dtype).reshape(rows, cols)


def _apply_to_padded_block(block, estimator, method, out_dtype, n_head, depth):
    """``estimator.<method>`` on the pixels of a block read with a halo, halo trimmed.

    The first ``n_head`` steps (those with spatial context) transform the
    padded block as one image; their output is trimmed by ``depth`` pixels
    on each side, and the remaining steps only see the block's own pixels.
    When the last step itself holds a spatial step (a nested pipeline), the
    whole estimator runs on the padded block and its output is trimmed.
    """
    rows, cols, bands = block.shape
    dr, dc = depth
    inner = (rows - 2 * dr, cols - 2 * dc)
    if inner[0] * inner[1] == 0:
        return np.empty(inner, dtype=out_dtype)
    pixels = np.asarray(block).reshape(rows * cols, bands)
    if n_head == len(estimator.steps):
        out = getattr(_with_image_shape(estimator, (rows, cols)), method)(pixels)
        out = np.asarray(out, dtype=out_dtype).reshape(rows, cols)
        return np.ascontiguousarray(out[dr:rows - dr, dc:cols - dc])
    Xt = _with_image_shape(estimator[:n_head], (rows, cols)).transform(pixels)
    Xt = np.asarray(Xt).reshape(rows, cols, -1)[dr:rows - dr, dc:cols - dc]
    Xt = np.ascontiguousarray(Xt).reshape(inner[0] * inner[1], -1)
    out = getattr(estimator[n_head:], method)(Xt)
    return np.asarray(out, dtype=out_dtype).reshape(inner)


def _as_dask_cube(cube, chunks):
    """``cube`` as a Dask array with spatial blocks ``chunks`` and the bands in one block."""
    if not (chunks == "auto" or (
        isinstance(chunks, tuple) and len(chunks) == 2
        and all(isinstance(c, Integral) and (c >= 1 or c == -1) for c in chunks)
    )):
        raise ValueError(
            f'chunks must be "auto" or a (rows, cols) tuple of positive integers; got {chunks!r}.'
        )
    spatial = ("auto", "auto") if chunks == "auto" else tuple(int(c) for c in chunks)
    if isinstance(cube, da.Array):
        if chunks != "auto":
            return cube.rechunk(spatial + (-1,))
        if cube.numblocks[2] == 1:
            return cube
        merged = max(cube.chunks[0]) * max(cube.chunks[1]) * cube.shape[2] * cube.dtype.itemsize
        limit = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
        return cube.rechunk({2: -1} if merged <= limit else {0: "auto", 1: "auto", 2: -1})
    return da.from_array(_H5Dataset.wrap(_MemmapFile.wrap(cube)), chunks=spatial + (-1,))


class _MemmapFile:
    """A ``np.memmap``'s file, mapped only while a block is read from it.

    Reading through a long-lived memmap leaves every page touched resident in
    the process (peak RSS grows to the file size); pickling one copies its
    data. This stand-in maps the file per read and pickles as a path, so
    Dask workers read their own blocks and memory follows the block size.
    """

    def __init__(self, filename, dtype, shape, offset, order):
        self.filename = filename
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.ndim = len(self.shape)
        self.offset = offset
        self.order = order

    @classmethod
    def wrap(cls, x):
        """The stand-in for a memmap opened on a file, else ``x`` unchanged.

        Slices and reshapes of a memmap keep the original's ``offset``
        attribute, so only an array that owns its mapping qualifies.
        """
        if not (isinstance(x, np.memmap) and isinstance(x.base, mmap.mmap) and x.filename):
            return x
        if not (x.flags.c_contiguous or x.flags.f_contiguous):
            return x
        order = "C" if x.flags.c_contiguous else "F"
        return cls(x.filename, x.dtype, x.shape, x.offset, order)

    def __getitem__(self, key):
        mapped = np.memmap(
            self.filename, dtype=self.dtype, mode="r", offset=self.offset,
            shape=self.shape, order=self.order,
        )
        return np.array(mapped[key])

    def __len__(self):
        return self.shape[0]

    def __dask_tokenize__(self):
        return (type(self).__name__, self.filename, os.path.getmtime(self.filename),
                str(self.dtype), self.shape, self.offset, self.order)


class _H5Dataset:
    """An HDF5 dataset, opened read-only only while a block is read from it.

    h5py objects do not pickle (and Dask's graph is pickled whole for a
    ``distributed`` cluster), so this stand-in holds the file name and the
    dataset's path; each read opens the file, which costs about a
    millisecond against the tens of milliseconds of reading a block.
    """

    def __init__(self, filename, name, dtype, shape, chunks):
        self.filename = filename
        self.name = name
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape)
        self.ndim = len(self.shape)
        self.chunks = chunks  # lets Dask align its blocks with the file's chunks

    @classmethod
    def wrap(cls, x):
        """The stand-in for a dataset of an HDF5 file on disk, else ``x`` unchanged."""
        if not isinstance(x, h5py.Dataset):
            return x
        if x.file.driver not in ("sec2", "stdio"):  # in-memory or custom drivers: no path
            return x
        return cls(x.file.filename, x.name, x.dtype, x.shape, x.chunks)

    def __getitem__(self, key):
        with h5py.File(self.filename, "r") as f:
            return f[self.name][key]

    def __len__(self):
        return self.shape[0]

    def __dask_tokenize__(self):
        return (type(self).__name__, self.filename, os.path.getmtime(self.filename),
                self.name, str(self.dtype), self.shape)


def _require_dask():
    """``dask.array``, or an ImportError that says how to install it."""
    if da is None:
        raise ImportError(
            "This function needs Dask, an optional dependency of sksvdd: install it with "
            'pip install "sksvdd[dask]" (dask[array] and distributed).'
        )
    return da
