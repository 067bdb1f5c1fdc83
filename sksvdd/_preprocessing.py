"""Pixel-level transformers: band selection and per-pixel normalisation."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._utils import validate_pixels


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
        Centre wavelength of each band, in nanometres. When ``None`` and a
        bound is set, ``X`` must be a pandas DataFrame whose column names
        all parse as numbers; those numbers are then the wavelengths. When
        ``None`` and neither bound is set, every band is kept and no
        wavelengths are needed (files such as the ABU scenes carry none).
    min_wavelength_nm : float, default=None
        Lower bound (inclusive). ``None`` means no lower bound.
    max_wavelength_nm : float, default=None
        Upper bound (inclusive). ``None`` means no upper bound.

    Attributes
    ----------
    wavelengths_ : ndarray of shape (`n_features_in_`,) or None
        The wavelengths of all input bands, as used during fit; ``None``
        when none were given and none were needed.
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
        validate_pixels(self, X, reset=True)
        if wavelengths is None:
            self.wavelengths_ = None
            self.support_ = np.ones(self.n_features_in_, dtype=bool)
            return self
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
        elif self.min_wavelength_nm is None and self.max_wavelength_nm is None:
            return None  # nothing to select: every band is kept
        else:
            # The hint mirrors the one `sksvdd fit --bandpass` gives for such a file.
            raise ValueError(
                "BandpassByWavelength: a wavelength bound is set but wavelengths is None and "
                "X is not a DataFrame with numeric column names. Hint: pass "
                "wavelengths=scene.wavelengths (band centres in nm, from "
                "sksvdd.datasets.load_scene); if the file has none (the ABU scenes, for "
                "example), store them (in nm) as a 'wavelengths' variable in the .mat/.npz "
                "file or as 'wavelength' in the ENVI header, or fit without a band-pass: "
                "leave min_wavelength_nm and max_wavelength_nm at None, e.g. "
                "make_default_detector(random_state=0) keeps every band."
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
        validate_pixels(self, X, dtype=[np.float64, np.float32])
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
        X = validate_pixels(self, X, reset=False, dtype=[np.float64, np.float32], copy=True)
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
