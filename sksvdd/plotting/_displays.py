"""The Display classes and the false-colour helper of :mod:`sksvdd.plotting`."""

import numpy as np

from ._utils import (
    _as_image,
    _axes_and_figure,
    _check_percentiles,
    _history_columns,
    _pyplot,
    _rgb_bands,
    _stretch_bands,
)
from .._utils import check_mask, final_estimator, image_map, trained_detector
from ..datasets import pixels_to_image

_OVERLAY_COLORS = {
    "tp": ((0.0, 0.8, 0.0), "detected anomaly (TP)"),
    "fp": ((0.9, 0.1, 0.1), "false alarm (FP)"),
    "fn": ((1.0, 0.85, 0.0), "missed anomaly (FN)"),
    "predicted": ((0.9, 0.1, 0.1), "predicted anomaly"),
}


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


class TrainingHistoryDisplay:
    """Loss, radius and fraction of pixels outside the sphere, per epoch.

    Three stacked panels sharing the epoch axis, from the ``history_`` of a
    fitted :class:`~sksvdd.DeepSVDDDetector`. A falling loss with a stable
    radius and ``outside_frac`` near ``nu`` is a healthy run; a radius
    shrinking towards 0 warns of hypersphere collapse.

    Parameters
    ----------
    history : list of dict
        One dict per epoch with ``loss`` (or skorch's ``train_loss``),
        ``radius`` and ``outside_frac``; ``epoch`` is used when present.
    nu : float, default=None
        Target upper bound of ``outside_frac``, drawn as a dashed line.
    name : str, default=None
        Name of the detector, used in the title.

    Attributes
    ----------
    axes_, figure_ : ndarray of 3 matplotlib Axes, and their Figure
        Loss, radius and outside-fraction panels, top to bottom.
    lines_ : dict of str to Line2D
        The curves, keyed ``loss``, ``radius`` and ``outside_frac``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sksvdd import DeepSVDDDetector
    >>> from sksvdd.plotting import TrainingHistoryDisplay
    >>> X = np.random.RandomState(0).normal(size=(300, 8)).astype(np.float32)
    >>> det = DeepSVDDDetector(max_epochs=4, patience=None, random_state=0).fit(X)
    >>> disp = TrainingHistoryDisplay.from_estimator(det)
    >>> disp.lines_["loss"].get_xdata().tolist()
    [1, 2, 3, 4]
    >>> plt.close("all")
    """

    _PANELS = (
        ("loss", "Loss"), ("radius", "Radius R"), ("outside_frac", "Fraction outside sphere")
    )

    def __init__(self, history, *, nu=None, name=None):
        self.history = history
        self.nu = nu
        self.name = name

    def plot(self, axes=None, *, log_loss=False):
        """Draw the three panels.

        Parameters
        ----------
        axes : sequence of 3 matplotlib Axes, default=None
            Axes for loss, radius and outside fraction; a new figure with
            three stacked panels is made when None.
        log_loss : bool, default=False
            Log scale for the loss panel.

        Returns
        -------
        display : TrainingHistoryDisplay
            This object, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from sksvdd.plotting import TrainingHistoryDisplay
        >>> history = [{"epoch": 1, "loss": 1.0, "radius": 0.6, "outside_frac": 0.2},
        ...            {"epoch": 2, "loss": 0.1, "radius": 0.5, "outside_frac": 0.1}]
        >>> disp = TrainingHistoryDisplay(history, nu=0.1).plot(log_loss=True)
        >>> disp.axes_[0].get_yscale(), disp.lines_["radius"].get_ydata().tolist()
        ('log', [0.6, 0.5])
        >>> plt.close("all")
        """
        columns = _history_columns(self.history)
        plt = _pyplot()
        if axes is None:
            _, axes = plt.subplots(3, 1, sharex=True, figsize=(6.0, 6.5), layout="constrained")
        axes = np.asarray(axes, dtype=object).ravel()
        if axes.size != 3:
            raise ValueError(
                f"axes must hold 3 Axes (loss, radius, outside_frac); got {axes.size}."
            )
        from matplotlib.ticker import MaxNLocator

        self.lines_ = {}
        for ax, (key, label) in zip(axes, self._PANELS):
            (self.lines_[key],) = ax.plot(columns["epoch"], columns[key], marker="o", ms=3)
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        if log_loss:
            axes[0].set_yscale("log")
        if self.nu is not None:
            axes[2].axhline(self.nu, color="gray", linestyle="--", label=f"nu = {self.nu:g}")
            axes[2].legend(loc="best", fontsize="small")
        axes[2].set_xlabel("epoch")
        axes[2].xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].set_title(f"{self.name} training" if self.name else "Training history")
        self.axes_, self.figure_ = axes, axes[0].figure
        return self

    @classmethod
    def from_estimator(cls, estimator, *, axes=None, **kwargs):
        """Plot the training history of a fitted DeepSVDDDetector.

        Parameters
        ----------
        estimator : fitted DeepSVDDDetector or Pipeline ending in one
            Its ``history_`` is plotted, with its ``nu`` as reference.
        axes : sequence of 3 matplotlib Axes, default=None
            Axes for loss, radius and outside fraction; a new figure with
            three stacked panels is made when None.
        **kwargs : dict
            Keyword arguments passed to :meth:`plot` (``log_loss``).

        Returns
        -------
        display : TrainingHistoryDisplay
            The display holding the history, with the artists set.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> from sksvdd import DeepSVDDDetector
        >>> from sksvdd.plotting import TrainingHistoryDisplay
        >>> X = np.random.RandomState(0).normal(size=(200, 8)).astype(np.float32)
        >>> pipe = make_pipeline(
        ...     StandardScaler(), DeepSVDDDetector(max_epochs=2, random_state=0)).fit(X)
        >>> disp = TrainingHistoryDisplay.from_estimator(pipe, log_loss=True)
        >>> disp.name, disp.nu, disp.lines_["loss"].get_xdata().tolist()
        ('DeepSVDDDetector', 0.1, [1, 2])
        >>> plt.close("all")
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(final_estimator(estimator))
        detector = trained_detector(estimator) or final_estimator(estimator)
        if not hasattr(detector, "history_"):
            raise ValueError(
                f"{type(detector).__name__} has no history_; TrainingHistoryDisplay needs a "
                "fitted DeepSVDDDetector (or a Pipeline ending in one)."
            )
        display = cls(detector.history_, nu=getattr(detector, "nu", None),
                      name=type(detector).__name__)
        return display.plot(axes=axes, **kwargs)


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
