"""ImageDetector: spatial context and a pixel-level detector, fitted and used on whole images."""

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._validation import check_images, check_reference_masks, labels, restore_layout


class ImageDetector(OutlierMixin, BaseEstimator):
    """Anomaly detector for whole hyperspectral images: spatial context, then pixels.

    The object to deploy for images. ``fit`` takes one image ``(rows, cols,
    bands)``, a batch ``(n_images, rows, cols, bands)`` or a list of images
    of different sizes; it applies the image operation ``spatial`` to each
    image (e.g. :class:`~sksvdd.DualWindowResidual`), flattens the results
    into one matrix of pixels and fits the pixel-level ``detector`` on it
    (or on the pixels of a clean reference: ``fit``'s ``normal_mask`` and
    ``exclude_mask``).
    ``score_samples``, ``decision_function`` and ``predict`` take images in
    the same forms and return one ``(rows, cols)`` map per image, with the
    scikit-learn outlier conventions of the pixel detector: higher scores
    are more normal, ``predict`` gives ``+1`` (inlier) / ``-1`` (outlier),
    and the threshold is the one the pixel detector fitted on the training
    pixels (``detector_.offset_``), never recomputed per image.

    Parameters
    ----------
    spatial : transformer of images, "passthrough" or None, default=None
        An image operation with ``fit`` / ``transform`` on images and a
        ``halo`` attribute (the pixels of context on each side an output
        pixel depends on), such as :class:`~sksvdd.DualWindowResidual`.
        ``None`` or ``"passthrough"``: the spectra are used as they are.
    detector : pixel-level outlier estimator, default=None
        Any estimator with ``fit``, ``score_samples``, ``decision_function``
        and ``predict`` on ``(n_pixels, n_features)`` matrices: a
        :class:`~sksvdd.DeepSVDDDetector` (the default, with its default
        parameters), :class:`~sksvdd.RXDetector`, a
        :class:`~sklearn.pipeline.Pipeline` ending in one, or a scikit-learn
        outlier detector. It is cloned in ``fit``.

    Attributes
    ----------
    spatial_ : transformer or None
        The fitted clone of ``spatial`` (``None`` without spatial context).
    detector_ : estimator
        The fitted clone of ``detector``, trained on the pixels of all
        training images after ``spatial``.
    n_bands_in_ : int
        Number of bands of the training images.
    n_images_in_ : int
        Number of images seen during fit.

    See Also
    --------
    sksvdd.make_default_detector : The recommended configuration of this class.
    sksvdd.parallel.score_cube : Score cubes larger than memory, block by block.

    Notes
    -----
    This is an image-level estimator: its ``X`` is images, not a matrix of
    samples, so scikit-learn's estimator checks (which generate 2-D
    matrices) do not apply to it; it follows the conventions that do apply
    (``get_params`` / ``set_params`` with nested names such as
    ``detector__nu`` or ``spatial__outer_window``, ``clone``, fitted
    attributes ending in ``_``, :class:`~sklearn.exceptions.NotFittedError`
    before ``fit``). Every pixel of every training image is used; a
    pixel's output depends only on its neighbourhood of ``halo`` pixels and
    on what ``fit`` learned, so tiles read with that halo score exactly as
    the whole image does.

    Learning normal from reference data and inspecting new images: fit on
    reference images with ``normal_mask`` (pixels known to be normal) or
    ``exclude_mask`` (known anomalies), then ``predict`` new images at the
    threshold fitted on the reference pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DualWindowResidual, ImageDetector, RXDetector
    >>> rng = np.random.RandomState(0)
    >>> cube = rng.normal(size=(30, 30, 8))
    >>> cube[10, 12] += 6.0                       # a one-pixel target
    >>> det = ImageDetector(spatial=DualWindowResidual(), detector=RXDetector()).fit(cube)
    >>> scores = det.score_samples(cube)          # (rows, cols), higher = more normal
    >>> scores.shape, np.unravel_index(scores.argmin(), scores.shape)
    ((30, 30), (np.int64(10), np.int64(12)))
    >>> det.predict(cube)[10, 12]
    np.int64(-1)

    A clean reference: leave the known target out of the fit, then inspect
    a new image at the fitted threshold.

    >>> known = np.zeros((30, 30), dtype=bool)
    >>> known[10, 12] = True
    >>> det = ImageDetector(detector=RXDetector()).fit(cube, exclude_mask=known)
    >>> new = rng.normal(size=(30, 30, 8))
    >>> new[3, 4] += 6.0
    >>> scores = det.score_samples(new)
    >>> np.unravel_index(scores.argmin(), scores.shape), det.predict(new)[3, 4]
    ((np.int64(3), np.int64(4)), np.int64(-1))
    """

    _parameter_constraints: dict = {
        "spatial": [HasMethods(["fit", "transform"]), StrOptions({"passthrough"}), None],
        "detector": [HasMethods(["fit", "score_samples", "decision_function"]), None],
    }

    def __init__(self, *, spatial=None, detector=None):
        self.spatial = spatial
        self.detector = detector

    @property
    def halo(self):
        """Pixels of context on each side that an output pixel depends on."""
        if self.spatial is None or self.spatial == "passthrough":
            return 0
        return int(self.spatial.halo)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, *, normal_mask=None, exclude_mask=None):
        """Fit the spatial step and the pixel detector on one or several images.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of arrays of shape (rows_i, cols_i, bands)
            Training image(s), mostly normal; all must have the same bands.
        y : None
            Ignored.
        normal_mask : array-like of bool or 0/1, or list, default=None
            Pixels known to be normal, 1 = normal: the pixel detector is
            fitted on these pixels only (a clean reference). One
            ``(rows, cols)`` mask for one image; for several, an array
            ``(n_images, rows, cols)`` or a list with one mask per image
            (``None`` for all of that image's pixels). The spatial step
            still sees the whole images, so a reference pixel's features
            are those it has when its image is scored.
        exclude_mask : array-like of bool or 0/1, or list, default=None
            Pixels to leave out of the fit, 1 = excluded (e.g. known
            anomalies), in the same form as ``normal_mask``. With both, the
            detector is fitted on the pixels inside ``normal_mask`` and
            outside ``exclude_mask``.

        Returns
        -------
        self : object
            The fitted detector.
        """
        images, layout = check_images(X, owner=type(self).__name__)
        selected = check_reference_masks(
            images, layout, normal_mask=normal_mask, exclude_mask=exclude_mask,
            owner=type(self).__name__,
        )
        spatial = None
        if self.spatial is not None and self.spatial != "passthrough":
            if not hasattr(self.spatial, "halo"):
                raise ValueError(
                    f"ImageDetector: spatial={type(self.spatial).__name__}(...) does not "
                    "declare its halo (the pixels of context on each side an output pixel "
                    "depends on), which tiled scoring needs; give the class a 'halo' "
                    "attribute or property."
                )
            spatial = clone(self.spatial).fit(images)
        pixels = _pixels(images, spatial, selected)
        if self.detector is None:
            from .._svdd import DeepSVDDDetector

            detector = DeepSVDDDetector()
        else:
            detector = clone(self.detector)
        detector.fit(pixels)
        self.spatial_ = spatial
        self.detector_ = detector
        self.n_bands_in_ = images[0].shape[2]
        self.n_images_in_ = len(images)
        return self

    def score_samples(self, X):
        """Per-pixel scores of the image(s): higher = more normal.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            Image(s) with ``n_bands_in_`` bands.

        Returns
        -------
        scores : ndarray of shape (rows, cols) or (n_images, rows, cols), or list
            ``detector_.score_samples`` of each pixel after ``spatial_``, in
            the form ``X`` came in. The anomaly map is ``-scores``.
        """
        return self._map("score_samples", X)

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
            ``detector_.decision_function`` of each pixel after ``spatial_``.
        """
        return self._map("decision_function", X)

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
            ``-1`` where ``decision_function`` is negative, else ``+1``, at
            the threshold fitted on the training pixels.
        """
        return labels(self._map("decision_function", X))

    def _map(self, method, X):
        check_is_fitted(self)
        images, layout = check_images(X, n_bands=self.n_bands_in_, owner=type(self).__name__)
        maps = []
        for image in images:
            values = getattr(self.detector_, method)(_pixels([image], self.spatial_))
            maps.append(np.asarray(values).reshape(image.shape[:2]))
        return restore_layout(maps, layout)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags


def _pixels(images, spatial, selected=None):
    """The pixels of ``images`` after ``spatial`` (if any), stacked in row-major order.

    ``selected``: one boolean ``(rows, cols)`` mask per image, the pixels to
    keep (after ``spatial``, which sees the whole image); None keeps all.
    """
    if spatial is not None:
        images = [spatial.transform(image) for image in images]
    if selected is None:
        pixels = [image.reshape(-1, image.shape[2]) for image in images]
    else:
        pixels = [image[keep] for image, keep in zip(images, selected)]
    return pixels[0] if len(pixels) == 1 else np.concatenate(pixels)
