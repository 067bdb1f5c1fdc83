"""DeepSVDDDetector: a scikit-learn outlier detector that owns a skorch net."""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.helper import predefined_split

from .._base import OffsetOutlierMixin, offset_from_scores
from .._utils import resolve_device, torch_threads, validate_pixels
from ._history import history_from_net, net_history
from ._hypersphere import initial_center, radius2_from_quantile, squared_distance
from ._network import make_module
from ._scoring import map_batches, score_dataset, score_pixels
from ._training import (
    CheckedPixels,
    DivergenceGuard,
    HypersphereTracker,
    PixelDataset,
    PixelSubset,
    SVDDLoss,
    SVDDNet,
    TrainingDivergedWarning,
)

# Epochs during which R stays at its phase-1 value before it follows the quantile.
_WARM_UP_EPOCHS = 2


class DeepSVDDDetector(OffsetOutlierMixin, OutlierMixin, BaseEstimator):
    """Deep Support Vector Data Description (Deep SVDD) outlier detector.

    Learns a network ``phi`` that maps normal pixels into a small hypersphere
    of centre ``c`` and radius ``R``; the squared distance
    ``||phi(x) - c||^2`` is the anomaly score. ``fit`` runs in two phases:

    1. **Statistical phase** (no gradients): ``sample_n`` pixels drawn with
       ``random_state`` give the encoder's statistics (per-band mean and
       scale, or mean and whitening matrix, see ``encoder``), and the
       centre ``c`` is their mean embedding through the initial network
       (with ``encoder="standardize"``, coordinates with ``|c_i| < 0.1``
       pushed to ``+-0.1``). ``R`` is the ``(1 - nu)`` quantile of their
       distances. ``max_epochs=0`` stops here with a valid, usable model;
       with ``encoder="whiten"`` it is RX (:class:`RXDetector`).
    2. **Gradient phase**: a skorch net (``net_``) trains the network with
       the ``objective`` loss, while the centre follows an exponential
       moving average of the batch embeddings, with early stopping on the
       training loss, learning-rate reduction on plateaus and restoring of
       the best weights.

    Finally ``offset_`` is set to the ``contamination`` quantile of the
    training scores, so that about that fraction of the training pixels is
    predicted as outliers. With ``validation_fraction``, a random part of
    the pixels is held out of both phases instead: phase 2 stops early on
    its loss and restores the best weights, and ``offset_`` is the quantile
    of its scores.

    Parameters
    ----------
    encoder : {"standardize", "whiten"}, default="standardize"
        The statistical phase and the network built on it.
        ``"standardize"``: per-band standardisation with trainable
        statistics, then a bias-free ``Linear -> ReLU -> Linear`` projection
        to ``rep_dim`` dimensions. ``"whiten"``: Mahalanobis whitening
        ``z = W (x - mean)`` (fixed, all ``n_features`` components kept)
        and ``phi(x) = z`` plus a bias-free ``Linear -> ReLU -> Linear``
        correction of ``z``'s ``rep_dim`` leading principal coordinates,
        which starts at zero: phase 1 is then exactly RX's Mahalanobis
        distance (up to float32 rounding, and to the trimming of
        ``trim_fraction``). See Notes.
    rep_dim : int, default=32
        ``"standardize"``: dimension of the embedding space.
        ``"whiten"``: the embedding has ``n_features`` dimensions, and
        ``rep_dim`` is the number of its leading (highest-variance)
        whitened coordinates that phase 2 may change (at most
        ``n_features``); the others keep the Mahalanobis distance.
    whiten_reg : float >= 0, default=1e-6
        ``encoder="whiten"`` only: the ridge added to the covariance before
        whitening, relative to its mean variance (:class:`RXDetector`'s
        ``reg``). A larger ridge shrinks the weight of the lowest-variance
        directions, which are estimated worst from a finite sample: on new
        images it generalises better (see
        :func:`sksvdd.make_reference_pipeline`).
    hidden : int, default=128
        Width of the projection's (``"whiten"``: the correction's) hidden
        layer.
    objective : {"soft-boundary", "one-class"}, default="soft-boundary"
        ``"one-class"`` minimises ``mean ||phi(x) - c||^2``;
        ``"soft-boundary"`` minimises
        ``R^2 + (1 / nu) * mean(max(0, ||phi(x) - c||^2 - R^2))``.
    nu : float in (0, 1], default=0.1
        Soft-boundary trade-off: an upper bound on the fraction of training
        pixels outside the sphere. Also sets ``R`` as the ``(1 - nu)``
        quantile of the training distances (for both objectives).
    center_ema : float in [0, 1], default=0.1
        Weight of the batch mean embedding in the centre's moving average
        (the tutorial's ``alpha``). ``0`` keeps the phase-1 centre fixed.
    sample_n : int, default=10000
        Number of pixels drawn (without replacement) for the statistical
        phase; all pixels are used when there are fewer. The sample is
        ``check_random_state(random_state).choice(n_samples,
        min(sample_n, n_samples), replace=False)``.
    trim_fraction : float in [0, 0.5), default=0.02
        Robust statistics: after phase 1, the ``trim_fraction`` of the
        training pixels with the largest phase-1 scores (the most outlying
        ones, likely the scene's anomalies) are left out: phase 1 is
        computed again without them, and phase 2 never trains on them, so
        the network cannot learn to pull them into the sphere. They are
        still scored, and ``offset_`` is fitted on all training pixels.
        ``0`` uses every pixel. See Notes.
    freeze_encoder : bool, default=False
        Keep the encoder statistics fixed in phase 2. ``False`` lets them be
        fine-tuned (the tutorial's "unfreeze"). No effect with
        ``encoder="whiten"``, whose whitening is always fixed (see Notes).
    contamination : float in (0, 0.5], default=0.005
        Expected fraction of outliers in the training data; sets
        ``offset_`` (the tutorial's threshold quantile is
        ``1 - contamination = 0.995``).
    max_epochs : int, default=10
        Maximum number of training epochs in phase 2; ``0`` skips phase 2.
    batch_size : int, default=256
        Mini-batch size of phase 2.
    lr : float, default=1e-5
        Adam learning rate. The small default is deliberate (see Notes).
    weight_decay : float, default=1e-6
        Adam weight decay (L2 penalty) on all trainable parameters.
    patience : int or None, default=5
        Stop after this many epochs without a relative improvement of the
        training loss of at least 1e-4; the best weights are then restored.
        The learning rate is halved after ``max(1, patience // 2)`` epochs
        without improvement. ``None`` disables both. With
        ``validation_fraction``, the validation loss is monitored instead.
    validation_fraction : float in (0, 1) or None, default=None
        Hold out this fraction of the training pixels (``ceil(fraction *
        n_samples)`` of them, drawn with ``random_state``), as
        :class:`~sklearn.neural_network.MLPClassifier` does with
        ``early_stopping=True``. The held-out pixels take no part in phase 1
        or phase 2; phase 2 records their loss (``valid_loss`` in
        ``history_``), ``patience`` stops training on it and the weights of
        the epoch with the best validation loss are restored; ``offset_`` is
        the ``contamination`` quantile of their scores. ``trim_fraction``
        applies to the training part only. Meant for clean reference data
        (see :func:`sksvdd.make_reference_pipeline`), where the threshold
        must hold for new pixels. ``None`` uses every pixel for everything.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks, e.g. :class:`sksvdd.monitoring.TensorBoardLogger`
        or skorch's ``Checkpoint``. They
        are cloned at every ``fit`` so that the instances passed here are
        never modified and the estimator clones safely.
    device : {"cpu", "cuda", "auto"} or str, default="cpu"
        Torch device for training and scoring (``"cuda:1"`` style strings
        are accepted). ``"auto"`` picks CUDA when it is available.
    n_jobs : int or None, default=None
        Torch's intra-op CPU threads during ``fit`` and scoring, set with
        :func:`torch.set_num_threads` and restored afterwards. ``None``
        means 1 unless in a :obj:`joblib.parallel_config` context; ``-1``
        uses all processors (torch's own default). The networks are small,
        so one thread loses little on an idle machine and avoids the large
        slow-down of torch's threads on a machine whose cores are busy with
        other work (measured in ``benchmarks/threads.py``). Results are the
        same for any value.
    random_state : int, RandomState instance or None, default=None
        Controls the pixel sample of phase 1, the weight initialisation and
        the mini-batch shuffling. Pass an int for reproducible results.
    verbose : int, default=0
        ``0`` is silent; ``1`` prints a per-epoch table (skorch's PrintLog).
    warm_start : bool, default=False
        When ``True`` and the detector is already fitted, ``fit`` skips
        phase 1 and runs up to ``max_epochs`` more epochs of phase 2 from
        the fitted state: weights, encoder statistics, centre, radius, Adam
        moments and ``history_`` are kept (``n_iter_`` accumulates), while
        ``lr``, ``batch_size``, ``patience``, ``callbacks`` etc. take their
        current values. ``encoder``, ``rep_dim``, ``hidden`` and the
        features must not change. See Notes for resuming from skorch checkpoints.

    Attributes
    ----------
    center_ : ndarray of shape (rep_dim,) or (`n_features_in_`,)
        Centre ``c`` of the hypersphere in the embedding space (of
        dimension ``n_features_in_`` with ``encoder="whiten"``).
    radius_ : float
        Radius ``R`` of the hypersphere.
    offset_ : float
        Threshold on ``score_samples``: ``decision_function`` is
        ``score_samples - offset_``.
    n_features_in_ : int
        Number of features (bands) seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit; only defined when ``X`` has
        string column names.
    n_iter_ : int
        Number of training epochs run in phase 2.
    history_ : list of dict
        One dict per epoch with ``epoch``, ``loss``, ``loss_best`` (True
        where the loss improved on every earlier epoch; with early stopping
        the weights of the last such epoch are the ones kept), ``radius``,
        ``center_shift``, ``outside_frac``, ``lr`` and ``dur`` (seconds);
        with ``validation_fraction`` also ``valid_loss`` and
        ``valid_loss_best`` (where early stopping keeps its weights).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the training history under skorch's names
        (``train_loss``, ``train_loss_best``).

    See Also
    --------
    RXDetector : Global Reed-Xiaoli (Mahalanobis) detector, the classical baseline.
    sklearn.ensemble.IsolationForest : Tree-based outlier detector.

    Notes
    -----
    ``score_samples`` is ``-||phi(x) - c||^2`` so that, as everywhere in
    scikit-learn, higher means more normal; the reference tutorial's anomaly
    score is ``-score_samples``.

    ``R`` is not learned by gradient descent: after a warm-up of two epochs
    it is set after every epoch to the ``(1 - nu)`` quantile of that
    epoch's distances, as Ruff et al. (2018) do. A gradient step on ``R``
    is tied to ``nu`` only at the optimum, whereas the quantile keeps the
    ``nu``-property (at most a fraction ``nu`` of pixels outside) at every
    epoch. For ``objective="one-class"`` the loss ignores ``R``; it is still
    computed, for ``history_`` and ``radius_``.

    Choice of the training defaults: the detector is fitted on the scene it
    scores, anomalies included, and the gradient phase pulls every training
    pixel towards the centre. Trained hard (large ``lr``, many epochs) it
    learns to pull the scene's own anomalies in too, and detection gets
    worse than after phase 1 alone. The defaults (``lr=1e-5``, 10 epochs)
    make phase 2 a fine-tune of the statistical initialisation. The
    measurements behind these choices are in ``benchmarks/README.md``.

    Robust statistics (``trim_fraction``): the most outlying pixels after
    phase 1 are likely the scene's anomalies; leaving them out of the
    statistics and of phase 2 keeps the sphere from growing around them
    (measured in ``benchmarks/options.py``). On clean training data set
    ``trim_fraction=0``: every pixel is then normal and worth training on.

    The network has no bias terms, so it cannot map every input onto the
    centre (Ruff et al., Prop. 2; the choice is explained in the docstring
    of ``sksvdd._svdd._network.DeepSVDDModule``).

    Whitening (``encoder="whiten"``): with mean ``mu`` and covariance
    ``Sigma`` of the (trimmed) sample, ``W = Lambda^(-1/2) U^T`` where
    ``U Lambda U^T = Sigma + whiten_reg * trace(Sigma) / n_features * I``
    (:class:`RXDetector`'s ridge ``reg``), so ``||W (x - mu)||^2`` is RX's
    score. The random projection of ``"standardize"`` keeps few of these
    directions; here none is dropped, since the low-variance directions
    are where RX finds most anomalies. The whitened sample has mean zero,
    so the centre is zero (up to rounding) and is not pushed from zero:
    pushing it to ``+-0.1`` per coordinate would add a linear term
    ``-2 c^T z`` to the score and break the equality with RX. The collapse
    of Ruff et al. is guarded otherwise: ``W`` and ``mu`` are fixed
    buffers (a trainable ``W`` could shrink to zero) and phase 2 adds a
    correction to ``z`` instead of replacing it, so zero weights give
    ``phi(x) = z``; when ``rep_dim < n_features`` the trailing
    coordinates cannot change at all. With ``trim_fraction=0`` phase 1
    ranks pixels as :class:`RXDetector` fitted on the same sample does;
    how phase 2 changes that is measured in ``benchmarks/phase1.py``
    (``benchmarks/README.md``).

    Faults during phase 2: when training diverges, e.g. from a far too
    large ``lr`` (a non-finite batch loss or non-finite weights after an
    epoch; an epoch loss more than 1000 times the loss of the weights
    training started from; or the training pixels' distances collapsing to
    one value), training stops, the weights of the last good epoch (or of
    phase 1) are restored and a :class:`~sksvdd.TrainingDivergedWarning` (a
    ``RuntimeWarning``) says so; ``history_`` ends with the last good epoch.
    A ``KeyboardInterrupt`` (Ctrl-C) during phase 2 ends training the same
    way (skorch catches it): the detector is fitted with the best weights so
    far (of the last complete epoch, or the best one with early stopping)
    and ``offset_`` is set. An exception anywhere else in ``fit``
    (``KeyboardInterrupt`` included) leaves the detector as it was before
    the call: its previous fitted model intact, or unfitted. Input values
    beyond the float32 range are rejected, since the network computes in
    float32.

    Checkpoints: pass ``skorch.callbacks.Checkpoint(dirname=...,
    monitor="train_loss_best")`` in ``callbacks`` (``"valid_loss_best"``
    with ``validation_fraction``). To resume in a new session, fit a
    detector with the same parameters and ``callbacks=[Checkpoint(...),
    LoadInitState(checkpoint)]``:
    the checkpoint's weights, statistics, centre, radius, optimizer state
    and history replace the freshly initialised ones before phase 2 goes on.

    References
    ----------
    .. [1] L. Ruff, R. Vandermeulen, N. Goernitz, L. Deecke, S. A. Siddiqui,
       A. Binder, E. Mueller and M. Kloft, "Deep One-Class Classification",
       ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import DeepSVDDDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 10)).astype(np.float32)
    >>> X[:5] += 6.0  # five anomalous pixels
    >>> det = DeepSVDDDetector(contamination=0.01, random_state=0).fit(X)
    >>> det.predict(X[:5])
    array([-1, -1, -1, -1, -1])
    >>> bool((det.predict(X) == -1).mean() <= 0.012)
    True
    """

    _parameter_constraints: dict = {
        "encoder": [StrOptions({"standardize", "whiten"})],
        "rep_dim": [Interval(Integral, 1, None, closed="left")],
        "whiten_reg": [Interval(Real, 0, None, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "objective": [StrOptions({"soft-boundary", "one-class"})],
        "nu": [Interval(Real, 0, 1, closed="right")],
        "center_ema": [Interval(Real, 0, 1, closed="both")],
        "sample_n": [Interval(Integral, 1, None, closed="left")],
        "trim_fraction": [Interval(Real, 0, 0.5, closed="left")],
        "freeze_encoder": ["boolean"],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "callbacks": [list, None],
        "device": [str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        *,
        encoder="standardize",
        rep_dim=32,
        whiten_reg=1e-6,
        hidden=128,
        objective="soft-boundary",
        nu=0.1,
        center_ema=0.1,
        sample_n=10000,
        trim_fraction=0.02,
        freeze_encoder=False,
        contamination=0.005,
        max_epochs=10,
        batch_size=256,
        lr=1e-5,
        weight_decay=1e-6,
        patience=5,
        validation_fraction=None,
        callbacks=None,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.encoder = encoder
        self.rep_dim = rep_dim
        self.whiten_reg = whiten_reg
        self.hidden = hidden
        self.objective = objective
        self.nu = nu
        self.center_ema = center_ema
        self.sample_n = sample_n
        self.trim_fraction = trim_fraction
        self.freeze_encoder = freeze_encoder
        self.contamination = contamination
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.callbacks = callbacks
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector: statistical phase, gradient phase, threshold.

        ``X`` is either pixels in memory or a :class:`torch.utils.data.Dataset`
        of pixels (as skorch's ``fit`` accepts), which ``fit`` reads in
        batches; both give the same fitted detector for the same pixels.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features) or Dataset
            Training pixels, one spectrum per row. Mostly normal pixels are
            expected; about ``contamination`` of them may be anomalies.

            A Dataset must implement ``__len__`` (the number of pixels) and
            ``__getitems__(indices)``, returning ``(batch, None)`` where
            ``batch`` is a float32 tensor of shape ``(len(indices),
            n_features)`` holding pixels ``indices`` in that order
            (``indices`` is an index tensor or array). It may also offer

            - ``take(sorted_indices)``: the same pixels as a NumPy array in
              their stored dtype; the phase-1 sample is read with it, so
              that float64 data keep their precision in the statistics;
            - ``slice(start, stop)``: pixels ``start:stop`` as a NumPy array;
              the scoring passes (``trim_fraction`` and ``offset_``) read
              the pixels in order with it, otherwise through
              ``__getitems__``;
            - ``chunk_rows``: an int, the number of pixels read and scored
              at a time in those passes (default 65536).

            :class:`sksvdd.parallel.fit_out_of_core` wraps out-of-core
            arrays in such a Dataset. The phase-1 sample is drawn as for an
            array (see ``sample_n``) and read in increasing order; every
            pixel read is checked to be finite. A Dataset has no feature
            names.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted detector.

        Raises
        ------
        ValueError
            If ``X`` has no pixels, NaN or infinite values, values beyond
            the float32 range, too few pixels for ``validation_fraction``
            to leave a training pixel, or (with ``warm_start``) another
            number of features than the fitted detector.
        """
        previous = {k: v for k, v in vars(self).items() if k in _FITTED_ATTRIBUTES}
        try:
            with torch_threads(self.n_jobs):
                fitted = self._fit(X)
        except BaseException:
            # KeyboardInterrupt included: never leave a mix of the old and new model.
            _set_fitted(self, previous)
            raise
        _set_fitted(self, fitted)
        return self

    def _fit(self, X):
        """The fit, building the new model aside; returns its fitted attributes.

        Only the input validation attributes (``n_features_in_``,
        ``feature_names_in_``) are set on ``self`` on the way; ``fit``
        restores them when this raises.
        """
        warm = self._warm()
        rng = check_random_state(self.random_state)
        if isinstance(X, torch.utils.data.Dataset):
            pixels = CheckedPixels(X, type(self).__name__)
            # The same draws as for an array below, the sample read in increasing order.
            sample, split = self._draw(len(pixels), rng)
            X_sample = validate_pixels(
                self, pixels.take(np.sort(sample)), dtype=[np.float32, np.float64],
                reset=not warm,
            )
            _check_float32_range(X_sample)
        else:
            X = validate_pixels(self, X, dtype=[np.float32, np.float64], reset=not warm)
            _check_float32_range(X)
            # Drawn first, so that the sample is documented as this exact call.
            sample, split = self._draw(X.shape[0], rng)
            X32 = np.ascontiguousarray(X, dtype=np.float32)
            if not X32.flags.writeable:  # torch warns on (and must not alias) read-only arrays
                X32 = X32.copy()
            pixels = PixelDataset(X32)
            X_sample = X[np.sort(sample)]

        net = self._train(X_sample, pixels, rng, warm, split)
        module = net.module_
        module.eval()
        scores = score_dataset(module, pixels)
        fitted = {
            "n_features_in_": self.n_features_in_,
            "net_": net,
            "center_": module.center.detach().cpu().numpy().astype(np.float64),
            "radius_": float(module.radius2.detach().sqrt().cpu()),
            "n_iter_": len(net.history),
            "history_": history_from_net(net.history),
            # On held-out pixels when there are some: the training pixels' scores are
            # biased towards normal by training on them.
            "offset_": offset_from_scores(
                scores if split is None else scores[split[1]], self.contamination),
        }
        if hasattr(self, "feature_names_in_"):
            fitted["feature_names_in_"] = self.feature_names_in_
        return fitted

    def _draw(self, n, rng):
        """The phase-1 sample and the validation split of ``n`` pixels, drawn from ``rng``.

        Returns ``(sample, split)``: ``sample`` is
        ``rng.choice(n, min(sample_n, n), replace=False)`` without a
        validation split (``split`` is then None); with one, ``split`` is
        ``(train, valid)``, sorted pixel indices from one
        ``rng.permutation(n)`` (``ceil(validation_fraction * n)`` validation
        pixels, as :func:`sklearn.model_selection.train_test_split` rounds),
        and the sample is drawn the same way among ``train``.
        """
        if self.validation_fraction is None:
            return rng.choice(n, size=min(self.sample_n, n), replace=False), None
        n_valid = math.ceil(self.validation_fraction * n)
        if n_valid >= n:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training pixel "
                f"out of n_samples={n}; use a smaller validation_fraction or more pixels."
            )
        perm = rng.permutation(n)
        train, valid = np.sort(perm[n_valid:]), np.sort(perm[:n_valid])
        sample = train[rng.choice(len(train), size=min(self.sample_n, len(train)),
                                  replace=False)]
        return sample, (train, valid)

    def _train(self, X_sample, pixels, rng, warm, split=None):
        """Both phases from a pixel sample and a Dataset of all training pixels; returns the net.

        ``pixels`` offers ``slice`` (:class:`PixelDataset` or
        :class:`CheckedPixels`); the trimming pass scores every pixel with it.
        ``split`` is None or ``(train, valid)`` pixel indices (see
        :meth:`_draw`): phase 2 then trains on ``train`` only and monitors
        the loss of ``valid``.
        """
        device = resolve_device(self.device)
        init_gen = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        shuffle_gen = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        valid = None if split is None else PixelSubset(pixels, split[1])
        if warm:
            net = self._continue_net(device, shuffle_gen, valid)
        else:
            module = make_module(
                self.encoder, X_sample.shape[1], self.hidden, self.rep_dim, generator=init_gen
            )
            net = self._build_net(module, device, shuffle_gen, valid)
            net.initialize()
            _statistical_phase(net.module_, X_sample, self.nu, self.whiten_reg)
        train = None if split is None else split[0]
        train_data = pixels if train is None else PixelSubset(pixels, train)
        if self.trim_fraction > 0:
            train_data = self._trim(net.module_, X_sample, pixels, warm, train)
        if self.max_epochs > 0:
            net.partial_fit(train_data, y=None)
            self._after_interruption(net)
        return net

    def _trim(self, module, X_sample, pixels, warm, train=None):
        """Leave the ``trim_fraction`` most outlying training pixels out.

        The cut is the ``1 - trim_fraction`` quantile of the distances of all
        training pixels. On a cold start phase 1 is redone on the sample
        pixels inside the cut (the sample is a subset of the training pixels
        and scores do not depend on batching, so they get the same
        distances); a warm start keeps its statistics and only trains on the
        pixels inside the cut. ``train`` (indices, or None for all) limits
        both the quantile and the result to the training pixels of a
        validation split. Returns the Dataset of those pixels.
        """
        dist2 = -score_dataset(module, pixels)
        train = np.arange(len(dist2)) if train is None else train
        cut = np.quantile(dist2[train], 1 - self.trim_fraction)
        if not warm:
            inside = -score_pixels(module, np.asarray(X_sample)) <= cut
            _statistical_phase(module, X_sample[inside], self.nu, self.whiten_reg)
        return PixelSubset(pixels, train[dist2[train] <= cut])

    def _warm(self):
        """Whether this ``fit`` continues from the fitted state (``warm_start``)."""
        return bool(self.warm_start) and hasattr(self, "net_") and hasattr(self, "offset_")

    def _continue_net(self, device, shuffle_gen, valid=None):
        """A new net with the current parameters around a copy of the fitted module.

        Keeps the module (weights, statistics, centre, radius), Adam's moments
        and the history, copied so that the fitted ``net_`` stays untouched
        until ``fit`` succeeds; ``lr`` and ``weight_decay`` take their
        current values.
        """
        old = self.net_
        requested = make_module(self.encoder, self.n_features_in_, self.hidden, self.rep_dim)
        shapes = {k: v.shape for k, v in requested.state_dict().items()}
        if type(requested) is not type(old.module_) or shapes != {
            k: v.shape for k, v in old.module_.state_dict().items()
        }:
            fitted_encoder = "whiten" if hasattr(old.module_.encoder, "whitening") else (
                "standardize")
            raise ValueError(
                f"warm_start=True continues the fitted network (encoder={fitted_encoder!r}, "
                f"hidden={old.module_.projection[0].weight.shape[0]}, "
                f"rep_dim={old.module_.projection[2].weight.shape[0]}), but "
                f"encoder={self.encoder!r}, hidden={self.hidden}, rep_dim={self.rep_dim} "
                "were requested; set warm_start=False to fit a new network."
            )
        # Continue the shuffling stream instead of replaying the first fit's.
        shuffle_gen.manual_seed(shuffle_gen.initial_seed() + len(old.history))
        net = self._build_net(copy.deepcopy(old.module_), device, shuffle_gen, valid)
        net.initialize()
        if getattr(old, "optimizer_", None) is not None:
            net.optimizer_.load_state_dict(old.optimizer_.state_dict())
            for group in net.optimizer_.param_groups:
                group["lr"], group["weight_decay"] = self.lr, self.weight_decay
        net.history = copy.deepcopy(old.history)
        return net

    def _after_interruption(self, net):
        """Tidy up after phase 2 ended early by divergence or ``KeyboardInterrupt``.

        skorch ends training on ``KeyboardInterrupt`` (early stopping, Ctrl-C,
        :class:`DivergenceGuard`) without re-raising. The history rows past
        the last epoch that :class:`DivergenceGuard` saw end in a good state
        (an epoch cut short, one that diverged) are dropped, so that
        ``history_`` ends with the epoch whose weights are kept (or an
        earlier one restored by early stopping); a divergence is warned.
        """
        guard = dict(net.callbacks_)["divergence_guard"]
        del net.history[guard.last_good_epoch_:]
        if guard.diverged_ is None:
            return
        epoch, batch = guard.diverged_
        where = f"epoch {epoch}" + ("" if batch is None else f", batch {batch}")
        if guard.reason_ == "runaway":
            what = (f"the training loss ran away in {where} (the epoch's loss was "
                    f"{guard.loss_ratio_:.3g} times that of the starting weights)")
        elif guard.reason_ == "collapse":
            what = (f"the distances to the centre collapsed in {where} (every training "
                    "pixel got nearly the same score)")
        else:
            what = f"the training loss or weights became non-finite in {where}"
        restored = f"epoch {guard.last_good_epoch_}" if guard.last_good_epoch_ else "phase 1"
        warnings.warn(
            f"DeepSVDDDetector: {what} of phase 2; training stopped and the weights of "
            f"{restored} were restored. Lower lr (now {self.lr:g}) or scale the input "
            "(e.g. PerPixelUnitNorm or StandardScaler) and refit.",
            TrainingDivergedWarning,
            stacklevel=4,
        )

    def _build_net(self, module, device, shuffle_gen, valid=None):
        """The skorch net around ``module``; ``valid``: the validation pixels, or None."""
        monitor = "train_loss" if valid is None else "valid_loss"
        callbacks = [
            ("hypersphere", HypersphereTracker(
                center_ema=self.center_ema, nu=self.nu, warm_up_epochs=_WARM_UP_EPOCHS
            )),
            ("divergence_guard", DivergenceGuard()),
        ]
        if self.patience is not None:
            callbacks += [
                ("lr_scheduler", LRScheduler(
                    policy="ReduceLROnPlateau", monitor=monitor,
                    patience=max(1, self.patience // 2), factor=0.5, event_name=None,
                )),
                ("early_stopping", EarlyStopping(
                    monitor=monitor, patience=self.patience, threshold=1e-4,
                    load_best=True, sink=_silent,
                )),
            ]
        for i, cb in enumerate(self.callbacks or []):
            name = cb[0] if isinstance(cb, tuple) else f"user_{i}_{type(cb).__name__}"
            cb = cb[1] if isinstance(cb, tuple) else cb
            callbacks.append((name, clone(cb, safe=False)))
        module.encoder.requires_grad_(not self.freeze_encoder)
        return SVDDNet(
            module=module,
            criterion=SVDDLoss(nu=self.nu, objective=self.objective),
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay,
            # One fused kernel for all parameters: a faster optimizer step than
            # torch's per-tensor default (measured in benchmarks/speed.py). Other
            # device types keep torch's default.
            optimizer__fused=True if torch.device(device).type in ("cpu", "cuda") else None,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None if valid is None else predefined_split(valid),
            # Training batches come from SVDDNet's ShuffledBatches (no DataLoader).
            iterator_train__generator=shuffle_gen,
            callbacks=callbacks,
            # Learning rates like 1e-5 need more than PrintLog's default 4 decimals.
            callbacks__print_log__floatfmt=".4g",
            device=device,
            verbose=self.verbose,
        )

    def _restore_fitted(self, fitted, state_dict, device):
        """Make this detector fitted from stored attributes and weights (``sksvdd.load``).

        The one seam through which persistence rebuilds a fitted detector:
        the network is built here, as ``fit`` builds it, so that no other
        module needs its internals.

        Parameters
        ----------
        fitted : dict
            The fitted attributes (``n_features_in_``, ``center_``,
            ``radius_``, ``offset_``, ``n_iter_``, ``history_`` and
            optionally ``feature_names_in_``), already checked for type and
            shape.
        state_dict : dict of str to torch.Tensor
            The network's state dict (``net_.module_.state_dict()``).
        device : str
            A resolved torch device (see :func:`sksvdd._utils.resolve_device`).

        Raises
        ------
        ValueError
            If ``n_iter_`` is not the length of ``history_``, a tensor is not
            finite float32, the tensors do not fit the network of these
            parameters, or ``center_`` / ``radius_`` disagree with them.
            The detector is then unchanged.
        """
        if fitted["n_iter_"] != len(fitted["history_"]):
            raise ValueError("n_iter_ does not match the length of history_.")
        for key, tensor in state_dict.items():
            if tensor.dtype != torch.float32 or not bool(torch.isfinite(tensor).all()):
                raise ValueError(f"weight {key!r} is not finite float32.")
        # The declared sizes (n_features_in_, hidden, rep_dim) are checked against the
        # stored tensors on torch's "meta" device, which allocates nothing, before the
        # network is built: a file cannot make the loader allocate more than it holds.
        with torch.device("meta"):
            skeleton = make_module(self.encoder, fitted["n_features_in_"], self.hidden,
                                   self.rep_dim)
        expected = {key: tuple(t.shape) for key, t in skeleton.state_dict().items()}
        stored = {key: tuple(t.shape) for key, t in state_dict.items()}
        if expected != stored:
            raise ValueError(
                "the weights do not fit the network declared by n_features_in_, hidden and "
                f"rep_dim (expected {len(expected)} tensors of the declared sizes)."
            )
        scale = state_dict.get("encoder.scale0")
        if scale is not None and not bool((scale > 0).all()):
            raise ValueError("the encoder's scale0 must be positive.")
        module = make_module(
            self.encoder, fitted["n_features_in_"], self.hidden, self.rep_dim
        )
        try:
            module.load_state_dict(state_dict, strict=True)
        except RuntimeError as exc:
            raise ValueError(f"the weights do not fit the network ({exc}).") from None
        center = module.center.numpy().astype(np.float64)
        radius = float(module.radius2.sqrt())
        if not (np.array_equal(center, fitted["center_"]) and radius == fitted["radius_"]):
            raise ValueError("center_ / radius_ disagree with the weights.")
        net = self._build_net(module, device, torch.Generator())
        net.initialize()
        net.history = net_history(fitted["history_"])
        _set_fitted(self, {**fitted, "net_": net})

    def score_samples(self, X):
        """Opposite of the squared distance to the centre (higher = more normal).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-||phi(x) - c||^2``; the tutorial's anomaly score is
            ``-scores``.
        """
        check_is_fitted(self)
        X = validate_pixels(self, X, reset=False, dtype=[np.float32, np.float64])
        _check_float32_range(X)
        with torch_threads(self.n_jobs):
            return score_pixels(self.net_.module_, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


# Everything fit sets; fit swaps them in together, or restores the previous ones.
_FITTED_ATTRIBUTES = (
    "n_features_in_", "feature_names_in_", "net_", "center_", "radius_", "offset_", "n_iter_",
    "history_",
)


def _set_fitted(estimator, fitted):
    """Replace all fitted attributes of ``estimator`` by ``fitted`` (absent ones are removed)."""
    state = vars(estimator)
    for key in _FITTED_ATTRIBUTES:
        state.pop(key, None)
    state.update(fitted)


def _statistical_phase(module, X_sample, nu, whiten_reg):
    """Phase 1: encoder statistics, centre and radius of ``module`` from ``X_sample``."""
    with torch.no_grad():
        module.encoder.set_statistics(X_sample, reg=whiten_reg)
        emb = map_batches(module, module, X_sample).to(module.center.device)
        center = initial_center(emb, module.center_eps)
        module.center.copy_(center)
        dist2 = squared_distance(emb, center)
        module.radius2.fill_(radius2_from_quantile(dist2.cpu().numpy(), nu))


def _silent(*args, **kwargs):
    """Sink for skorch messages that would otherwise print regardless of ``verbose``."""


def _check_float32_range(X):
    """Raise ValueError when finite values of ``X`` overflow float32 (the network's dtype)."""
    if X.dtype != np.float32 and X.size:
        limit = np.finfo(np.float32).max
        if X.max() > limit or X.min() < -limit:
            raise ValueError(
                f"Input values exceed float32 range (|x| > {limit:.3g}), which the "
                "network computes in; rescale the data (e.g. divide by a constant)."
            )
