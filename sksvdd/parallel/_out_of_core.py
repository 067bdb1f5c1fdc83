"""Out-of-core fitting for :mod:`sksvdd.parallel`: a Deep SVDD fit on pixels read in batches.

:func:`_fit_out_of_core` is ``fit_out_of_core``: it reproduces
``DeepSVDDDetector.fit`` while :class:`_PixelReader` reads the sampled
pixels, each mini-batch (through :class:`_StreamedPixels`, the net's
dataset) and the threshold pass's chunks from a NumPy array, memmap, HDF5
dataset, zarr or Dask array.
"""

from numbers import Integral

import numpy as np
import torch
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.validation import validate_data

from .._base import offset_from_scores
from .._svdd._detector import DeepSVDDDetector
from ._blocks import _MemmapFile, _require_dask, da, h5py

# Pixels read and scored at a time by fit_out_of_core's threshold pass: a
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
    estimator._validate_params()
    pixels = _PixelReader(data)
    n = pixels.n_pixels

    # The same draws, in the same order, as DeepSVDDDetector.fit.
    rng = check_random_state(estimator.random_state)
    sample = rng.choice(n, size=min(estimator.sample_n, n), replace=False)
    # A warm start (where the detector supports it) keeps the fitted features, as fit does.
    warm = hasattr(estimator, "_warm") and estimator._warm()
    X_sample = validate_data(
        estimator, pixels.take(np.sort(sample)), dtype=[np.float32, np.float64], reset=not warm
    )
    def score_all():
        return _score_in_chunks(estimator, pixels, chunk_rows)

    estimator._fit_phases(X_sample, _StreamedPixels(pixels), rng, score_all)
    estimator.offset_ = offset_from_scores(score_all(), estimator.contamination)
    return estimator


def _score_in_chunks(estimator, pixels, chunk_rows):
    """``_score_samples`` of every pixel of a :class:`_PixelReader`, ``chunk_rows`` at a time."""
    n = pixels.n_pixels
    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        chunk = np.ascontiguousarray(pixels.slice(start, stop), dtype=np.float32)
        assert_all_finite(chunk, input_name="X", estimator_name=type(estimator).__name__)
        scores[start:stop] = estimator._score_samples(chunk)
    return scores


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
    """Float32 mini-batches read from a :class:`_PixelReader`: the streaming PixelDataset.

    Same protocol as :class:`sksvdd._svdd._training.PixelDataset` (``__getitems__``
    returns ``(batch, None)`` for :class:`~sksvdd._svdd._training.ShuffledBatches`), so
    the net sees the same tensors as with in-memory pixels.
    """

    def __init__(self, pixels):
        self.pixels = pixels

    def __len__(self):
        return self.pixels.n_pixels

    def __getitem__(self, i):
        return self.__getitems__([i])[0][0], 0

    def __getitems__(self, indices):
        indices = np.asarray(indices, dtype=np.intp)
        order = np.argsort(indices, kind="stable")
        batch = np.empty((len(indices), self.pixels.n_bands), dtype=np.float32)
        batch[order] = self.pixels.take(indices[order])
        assert_all_finite(batch, input_name="X", estimator_name="DeepSVDDDetector")
        return torch.from_numpy(batch), None
