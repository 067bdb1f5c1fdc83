"""Block machinery of :mod:`sksvdd.parallel`: lazy scoring of a cube, block by block.

:func:`_map_pixels` is the engine of ``score_cube`` and ``predict_cube``: it
cuts a cube into spatial blocks holding all the bands and maps a pixel-level
estimator over each block's pixels, or an image-level one (with a ``halo``,
such as :class:`~sksvdd.ImageDetector`) over blocks read with that halo. The stand-ins
:class:`_MemmapFile` and :class:`_H5Dataset` let Dask read memmaps and HDF5
datasets one block at a time, and travel to ``distributed`` workers as file
names.
"""

import mmap
import os
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    import dask
    import dask.array as da
    from dask.array import overlap as _overlap
except ImportError:  # the optional extra sksvdd[dask] is not installed
    dask = da = _overlap = None

import h5py


def _map_pixels(estimator, cube, method, dtype, chunks):
    """Lazy ``(rows, cols)`` map of ``getattr(estimator, method)`` over a cube's pixels.

    A pixel-level estimator (matrices of pixels in, one value per pixel
    out) is mapped over each block's pixels. An image-level estimator (one
    with a ``halo``, such as :class:`~sksvdd.ImageDetector`) is mapped over
    blocks read with ``halo`` pixels of their neighbours on each side
    (:func:`dask.array.overlap.overlap`, mirrored at the image borders as
    scipy's ``mode="reflect"``), and each result is trimmed back to its
    block: every output pixel then sees the same neighbourhood as in the
    whole image.
    """
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
    image_level = hasattr(estimator, "halo")
    n_bands = getattr(estimator, "n_bands_in_" if image_level else "n_features_in_", None)
    if n_bands is not None and cube.shape[2] != n_bands:
        raise ValueError(
            f"cube has {cube.shape[2]} bands but {type(estimator).__name__} was fitted on "
            f"{n_bands} bands."
        )
    blocks = _as_dask_cube(cube, chunks)
    # One graph key holds the estimator, so a cluster ships it once per worker, not per block.
    fitted = dask.delayed(estimator, pure=False)
    meta = np.empty((0, 0), dtype=dtype)
    if not image_level:
        return blocks.map_blocks(
            _apply_to_block, fitted, method=method, out_dtype=dtype, dtype=dtype,
            drop_axis=2, meta=meta,
        )
    halo = int(estimator.halo)
    depth = {}
    for axis in (0, 1):
        if blocks.numblocks[axis] > 1 and blocks.shape[axis] < 2 * halo:
            blocks = blocks.rechunk({axis: -1})
        # An axis in one block needs no halo: the block's own border is the image's.
        depth[axis] = halo if blocks.numblocks[axis] > 1 else 0
    if not any(depth.values()):
        return blocks.map_blocks(
            _apply_to_image, fitted, method=method, out_dtype=dtype, depth=(0, 0),
            dtype=dtype, drop_axis=2, meta=meta,
        )
    padded = _overlap.overlap(
        blocks, depth={**depth, 2: 0}, boundary={0: "reflect", 1: "reflect", 2: "none"},
        allow_rechunk=True,
    )
    out_chunks = tuple(
        tuple(size - 2 * depth[axis] for size in padded.chunks[axis]) for axis in (0, 1)
    )
    return padded.map_blocks(
        _apply_to_image, fitted, method=method, out_dtype=dtype,
        depth=(depth[0], depth[1]), dtype=dtype, drop_axis=2, chunks=out_chunks, meta=meta,
    )


def _apply_to_block(block, estimator, method, out_dtype):
    """``estimator.<method>`` on a ``(r, c, bands)`` block's pixels, back as ``(r, c)``."""
    rows, cols, bands = block.shape
    if rows * cols == 0:
        return np.empty((rows, cols), dtype=out_dtype)
    out = getattr(estimator, method)(np.asarray(block).reshape(rows * cols, bands))
    return np.asarray(out, dtype=out_dtype).reshape(rows, cols)


def _apply_to_image(block, estimator, method, out_dtype, depth):
    """An image-level ``estimator.<method>`` on a block read with a halo, halo trimmed."""
    rows, cols, _ = block.shape
    dr, dc = depth
    if (rows - 2 * dr) * (cols - 2 * dc) <= 0:
        return np.empty((max(rows - 2 * dr, 0), max(cols - 2 * dc, 0)), dtype=out_dtype)
    out = np.asarray(getattr(estimator, method)(np.asarray(block)), dtype=out_dtype)
    return np.ascontiguousarray(out[dr : rows - dr, dc : cols - dc])


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
