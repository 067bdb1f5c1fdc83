"""Scale out: out-of-core scoring of large cubes and fitting on pixels that do not fit in memory.

Three tools, none of which is cluster code of its own: Dask does the
scheduling, on threads, processes or a ``distributed`` cluster.

- :func:`score_cube` and :func:`predict_cube` score a ``(rows, cols, bands)``
  cube block by block and return a lazy :class:`dask.array.Array`; the cube
  can be a NumPy array, a ``np.memmap``, an ``h5py.Dataset``, a zarr array or
  a Dask array. Memory is bounded by the block size, not by the cube.
  Pipelines with a spatial step (:class:`~sksvdd.DualWindowResidual`, as in
  ``make_default_pipeline(image_shape=...)``) are supported: each block is
  read with a halo of neighbouring pixels.
- :func:`fit_out_of_core` fits a :class:`~sksvdd.DeepSVDDDetector` on pixels
  read from such an array in batches, and gives the same model as ``fit`` on
  the same pixels loaded in memory.
- Grid search on a cluster needs nothing from this module: run
  :class:`~sklearn.model_selection.GridSearchCV` inside
  ``joblib.parallel_backend("dask")`` with a ``distributed.Client`` (see
  ``docs/scaling.md``).

Scoring needs the optional dependency Dask (``pip install "sksvdd[dask]"``);
importing this module and :func:`fit_out_of_core` on NumPy, memmap and HDF5
arrays do not.
"""

import copy
import mmap
import os
import re
from numbers import Integral

import numpy as np
import torch
from sklearn.pipeline import Pipeline
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import offset_from_scores
from ._detector import DeepSVDDDetector
from ._preprocessing import DualWindowResidual

try:
    import dask
    import dask.array as da
    from dask.array import overlap as _overlap
except ImportError:  # the optional extra sksvdd[dask] is not installed
    dask = da = _overlap = None

try:
    import h5py
except ImportError:  # h5py is a core dependency, but keep this module importable without it
    h5py = None

__all__ = ["fit_out_of_core", "predict_cube", "score_cube"]

# Pixels read and scored at a time by fit_out_of_core's threshold pass: a
# multiple of the detector's scoring batch (2048), 16 MiB of float32 at 64 bands.
_CHUNK_ROWS = 65536


def score_cube(estimator, cube, *, chunks="auto"):
    """Score every pixel of a hyperspectral cube, block by block, lazily.

    The cube is cut into spatial blocks that hold all the bands; each block
    is reshaped to pixels ``(block_rows * block_cols, bands)`` and passed to
    ``estimator.score_samples``. A pipeline with spatial steps
    (:class:`~sksvdd.DualWindowResidual`) is handled as one image: each
    block is read with a halo of neighbouring pixels (see Notes), so the
    result does not depend on the blocks. Nothing is read or computed until the
    result is computed (``.compute()``, ``da.store``, ``.to_zarr()``), on
    whatever Dask scheduler is active: threads by default, or a
    ``distributed.Client``.

    Parameters
    ----------
    estimator : fitted estimator with ``score_samples``
        A fitted sksvdd detector or pipeline, :class:`~sksvdd.RXDetector`,
        :class:`~sklearn.ensemble.IsolationForest`, ... It must be safe to
        call from several threads at once (all of these are) and, on a
        ``distributed`` cluster, picklable. Its
        :class:`~sksvdd.DualWindowResidual` steps, at any depth of nested
        pipelines, may have any ``image_shape``: each block uses its own
        (on copies of those steps; ``estimator`` is not modified).
    cube : array-like of shape (rows, cols, bands)
        A NumPy array, ``np.memmap``, ``h5py.Dataset``, zarr array or
        :class:`dask.array.Array`. A memmap is re-mapped for each block, so
        the file's pages do not accumulate in the process's memory and it
        travels to ``distributed`` workers as a file name, not as data (the
        file must then be readable at the same path on the workers; so must
        an HDF5 file, which must be opened read-only, ``h5py.File(path,
        "r")``, for ``distributed`` to ship it).
    chunks : "auto" or tuple of int (rows, cols), default="auto"
        Spatial block size. ``"auto"`` keeps a Dask array's spatial blocks
        and cuts other inputs with Dask's ``"auto"`` rule (blocks of about
        the ``array.chunk-size`` configuration value, 128 MiB by default,
        aligned with an HDF5 or zarr array's own chunks). The band axis is
        always one block: a Dask array chunked along bands has its band
        blocks merged, and with ``"auto"`` is also cut anew spatially if the
        merged blocks would exceed ``array.chunk-size``. With spatial steps,
        blocks smaller than the halo are merged with a neighbour, and an
        axis shorter than twice the halo is one block.

    Returns
    -------
    scores : dask.array.Array of shape (rows, cols), dtype float64
        ``estimator.score_samples`` of each pixel, lazily: higher = more
        normal, as everywhere in scikit-learn; the anomaly map is
        ``-scores``. Computed, it equals
        ``estimator.score_samples(cube.reshape(-1, bands)).reshape(rows, cols)``
        for any estimator whose scores do not depend on the other pixels
        passed with them (exactly, for sksvdd's detectors). With spatial
        steps it equals, bit for bit, the whole cube scored in memory,
        ``set_image_shape(estimator, (rows, cols))`` then the same call (see
        Notes).

    Raises
    ------
    ImportError
        If Dask is not installed.
    NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``cube`` is not 3-D, its band count differs from
        ``estimator.n_features_in_``, ``chunks`` is malformed, or the
        estimator has a spatial step other than a
        :class:`~sksvdd.DualWindowResidual` in (nested) pipelines (a
        parameter ``image_shape`` that is set, whose reach is unknown).

    See Also
    --------
    predict_cube : The +1 / -1 labels of every pixel.
    sksvdd.datasets.cube_to_pixels : The in-memory equivalent of the reshape.

    Notes
    -----
    Peak memory is about (number of threads or worker threads) x (a few
    times the block size: the block read, its float32 copy and the
    estimator's temporaries), plus the ``(rows, cols)`` float64 result if
    it is computed in memory; store it with ``da.store`` or ``.to_zarr()``
    to keep even that out of memory.

    Spatial steps. A :class:`~sksvdd.DualWindowResidual` with
    ``outer_window=w`` makes a pixel's output depend on the pixels up to
    ``w // 2`` away; chained spatial steps add up their reaches. Each block
    is therefore read with a halo of that many pixels on every side (Dask's
    ``overlap``; at the image borders the halo mirrors the image, ``d c b a
    | a b c d``, which is scipy's ``mode="reflect"`` used by the step), the
    pipeline's steps up to the last spatial one transform the padded block
    as one image, the halo is trimmed, and the remaining steps (the
    detector) score only the block's own pixels. A pixel thus sees exactly
    the neighbourhood it has in the whole image, and since the step sums
    each window in a fixed order (not with running sums), the results are
    bit-identical to the whole image's. The halo costs about
    ``2 * halo * (1 / block_rows + 1 / block_cols)`` extra reading and
    preprocessing, not extra detector work.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import RXDetector
    >>> from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
    >>> from sksvdd.parallel import score_cube
    >>> cube = make_hyperspectral_scene(n_rows=60, n_cols=50, random_state=0).cube
    >>> rx = RXDetector().fit(cube_to_pixels(cube))
    >>> scores = score_cube(rx, cube, chunks=(16, 16))
    >>> scores.shape, scores.dtype, scores.numblocks
    ((60, 50), dtype('float64'), (4, 4))
    >>> image = scores.compute()
    >>> bool(np.allclose(image.ravel(), rx.score_samples(cube_to_pixels(cube))))
    True
    """
    return _map_pixels(estimator, cube, "score_samples", np.float64, chunks)


def predict_cube(estimator, cube, *, chunks="auto"):
    """Label every pixel of a cube as inlier (+1) or outlier (-1), block by block, lazily.

    The labels of ``estimator.predict``, so the threshold is the one fitted
    once on training scores (``offset_``), never recomputed per block or per
    image. Parameters, validation, memory and spatial steps (pipelines with
    :class:`~sksvdd.DualWindowResidual`) as in :func:`score_cube`.

    Parameters
    ----------
    estimator : fitted estimator with ``predict``
        A fitted outlier detector or a pipeline ending in one.
    cube : array-like of shape (rows, cols, bands)
        A NumPy array, ``np.memmap``, ``h5py.Dataset``, zarr array or
        :class:`dask.array.Array`.
    chunks : "auto" or tuple of int (rows, cols), default="auto"
        Spatial block size, as in :func:`score_cube`.

    Returns
    -------
    labels : dask.array.Array of shape (rows, cols), dtype int
        ``-1`` for outliers, ``+1`` for inliers; ``labels == -1`` is the
        anomaly mask.

    Raises
    ------
    ImportError
        If Dask is not installed.
    NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``cube`` is not 3-D, its band count differs from
        ``estimator.n_features_in_``, ``chunks`` is malformed, or the
        estimator has a spatial step other than
        :class:`~sksvdd.DualWindowResidual`.

    See Also
    --------
    score_cube : The continuous scores.

    Notes
    -----
    To get scores and labels in one pass over the data, compute
    :func:`score_cube` and threshold it with the detector's ``offset_``
    (``scores < detector.offset_`` is the anomaly mask, for detectors with
    the scikit-learn contract ``decision_function = score_samples -
    offset_``, like sksvdd's and ``IsolationForest``).

    Examples
    --------
    >>> from sksvdd import RXDetector
    >>> from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
    >>> from sksvdd.parallel import predict_cube
    >>> scene = make_hyperspectral_scene(n_rows=60, n_cols=50, random_state=0)
    >>> rx = RXDetector(contamination=0.01).fit(cube_to_pixels(scene.cube))
    >>> labels = predict_cube(rx, scene.cube).compute()
    >>> labels.shape, sorted(set(labels.ravel().tolist()))
    ((60, 50), [-1, 1])
    """
    return _map_pixels(estimator, cube, "predict", np.dtype(int), chunks)


def fit_out_of_core(estimator, data, *, chunk_rows=_CHUNK_ROWS):
    """Fit a DeepSVDDDetector on pixels read from disk in batches.

    Gives the same fitted detector, with bit-identical scores, as
    ``estimator.fit(X)`` where ``X`` is ``data`` loaded in memory as pixels,
    while holding only a sample, one mini-batch and one chunk of pixels at a
    time:

    1. Statistical phase: the same pixel sample as ``fit``, drawn with the
       same generator (``check_random_state(random_state).choice(n_pixels,
       min(sample_n, n_pixels), replace=False)``) and read in sorted order.
    2. Gradient phase: the net's data loader reads each shuffled mini-batch
       from ``data`` (rows in increasing order, which HDF5 requires and
       disks prefer).
    3. Threshold: the training scores are computed ``chunk_rows`` pixels at
       a time to set ``offset_``.

    Every pixel read is checked to be finite (an error is raised at the
    first batch or chunk with a NaN or infinity, at the latest by the end of
    the first epoch or of the threshold pass).

    Parameters
    ----------
    estimator : DeepSVDDDetector
        The detector to fit, with its parameters set; it is modified in
        place (as ``fit`` does) and returned. Preprocessing steps of a
        pipeline are not applied: transform the data first (e.g. lazily with
        Dask, written to zarr), or use stateless per-pixel steps in
        ``score_cube`` afterwards only if they were part of the training data.
    data : array-like of shape (n_pixels, n_bands) or (rows, cols, bands)
        A NumPy array, ``np.memmap``, ``h5py.Dataset``, zarr array or
        :class:`dask.array.Array`. A cube is read as its pixels in row-major
        order, as :func:`sksvdd.datasets.cube_to_pixels` flattens it. Any
        real dtype; pixels are used as float32, as in ``fit``. Dask arrays
        are recomputed for every batch, so persist them or write them to
        zarr first rather than passing a long lazy computation.
    chunk_rows : int, default=65536
        Pixels read and scored at a time in the threshold pass; with
        ``n_bands`` it bounds that pass's memory to about
        ``chunk_rows * n_bands * 4`` bytes plus the network's temporaries.

    Returns
    -------
    estimator : DeepSVDDDetector
        The fitted detector.

    Raises
    ------
    TypeError
        If ``estimator`` is not a :class:`~sksvdd.DeepSVDDDetector`.
    ValueError
        If ``data`` is not 2-D or 3-D, has no pixels, or has non-finite
        values; if a parameter of ``estimator`` is invalid.

    See Also
    --------
    sksvdd.DeepSVDDDetector.fit : The in-memory fit this reproduces.
    score_cube : Score a large cube with the fitted detector.

    Notes
    -----
    Memory: the ``sample_n`` sampled pixels, one mini-batch, one chunk of
    ``chunk_rows`` pixels and the ``n_pixels`` float64 training scores
    (needed for the exact ``contamination`` quantile; 8 bytes per pixel
    against ``4 * n_bands`` for the data).

    Time: every epoch reads every pixel once in random order, so the
    storage should serve random reads well (a local SSD, the page cache,
    an HDF5 dataset with small chunks along the pixel axis).

    Examples
    --------
    >>> import numpy as np
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sksvdd import DeepSVDDDetector
    >>> from sksvdd.parallel import fit_out_of_core
    >>> rng = np.random.RandomState(0)
    >>> path = Path(tempfile.mkdtemp()) / "pixels.f32"
    >>> X = np.memmap(path, dtype=np.float32, mode="w+", shape=(3000, 8))
    >>> X[:] = rng.normal(size=X.shape)
    >>> X.flush()
    >>> det = fit_out_of_core(
    ...     DeepSVDDDetector(max_epochs=2, random_state=0), X, chunk_rows=1000
    ... )
    >>> ref = DeepSVDDDetector(max_epochs=2, random_state=0).fit(np.asarray(X))
    >>> bool(np.array_equal(det.score_samples(X), ref.score_samples(X)))
    True
    >>> det.offset_ == ref.offset_, det.n_features_in_
    (True, 8)
    >>> del X; path.unlink()
    """
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
    estimator._fit_phases(X_sample, _StreamedPixels(pixels), rng)

    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        chunk = np.ascontiguousarray(pixels.slice(start, stop), dtype=np.float32)
        assert_all_finite(chunk, input_name="X", estimator_name=type(estimator).__name__)
        scores[start:stop] = estimator._score_samples(chunk)
    estimator.offset_ = offset_from_scores(scores, estimator.contamination)
    return estimator


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
        if h5py is None or not isinstance(x, h5py.Dataset):
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


class _PixelReader:
    """Rows of an out-of-core ``(n_pixels, bands)`` or ``(rows, cols, bands)`` array.

    ``take(sorted_indices)`` reads arbitrary pixels, ``slice(start, stop)`` a
    run of them, both as ``(k, bands)`` NumPy arrays in the source dtype.
    HDF5 reads use h5py's own selections (one per image row for a cube);
    Dask arrays (and zarr or other array-likes, wrapped in one) are computed
    per read; NumPy arrays and memmaps are indexed directly.
    """

    def __init__(self, data):
        if h5py is not None and isinstance(data, h5py.Dataset):
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

    Same protocol as :class:`sksvdd._training.PixelDataset` (``__getitems__``
    returns ``(batch, None)``, for the net's identity ``collate_batch``), so
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


def _require_dask():
    """``dask.array``, or an ImportError that says how to install it."""
    if da is None:
        raise ImportError(
            "This function needs Dask, an optional dependency of sksvdd: install it with "
            'pip install "sksvdd[dask]" (dask[array] and distributed).'
        )
    return da


if da is None:  # pragma: no cover - exercised in a subprocess by the tests
    # Without Dask these examples cannot run; mark them skipped so that
    # ``pytest --doctest-modules`` reports them as such instead of failing.
    for _function in (score_cube, predict_cube):
        _function.__doc__ = re.sub(
            r"^(\s*>>> .*)$", r"\1  # doctest: +SKIP", _function.__doc__, flags=re.MULTILINE
        )
