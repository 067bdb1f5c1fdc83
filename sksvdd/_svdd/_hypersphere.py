"""The Deep SVDD algorithm on embeddings: distance, centre, radius and loss, one place each.

Everything that computes one of these (the network's scoring, the skorch
net's loss, the callbacks that move the centre and the radius, the
statistical phase) calls the functions here.
"""

import numpy as np
import torch

# Centre coordinates closer to zero than this are pushed out (Ruff et al. use 0.1).
CENTER_EPS = 0.1


def squared_distance(emb, center):
    """``||emb_i - c||^2`` for each row ``i`` of a batch of embeddings."""
    return ((emb - center) ** 2).sum(dim=1)


def initial_center(emb, eps=CENTER_EPS):
    """The phase-1 centre: the mean embedding, pushed at least ``eps`` from zero (Ruff et al.).

    ``eps=0`` keeps the mean embedding (for a network that cannot collapse
    onto a zero centre, see ``WhitenedSVDDModule``).
    """
    center = emb.mean(dim=0)
    return _push_from_zero(center, eps) if eps > 0 else center


def update_center_(center, emb, weight):
    """Move ``center`` in place towards the batch's mean embedding (moving average).

    ``c <- (1 - weight) * c + weight * mean(emb)``. Only the phase-1 centre
    is pushed away from zero (see :class:`HypersphereTracker
    <sksvdd._svdd._training.HypersphereTracker>`).
    """
    return center.lerp_(emb.mean(dim=0), weight)


def radius2_from_quantile(dist2, nu):
    """``R^2`` as the ``(1 - nu)`` quantile of squared distances (NumPy, float64)."""
    return float(np.quantile(np.asarray(dist2, dtype=np.float64), 1 - nu))


def svdd_loss(dist2, radius2, nu, objective):
    """Deep SVDD objective on a batch of squared distances.

    ``one-class``: ``mean(d)``; ``soft-boundary``:
    ``R^2 + (1 / nu) * mean(max(0, d - R^2))`` with ``d = ||phi(x) - c||^2``.
    """
    if objective == "one-class":
        return dist2.mean()
    return radius2 + torch.clamp(dist2 - radius2, min=0).mean() / nu


def _push_from_zero(center, eps):
    """Move centre coordinates with ``|c_i| < eps`` to ``+-eps`` (Ruff et al.).

    A coordinate near zero can be matched by zero weights, which is the
    first step towards the collapsed solution. Exact zeros go to ``+eps``.
    """
    small = center.abs() < eps
    signs = torch.where(center < 0, -1.0, 1.0).to(center.dtype)
    return torch.where(small, signs * eps, center)
