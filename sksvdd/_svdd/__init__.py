"""Deep SVDD: the estimator, its torch network and its skorch training machinery.

- ``_detector``: :class:`DeepSVDDDetector`, the scikit-learn estimator (validation,
  the two phases, the threshold).
- ``_network``: the torch module (statistical encoder, projection, hypersphere buffers).
- ``_training``: the skorch net, the loss and the centre / radius / divergence callbacks.
"""

from ._detector import DeepSVDDDetector
from ._training import TrainingDivergedWarning

__all__ = ["DeepSVDDDetector", "TrainingDivergedWarning"]
