"""FusionDetector: several image detectors on the same images, their scores fused per pixel."""

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context, clone
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.validation import check_is_fitted

from ._validation import (
    check_images,
    check_reference_masks,
    labels,
    map_layout,
    restore_layout,
)


class FusionDetector(OutlierMixin, _BaseComposition):
    """Fuse the per-pixel anomaly scores of several image detectors (branches).

    Each branch is an image-level detector (e.g. an
    :class:`~sksvdd.ImageDetector` with its own spatial context, or none)
    fitted on the same images. Their anomaly scores (``-score_samples``)
    live on different scales, so each is standardised with statistics of
    its own training scores, robustly (median and interquartile range):
    ``s_k = (a_k - median_k) / IQR_k``. The fused anomaly score of a pixel
    is the largest standardised score over the branches (``fusion="max"``:
    a pixel is anomalous if any branch says so, e.g. the spectrum alone
    for a target wider than a spatial window, the local residual for a
    small target in clutter) or their mean (``fusion="mean"``). The
    threshold is the ``contamination`` quantile of the fused training
    scores, fitted once.

    Parameters
    ----------
    detectors : list of (str, estimator) tuples
        The branches: names and unfitted image-level detectors (with
        ``fit`` / ``score_samples`` on images and a ``halo``). Cloned in
        ``fit``. Parameters are reachable as ``<name>__<param>``.
    fusion : {"max", "mean"}, default="max"
        How the standardised scores are combined.
    weights : array-like of shape (n_branches,), default=None
        Positive weight of each branch's standardised score, in the order
        of ``detectors``; ``None`` weighs them equally. The weights are
        scaled to average 1, and each branch's standardised score is
        multiplied by its weight before the fusion: with ``"mean"``, the
        fused score is the weighted mean ``sum(w_k s_k) / sum(w_k)``.
    contamination : float in (0, 0.5], default=0.005
        Fraction of the training pixels predicted as anomalies; sets
        ``offset_``.

    Attributes
    ----------
    detectors_ : list of (str, estimator) tuples
        The fitted branches.
    location_ : ndarray of shape (n_branches,)
        Median of each branch's training anomaly scores.
    scale_ : ndarray of shape (n_branches,)
        Interquartile range of each branch's training anomaly scores (1
        where it is 0).
    weights_ : ndarray of shape (n_branches,)
        The branch weights used, scaled to average 1 (all 1 without
        ``weights``).
    offset_ : float
        Threshold on ``score_samples``: ``decision_function`` is
        ``score_samples - offset_``.
    n_bands_in_ : int
        Number of bands of the training images.
    n_images_in_ : int
        Number of images seen during fit.

    See Also
    --------
    sksvdd.ImageDetector : One branch: spatial context + a pixel detector.
    sksvdd.make_default_detector : The recommended configuration.

    Notes
    -----
    An image-level estimator, like :class:`~sksvdd.ImageDetector`: ``X``
    is one image ``(rows, cols, bands)``, a batch or a list of images, and
    the methods return ``(rows, cols)`` maps. Its ``halo`` is the largest
    of its branches', so :func:`sksvdd.parallel.score_cube` scores it block
    by block exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DualWindowResidual, FusionDetector, ImageDetector, RXDetector
    >>> rng = np.random.RandomState(0)
    >>> cube = rng.normal(size=(48, 48, 6))
    >>> cube[10:18, 10:18] += 4.0                 # a wide target: the residual misses its inside
    >>> fused = FusionDetector([
    ...     ("spectral", ImageDetector(detector=RXDetector())),
    ...     ("residual", ImageDetector(spatial=DualWindowResidual(), detector=RXDetector())),
    ... ]).fit(cube)
    >>> anomaly = -fused.score_samples(cube)
    >>> bool(anomaly[14, 14] > np.quantile(anomaly, 0.97))  # the target's centre stands out
    True
    >>> fused.halo
    2
    """

    _parameter_constraints: dict = {
        "detectors": [list],
        "fusion": [StrOptions({"max", "mean"})],
        "weights": ["array-like", None],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(self, detectors, *, fusion="max", weights=None, contamination=0.005):
        self.detectors = detectors
        self.fusion = fusion
        self.weights = weights
        self.contamination = contamination

    def get_params(self, deep=True):
        """Parameters of this detector and, with ``deep``, of its branches (``name__param``)."""
        return self._get_params("detectors", deep=deep)

    def set_params(self, **params):
        """Set parameters, including those of the branches (``name__param``)."""
        self._set_params("detectors", **params)
        return self

    @property
    def halo(self):
        """Pixels of context on each side: the largest halo of the branches."""
        return max((int(det.halo) for _, det in self.detectors), default=0)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, normal_mask=None, exclude_mask=None):
        """Fit every branch on the image(s), then the standardisation and the threshold.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of arrays of shape (rows_i, cols_i, bands)
            Training image(s), mostly normal.
        y : None
            Ignored.
        normal_mask : array-like of bool or 0/1, or list, default=None
            Pixels known to be normal (1 = normal), one ``(rows, cols)``
            mask per image as in :meth:`ImageDetector.fit`: each branch is
            fitted on them only, and the standardisation and the threshold
            come from their scores.
        exclude_mask : array-like of bool or 0/1, or list, default=None
            Pixels to leave out of the fit (1 = excluded, e.g. known
            anomalies), in the same form.

        Returns
        -------
        self : object
            The fitted detector.
        """
        self._check_detectors()
        weights = branch_weights(self.weights, len(self.detectors))
        images, layout = check_images(X, owner=type(self).__name__)
        selected = check_reference_masks(
            images, layout, normal_mask=normal_mask, exclude_mask=exclude_mask,
            owner=type(self).__name__,
        )
        # Branches get the masks only when there are some, so that image detectors
        # without mask parameters still work as branches.
        masks = {} if selected is None else {"normal_mask": selected}
        if selected is None:
            selected = [np.ones(image.shape[:2], bool) for image in images]
        fitted = [(name, clone(det).fit(images, **masks)) for name, det in self.detectors]
        anomaly = np.stack([
            np.concatenate([-det.score_samples(image)[keep]
                            for image, keep in zip(images, selected)])
            for _, det in fitted
        ])
        location = np.median(anomaly, axis=1)
        q25, q75 = np.percentile(anomaly, [25, 75], axis=1)
        scale = q75 - q25
        scale[~(scale > 0)] = 1.0
        fused = _fuse(anomaly, location, scale, self.fusion, weights)
        self.detectors_ = fitted
        self.location_, self.scale_ = location, scale
        self.weights_ = weights
        self.offset_ = float(np.percentile(-fused, 100.0 * self.contamination))
        self.n_bands_in_ = images[0].shape[2]
        self.n_images_in_ = len(images)
        return self

    def score_samples(self, X):
        """Per-pixel fused scores: higher = more normal (minus the fused anomaly score).

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            Image(s) with ``n_bands_in_`` bands.

        Returns
        -------
        scores : ndarray of shape (rows, cols) or (n_images, rows, cols), or list
            In the form ``X`` came in.
        """
        check_is_fitted(self)
        images, layout = check_images(X, n_bands=self.n_bands_in_, owner=type(self).__name__)
        maps = []
        for image in images:
            anomaly = np.stack([-det.score_samples(image).ravel() for _, det in self.detectors_])
            fused = _fuse(anomaly, self.location_, self.scale_, self.fusion, self.weights_)
            maps.append(-fused.reshape(image.shape[:2]))
        return restore_layout(maps, layout)

    def decision_function(self, X):
        """Per-pixel shifted scores: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            Image(s) with ``n_bands_in_`` bands.

        Returns
        -------
        decision : ndarray of shape (rows, cols) or (n_images, rows, cols), or list
            ``score_samples(X) - offset_``.
        """
        return map_layout(lambda s: s - self.offset_, self.score_samples(X))

    def predict(self, X):
        """Per-pixel labels: ``-1`` for anomalies, ``+1`` for normal pixels.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            Image(s) with ``n_bands_in_`` bands.

        Returns
        -------
        labels : ndarray of int of shape (rows, cols) or (n_images, rows, cols), or list
            ``-1`` where ``decision_function`` is negative, else ``+1``.
        """
        return labels(self.decision_function(X))

    def _check_detectors(self):
        names = [item[0] if isinstance(item, tuple) and len(item) == 2 else None
                 for item in self.detectors]
        if not self.detectors or None in names:
            raise ValueError(
                "FusionDetector: detectors must be a non-empty list of (name, image "
                "detector) tuples."
            )
        self._validate_names(names)
        for name, det in self.detectors:
            if not (hasattr(det, "halo") and hasattr(det, "fit")
                    and hasattr(det, "score_samples")):
                raise ValueError(
                    f"FusionDetector: branch {name!r} ({type(det).__name__}) is not an "
                    "image-level detector (fit / score_samples on images and a halo), "
                    "e.g. sksvdd.ImageDetector."
                )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags


def _fuse(anomaly, location, scale, fusion, weights):
    """Fused anomaly scores from ``(n_branches, n_pixels)`` anomaly scores."""
    standardised = weights[:, None] * (anomaly - location[:, None]) / scale[:, None]
    return standardised.max(axis=0) if fusion == "max" else standardised.mean(axis=0)


def branch_weights(weights, n_branches):
    """``weights`` (None: equal) as ``n_branches`` positive floats scaled to average 1.

    FusionDetector's fitted ``weights_``; ``sksvdd.load`` checks a stored
    ``weights_`` against it.
    """
    if weights is None:
        return np.ones(n_branches)
    try:
        out = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        out = np.array([np.nan])
    if out.shape != (n_branches,) or not np.all(np.isfinite(out)) or not np.all(out > 0):
        raise ValueError(
            f"FusionDetector: weights must hold one positive, finite number per branch "
            f"({n_branches} branches); got weights={weights!r}."
        )
    return out / out.mean()
