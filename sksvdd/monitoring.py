"""Watching Deep SVDD train: progress bars, TensorBoard and the best epoch.

Three ways to follow the gradient phase of :class:`~sksvdd.DeepSVDDDetector`,
from the lightest to the most complete:

- ``verbose=1`` prints one table row per epoch (skorch's ``PrintLog``) with
  the loss, the radius ``R``, the centre's move, the fraction of pixels
  outside the sphere and the learning rate.
- :func:`progress_bar` adds a per-epoch progress bar (tqdm) for long fits.
- :class:`TensorBoardLogger` writes the same per-epoch values to TensorBoard
  (extra ``sksvdd[tensorboard]``).

The last two are skorch callbacks passed as
``DeepSVDDDetector(callbacks=[...])``; the detector clones them at every
``fit``, so the instances you pass are never modified and the estimator
clones, pickles and grid-searches like any other. After a fit,
``history_`` holds the same values, and :func:`best_epoch` says which
epoch's weights early stopping kept.
"""

import itertools
import os
import time
from pathlib import Path

from skorch.callbacks import ProgressBar, TensorBoard
from skorch.callbacks.logging import filter_log_keys

from ._svdd._history import public_key
from ._utils import final_estimator, trained_detector

__all__ = ["TensorBoardLogger", "best_epoch", "progress_bar"]

# Distinguishes runs started by one process within the same second.
_RUN_COUNTER = itertools.count()


def progress_bar(*, postfix_keys=("train_loss",), detect_notebook=True):
    """A progress bar over the mini-batches of each epoch, for long fits.

    Returns a :class:`skorch.callbacks.ProgressBar` that sizes itself from
    the number of training pixels and ``batch_size`` and shows the loss of
    the last batch. The bar is drawn by tqdm on stderr (or as a widget in
    Jupyter) and erased at the end of each epoch; combine it with
    ``verbose=1`` to keep one table row per finished epoch.

    Parameters
    ----------
    postfix_keys : sequence of str, default=("train_loss",)
        Batch-level history keys shown next to the bar; skorch records the
        batch loss as ``train_loss``.
    detect_notebook : bool, default=True
        Draw a Jupyter widget when running in a notebook (needs ipywidgets).

    Returns
    -------
    callback : skorch.callbacks.ProgressBar
        Pass it in ``DeepSVDDDetector(callbacks=[...])``, optionally as a
        ``("progress", callback)`` tuple.

    See Also
    --------
    TensorBoardLogger : Per-epoch values to TensorBoard.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DeepSVDDDetector
    >>> from sksvdd.monitoring import progress_bar
    >>> X = np.random.RandomState(0).normal(size=(2000, 8)).astype(np.float32)
    >>> det = DeepSVDDDetector(max_epochs=2, callbacks=[progress_bar()], random_state=0)
    >>> det.fit(X).n_iter_  # the bars went to stderr
    2
    """
    return ProgressBar(
        batches_per_epoch="auto",
        detect_notebook=detect_notebook,
        postfix_keys=list(postfix_keys),
    )


class TensorBoardLogger(TensorBoard):
    """Log the per-epoch training values of Deep SVDD to TensorBoard.

    A :class:`skorch.callbacks.TensorBoard` that takes a directory instead of
    a live ``SummaryWriter``: the writer is created when training starts and
    closed when it ends, so the callback holds no open file, thread or
    writer outside ``fit`` and can be cloned (``sklearn.base.clone``),
    pickled and used in :class:`~sklearn.model_selection.GridSearchCV`, also
    with ``n_jobs > 1`` (skorch's own callback, given a writer at
    construction, would share or deep-copy one live writer between fits).

    Each training run writes to its own subdirectory of ``log_dir``,
    ``run-<YYYYmmdd-HHMMSS>-<pid>-<n>[-<comment>]``, so that the fits of a
    grid search, or repeated fits, never overwrite each other. View them
    with ``tensorboard --logdir <log_dir>``.

    Logged once per epoch, with the epoch number as the step, under the
    names of :attr:`DeepSVDDDetector.history_ <sksvdd.DeepSVDDDetector>`:
    ``loss``, ``radius``, ``center_shift``, ``outside_frac``, ``lr`` and
    ``dur`` (plus the values of any scoring callbacks you add).

    Needs the ``tensorboard`` package: ``pip install 'sksvdd[tensorboard]'``.
    Without it, ``fit`` raises an ImportError saying so, before any training.

    Parameters
    ----------
    log_dir : str or path-like
        Parent directory of the run directories; created when needed.
    comment : str, default=""
        Appended to each run directory's name (e.g. ``"nu0.05"``), to tell
        runs apart in TensorBoard.
    keys_ignored : str or list of str, default=None
        History keys not to log (e.g. ``"dur"``). Keys ending in ``_best``,
        starting with ``event_``, and ``epoch`` are never logged.

    Attributes
    ----------
    run_dir_ : pathlib.Path
        Directory of the current (or last) training run; set when training
        starts. Runs continued with ``partial_fit`` log to the same one.
    writer : torch.utils.tensorboard.SummaryWriter or None
        The open writer during training (e.g. for a subclass that logs more,
        as in skorch's examples), None outside it.

    See Also
    --------
    progress_bar : A per-epoch progress bar in the terminal.
    sksvdd.plotting.TrainingHistoryDisplay : The same curves with matplotlib, after a fit.

    Examples
    --------
    >>> from sklearn.base import clone
    >>> from sksvdd import DeepSVDDDetector
    >>> from sksvdd.monitoring import TensorBoardLogger
    >>> det = DeepSVDDDetector(callbacks=[TensorBoardLogger("runs", comment="nu0.1")])
    >>> clone(det).callbacks
    [TensorBoardLogger('runs', comment='nu0.1')]

    ``det.fit(X)`` then writes ``runs/run-...-nu0.1/events.out.tfevents...``.
    """

    def __init__(self, log_dir, *, comment="", keys_ignored=None):
        # Only parameters here: skorch callbacks treat every attribute not
        # ending in "_" as a constructor parameter (get_params / clone).
        self.log_dir = log_dir
        self.comment = comment
        self.keys_ignored = keys_ignored

    @property
    def writer(self):
        """The open ``SummaryWriter`` during training, None outside it."""
        return getattr(self, "writer_", None)

    def initialize(self):
        """Check that tensorboard is installed and forget any previous run.

        Called by skorch when the net (re)initialises its callbacks, i.e. at
        every ``fit`` of the detector, before training.

        Returns
        -------
        self : TensorBoardLogger
            This callback, with no writer and no run directory yet.

        Raises
        ------
        ImportError
            If the ``tensorboard`` package is not installed.
        """
        _summary_writer_class()  # fail before any training when tensorboard is missing
        super().initialize()
        self.writer_ = None
        self.run_dir_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        """Open the writer on the run directory ``run_dir_``.

        Called by skorch when training starts. The run directory is created
        at the first call after :meth:`initialize` (i.e. at every ``fit`` of
        the detector); training continued with the net's ``partial_fit``
        logs to the same directory.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained (the detector's ``net_``).
        **kwargs : dict
            The other arguments skorch passes (``X``, ``y``); unused.
        """
        if self.writer_ is None:
            if self.run_dir_ is None:
                self.run_dir_ = _new_run_dir(Path(self.log_dir), self.comment)
            self.writer_ = _summary_writer_class()(log_dir=str(self.run_dir_))

    def on_epoch_end(self, net, **kwargs):
        """Log the values of the epoch's ``history`` row, with the epoch as the step.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net being trained; its last ``history`` row is logged, minus
            ``keys_ignored``.
        **kwargs : dict
            The other arguments skorch passes (``dataset_train``,
            ``dataset_valid``); unused.
        """
        row = net.history[-1]
        for key in filter_log_keys(row, keys_ignored=self.keys_ignored_):
            self.add_scalar_maybe(net.history, key=key, tag=_tag(key), global_step=row["epoch"])

    def on_train_end(self, net, **kwargs):
        """Close the writer, so that no file or thread stays open after training.

        Parameters
        ----------
        net : skorch.NeuralNet
            The net that was trained.
        **kwargs : dict
            The other arguments skorch passes (``X``, ``y``); unused.
        """
        if self.writer_ is not None:
            self.writer_.close()
            self.writer_ = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["writer_"] = None  # a live writer is neither picklable nor shareable
        return state

    def __repr__(self):
        args = [repr(self.log_dir)]
        args += [f"{name}={getattr(self, name)!r}" for name, default in
                 (("comment", ""), ("keys_ignored", None)) if getattr(self, name) != default]
        return f"{type(self).__name__}({', '.join(args)})"


def best_epoch(estimator):
    """The epoch whose weights a fitted DeepSVDDDetector kept.

    With early stopping (``patience`` not None) the detector restores the
    weights, centre and radius of the epoch with the best training loss
    (an improvement counts when it is at least 1e-4 relative), so
    ``radius_`` and ``center_`` are that epoch's values, not the last
    epoch's. In ``history_``, that epoch is normally the last row with
    ``loss_best=True``. Without early stopping it is the last epoch.

    Parameters
    ----------
    estimator : fitted DeepSVDDDetector or Pipeline ending in one
        The detector whose ``history_`` and early-stopping state are read.

    Returns
    -------
    epoch : int or None
        1-based epoch number, as in ``history_[i]["epoch"]``
        (``history_[epoch - 1]`` is its row); None when the detector was
        fitted with ``max_epochs=0`` (no gradient phase).

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DeepSVDDDetector
    >>> from sksvdd.monitoring import best_epoch
    >>> X = np.random.RandomState(0).normal(size=(500, 8)).astype(np.float32)
    >>> det = DeepSVDDDetector(max_epochs=6, patience=2, lr=1e-3, random_state=0).fit(X)
    >>> epoch = best_epoch(det)
    >>> det.radius_ == det.history_[epoch - 1]["radius"]
    True
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(final_estimator(estimator))
    detector = trained_detector(estimator) or final_estimator(estimator)
    history = getattr(detector, "history_", None)
    if history is None:
        raise ValueError(
            f"{type(detector).__name__} has no history_; best_epoch needs a fitted "
            "DeepSVDDDetector (or a Pipeline ending in one)."
        )
    if not history:
        return None
    callbacks = dict(getattr(getattr(detector, "net_", None), "callbacks_", ()))
    stopper = callbacks.get("early_stopping")
    if stopper is not None and getattr(stopper, "best_epoch_", 0):
        return int(stopper.best_epoch_)
    return int(history[-1]["epoch"])


def _tag(key):
    """TensorBoard tag of a history key: the names of ``history_``."""
    return public_key(key)


def _summary_writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # torch raises this when the tensorboard package is missing
        raise ImportError(
            "TensorBoardLogger needs the 'tensorboard' package; install it with "
            "pip install 'sksvdd[tensorboard]' (or pip install tensorboard)."
        ) from exc
    return SummaryWriter


def _new_run_dir(log_dir, comment):
    """Create and return a fresh ``log_dir/run-<time>-<pid>-<n>[-comment]``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = f"-{comment}" if comment else ""
    while True:
        run_dir = log_dir / f"run-{stamp}-{os.getpid()}-{next(_RUN_COUNTER)}{suffix}"
        try:
            run_dir.mkdir()
        except FileExistsError:  # e.g. a recycled pid in the same second
            continue
        return run_dir
