"""Scale out: out-of-core scoring of large cubes and fitting on pixels that do not fit in memory.

Three tools, none of which is cluster code of its own: Dask does the
scheduling, on threads, processes or a ``distributed`` cluster.

- :func:`score_cube` and :func:`predict_cube` score a ``(rows, cols, bands)``
  cube block by block and return a lazy :class:`dask.array.Array`; the cube
  can be a NumPy array, a ``np.memmap``, an ``h5py.Dataset``, a zarr array or
  a Dask array. Memory is bounded by the block size, not by the cube.
  Image-level detectors (:class:`~sksvdd.ImageDetector`, as made by
  :func:`~sksvdd.make_default_detector`) are supported: each block is read
  with a halo of neighbouring pixels (Dask's ``overlap``).
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

import re

import numpy as np

# DeepSVDDDetector and _MemmapFile are also reached through this module.
from .._svdd._detector import DeepSVDDDetector  # noqa: F401
from ._out_of_core import _CHUNK_ROWS, _fit_out_of_core
from ._blocks import _map_pixels, _MemmapFile, da  # noqa: F401

__all__ = ["fit_out_of_core", "predict_cube", "score_cube"]


def score_cube(estimator, cube, *, chunks="auto"):
    """Score every pixel of a hyperspectral cube, block by block, lazily.

    The cube is cut into spatial blocks that hold all the bands. A
    pixel-level estimator gets each block's pixels ``(block_rows *
    block_cols, bands)``; an image-level one (:class:`~sksvdd.ImageDetector`)
    gets each block as an image read with a halo of neighbouring pixels (see
    Notes), so the result does not depend on the blocks. Nothing is read or computed until the
    result is computed (``.compute()``, ``da.store``, ``.to_zarr()``), on
    whatever Dask scheduler is active: threads by default, or a
    ``distributed.Client``.

    Parameters
    ----------
    estimator : fitted estimator with ``score_samples``
        A fitted :class:`~sksvdd.ImageDetector` (image level: it has a
        ``halo``), or a pixel-level detector or pipeline
        (:class:`~sksvdd.DeepSVDDDetector`, :class:`~sksvdd.RXDetector`,
        :class:`~sklearn.ensemble.IsolationForest`, ...). It must be safe to
        call from several threads at once (all of these are) and, on a
        ``distributed`` cluster, picklable.
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
        merged blocks would exceed ``array.chunk-size``. With a halo, Dask
        merges blocks smaller than the halo with a neighbour, and an axis
        shorter than twice the halo is one block.

    Returns
    -------
    scores : dask.array.Array of shape (rows, cols), dtype float64
        ``estimator.score_samples`` of each pixel, lazily: higher = more
        normal, as everywhere in scikit-learn; the anomaly map is
        ``-scores``. Computed, it equals, bit for bit for sksvdd's
        estimators, the whole cube scored in memory:
        ``estimator.score_samples(cube)`` for an image-level estimator,
        ``estimator.score_samples(cube.reshape(-1, bands)).reshape(rows,
        cols)`` for a pixel-level one (for any estimator whose scores do not
        depend on the other pixels passed with them).

    Raises
    ------
    ImportError
        If Dask is not installed.
    NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        If ``cube`` is not 3-D, its band count differs from the
        estimator's (``n_bands_in_`` or ``n_features_in_``), or ``chunks``
        is malformed.

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

    Image-level estimators. An :class:`~sksvdd.ImageDetector` declares its
    ``halo``: how many pixels away an output pixel's neighbourhood reaches
    (``outer_window // 2`` for a :class:`~sksvdd.DualWindowResidual`). Each
    block is read with a halo of that many pixels on every side (Dask's
    ``overlap``; at the image borders the halo mirrors the image, ``d c b a
    | a b c d``, which is scipy's ``mode="reflect"`` used by the step),
    scored as one image, and trimmed back to its own pixels. A pixel thus
    sees exactly the neighbourhood it has in the whole image, and since the
    spatial step takes an order statistic (median) or sums each window in a
    fixed order (mean, not running sums), the results are bit-identical to
    the whole image's. The halo costs about ``2 * halo * (1 / block_rows + 1
    / block_cols)`` extra work.

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
    image. Parameters, validation, memory and image-level estimators as in
    :func:`score_cube`.

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
        If ``cube`` is not 3-D, its band count differs from the
        estimator's, or ``chunks`` is malformed.

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

    Wraps ``data`` in a pixel Dataset and calls ``estimator.fit`` on it (see
    the Dataset protocol of :meth:`DeepSVDDDetector.fit
    <sksvdd.DeepSVDDDetector.fit>`). This gives the same fitted detector,
    with bit-identical scores, as ``estimator.fit(X)`` where ``X`` is
    ``data`` loaded in memory as pixels, while holding only a sample, one
    mini-batch and one chunk of pixels at a time:

    1. Statistical phase: the same pixel sample as ``fit``, drawn with the
       same generator (``check_random_state(random_state).choice(n_pixels,
       min(sample_n, n_pixels), replace=False)``) and read in sorted order.
       With ``trim_fraction > 0`` every pixel is then scored, ``chunk_rows``
       at a time, to find the most outlying ones that are left out.
    2. Gradient phase: shuffled mini-batches (of the pixels kept) are read
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
        Pixels read and scored at a time in the scoring passes (trimming
        and threshold); with
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
    (needed for the exact ``contamination`` and ``trim_fraction``
    quantiles; 8 bytes per pixel against ``4 * n_bands`` for the data),
    plus 8 bytes per kept pixel for their indices when ``trim_fraction > 0``.

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
    return _fit_out_of_core(estimator, data, chunk_rows)


if da is None:  # pragma: no cover - exercised in a subprocess by the tests
    # Without Dask these examples cannot run; mark them skipped so that
    # ``pytest --doctest-modules`` reports them as such instead of failing.
    for _function in (score_cube, predict_cube):
        _function.__doc__ = re.sub(
            r"^(\s*>>> .*)$", r"\1  # doctest: +SKIP", _function.__doc__, flags=re.MULTILINE
        )
