"""Torch modules of the Deep SVDD network: statistical encoder, projection, hypersphere.

Two networks, chosen by ``DeepSVDDDetector(encoder=...)`` through
:func:`make_module`: :class:`DeepSVDDModule` (per-band standardisation and a
random projection) and :class:`WhitenedSVDDModule` (Mahalanobis whitening and
a correction that starts at zero).
"""

import math

import numpy as np
import torch
from torch import nn

from ._hypersphere import CENTER_EPS, squared_distance

# Bands whose sampled standard deviation is below this are not rescaled.
_MIN_SCALE = 1e-12
# Relative ridge of the whitening: the default ``reg`` of RXDetector, with the same
# trace scaling, so that the whitened distance is RXDetector's score.
WHITEN_REG = 1e-6


def make_module(encoder, n_features, hidden, rep_dim, generator=None):
    """The network of ``DeepSVDDDetector(encoder=encoder, hidden=..., rep_dim=...)``."""
    cls = WhitenedSVDDModule if encoder == "whiten" else DeepSVDDModule
    return cls(n_features, hidden, rep_dim, generator=generator)


class StatEncoder(nn.Module):
    """Per-band standardisation ``(x - mean) / scale`` with trainable statistics.

    The statistics ``mean0`` and ``scale0`` are filled in by the statistical
    phase (from data, no gradients). Phase 2 may fine-tune them through two
    trainable offsets expressed in units of the data's own scale::

        mean  = mean0 + scale0 * delta_mean
        scale = scale0 * exp(delta_log_scale)

    so that an optimiser step of a given size means the same thing for
    bands measured in raw counts or in unit-normalised reflectance, and the
    scale stays positive. Weight decay on the offsets pulls the statistics
    back towards the data's. Both offsets start at zero, so right after
    phase 1 ``mean == mean0`` and ``scale == scale0`` exactly.
    """

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("mean0", torch.zeros(n_features))
        self.register_buffer("scale0", torch.ones(n_features))
        self.delta_mean = nn.Parameter(torch.zeros(n_features))
        self.delta_log_scale = nn.Parameter(torch.zeros(n_features))

    @property
    def mean(self):
        return self.mean0 + self.scale0 * self.delta_mean

    @property
    def scale(self):
        return self.scale0 * torch.exp(self.delta_log_scale)

    def forward(self, x):
        return (x - self.mean) / self.scale

    def set_statistics(self, X_sample, reg=None):
        """Per-band mean and standard deviation of ``X_sample`` (offsets untouched).

        ``reg`` (the whitening's ridge) is ignored: there is no covariance here.
        """
        mean = X_sample.mean(axis=0, dtype=np.float64)
        scale = X_sample.std(axis=0, dtype=np.float64)
        scale[~(scale > _MIN_SCALE)] = 1.0
        self.mean0.copy_(torch.as_tensor(mean))
        self.scale0.copy_(torch.as_tensor(scale))


class DeepSVDDModule(nn.Module):
    """Encoder -> Linear -> ReLU -> Linear, plus the hypersphere it maps into.

    None of the linear layers has a bias. Ruff et al. (2018, Prop. 2) show
    that a bias lets the network reach the trivial optimum (a constant map
    onto the centre ``c``): with biases, zero weights and a bias equal to
    ``c`` give zero loss for every input. Without biases a constant output
    can only be zero, and the centre is kept away from zero (see
    ``_hypersphere.initial_center``), so the collapse is not reachable. One caveat:
    when the encoder's statistics are trainable (``freeze_encoder=False``)
    the trainable mean acts like a bias of the first layer. Its offset is
    measured in units of the data's scale and is under weight decay, which
    keeps it near the data's mean; the test suite guards that the fitted
    scores do not collapse.

    The centre ``center`` and the squared radius ``radius2`` are buffers, so
    they travel with ``state_dict`` (best-weight restoring, checkpoints,
    pickling) together with the weights they belong to.

    Parameters
    ----------
    n_features : int
        Number of input bands.
    hidden : int
        Width of the hidden layer.
    rep_dim : int
        Dimension of the embedding (the hypersphere's space).
    generator : torch.Generator, optional
        Source of randomness for the weight initialisation.
    """

    def __init__(self, n_features, hidden, rep_dim, generator=None):
        super().__init__()
        self.encoder = StatEncoder(n_features)
        self.projection = nn.Sequential(
            nn.Linear(n_features, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, rep_dim, bias=False),
        )
        for layer in self.projection:
            if isinstance(layer, nn.Linear):
                # Same law as torch's default Linear init, drawn from our generator.
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        self.register_buffer("center", torch.zeros(rep_dim))
        self.register_buffer("radius2", torch.zeros(()))

    # The phase-1 centre's coordinates are pushed at least this far from zero.
    center_eps = CENTER_EPS

    def forward(self, x):
        return self.projection(self.encoder(x))

    def dist2(self, x):
        """Squared distance of the embeddings of ``x`` to the centre."""
        return squared_distance(self(x), self.center)



class WhitenEncoder(nn.Module):
    """Mahalanobis whitening ``z = W (x - mean)``, fixed by the statistical phase.

    ``W = Lambda^(-1/2) U^T`` from the eigendecomposition ``U Lambda U^T``
    (float64) of the sample covariance plus the ridge ``WHITEN_REG *
    trace / n_features`` that :class:`~sksvdd.RXDetector` adds, rows in
    decreasing order of variance, so that ``||z||^2`` is RXDetector's
    Mahalanobis distance and ``z``'s first coordinates are the principal
    ones. Every component is kept: the low-variance ones are where RX finds
    most anomalies, so dropping them would lose exactly what whitening is
    for. ``mean`` and ``whitening`` are buffers, not trainable (see
    :class:`WhitenedSVDDModule`).
    """

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("whitening", torch.eye(n_features))

    def forward(self, x):
        return nn.functional.linear(x - self.mean, self.whitening)

    def set_statistics(self, X_sample, reg=WHITEN_REG):
        """Mean and ridge-regularised whitening matrix of ``X_sample`` (float64).

        ``reg``: the relative ridge (``DeepSVDDDetector(whiten_reg=...)``),
        as :class:`~sksvdd.RXDetector`'s ``reg``.
        """
        X = np.asarray(X_sample, dtype=np.float64)
        mean = X.mean(axis=0)
        centered = X - mean
        cov = centered.T @ centered / X.shape[0]
        scale = np.trace(cov) / cov.shape[0]
        ridge = reg * scale if scale > 0 else 1.0
        cov[np.diag_indices_from(cov)] += max(ridge, np.finfo(np.float64).tiny)
        eigval, eigvec = np.linalg.eigh(cov)
        order = np.argsort(eigval)[::-1]
        # Rounding can leave an eigenvalue a hair below the ridge (never below zero).
        eigval = np.maximum(eigval[order], max(ridge, np.finfo(np.float64).tiny))
        whitening = eigvec[:, order].T / np.sqrt(eigval)[:, None]
        self.mean.copy_(torch.as_tensor(mean))
        self.whitening.copy_(torch.as_tensor(whitening))


class WhitenedSVDDModule(nn.Module):
    """Whitening plus a learned correction: ``phi(x) = z + [g(z), 0]``, ``z = W (x - mean)``.

    ``g`` is ``Linear(n_features, hidden) -> ReLU -> Linear(hidden, r)``
    without biases, ``r = min(rep_dim, n_features)``, and its output is
    added to the first ``r`` (principal) coordinates of ``z``. Its last
    layer starts at zero, so after the statistical phase ``phi(x) = z`` and
    ``||phi(x) - c||^2`` with ``c`` the mean embedding (zero up to rounding:
    the sample is whitened about its own mean) is RXDetector's Mahalanobis
    distance. Phase 2 can only bend the ``r`` leading coordinates; the
    other ``n_features - r`` keep the Mahalanobis distance of their
    subspace.

    Collapse guard (Ruff et al., Prop. 2, without pushing the centre from
    zero): the whitening is a fixed buffer and the correction is added to
    ``z`` rather than replacing it, so zero weights give ``phi(x) = z``,
    not a constant. When ``r < n_features`` the trailing coordinates of
    ``phi(x)`` equal those of ``z`` whatever the weights, so the distances
    cannot become constant. Pushing the centre to ``+-CENTER_EPS`` per
    coordinate (as :class:`DeepSVDDModule` needs) would add the linear term
    ``-2 c^T z`` to RX's score and break the phase-1 equality; it is not
    needed here, so ``center_eps`` is 0.

    Parameters
    ----------
    n_features : int
        Number of input bands (and the embedding's dimension).
    hidden : int
        Width of the correction's hidden layer.
    rep_dim : int
        Number of leading whitened coordinates the correction may change
        (at most ``n_features``).
    generator : torch.Generator, optional
        Source of randomness for the first layer's initialisation.
    """

    center_eps = 0.0

    def __init__(self, n_features, hidden, rep_dim, generator=None):
        super().__init__()
        self.encoder = WhitenEncoder(n_features)
        self.n_bent = min(rep_dim, n_features)
        self.projection = nn.Sequential(
            nn.Linear(n_features, hidden, bias=False),
            nn.ReLU(),
            nn.Linear(hidden, self.n_bent, bias=False),
        )
        nn.init.kaiming_uniform_(self.projection[0].weight, a=math.sqrt(5), generator=generator)
        nn.init.zeros_(self.projection[2].weight)
        self.register_buffer("center", torch.zeros(n_features))
        self.register_buffer("radius2", torch.zeros(()))

    def forward(self, x):
        z = self.encoder(x)
        bent = z[:, : self.n_bent] + self.projection(z)
        return torch.cat([bent, z[:, self.n_bent :]], dim=1)

    def dist2(self, x):
        """Squared distance of the embeddings of ``x`` to the centre."""
        return squared_distance(self(x), self.center)
