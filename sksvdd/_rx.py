"""RXDetector: the global Reed-Xiaoli (Mahalanobis) anomaly detector."""

from numbers import Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._base import OffsetOutlierMixin, offset_from_scores
from ._utils import validate_pixels

# Pixels scored at a time: bounds the (chunk, n_features) temporaries.
_CHUNK = 65536


class RXDetector(OffsetOutlierMixin, OutlierMixin, BaseEstimator):
    """Global Reed-Xiaoli (RX) detector: Mahalanobis distance to the scene mean.

    The classical hyperspectral anomaly detector and the baseline of the
    Deep SVDD tutorial. With mean ``mu`` and covariance ``Sigma`` of the
    training pixels::

        score_samples(x) = -(x - mu)^T (Sigma + reg * s * I)^{-1} (x - mu)

    where ``s = trace(Sigma) / n_features`` makes the ridge ``reg`` relative
    to the data's scale (so it works for raw counts and reflectance alike).

    Parameters
    ----------
    reg : float, default=1e-6
        Relative ridge added to the covariance diagonal; keeps the inverse
        defined when bands are collinear or there are fewer pixels than
        bands.
    contamination : float in (0, 0.5], default=0.005
        Expected fraction of outliers in the training data; sets ``offset_``
        as that quantile of the training scores.

    Attributes
    ----------
    location_ : ndarray of shape (n_features,)
        Mean spectrum ``mu``.
    precision_ : ndarray of shape (n_features, n_features)
        Regularised inverse covariance.
    offset_ : float
        Threshold on ``score_samples``: ``decision_function`` is
        ``score_samples - offset_``.
    n_features_in_ : int
        Number of bands seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit; only defined when ``X`` has
        string column names.

    See Also
    --------
    DeepSVDDDetector : The learned detector this one is compared against.
    sklearn.covariance.EllipticEnvelope : Robust (MCD) Mahalanobis detector.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import RXDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(1000, 5))
    >>> X[0] = 8.0
    >>> rx = RXDetector(contamination=0.001).fit(X)
    >>> rx.predict(X[:3])
    array([-1,  1,  1])
    """

    _parameter_constraints: dict = {
        "reg": [Interval(Real, 0, None, closed="left")],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(self, *, reg=1e-6, contamination=0.005):
        self.reg = reg
        self.contamination = contamination

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Estimate the mean and the regularised inverse covariance.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Training pixels.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted detector.
        """
        X = validate_pixels(self, X, dtype=[np.float64, np.float32])
        X = X.astype(np.float64, copy=False)
        self.location_ = X.mean(axis=0)
        centered = X - self.location_
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            cov = centered.T @ centered / X.shape[0]
        if not np.all(np.isfinite(cov)):
            raise ValueError(
                "X has values too large for a covariance (it overflows float64); "
                "rescale the data, e.g. with StandardScaler or PerPixelUnitNorm."
            )
        scale = np.trace(cov) / cov.shape[0]
        ridge = self.reg * scale if scale > 0 else 1.0
        cov[np.diag_indices_from(cov)] += max(ridge, np.finfo(np.float64).tiny)
        self.precision_ = linalg.pinvh(cov)
        self.offset_ = offset_from_scores(self._score_samples(X), self.contamination)
        return self

    def _score_samples(self, X):
        scores = np.empty(X.shape[0], dtype=np.float64)
        for i in range(0, X.shape[0], _CHUNK):
            d = np.asarray(X[i : i + _CHUNK], dtype=np.float64) - self.location_
            scores[i : i + _CHUNK] = -np.einsum("ij,jk,ik->i", d, self.precision_, d, optimize=True)
        return scores

    def score_samples(self, X):
        """Opposite of the Mahalanobis distance (higher = more normal).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-(x - mu)^T Sigma^{-1} (x - mu)``.
        """
        check_is_fitted(self)
        X = validate_pixels(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._score_samples(X)
