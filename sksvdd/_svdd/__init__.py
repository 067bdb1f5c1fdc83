"""Deep SVDD: the estimator, its torch network and its skorch training machinery.

- ``_detector``: :class:`DeepSVDDDetector`, the scikit-learn estimator (validation,
  the two phases, the threshold).
- ``_hypersphere``: the algorithm on embeddings, one function each: distance, centre
  (initialisation and moving average), radius, loss.
- ``_network``: the torch module (statistical encoder, projection, hypersphere buffers).
- ``_training``: the skorch net, its pixel datasets and the centre / radius / divergence
  callbacks.
- ``_scoring``: fixed-size batched forward passes (embeddings, scores).
- ``_history``: the one mapping between skorch's history keys and ``history_``'s.
"""

from ._detector import DeepSVDDDetector
from ._training import TrainingDivergedWarning

__all__ = ["DeepSVDDDetector", "TrainingDivergedWarning"]
