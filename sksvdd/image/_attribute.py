"""Spatial context without a window: area-attribute residuals of the principal components."""

from numbers import Integral

import numpy as np
from skimage.morphology import area_closing, area_opening
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ._ring import _reflect_index
from ._validation import check_images, restore_layout

# The largest area accepted: the halo (and so the reflected padding) is area - 1 pixels.
_MAX_AREA = 4096
# Images are filtered in tiles of this many rows and columns, each read with the area's
# halo: the same numbers (see Notes), and faster on large images, where scikit-image's
# max-tree costs more per pixel the larger the image.
_TILE = 128


class AttributeResidual(TransformerMixin, BaseEstimator):
    """Residuals of area openings and closings of the principal components.

    An image operation, as :class:`DualWindowResidual` is, but without a
    window: the image's spectra are projected on their first
    ``n_components`` whitened principal components (fitted in ``fit``), and
    each component image ``p`` is filtered by an area opening and an area
    closing of every size in ``areas`` (:func:`skimage.morphology.area_opening`
    and :func:`~skimage.morphology.area_closing`). An area opening removes
    every bright connected structure of fewer than ``area`` pixels,
    whatever its shape, and a closing every dark one; the output of one
    (component, area) is ``(p - opening) - (closing - p)``: positive on a
    small bright structure, negative on a small dark one, zero on anything
    larger and on the smooth background. A target of up to ``area`` pixels
    keeps its whole extent (a ring window hollows out targets wider than
    its guard square, see :class:`DualWindowResidual`); several areas keep
    targets of several sizes. These are the attribute filters of Kang et
    al. (2017), as a transformer whose output a pixel-level detector scores.

    Output images have ``n_components_ * len(areas)`` channels, ordered area
    by area (all components of ``areas[0]`` first). Image borders are
    reflected (:attr:`halo` pixels, as :func:`numpy.pad`'s ``"reflect"``)
    before filtering, so that a tile read with a halo gives the whole
    image's result.

    Parameters
    ----------
    n_components : int, default=5
        Number of principal components filtered; images with fewer bands
        have all of theirs filtered (``n_components_``). The first
        components carry most of the image's spatial structure; a target
        visible only in weaker components is left to a spectral detector
        (the default detector keeps one as its own branch).
    areas : tuple of int, default=(16, 64, 256)
        Area thresholds in pixels (each at least 2, at most 4096). A
        structure smaller than an area is kept by that area's residual.
    connectivity : {1, 2}, default=1
        Pixel neighbourhood of a connected structure: 1 for the four edge
        neighbours, 2 for the eight including diagonals.

    Attributes
    ----------
    mean_ : ndarray of shape (n_bands,)
        Mean spectrum of the training images' pixels.
    n_components_ : int
        Number of components filtered: ``min(n_components, n_bands)``.
    components_ : ndarray of shape (min(n_components, n_bands), n_bands)
        The whitening projection: the principal axes
        (:class:`~sklearn.decomposition.PCA`'s, fitted on the training
        pixels), each divided by the square root of its variance, so that
        every component has unit variance over the training pixels.
    n_bands_in_ : int
        Number of bands seen during fit.

    See Also
    --------
    DualWindowResidual : Each pixel minus its ring's background.
    sksvdd.make_default_detector : The recommended image detector, with a
        branch built on this step.

    Notes
    -----
    The result at a pixel depends only on the pixels at most
    ``max(areas) - 1`` away (a connected structure of fewer than ``area``
    pixels cannot reach further), so :attr:`halo` is ``max(areas) - 1``
    and tiled scoring (:func:`sksvdd.parallel.score_cube`) is exact. The
    same property lets the filters run on tiles of 128 x 128 pixels, each
    read with its area's halo (scikit-image's max-tree costs more per
    pixel on larger images), with the same result as the whole image. The
    reflected padding makes each image ``2 * (area - 1)`` pixels wider and
    taller while it is filtered with ``area``.

    The components are fitted on every pixel of the images passed to
    ``fit``; in :meth:`ImageDetector.fit` that includes the pixels outside
    a ``normal_mask`` (or inside an ``exclude_mask``), which select only
    the pixel detector's training pixels (how much anomalous pixels move
    the components was not measured).

    References
    ----------
    X. Kang, X. Zhang, S. Li, K. Li, J. Li and J. A. Benediktsson,
    "Hyperspectral anomaly detection with attribute and edge-preserving
    filters", IEEE Transactions on Geoscience and Remote Sensing 55(10),
    2017.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import AttributeResidual
    >>> rng = np.random.default_rng(0)
    >>> cube = rng.normal(size=(20, 20, 3))
    >>> cube[5:7, 5:7] += 20.0        # a bright 2 x 2 target
    >>> R = AttributeResidual(n_components=1, areas=(8,)).fit(cube)
    >>> out = R.transform(cube)
    >>> out.shape, R.halo
    ((20, 20, 1), 7)
    >>> bool(np.abs(out[5:7, 5:7]).min() > 5 * np.median(np.abs(out)))
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "areas": [tuple, list],
        "connectivity": [Interval(Integral, 1, 2, closed="both")],
    }

    def __init__(self, *, n_components=5, areas=(16, 64, 256), connectivity=1):
        self.n_components = n_components
        self.areas = areas
        self.connectivity = connectivity

    @property
    def halo(self):
        """Pixels of context on each side that an output pixel depends on."""
        return max(self._check_areas()) - 1

    @property
    def n_channels_out_(self):
        """Channels of the output images: ``n_components_ * len(areas)`` (fitted)."""
        return self.n_components_ * len(self.areas)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the whitened principal components on the images' pixels.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            The image(s).
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._check_areas()
        images, _ = check_images(X, owner=type(self).__name__)
        n_bands = images[0].shape[2]
        n_components = min(self.n_components, n_bands)
        pixels = np.concatenate([image.reshape(-1, n_bands) for image in images])
        if len(pixels) <= n_components:
            raise ValueError(
                f"AttributeResidual: {n_components} principal components need more than "
                f"{n_components} pixels to fit; got {len(pixels)} (n_components="
                f"{self.n_components}, {n_bands} bands)."
            )
        pca = PCA(n_components=n_components, svd_solver="covariance_eigh")
        with np.errstate(invalid="ignore", divide="ignore"):  # a flat image: 0 / 0 ratios
            pca.fit(pixels.astype(np.float64))
        # Directions without variance (a constant band, a flat image) are not blown up:
        # their variance is floored at 1e-12 of the largest (1 for a flat image).
        variance = pca.explained_variance_
        floor = 1e-12 * variance.max() if variance.max() > 0 else 1.0
        scale = np.sqrt(np.maximum(variance, floor))
        self.n_components_ = n_components
        self.mean_ = pca.mean_
        self.components_ = pca.components_ / scale[:, None]
        self.n_bands_in_ = n_bands
        return self

    def transform(self, X):
        """Return the area-attribute residuals of each image's principal components.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            The image(s), with ``n_bands_in_`` bands.

        Returns
        -------
        X_new : ndarray or list of ndarray
            Images of ``n_components_ * len(areas)`` channels, in the same
            form as ``X`` and in its floating dtype.
        """
        check_is_fitted(self)
        images, layout = check_images(X, n_bands=self.n_bands_in_, owner=type(self).__name__)
        return restore_layout([self._residual(image) for image in images], layout)

    def _residual(self, image):
        rows, cols, bands = image.shape
        pixels = image.reshape(-1, bands).astype(np.float64)
        components = (pixels - self.mean_) @ self.components_.T
        components = components.reshape(rows, cols, -1)
        out = []
        for area in self.areas:
            halo = area - 1  # enough for this area's result, see Notes
            for k in range(components.shape[2]):
                padded = _reflect_pad(components[:, :, k], halo)
                out.append(_attribute_residual(padded, area, halo, self.connectivity))
        return np.stack(out, axis=-1).astype(image.dtype, copy=False)

    def _check_areas(self):
        areas = self.areas
        if (not isinstance(areas, (tuple, list)) or len(areas) == 0 or not all(
                isinstance(a, Integral) and not isinstance(a, bool) and 2 <= a <= _MAX_AREA
                for a in areas)):
            raise ValueError(
                f"AttributeResidual: areas must be a non-empty tuple of integers from 2 to "
                f"{_MAX_AREA} (pixels); got areas={areas!r}."
            )
        return areas

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _attribute_residual(padded, area, halo, connectivity):
    """``(p - opening) - (closing - p)`` of the image inside ``padded``'s halo, tile by tile."""
    rows, cols = padded.shape[0] - 2 * halo, padded.shape[1] - 2 * halo
    out = np.empty((rows, cols))
    for r in range(0, rows, _TILE):
        for c in range(0, cols, _TILE):
            h, w = min(_TILE, rows - r), min(_TILE, cols - c)
            p = padded[r:r + h + 2 * halo, c:c + w + 2 * halo]
            residual = 2 * p - area_opening(p, area, connectivity=connectivity) - area_closing(
                p, area, connectivity=connectivity)
            out[r:r + h, c:c + w] = residual[halo:halo + h, halo:halo + w]
    return out


def _reflect_pad(image, halo):
    """``image`` padded by ``halo`` pixels on each side, mirrored as scipy's "reflect".

    ``d c b a | a b c d | d c b a``, repeated as often as the halo needs
    (an image narrower than its halo is mirrored back and forth), the same
    convention as the dual-window residual and the tiled scoring's halo.
    """
    if halo == 0:
        return image
    rows = _reflect_index(image.shape[0], halo)
    cols = _reflect_index(image.shape[1], halo)
    return image[np.ix_(rows, cols)]

