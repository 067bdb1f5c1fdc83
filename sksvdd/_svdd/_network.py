"""Torch modules of the Deep SVDD network: statistical encoder, projection, hypersphere."""

import math

import torch
from torch import nn

from ._hypersphere import squared_distance


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

    def forward(self, x):
        return self.projection(self.encoder(x))

    def dist2(self, x):
        """Squared distance of the embeddings of ``x`` to the centre."""
        return squared_distance(self(x), self.center)

