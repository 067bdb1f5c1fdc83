"""The training curves of :mod:`sksvdd.plotting`: :class:`TrainingHistoryDisplay`."""

import numpy as np

from ._utils import _history_columns, _pyplot
from .._utils import final_estimator, trained_detector


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
