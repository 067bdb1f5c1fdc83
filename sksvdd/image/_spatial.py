"""Spatial context as an image operation: the dual-window residual."""

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

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
            from .._utils import resolve_device

            resolve_device(self.device)
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
            ring = _ring_median(image, outer, inner, self.n_jobs)
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


def _ring_median(cube, outer, inner, n_jobs=None):
    """Per band, the median of the ring between the ``outer`` and ``inner`` squares.

    The ring holds ``outer**2 - inner**2`` pixels, an even number: as
    :func:`scipy.ndimage.median_filter` does, the upper of the two middle
    values is taken (an order statistic, so tiles of an image give the same
    result as the whole image). Bands are independent: with ``n_jobs`` they
    are split over threads (scipy releases the GIL), with the same result.
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


def _residual_torch(image, outer, inner, background, device):
    """The residual computed with torch on ``device``, returned as a NumPy array."""
    import torch

    from .._utils import resolve_device

    x = torch.as_tensor(image, device=resolve_device(device))
    offsets = [
        (dr, dc)
        for dr in range(outer)
        for dc in range(outer)
        if not (abs(dr - outer // 2) <= inner // 2 and abs(dc - outer // 2) <= inner // 2)
    ]
    padded = _pad_symmetric(x, outer // 2)
    rows, cols = x.shape[:2]
    if background == "median":
        ring = torch.empty_like(x)
        rank = len(offsets) // 2 + 1  # kthvalue is 1-based: the upper middle value
        step = max(1, (1 << 22) // max(1, cols * x.shape[2] * len(offsets)))
        for r0 in range(0, rows, step):
            r1 = min(rows, r0 + step)
            stack = torch.stack(
                [padded[r0 + dr : r1 + dr, dc : dc + cols] for dr, dc in offsets], dim=-1
            )
            ring[r0:r1] = stack.kthvalue(rank, dim=-1).values
        residual = x.double() - ring.double()
    else:
        x64 = x.double()
        padded64 = padded.double()
        total = torch.zeros_like(x64)
        for dr, dc in offsets:
            total += padded64[dr : dr + rows, dc : dc + cols]
        residual = x64 - total / len(offsets)
    return residual.to(x.dtype).cpu().numpy()


def _pad_symmetric(x, width):
    """Pad the first two axes by ``width`` as scipy's ``mode="reflect"`` does.

    The edge pixel is repeated (``d c b a | a b c d``) and, for widths
    beyond the image, the mirrored image is mirrored again (period ``2 n``).
    """
    import torch

    for axis in (0, 1):
        index = _reflect_index(x.shape[axis], width)
        x = x.index_select(axis, torch.as_tensor(index, device=x.device))
    return x


def _reflect_index(n, width):
    """Source indices of a length-``n`` axis padded by ``width`` on both sides."""
    j = np.arange(-width, n + width) % (2 * n)
    return np.where(j >= n, 2 * n - 1 - j, j)
