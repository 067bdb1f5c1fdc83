"""Out-of-core fitting for :mod:`sksvdd.parallel`: a Deep SVDD fit on pixels read in batches.

:func:`_fit_out_of_core` is ``fit_out_of_core``: it wraps an out-of-core
array (NumPy array, memmap, HDF5 dataset, zarr or Dask array) in
:class:`_StreamedPixels`, a pixel Dataset as ``DeepSVDDDetector.fit``
accepts, and fits the detector on it; :class:`_PixelReader` reads the
pixels.
"""

from numbers import Integral

import numpy as np
import torch

from .._svdd._detector import DeepSVDDDetector
from ._blocks import _MemmapFile, _require_dask, da, h5py

# Pixels read and scored at a time by fit_out_of_core's scoring passes: a
# multiple of the detector's scoring batch (2048), 16 MiB of float32 at 64 bands.
_CHUNK_ROWS = 65536


def _fit_out_of_core(estimator, data, chunk_rows):
    """The body of :func:`sksvdd.parallel.fit_out_of_core` (documented there)."""
    if not isinstance(estimator, DeepSVDDDetector):
        raise TypeError(
            "fit_out_of_core fits a DeepSVDDDetector; got "
            f"{type(estimator).__name__}. For a pipeline, transform the data first and fit "
            "its detector step (pipeline[-1])."
        )
    if not isinstance(chunk_rows, Integral) or isinstance(chunk_rows, bool) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}.")
    return estimator.fit(_StreamedPixels(_PixelReader(data), chunk_rows))


class _PixelReader:
    """Rows of an out-of-core ``(n_pixels, bands)`` or ``(rows, cols, bands)`` array.

    ``take(sorted_indices)`` reads arbitrary pixels, ``slice(start, stop)`` a
    run of them, both as ``(k, bands)`` NumPy arrays in the source dtype.
    HDF5 reads use h5py's own selections (one per image row for a cube);
    Dask arrays (and zarr or other array-likes, wrapped in one) are computed
    per read; NumPy arrays and memmaps are indexed directly.
    """

    def __init__(self, data):
        if isinstance(data, h5py.Dataset):
            self.kind = "h5py"
        elif isinstance(data, (np.ndarray, _MemmapFile)):
            self.kind = "numpy"
            data = _MemmapFile.wrap(data)
        elif da is not None and isinstance(data, da.Array):
            self.kind = "dask"
        elif hasattr(data, "shape") and hasattr(data, "__getitem__") and hasattr(data, "dtype"):
            self.kind = "dask"
            data = _require_dask().from_array(data)
        else:
            self.kind = "numpy"
            data = np.asarray(data)
        if data.ndim not in (2, 3):
            raise ValueError(
                "data must be a 2-D (n_pixels, n_bands) or 3-D (rows, cols, bands) array; "
                f"got shape {data.shape}."
            )
        self.data = data
        self.n_bands = data.shape[-1]
        self.n_cols = data.shape[1] if data.ndim == 3 else None
        self.n_pixels = int(np.prod(data.shape[:-1]))

    def take(self, indices):
        """Pixels ``indices`` (sorted, unique) as an ``(len(indices), bands)`` array."""
        x = self.data
        if len(indices) == 0:
            return np.empty((0, self.n_bands), dtype=x.dtype)
        if self.n_cols is None:
            out = x[indices]
        elif self.kind == "h5py":
            rows, cols = np.divmod(indices, self.n_cols)
            starts = np.flatnonzero(np.r_[True, np.diff(rows) > 0])
            ends = np.r_[starts[1:], len(indices)]
            out = np.empty((len(indices), self.n_bands), dtype=x.dtype)
            for s, e in zip(starts, ends):
                out[s:e] = x[int(rows[s]), cols[s:e], :]
            return out
        elif self.kind == "dask":
            out = x.vindex[np.divmod(indices, self.n_cols)]
        else:
            out = x[np.divmod(indices, self.n_cols)]
        return out.compute() if self.kind == "dask" else np.asarray(out)

    def slice(self, start, stop):
        """Pixels ``start:stop`` as an ``(stop - start, bands)`` array."""
        x = self.data
        if self.n_cols is None:
            out = x[start:stop]
            return out.compute() if self.kind == "dask" else np.asarray(out)
        first, last = start // self.n_cols, (stop - 1) // self.n_cols + 1
        slab = x[first:last]
        slab = slab.compute() if self.kind == "dask" else np.asarray(slab)
        skip = start - first * self.n_cols
        return slab.reshape(-1, self.n_bands)[skip : skip + stop - start]


class _StreamedPixels(torch.utils.data.Dataset):
    """Pixels of a :class:`_PixelReader` as a Dataset for ``DeepSVDDDetector.fit``.

    Implements the Dataset protocol documented in ``DeepSVDDDetector.fit``:
    ``__getitems__`` returns ``(float32 batch, None)`` (pixels read in
    increasing order, which HDF5 requires and disks prefer, then put back in
    the requested order), ``take`` reads the phase-1 sample in the stored
    dtype, ``slice`` a contiguous run for the scoring passes, ``chunk_rows``
    pixels at a time. The net sees the same tensors as with in-memory pixels.
    ``fit`` checks every read for non-finite values.
    """

    def __init__(self, pixels, chunk_rows=_CHUNK_ROWS):
        self.pixels = pixels
        self.chunk_rows = chunk_rows

    def __len__(self):
        return self.pixels.n_pixels

    def __getitem__(self, i):
        return self.__getitems__([i])[0][0], 0

    def __getitems__(self, indices):
        indices = np.asarray(indices, dtype=np.intp)
        order = np.argsort(indices, kind="stable")
        batch = np.empty((len(indices), self.pixels.n_bands), dtype=np.float32)
        batch[order] = self.pixels.take(indices[order])
        return torch.from_numpy(batch), None

    def take(self, indices):
        return self.pixels.take(np.asarray(indices, dtype=np.intp))

    def slice(self, start, stop):
        return self.pixels.slice(start, stop)
