"""Preprocessing transformers: band selection, per-pixel normalisation, spatial context."""

from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data


class BandpassByWavelength(SelectorMixin, BaseEstimator):
    """Keep the spectral bands whose wavelength lies inside a closed interval.

    A band ``j`` is kept when ``min_wavelength_nm <= wavelengths[j] <=
    max_wavelength_nm``; either bound may be ``None`` (open on that side).
    Built on :class:`~sklearn.feature_selection.SelectorMixin`, so
    ``get_support``, ``get_feature_names_out`` and ``inverse_transform`` work
    as for any scikit-learn feature selector, and ``set_output`` is supported.

    Parameters
    ----------
    wavelengths : array-like of shape (n_features,), default=None
        Centre wavelength of each band, in nanometres. When ``None``, ``X``
        must be a pandas DataFrame whose column names all parse as numbers;
        those numbers are then the wavelengths.
    min_wavelength_nm : float, default=None
        Lower bound (inclusive). ``None`` means no lower bound.
    max_wavelength_nm : float, default=None
        Upper bound (inclusive). ``None`` means no upper bound.

    Attributes
    ----------
    wavelengths_ : ndarray of shape (`n_features_in_`,)
        The wavelengths of all input bands, as used during fit.
    support_ : ndarray of shape (`n_features_in_`,), dtype=bool
        Mask of the kept bands.
    n_features_in_ : int
        Number of bands seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the bands seen during fit; only defined when ``X`` has
        string column names.

    See Also
    --------
    PerPixelUnitNorm : Normalise each spectrum after band selection.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import BandpassByWavelength
    >>> wl = np.array([400.0, 500.0, 600.0, 700.0, 1000.0])
    >>> X = np.arange(10.0).reshape(2, 5)
    >>> bp = BandpassByWavelength(wavelengths=wl, min_wavelength_nm=450,
    ...                           max_wavelength_nm=900).fit(X)
    >>> bp.transform(X)
    array([[1., 2., 3.],
           [6., 7., 8.]])
    >>> bp.get_support()
    array([False,  True,  True,  True, False])
    """

    _parameter_constraints: dict = {
        "wavelengths": ["array-like", None],
        "min_wavelength_nm": [Real, None],
        "max_wavelength_nm": [Real, None],
    }

    def __init__(self, *, wavelengths=None, min_wavelength_nm=None, max_wavelength_nm=None):
        self.wavelengths = wavelengths
        self.min_wavelength_nm = min_wavelength_nm
        self.max_wavelength_nm = max_wavelength_nm

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Resolve the wavelengths and compute which bands are kept.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Pixels (one spectrum per row).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        lo, hi = self.min_wavelength_nm, self.max_wavelength_nm
        for name, bound in (("min_wavelength_nm", lo), ("max_wavelength_nm", hi)):
            if bound is not None and not np.isfinite(bound):
                raise ValueError(f"{name} must be a finite number or None, got {bound!r}.")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(
                f"min_wavelength_nm={lo} is greater than max_wavelength_nm={hi}; "
                "the band-pass interval is empty."
            )
        wavelengths = self._resolve_wavelengths(X)
        validate_data(self, X, reset=True)
        if wavelengths.shape[0] != self.n_features_in_:
            raise ValueError(
                f"wavelengths has {wavelengths.shape[0]} values but X has "
                f"{self.n_features_in_} features (bands); they must match."
            )
        support = np.ones(wavelengths.shape[0], dtype=bool)
        if lo is not None:
            support &= wavelengths >= lo
        if hi is not None:
            support &= wavelengths <= hi
        if not support.any():
            raise ValueError(
                f"No band is left between min_wavelength_nm={lo} and "
                f"max_wavelength_nm={hi}; the wavelengths span "
                f"{wavelengths.min():g}-{wavelengths.max():g} nm."
            )
        self.wavelengths_ = wavelengths
        self.support_ = support
        return self

    def _resolve_wavelengths(self, X):
        if self.wavelengths is not None:
            wl = np.asarray(self.wavelengths)
            if wl.ndim != 1:
                raise ValueError(
                    f"wavelengths must be 1-D (one value per band), got shape {wl.shape}."
                )
            try:
                wl = wl.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"wavelengths must be numeric, got dtype {wl.dtype}.") from exc
        elif hasattr(X, "columns"):
            try:
                wl = np.array([float(c) for c in X.columns], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    "wavelengths=None requires DataFrame column names that parse as "
                    f"numbers (nm); got columns such as {list(X.columns[:3])!r}. "
                    "Pass wavelengths=... explicitly."
                ) from exc
        else:
            raise ValueError(
                "wavelengths is None and X is not a DataFrame with numeric column "
                "names: pass wavelengths=<array of n_bands values in nm>."
            )
        if not np.all(np.isfinite(wl)):
            raise ValueError(
                f"wavelengths contain NaN or infinite values at positions "
                f"{np.flatnonzero(~np.isfinite(wl)).tolist()}."
            )
        return wl

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_



class PerPixelUnitNorm(TransformerMixin, BaseEstimator):
    """Centre each spectrum on its own mean and scale it to unit L2 norm.

    For every pixel (row) ``x``::

        x' = (x - mean(x)) / max(||x - mean(x)||_2, eps)

    This removes per-pixel brightness (illumination) and offset, keeping
    only the spectral shape. With ``center=False`` it is plain L2 row
    normalisation ``x / max(||x||_2, eps)``. The transformer is stateless:
    ``fit`` only records the number of features.

    Parameters
    ----------
    eps : float, default=1e-8
        Floor on the norm, so that a constant (flat) spectrum maps to zeros
        rather than dividing by zero.
    center : bool, default=True
        Subtract the per-pixel mean before normalising.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the bands seen during fit; only defined when ``X`` has
        string column names.

    See Also
    --------
    sklearn.preprocessing.Normalizer : Plain row normalisation without centring.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import PerPixelUnitNorm
    >>> X = np.array([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]], dtype=np.float32)
    >>> Xt = PerPixelUnitNorm().fit_transform(X)
    >>> Xt.round(4)
    array([[-0.7071,  0.    ,  0.7071],
           [-0.7071,  0.    ,  0.7071]], dtype=float32)
    """

    _parameter_constraints: dict = {
        "eps": [Interval(Real, 0, None, closed="neither")],
        "center": ["boolean"],
    }

    def __init__(self, *, eps=1e-8, center=True):
        self.eps = eps
        self.center = center

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Record the number of features; there is nothing to learn.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels (one spectrum per row).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        validate_data(self, X, dtype=[np.float64, np.float32])
        return self

    def transform(self, X):
        """Normalise every pixel.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Pixels (one spectrum per row).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            Normalised pixels, same floating dtype as the input (float32
            stays float32; other dtypes become float64).
        """
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], copy=True)
        exponent = _scale_rows_to_unit_peak(X)
        if self.center:
            X -= X.mean(axis=1, keepdims=True)
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        # The floor applies to the unscaled norm: eps / 2**exponent in scaled units,
        # computed in float64 (it may underflow to 0 for huge rows, where a zero
        # norm means a flat spectrum and the row is all zeros anyway).
        # For subnormal rows it may overflow to inf: x / inf = 0, as x / eps ~ 0.
        with np.errstate(over="ignore"):
            floor = np.ldexp(float(self.eps), -exponent.astype(np.int64))
        denominator = np.maximum(norms, floor).astype(X.dtype)
        np.divide(X, denominator, out=X, where=denominator > 0)
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _scale_rows_to_unit_peak(X):
    """Scale each row of ``X`` in place by a power of two so that its peak is in [0.5, 1).

    Returns the exponents ``e`` (shape ``(n_rows, 1)``) with ``X_in = X_out * 2**e``.
    Near the top of the floating range a row's sum (for its mean) and squared
    norm overflow, and near the bottom they underflow; on the scaled row neither
    can. A power of two is exact, so rows that need no rescue give the very
    same result as the unscaled formula, and the scaling cancels out of
    ``x / ||x||``. All-zero rows keep exponent 0.
    """
    _, exponent = np.frexp(np.abs(X).max(axis=1, keepdims=True))
    np.copyto(X, np.ldexp(X, -exponent))
    return exponent


def _box_sum(cube, size):
    """Sum over the ``size x size`` square around each pixel, image borders reflected.

    Two 1-D correlations with a window of ones: unlike ``uniform_filter``'s
    running sums, each output is summed over its own neighbours in a fixed
    order, so a pixel's result does not depend on where the image (or a tile
    of it, as in :func:`sksvdd.parallel.score_cube`) starts: tiled and
    whole-image results are bit-identical.
    """
    weights = np.ones(size)
    rows = ndimage.correlate1d(cube, weights, axis=0, mode="reflect")
    return ndimage.correlate1d(rows, weights, axis=1, mode="reflect")


def _ring_median(cube, outer, inner, n_jobs=None):
    """Per band, the median of the ring between the ``outer`` and ``inner`` squares.

    The ring holds ``outer**2 - inner**2`` pixels, an even number: as
    :func:`scipy.ndimage.median_filter` does, the upper of the two middle
    values is taken (an order statistic, so tiles of an image give the same
    result as the whole image). Image borders are reflected. Bands are
    independent: with ``n_jobs`` they are split over threads (scipy releases
    the GIL), with the same result.
    """
    footprint = np.ones((outer, outer, 1), dtype=bool)
    start = (outer - inner) // 2
    footprint[start : start + inner, start : start + inner] = False
    n_chunks = min(effective_n_jobs(n_jobs), cube.shape[2])
    if n_chunks <= 1:
        return ndimage.median_filter(cube, footprint=footprint, mode="reflect")
    out = np.empty_like(cube)
    bounds = np.linspace(0, cube.shape[2], n_chunks + 1).astype(int)

    def fill(lo, hi):
        out[:, :, lo:hi] = ndimage.median_filter(
            cube[:, :, lo:hi], footprint=footprint, mode="reflect"
        )

    Parallel(n_jobs=n_chunks, prefer="threads")(
        delayed(fill)(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])
    )
    return out


class DualWindowResidual(TransformerMixin, BaseEstimator):
    """Subtract each pixel's local background, estimated from a ring around it.

    A spatial-context transformer for pixels that form one whole image (in
    row-major order, as :func:`sksvdd.datasets.cube_to_pixels` returns
    them). For every pixel, the local background is the mean spectrum of the
    pixels inside an ``outer_window x outer_window`` square but outside the
    ``inner_window x inner_window`` guard square centred on it (the classical
    dual window of local RX detectors), summarised band by band by their
    median (default) or mean; the output is the pixel minus that
    background. Small targets stand out against their surroundings while the
    smooth, scene-wide variation of the background (illumination, slowly
    changing land cover) is removed. Image borders are handled by
    reflection. Stateless: ``fit`` only records the number of bands.

    Parameters
    ----------
    image_shape : tuple of (int, int)
        ``(rows, cols)`` of the image whose pixels ``X`` holds; ``X`` must
        have ``rows * cols`` rows.
    outer_window : int, default=5
        Side of the outer square (odd).
    inner_window : int, default=1
        Side of the guard square (odd, smaller than ``outer_window``); it
        keeps a target of up to that size out of its own background. ``1``
        leaves out only the pixel itself.
    background : {"median", "mean"}, default="median"
        How the ring's pixels are summarised, band by band. ``"median"``
        ignores the few ring pixels that belong to a target or another
        anomaly (the ring holds an even number of pixels; the upper of the
        two middle values is used, as :func:`scipy.ndimage.median_filter`
        does). ``"mean"`` is about 12 times faster on large cubes (see
        Notes).
    n_jobs : int or None, default=None
        Threads for the median background, split over bands (same result
        for any value). ``None`` means 1 unless in a
        :obj:`joblib.parallel_config` context; ``-1`` uses all processors.
        Leave it at 1 inside :func:`sksvdd.parallel.score_cube`, whose
        workers already run blocks in parallel.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the bands seen during fit; only defined when ``X`` has
        string column names.

    See Also
    --------
    sksvdd.make_default_pipeline : Uses this step when given ``image_shape``.

    Notes
    -----
    Measured on the nine development scenes (``benchmarks/options.py``,
    Deep SVDD with default parameters, pixel AUROC averaged over three
    seeds, ring median): on the residual of the default 5/1 dual window the
    mean is 0.966 and the worst scene 0.912; with a 7/3 window 0.959 and
    0.894; without the spatial step 0.93 and 0.82. The 5/1 window won on
    mean and worst scene for every seed; a guard window wider than the
    targets is still the right choice for targets larger than one pixel at
    the scene's ground sampling distance.

    With the 5/1 window, the median background raised the mean AUROC over
    the nine scenes from 0.958 to 0.966 and the worst scene from 0.890 to
    0.912 (the gain held for every seed). It costs about 0.6 microseconds
    per pixel and band on one core (a 1000 x 1000 x 200 cube: about 2
    minutes, spread over the workers by :func:`sksvdd.parallel.score_cube`),
    against about 0.05 for the mean; ``n_jobs=2`` made it 1.7 times faster
    on two cores. Use ``background="mean"`` where that time matters more.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DualWindowResidual
    >>> cube = np.ones((5, 5, 2))
    >>> cube[2, 2] = 4.0          # a one-pixel target on a flat background
    >>> X = cube.reshape(-1, 2)
    >>> R = DualWindowResidual(image_shape=(5, 5), outer_window=3, inner_window=1)
    >>> R.fit_transform(X).reshape(5, 5, 2)[2, 2]
    array([3., 3.])
    """

    _parameter_constraints: dict = {
        "image_shape": [tuple, list],
        "outer_window": [Interval(Integral, 3, None, closed="left")],
        "inner_window": [Interval(Integral, 1, None, closed="left")],
        "background": [StrOptions({"median", "mean"})],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self, *, image_shape, outer_window=5, inner_window=1, background="median", n_jobs=None
    ):
        self.image_shape = image_shape
        self.outer_window = outer_window
        self.inner_window = inner_window
        self.background = background
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters against ``X`` and record the number of bands.

        Parameters
        ----------
        X : array-like of shape (rows * cols, n_features)
            The pixels of one image, row-major.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self._check_shape(X)
        return self

    def transform(self, X):
        """Return each pixel minus the median (or mean) of its dual-window ring.

        Parameters
        ----------
        X : array-like of shape (rows * cols, n_features)
            The pixels of one image, row-major.

        Returns
        -------
        X_new : ndarray of shape (rows * cols, n_features)
            Residual spectra, in the input's floating dtype.
        """
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        rows, cols = self._check_shape(X)
        cube = X.reshape(rows, cols, X.shape[1])
        cube64 = cube.astype(np.float64)
        outer, inner = self.outer_window, self.inner_window
        if self.background == "median":  # an order statistic: selected in the input's dtype
            ring = _ring_median(cube, outer, inner, self.n_jobs)
        else:
            ring = (_box_sum(cube64, outer) - _box_sum(cube64, inner)) / (outer**2 - inner**2)
        return (cube64 - ring).reshape(X.shape).astype(X.dtype, copy=False)

    def _check_shape(self, X):
        shape = tuple(self.image_shape)
        if len(shape) != 2 or not all(isinstance(v, Integral) and v > 0 for v in shape):
            raise ValueError(
                f"image_shape must be (rows, cols) of positive ints, got {self.image_shape!r}."
            )
        if self.outer_window % 2 == 0 or self.inner_window % 2 == 0:
            raise ValueError(
                f"outer_window={self.outer_window} and inner_window={self.inner_window} "
                "must be odd, so that the windows are centred on the pixel."
            )
        if self.inner_window >= self.outer_window:
            raise ValueError(
                f"inner_window={self.inner_window} must be smaller than "
                f"outer_window={self.outer_window}."
            )
        if X.shape[0] != shape[0] * shape[1]:
            raise ValueError(
                f"X has {X.shape[0]} pixels but image_shape={shape} holds "
                f"{shape[0] * shape[1]}; DualWindowResidual transforms the pixels of one "
                "whole image (set image_shape for each image, e.g. with set_params)."
            )
        return shape

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
