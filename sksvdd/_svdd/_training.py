"""Phase-2 training machinery: the skorch net, its datasets and its callbacks.

The public estimator (:class:`sksvdd.DeepSVDDDetector`) owns an instance of
:class:`SVDDNet` as ``net_``; nothing here is public API. The algorithm's
pieces (distance, centre, radius, loss) live in :mod:`._hypersphere`.
"""

import math
import os
import sys

import numpy as np
import torch
from sklearn.utils import assert_all_finite
from skorch import NeuralNet
from skorch.callbacks import Callback, PrintLog
from skorch.dataset import unpack_data
from skorch.utils import Ansi
from torch import nn

from ._hypersphere import radius2_from_quantile, squared_distance, svdd_loss, update_center_

# An epoch whose loss exceeds this multiple of the loss of the weights training started
# from has run away (a far too large lr), even when every value stays finite.
RUNAWAY_FACTOR = 1e3
# Training pixels whose distances are checked for a collapse at the end of every epoch.
_PROBE_ROWS = 256
# Distances whose spread is below this fraction of their size count as all equal.
_CONSTANT_RTOL = 1e-6
# Distances below this fraction of their size at the start of training count as zero.
_VANISHED_RTOL = 1e-9


class SVDDLoss(nn.Module):
    """Criterion module wrapping :func:`~._hypersphere.svdd_loss` for skorch."""

    def __init__(self, nu=0.1, objective="soft-boundary"):
        super().__init__()
        self.nu = nu
        self.objective = objective

    def forward(self, dist2, radius2):
        return svdd_loss(dist2, radius2, self.nu, self.objective)


class SVDDNet(NeuralNet):
    """skorch net whose loss is the distance of the embedding to the module's centre.

    There is no target: ``y`` is ignored and the loss reads the centre and
    radius from the module's buffers, so both travel with its state dict.
    A training step returns the batch's squared distances with the loss and
    the embeddings, so that callbacks (:class:`HypersphereTracker`,
    :class:`DivergenceGuard`) receive them in ``on_batch_end(..., dist2=...)``
    instead of computing them again. Training batches come from
    :class:`ShuffledBatches` instead of a DataLoader.
    """

    def train_step_single(self, batch, **fit_params):
        """Forward, loss and backward of one training batch.

        Returns
        -------
        step : dict
            skorch's ``{"loss": loss, "y_pred": embeddings}`` plus
            ``"dist2"``, the batch's squared distances to the centre
            (detached). skorch passes the dict to ``on_batch_end``.
        """
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        dist2, loss = self._objective(y_pred)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred, "dist2": dist2.detach()}

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self._objective(y_pred)[1]

    def _objective(self, y_pred):
        dist2 = squared_distance(y_pred, self.module_.center)
        return dist2, self.criterion_(dist2, self.module_.radius2)

    def get_iterator(self, dataset, training=False):
        if not training:
            if isinstance(dataset, (PixelDataset, PixelSubset, CheckedPixels)):
                # The validation pixels (validation_fraction): in order, a batch per read.
                return OrderedBatches(dataset, self.batch_size)
            return super().get_iterator(dataset, training=training)
        generator = self.get_params_for("iterator_train").get("generator")
        return ShuffledBatches(dataset, self.batch_size, generator)

    def get_default_callbacks(self):
        return [(name, TerminalPrintLog() if name == "print_log" else callback)
                for name, callback in super().get_default_callbacks()]


class TerminalPrintLog(PrintLog):
    """skorch's per-epoch table, coloured only when it is printed to a terminal.

    skorch's :class:`~skorch.callbacks.PrintLog` always highlights the best
    values with ANSI colour codes, which end up as escape sequences in log
    files and pipes. Here they are written only when the sink is ``print``
    and ``sys.stdout`` (looked up at each epoch, so a redirection applies) is
    a terminal, and never when the ``NO_COLOR`` environment variable is set.
    """

    def format_row(self, row, key, color):
        if _colour(self.sink):
            return super().format_row(row, key, color)
        text = super().format_row(row, key, color="")
        return text.removesuffix(Ansi.ENDC.value) if isinstance(text, str) else text


def _colour(sink):
    if sink is not print or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(sys.stdout, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class ShuffledBatches:
    """Training mini-batches: one ``torch.randperm`` per epoch, cut into batches.

    Each batch is fetched with one ``dataset.__getitems__(indices)`` call
    (an index tensor), so in-memory pixels are one fancy-index operation
    and streamed pixels one read; there is no DataLoader, sampler or
    collate step per batch (see ``benchmarks/speed.py``). The same
    permutation for in-memory and streamed datasets keeps ``fit`` and
    :func:`sksvdd.parallel.fit_out_of_core` bit-identical.
    """

    def __init__(self, dataset, batch_size, generator=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        perm = torch.randperm(len(self.dataset), generator=self.generator)
        for start in range(0, len(perm), self.batch_size):
            yield self.dataset.__getitems__(perm[start : start + self.batch_size])


class OrderedBatches(ShuffledBatches):
    """Evaluation mini-batches in the dataset's order, each fetched with one read."""

    def __iter__(self):
        for start in range(0, len(self.dataset), self.batch_size):
            stop = min(start + self.batch_size, len(self.dataset))
            yield self.dataset.__getitems__(torch.arange(start, stop))


class PixelDataset(torch.utils.data.Dataset):
    """Float32 pixels in memory, served a whole batch at a time.

    ``__getitems__`` fetches a batch with one fancy-index operation
    (:class:`ShuffledBatches` calls it with an index tensor); ``slice``
    returns a run of pixels without a copy (the scoring passes of ``fit``).
    """

    def __init__(self, X):
        self.X = torch.as_tensor(X)

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        return self.X[i], 0

    def __getitems__(self, indices):
        return self.X[torch.as_tensor(indices)], None

    def slice(self, start, stop):
        return self.X[start:stop].numpy()


class PixelSubset(torch.utils.data.Dataset):
    """The pixels ``indices`` of a pixel dataset (:class:`PixelDataset` or another).

    Like ``torch.utils.data.Subset``, but batches are fetched with the
    dataset's own ``__getitems__`` in one call.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[i])]

    def __getitems__(self, indices):
        return self.dataset.__getitems__(self.indices[np.asarray(indices, dtype=np.int64)])


class CheckedPixels(torch.utils.data.Dataset):
    """A user's pixel Dataset as ``fit`` reads it: every read checked to be finite.

    Wraps a dataset that follows the protocol of ``DeepSVDDDetector.fit``
    (``__len__`` and ``__getitems__(indices) -> (float32 tensor, None)``)
    and gives it the optional reads it may lack: ``take(sorted_indices)``
    (the phase-1 sample, in the stored dtype when the dataset offers
    ``take``) and ``slice(start, stop)`` (the scoring passes, contiguous
    when the dataset offers ``slice``). Every batch and chunk read is
    checked for NaN and infinity (ValueError naming ``X``), so a bad pixel
    stops ``fit`` at the first read that meets it.
    """

    def __init__(self, dataset, estimator_name="DeepSVDDDetector"):
        self.dataset = dataset
        self.estimator_name = estimator_name

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset[i]

    def __getitems__(self, indices):
        if hasattr(self.dataset, "__getitems__"):
            batch, _ = self.dataset.__getitems__(indices)
        else:  # a map-style Dataset with __getitem__ only
            batch = torch.stack([torch.as_tensor(self.dataset[int(i)][0]) for i in indices])
        self._check(batch)
        return batch, None

    def take(self, indices):
        """Pixels ``indices`` (sorted) as a NumPy array, in the stored dtype where possible."""
        if hasattr(self.dataset, "take"):
            return np.asarray(self.dataset.take(indices))
        return self.__getitems__(indices)[0].cpu().numpy()

    def slice(self, start, stop):
        """Pixels ``start:stop`` as a NumPy array."""
        if hasattr(self.dataset, "slice"):
            chunk = np.asarray(self.dataset.slice(start, stop))
            self._check(chunk)
            return chunk
        return self.__getitems__(np.arange(start, stop))[0].cpu().numpy()

    def _check(self, batch):
        if isinstance(batch, torch.Tensor):
            if bool(torch.isfinite(batch).all()):
                return
            batch = batch.cpu().numpy()
        assert_all_finite(batch, input_name="X", estimator_name=self.estimator_name)


class HypersphereTracker(Callback):
    """Centre EMA after every batch, radius from the distance quantile after each epoch.

    - After each training batch: ``c <- (1 - center_ema) * c +
      center_ema * mean_batch(phi(x))`` (detached). Only the phase-1 centre
      is pushed away from zero: pushing the moving centre too pins it at
      ``+-CENTER_EPS`` while the embeddings shrink, which turns the distance
      into a nearly linear score (see ``benchmarks/README.md``).
    - After each epoch from ``warm_up_epochs`` on: ``R^2`` is the
      ``(1 - nu)`` quantile of the squared distances seen in that epoch
      (Ruff et al. set it from the same quantile instead of learning it).
    - Records ``radius`` (after the update), ``center_shift`` (L2 norm of
      the centre's move in the epoch), ``outside_frac`` (fraction of the
      epoch's pixels outside the sphere the epoch was trained with) and
      ``lr`` in the net's history.
    """

    def __init__(self, center_ema=0.1, nu=0.1, warm_up_epochs=2):
        self.center_ema = center_ema
        self.nu = nu
        self.warm_up_epochs = warm_up_epochs

    def on_epoch_begin(self, net, **kwargs):
        self._dists = []
        self._center_start = net.module_.center.detach().clone()

    def on_batch_end(self, net, training=False, y_pred=None, dist2=None, **kwargs):
        if not training:
            return
        # dist2: the batch's distances, returned by SVDDNet.train_step_single.
        self._dists.append(dist2)
        if self.center_ema > 0:
            with torch.no_grad():
                update_center_(net.module_.center, y_pred.detach(), self.center_ema)

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        with torch.no_grad():
            dist2 = torch.cat(self._dists)
            # Against the radius the epoch was trained with, before it is updated.
            outside = float((dist2 > module.radius2).double().mean())
            if len(net.history) >= self.warm_up_epochs:
                module.radius2.fill_(radius2_from_quantile(dist2.cpu().numpy(), self.nu))
            shift = float(torch.linalg.vector_norm(module.center - self._center_start))
        net.history.record("radius", float(module.radius2.sqrt()))
        net.history.record("center_shift", shift)
        net.history.record("outside_frac", outside)
        net.history.record("lr", float(net.optimizer_.param_groups[0]["lr"]))
        self._dists = []


class TrainingDivergedWarning(RuntimeWarning):
    """Phase 2 diverged; training stopped at the last good state.

    Warned by :meth:`DeepSVDDDetector.fit <sksvdd.DeepSVDDDetector.fit>`
    when the gradient phase diverges, usually because ``lr`` is far too
    large or the input is not scaled: at the first non-finite batch loss
    (or non-finite weights after an epoch), when an epoch's loss runs away
    (more than 1000 times the loss of the weights training started from,
    even if it stays finite), or when the training pixels' distances to the
    centre collapse to one value (every score the same). The weights of the
    last good epoch (or of phase 1) are restored, so the detector is fitted
    and usable; the message says what happened, where training stopped and
    what to change. It is a ``RuntimeWarning``:
    turn it into an error with :func:`warnings.simplefilter`.

    See Also
    --------
    sksvdd.DeepSVDDDetector : The detector that warns it.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> from sksvdd import DeepSVDDDetector, TrainingDivergedWarning
    >>> X = np.random.RandomState(0).normal(size=(600, 8)).astype(np.float32)
    >>> det = DeepSVDDDetector(lr=1e6, max_epochs=3, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = det.fit(X)
    >>> [w.category.__name__ for w in caught]
    ['TrainingDivergedWarning']
    >>> det.n_iter_, det.history_  # diverged in epoch 1: the phase-1 weights are kept
    (0, [])
    >>> bool(np.isfinite(det.score_samples(X)).all())
    True

    As an error, to stop instead of going on with the restored weights:

    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", TrainingDivergedWarning)
    ...     try:
    ...         det.fit(X)
    ...     except TrainingDivergedWarning as exc:
    ...         print(str(exc)[:62])
    DeepSVDDDetector: the training loss or weights became non-fini
    """


class DivergenceGuard(Callback):
    """Stop phase 2 when it diverges, and keep weights and history consistent.

    A copy of the module's state dict (weights, encoder statistics, centre
    and radius) is kept from the start of training and after every epoch
    that ends in a good state. Training has diverged when

    - ``"non-finite"``: a training batch's loss is not finite, or the state
      is not finite at the end of an epoch;
    - ``"runaway"``: an epoch's loss exceeds ``RUNAWAY_FACTOR`` times the
      loss of the first batch, i.e. of the weights training started from
      (a far too large ``lr`` can drive the loss up by many orders of
      magnitude while every value stays finite);
    - ``"collapse"``: at the end of an epoch the distances of up to
      ``_PROBE_ROWS`` training pixels (the first ones trained on) are all
      nearly equal, or all nearly zero, although they were not at the start
      (every pixel would get the same score).

    The copy is then restored and ``KeyboardInterrupt`` raised, which
    skorch's ``partial_fit`` catches to end training cleanly
    (``on_train_end`` still runs, so early stopping may restore an even
    better epoch). ``diverged_`` is then ``(epoch, batch)`` (batch ``None``
    when found at the epoch end), ``reason_`` one of the names above,
    ``loss_ratio_`` the runaway epoch's loss over the starting loss, and
    ``last_good_epoch_`` the epoch whose state was restored (0: phase 1).
    The caller reports it; this callback does not warn.

    When training ends inside an epoch for any other reason (Ctrl-C, or a
    callback raising ``KeyboardInterrupt`` mid-epoch), the state of the last
    completed epoch is restored at ``on_train_end``, so that the weights are
    those of the history's last complete epoch.
    """

    def on_train_begin(self, net, **kwargs):
        self.diverged_ = None
        self.reason_ = None
        self.loss_ratio_ = None
        self.last_good_epoch_ = len(net.history)
        self._good_state = _copy_state(net.module_)
        self._in_epoch = False
        self._start_loss = None
        self._probe, self._probe_dist2 = [], []

    def on_epoch_begin(self, net, **kwargs):
        self._batch = 0
        self._in_epoch = True

    def on_batch_end(self, net, batch=None, training=False, loss=None, dist2=None, **kwargs):
        if not training:
            return
        self._batch += 1
        # skorch has just recorded this batch's loss.item() in the history:
        # reading that float is cheaper than another tensor operation.
        recorded = net.history[-1, "batches", -1].get("train_loss")
        if recorded is None and loss is not None:
            recorded = float(loss.detach())
        if recorded is not None and not math.isfinite(recorded):
            self._stop(net, self._batch, "non-finite")
        if self._start_loss is None:
            self._start_loss = recorded
        if dist2 is not None and batch is not None:
            self._keep_probe(batch[0], dist2)

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        if not all(bool(torch.isfinite(t).all()) for t in module.state_dict().values()):
            self._stop(net, None, "non-finite")
        loss = net.history[-1].get("train_loss")
        if loss is not None and self._start_loss is not None and self._start_loss > 0:
            ratio = loss / self._start_loss
            if ratio > RUNAWAY_FACTOR:
                self.loss_ratio_ = ratio
                self._stop(net, None, "runaway")
        if self._probe and _collapsed(module, self._probe, self._probe_dist2):
            self._stop(net, None, "collapse")
        self._good_state = _copy_state(module)
        self.last_good_epoch_ = len(net.history)
        self._in_epoch = False

    def on_train_end(self, net, **kwargs):
        if self._in_epoch:
            net.module_.load_state_dict(self._good_state)

    def _keep_probe(self, X, dist2):
        """Keep the first ``_PROBE_ROWS`` training pixels and their distances at the start."""
        have = sum(len(x) for x in self._probe)
        if have < _PROBE_ROWS:
            take = _PROBE_ROWS - have
            self._probe.append(X[:take].detach().clone())
            self._probe_dist2.append(dist2[:take].detach().clone())

    def _stop(self, net, batch, reason):
        net.module_.load_state_dict(self._good_state)
        self.diverged_ = (len(net.history), batch)
        self.reason_ = reason
        raise KeyboardInterrupt


def _collapsed(module, probe, start_dist2):
    """Whether the probe pixels' distances became all equal or all ~0 (and were not at first)."""
    start = torch.cat(start_dist2).double()
    spread = float(start.max() - start.min())
    if not spread > _CONSTANT_RTOL * float(start.abs().max()):
        return False  # e.g. identical pixels: nothing to judge
    with torch.no_grad():
        x = torch.cat(probe).to(module.center.device)
        now = module.dist2(x).double()
    size = float(now.abs().max())
    equal = float(now.max() - now.min()) <= _CONSTANT_RTOL * size
    vanished = size <= _VANISHED_RTOL * float(start.max())
    return equal or vanished


def _copy_state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}
