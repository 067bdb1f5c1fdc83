"""Spatial context as an image operation: the dual-window residual."""

from numbers import Integral

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._utils import resolve_device
from ._ring import _reflect_index, ring_median, ring_median_torch
from ._validation import check_images, restore_layout

# The largest window accepted: the ring's cost grows with its area, and a ring
# this wide already spans most scenes (a 2001-pixel window would need one
# scipy footprint of four million pixels per band).
_MAX_WINDOW = 101


class DualWindowResidual(TransformerMixin, BaseEstimator):
    """Subtract each pixel's local background, estimated from a ring around it.

    An image operation, as in :mod:`sklearn.feature_extraction.image`: it
    takes images ``(rows, cols, bands)`` (or a batch or list of them) and
    returns images of the same shape, before pixels are flattened for a
    pixel-level detector. For every pixel, the local background is
    summarised, band by band, over the pixels inside an ``outer_window x
    outer_window`` square but outside the ``inner_window x inner_window``
    guard square centred on it (the classical dual window of local RX
    detectors); the output is the pixel minus that background. Small targets
    stand out against their surroundings while the smooth, scene-wide
    variation of the background (illumination, slowly changing land cover)
    is removed. Image borders are handled by reflection (scipy's
    ``mode="reflect"``). Stateless: ``fit`` only records the number of bands.

    Parameters
    ----------
    outer_window : int, default=5
        Side of the outer square (odd, at most 101).
    inner_window : int, default=1
        Side of the guard square (odd, smaller than ``outer_window``); it
        keeps a target of up to that size out of its own background. ``1``
        leaves out only the pixel itself.
    background : {"median", "mean"}, default="median"
        How the ring's pixels are summarised, band by band. ``"median"``
        ignores the few ring pixels that belong to a target or another
        anomaly (the ring holds an even number of pixels; the upper of the
        two middle values is used, as :func:`scipy.ndimage.median_filter`
        does). ``"mean"`` is cheaper (see ``benchmarks/README.md``).
    device : str or None, default=None
        ``None`` computes with NumPy / SciPy on the CPU. A torch device
        (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"auto"``) computes with torch
        on that device; the median is then the same order statistic (the
        same numbers) and the mean agrees to float64 rounding.
    n_jobs : int or None, default=None
        Threads for the NumPy median, split over bands (same result for any
        value). ``None`` means 1 unless in a :obj:`joblib.parallel_config`
        context; ``-1`` uses all processors.

    Attributes
    ----------
    n_bands_in_ : int
        Number of bands seen during fit.

    See Also
    --------
    sksvdd.ImageDetector : Spatial context + pixel-level detector, for whole images.
    sksvdd.make_default_detector : The recommended image detector, built on this step.

    Notes
    -----
    Each output pixel depends on the input pixels at most :attr:`halo`
    pixels away, so an image cut into tiles that are each read with a halo
    of that width gives the same result as the whole image
    (:func:`sksvdd.parallel.score_cube` relies on it). Sums are taken over
    each window in a fixed order and the median is an order statistic, so
    tiled and whole-image results are bit-identical.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DualWindowResidual
    >>> cube = np.ones((5, 5, 2))
    >>> cube[2, 2] = 4.0          # a one-pixel target on a flat background
    >>> R = DualWindowResidual(outer_window=3, inner_window=1)
    >>> R.fit_transform(cube)[2, 2]
    array([3., 3.])
    >>> R.halo
    1
    """

    _parameter_constraints: dict = {
        "outer_window": [Interval(Integral, 3, _MAX_WINDOW, closed="both")],
        "inner_window": [Interval(Integral, 1, _MAX_WINDOW, closed="both")],
        "background": [StrOptions({"median", "mean"})],
        "device": [str, None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self, *, outer_window=5, inner_window=1, background="median", device=None, n_jobs=None
    ):
        self.outer_window = outer_window
        self.inner_window = inner_window
        self.background = background
        self.device = device
        self.n_jobs = n_jobs

    @property
    def halo(self):
        """Pixels of context on each side that an output pixel depends on."""
        return self.outer_window // 2

    @property
    def n_channels_out_(self):
        """Channels of the output images: the bands (fitted)."""
        return self.n_bands_in_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and record the number of bands.

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
        self._check_windows()
        images, _ = check_images(X, owner=type(self).__name__)
        if self.device is not None:
            resolve_device(self.device, context=type(self).__name__)
        self.n_bands_in_ = images[0].shape[2]
        return self

    def transform(self, X):
        """Return each pixel minus the median (or mean) of its dual-window ring.

        Parameters
        ----------
        X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
                or list of such images
            The image(s), with ``n_bands_in_`` bands.

        Returns
        -------
        X_new : ndarray or list of ndarray
            Residual images, in the same form, shape and floating dtype as
            ``X``.
        """
        check_is_fitted(self)
        images, layout = check_images(X, n_bands=self.n_bands_in_, owner=type(self).__name__)
        return restore_layout([self._residual(image) for image in images], layout)

    def _residual(self, image):
        outer, inner = self.outer_window, self.inner_window
        if self.device is not None:
            return _residual_torch(image, outer, inner, self.background, self.device)
        if self.background == "median":  # an order statistic: selected in the input's dtype
            ring = ring_median(image, outer, inner, n_jobs=self.n_jobs)
            return (image.astype(np.float64) - ring).astype(image.dtype, copy=False)
        image64 = image.astype(np.float64)
        ring = (_box_sum(image64, outer) - _box_sum(image64, inner)) / (outer**2 - inner**2)
        return (image64 - ring).astype(image.dtype, copy=False)

    def _check_windows(self):
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _box_sum(cube, size):
    """Sum over the ``size x size`` square around each pixel, image borders reflected.

    Two 1-D correlations with a window of ones: unlike ``uniform_filter``'s
    running sums, each output is summed over its own neighbours in a fixed
    order, so a pixel's result does not depend on where the image (or a tile
    of it) starts: tiled and whole-image results are bit-identical.
    """
    weights = np.ones(size)
    rows = ndimage.correlate1d(cube, weights, axis=0, mode="reflect")
    return ndimage.correlate1d(rows, weights, axis=1, mode="reflect")


def _residual_torch(image, outer, inner, background, device):
    """The residual computed with torch on ``device``, returned as a NumPy array."""
    import torch

    x = torch.as_tensor(image, device=resolve_device(device, context="DualWindowResidual"))
    if background == "median":
        ring = ring_median_torch(x, outer, inner)
        residual = x.double() - ring.double()
    else:
        rows, cols = x.shape[:2]
        x64 = x.double()
        padded = x64
        for axis in (0, 1):
            index = _reflect_index(x.shape[axis], outer // 2)
            padded = padded.index_select(axis, torch.as_tensor(index, device=x.device))
        total = torch.zeros_like(x64)
        ring_pixels = 0
        for dr in range(outer):
            for dc in range(outer):
                if max(abs(dr - outer // 2), abs(dc - outer // 2)) <= inner // 2:
                    continue  # the guard square
                total += padded[dr : dr + rows, dc : dc + cols]
                ring_pixels += 1
        residual = x64 - total / ring_pixels
    return residual.to(x.dtype).cpu().numpy()
