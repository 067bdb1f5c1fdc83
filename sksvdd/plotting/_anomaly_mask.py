"""Detections over a false-colour image: AnomalyMaskDisplay, and false_color_rgb to render it."""

import numpy as np

from ._utils import _as_image, _axes_and_figure, _check_percentiles, _rgb_bands, _stretch_bands
from .._utils import check_mask, final_estimator, image_map

_OVERLAY_COLORS = {
    "tp": ((0.0, 0.8, 0.0), "detected anomaly (TP)"),
    "fp": ((0.9, 0.1, 0.1), "false alarm (FP)"),
    "fn": ((1.0, 0.85, 0.0), "missed anomaly (FN)"),
    "predicted": ((0.9, 0.1, 0.1), "predicted anomaly"),
}


class AnomalyMaskDisplay:
    """Detections over a false-colour image: hits, false alarms and misses.

    With ``true_mask``, pixels are coloured green where an anomaly is
    detected (true positive), red where a normal pixel is flagged (false
    positive) and yellow where an anomaly is missed (false negative);
    without it, all predicted anomalies are red.

    Parameters
    ----------
    rgb : ndarray of shape (rows, cols, 3)
        Background image with values in [0, 1], e.g. from
        :func:`false_color_rgb`.
    predicted_mask : ndarray of bool of shape (rows, cols)
        Predicted anomalies (``predict(X) == -1``).
    true_mask : ndarray of bool of shape (rows, cols), default=None
        Ground-truth anomalies.
    name : str, default=None
        Name of the detector, used in the title.

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Where the image is drawn.
    image_ : matplotlib AxesImage
        The false-colour background.
    overlay_image_ : matplotlib AxesImage
        The coloured detections (transparent elsewhere).
    overlay_ : ndarray of shape (rows, cols, 4)
        RGBA data of ``overlay_image_``.
    counts_ : dict
        Number of pixels per category: ``tp``, ``fp``, ``fn`` with a true
        mask, else ``predicted``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sksvdd import RXDetector
    >>> from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
    >>> from sksvdd.plotting import AnomalyMaskDisplay
    >>> scene = make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=0)
    >>> rx = RXDetector(contamination=0.01).fit(cube_to_pixels(scene.cube))
    >>> disp = AnomalyMaskDisplay.from_estimator(
    ...     rx, scene.cube, wavelengths=scene.wavelengths, mask=scene.mask)
    >>> sorted(disp.counts_)
    ['fn', 'fp', 'tp']
    >>> bool(disp.counts_["tp"] + disp.counts_["fn"] == scene.mask.sum())
    True
    >>> plt.close("all")
    """

    def __init__(self, rgb, predicted_mask, *, true_mask=None, name=None):
        self.rgb = rgb
        self.predicted_mask = predicted_mask
        self.true_mask = true_mask
        self.name = name

    def plot(self, ax=None, *, alpha=0.85, legend=True):
        """Draw the image and the coloured detections.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        alpha : float in [0, 1], default=0.85
            Opacity of the detection colours.
        legend : bool, default=True
            Whether to add a legend (below the image) with pixel counts.

        Returns
        -------
        display : AnomalyMaskDisplay
            This object, with the artists and ``counts_`` set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksvdd.plotting import AnomalyMaskDisplay
        >>> predicted = np.zeros((3, 4), dtype=bool)
        >>> predicted[1, 2] = True
        >>> truth = np.zeros((3, 4), dtype=bool)
        >>> truth[1, 1:3] = True
        >>> disp = AnomalyMaskDisplay(np.zeros((3, 4, 3)), predicted, true_mask=truth)
        >>> disp.plot(alpha=0.5, legend=False).counts_
        {'tp': 1, 'fp': 0, 'fn': 1}
        >>> disp.overlay_[1, 1].tolist()  # a missed anomaly: yellow, half opaque
        [1.0, 0.85, 0.0, 0.5]
        >>> plt.close("all")
        """
        rgb = np.asarray(self.rgb)
        if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
            raise ValueError(
                f"rgb must be an image of shape (rows, cols, 3); got shape {rgb.shape}. "
                "Use false_color_rgb(cube) to render a hyperspectral cube."
            )
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]; got {alpha!r}.")
        predicted = check_mask(self.predicted_mask, shape=rgb.shape[:2], name="predicted_mask")
        if self.true_mask is None:
            categories = {"predicted": predicted}
        else:
            truth = check_mask(self.true_mask, shape=rgb.shape[:2], name="true_mask")
            categories = {"tp": predicted & truth, "fp": predicted & ~truth,
                          "fn": ~predicted & truth}
        overlay = np.zeros(rgb.shape[:2] + (4,))
        for key, where in categories.items():
            overlay[where] = (*_OVERLAY_COLORS[key][0], alpha)
        ax, fig = _axes_and_figure(ax)
        self.image_ = ax.imshow(rgb, interpolation="nearest")
        self.overlay_image_ = ax.imshow(overlay, interpolation="nearest")
        self.overlay_ = overlay
        self.counts_ = {key: int(where.sum()) for key, where in categories.items()}
        if legend:
            from matplotlib.patches import Patch

            handles = [
                Patch(color=_OVERLAY_COLORS[key][0], label=f"{_OVERLAY_COLORS[key][1]}: {n}")
                for key, n in self.counts_.items()
            ]
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.1),
                      ncols=len(handles) if len(handles) < 3 else 2, fontsize="small",
                      frameon=False)
        ax.set_title(f"{self.name} detections" if self.name else "Detections")
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_estimator(cls, estimator, cube, *, wavelengths=None, mask=None, name=None,
                       ax=None, **kwargs):
        """Threshold a fitted detector on ``cube`` and plot its detections.

        Parameters
        ----------
        estimator : fitted outlier detector or Pipeline
            Anything with ``predict`` returning -1 for anomalies.
        cube : array-like of shape (rows, cols, bands)
            The scene; also rendered with :func:`false_color_rgb`.
        wavelengths : array-like of shape (bands,), default=None
            Band centres in nm, to pick true-colour bands.
        mask : ndarray of bool of shape (rows, cols), default=None
            Ground-truth anomalies (the ``true_mask``).
        name : str, default=None
            Title name; defaults to the class name of the (last) estimator.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Keyword arguments passed to :meth:`plot` (``alpha``, ``legend``).

        Returns
        -------
        display : AnomalyMaskDisplay
            The display holding the detections, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sksvdd import RXDetector
        >>> from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
        >>> from sksvdd.plotting import AnomalyMaskDisplay
        >>> scene = make_hyperspectral_scene(n_rows=20, n_cols=20, random_state=0)
        >>> rx = RXDetector(contamination=0.02).fit(cube_to_pixels(scene.cube))
        >>> disp = AnomalyMaskDisplay.from_estimator(
        ...     rx, scene.cube, wavelengths=scene.wavelengths)
        >>> disp.name, list(disp.counts_)
        ('RXDetector', ['predicted'])
        >>> plt.close("all")
        """
        cube = np.asarray(cube)
        predicted = (image_map(estimator, cube, "predict") == -1).ravel()
        return cls.from_predictions(
            cube, predicted, wavelengths=wavelengths, mask=mask,
            name=type(final_estimator(estimator)).__name__ if name is None else name, ax=ax, **kwargs,
        )

    @classmethod
    def from_predictions(cls, cube, predicted_mask, *, wavelengths=None, mask=None, name=None,
                         ax=None, **kwargs):
        """Plot precomputed detections over a false-colour rendering of ``cube``.

        Parameters
        ----------
        cube : array-like of shape (rows, cols, bands)
            The scene.
        predicted_mask : array-like of bool of shape (rows, cols) or (rows * cols,)
            Predicted anomalies (1 / True = anomaly), flat ones in row-major order.
        wavelengths : array-like of shape (bands,), default=None
            Band centres in nm, to pick true-colour bands.
        mask : ndarray of bool of shape (rows, cols), default=None
            Ground-truth anomalies (the ``true_mask``).
        name : str, default=None
            Name of the detector, used in the title.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Keyword arguments passed to :meth:`plot` (``alpha``, ``legend``).

        Returns
        -------
        display : AnomalyMaskDisplay
            The display holding the detections, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksvdd.plotting import AnomalyMaskDisplay
        >>> cube = np.random.RandomState(0).uniform(size=(3, 4, 10))
        >>> predicted = np.zeros(12, dtype=bool)  # flat, e.g. det.predict(X) == -1
        >>> predicted[5] = True  # row 1, column 1
        >>> disp = AnomalyMaskDisplay.from_predictions(cube, predicted, name="demo")
        >>> disp.counts_, bool(disp.overlay_[1, 1, 3] > 0)
        ({'predicted': 1}, True)
        >>> plt.close("all")
        """
        rgb = false_color_rgb(cube, wavelengths)
        predicted = _as_image(predicted_mask, rgb.shape[:2], "predicted_mask")
        return cls(rgb, predicted, true_mask=mask, name=name).plot(ax=ax, **kwargs)


def false_color_rgb(cube, wavelengths=None, *, percentiles=(2.0, 98.0)):
    """Render a hyperspectral cube as an RGB image in [0, 1].

    With ``wavelengths``, the red, green and blue channels are the bands
    nearest 640, 550 and 460 nm (true colour) when all three lie within
    50 nm of a band; otherwise (no wavelengths, or an infrared-only sensor)
    three evenly spaced bands at 3/4, 1/2 and 1/4 of the band range, the
    longest wavelength in red. Each channel is stretched linearly between
    two of its percentiles and clipped to [0, 1].

    Parameters
    ----------
    cube : array-like of shape (rows, cols, bands)
        The scene.
    wavelengths : array-like of shape (bands,), default=None
        Band centres in nm.
    percentiles : (float, float), default=(2.0, 98.0)
        Percentiles of each channel mapped to 0 and 1.

    Returns
    -------
    rgb : ndarray of shape (rows, cols, 3), dtype float32
        The image; NaN pixels become 0 (black).

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd.plotting import false_color_rgb
    >>> cube = np.random.RandomState(0).uniform(size=(4, 5, 30))
    >>> rgb = false_color_rgb(cube, wavelengths=np.linspace(400, 1000, 30))
    >>> rgb.shape, rgb.dtype, float(rgb.min()), float(rgb.max())
    ((4, 5, 3), dtype('float32'), 0.0, 1.0)
    """
    cube = np.asarray(cube, dtype=np.float64)
    if cube.ndim != 3:
        raise ValueError(
            f"cube must be a 3-D array of shape (rows, cols, bands); got shape {cube.shape}."
        )
    lo, hi = _check_percentiles(percentiles, "percentiles")
    bands = _rgb_bands(wavelengths, cube.shape[2])
    return _stretch_bands(cube, bands, lo, hi)
