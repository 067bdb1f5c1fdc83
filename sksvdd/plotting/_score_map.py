"""The anomaly-score heatmap of :mod:`sksvdd.plotting`: :class:`ScoreMapDisplay`."""

import numpy as np

from ._utils import _as_image, _axes_and_figure, _check_percentiles
from .._utils import check_mask, final_estimator, image_map
from ..datasets import pixels_to_image


class ScoreMapDisplay:
    """Anomaly-score heatmap of a scene, with optional ground-truth contours.

    The colour scale is clipped to percentiles of the scores so that a few
    extreme pixels do not wash out the rest of the map.

    Parameters
    ----------
    score_map : ndarray of shape (rows, cols)
        Anomaly scores, higher = more anomalous (``-score_samples``). NaN
        pixels (e.g. from :func:`~sksvdd.datasets.pixels_to_image` with a
        mask) are left blank.
    mask : ndarray of bool of shape (rows, cols), default=None
        Ground-truth anomalies, outlined by contours.
    name : str, default=None
        Name of the detector, used in the title.

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Where the map is drawn.
    im_ : matplotlib AxesImage
        The heatmap.
    colorbar_ : matplotlib Colorbar or None
        The colour bar.
    contour_ : matplotlib ContourSet or None
        Ground-truth outlines; None without ``mask`` (or with a constant one).
    vmin_, vmax_ : float
        Limits of the colour scale.

    See Also
    --------
    AnomalyMaskDisplay : Thresholded detections over a false-colour image.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sksvdd import RXDetector
    >>> from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
    >>> from sksvdd.plotting import ScoreMapDisplay
    >>> scene = make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=0)
    >>> rx = RXDetector().fit(cube_to_pixels(scene.cube))
    >>> disp = ScoreMapDisplay.from_estimator(rx, scene.cube, mask=scene.mask)
    >>> disp.im_.get_array().shape
    (30, 30)
    >>> disp.contour_ is not None
    True
    >>> disp.figure_.savefig("scores.png")  # doctest: +SKIP
    >>> plt.close("all")
    """

    def __init__(self, score_map, *, mask=None, name=None):
        self.score_map = score_map
        self.mask = mask
        self.name = name

    def plot(self, ax=None, *, clip_percentiles=(1.0, 99.5), cmap="inferno",
             contour_color="cyan", colorbar=True):
        """Draw the map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        clip_percentiles : (float, float) or None, default=(1.0, 99.5)
            Percentiles of the (non-NaN) scores giving the colour limits;
            None uses the minimum and maximum.
        cmap : str or Colormap, default="inferno"
            Colour map of the scores.
        contour_color : color, default="cyan"
            Colour of the ground-truth outlines.
        colorbar : bool, default=True
            Whether to add a colour bar.

        Returns
        -------
        display : ScoreMapDisplay
            This object, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksvdd.plotting import ScoreMapDisplay
        >>> disp = ScoreMapDisplay(np.arange(12.0).reshape(3, 4), name="demo")
        >>> fig, ax = plt.subplots()
        >>> disp.plot(ax=ax, clip_percentiles=None, colorbar=False) is disp
        True
        >>> disp.ax_ is ax, disp.colorbar_ is None, (disp.vmin_, disp.vmax_)
        (True, True, (0.0, 11.0))
        >>> ax.get_title()
        'demo anomaly scores'
        >>> plt.close("all")
        """
        score_map = np.asarray(self.score_map, dtype=np.float64)
        if score_map.ndim != 2:
            raise ValueError(
                f"score_map must be a 2-D (rows, cols) image; got shape {score_map.shape}. "
                "Use ScoreMapDisplay.from_predictions(scores, shape=...) for flat scores."
            )
        if not np.isfinite(score_map).any():
            raise ValueError("score_map has no finite value to plot.")
        mask = None if self.mask is None else check_mask(self.mask, shape=score_map.shape, name="mask")
        if clip_percentiles is None:
            vmin, vmax = np.nanmin(score_map), np.nanmax(score_map)
            scale_label = "Anomaly score"
        else:
            lo, hi = _check_percentiles(clip_percentiles, "clip_percentiles")
            vmin, vmax = np.nanpercentile(score_map, [lo, hi])
            scale_label = f"Anomaly score (clipped to p{lo:g}-p{hi:g})"
        ax, fig = _axes_and_figure(ax)
        self.vmin_, self.vmax_ = float(vmin), float(vmax)
        self.im_ = ax.imshow(
            score_map, cmap=cmap, vmin=self.vmin_, vmax=self.vmax_, interpolation="nearest"
        )
        self.colorbar_ = fig.colorbar(self.im_, ax=ax, label=scale_label) if colorbar else None
        self.contour_ = None
        if mask is not None and mask.any() and not mask.all():
            from matplotlib.lines import Line2D

            self.contour_ = ax.contour(
                mask.astype(float), levels=[0.5], colors=[contour_color], linewidths=1.2
            )
            ax.legend(
                handles=[Line2D([], [], color=contour_color, label="ground truth")],
                loc="upper right", fontsize="small", framealpha=0.7,
            )
        ax.set_title(f"{self.name} anomaly scores" if self.name else "Anomaly scores")
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        self.ax_, self.figure_ = ax, fig
        return self

    @classmethod
    def from_estimator(cls, estimator, cube, *, mask=None, name=None, ax=None, **kwargs):
        """Score every pixel of ``cube`` with a fitted detector and plot the map.

        Parameters
        ----------
        estimator : fitted outlier detector or Pipeline
            Anything with ``score_samples`` (higher = more normal): an
            image-level detector such as :class:`~sksvdd.ImageDetector`, which
            scores the cube, or a pixel-level one, which scores its pixels.
        cube : array-like of shape (rows, cols, bands)
            The scene.
        mask : ndarray of bool of shape (rows, cols), default=None
            Ground-truth anomalies to outline.
        name : str, default=None
            Title name; defaults to the class name of the (last) estimator.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Keyword arguments passed to :meth:`plot` (``clip_percentiles``,
            ``cmap``, ``contour_color``, ``colorbar``).

        Returns
        -------
        display : ScoreMapDisplay
            The display holding the score map, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sksvdd import RXDetector
        >>> from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
        >>> from sksvdd.plotting import ScoreMapDisplay
        >>> scene = make_hyperspectral_scene(n_rows=20, n_cols=20, random_state=0)
        >>> rx = RXDetector().fit(cube_to_pixels(scene.cube))
        >>> disp = ScoreMapDisplay.from_estimator(rx, scene.cube, mask=scene.mask, cmap="magma")
        >>> disp.name, disp.score_map.shape
        ('RXDetector', (20, 20))
        >>> plt.close("all")
        """
        cube = np.asarray(cube)
        scores = -image_map(estimator, cube, "score_samples").astype(np.float64).ravel()
        name = type(final_estimator(estimator)).__name__ if name is None else name
        display = cls(pixels_to_image(scores, cube.shape[:2]), mask=mask, name=name)
        return display.plot(ax=ax, **kwargs)

    @classmethod
    def from_predictions(cls, scores, *, shape=None, mask=None, name=None, ax=None, **kwargs):
        """Plot precomputed anomaly scores.

        Parameters
        ----------
        scores : array-like of shape (rows, cols) or (rows * cols,)
            Anomaly scores, higher = more anomalous; flat scores are in the
            row-major order of :func:`~sksvdd.datasets.cube_to_pixels`.
        shape : (int, int), default=None
            Image shape, required for flat ``scores`` (e.g. ``cube.shape[:2]``).
        mask : ndarray of bool of shape (rows, cols), default=None
            Ground-truth anomalies to outline.
        name : str, default=None
            Name of the detector, used in the title.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when None.
        **kwargs : dict
            Keyword arguments passed to :meth:`plot` (``clip_percentiles``,
            ``cmap``, ``contour_color``, ``colorbar``).

        Returns
        -------
        display : ScoreMapDisplay
            The display holding the score map, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sksvdd.plotting import ScoreMapDisplay
        >>> scores = np.random.RandomState(0).normal(size=12)  # e.g. -det.score_samples(X)
        >>> disp = ScoreMapDisplay.from_predictions(scores, shape=(3, 4), clip_percentiles=None)
        >>> disp.im_.get_array().shape
        (3, 4)
        >>> bool(disp.vmax_ == scores.max())
        True
        >>> plt.close("all")
        """
        return cls(_as_image(scores, shape, "scores"), mask=mask, name=name).plot(
            ax=ax, **kwargs
        )
