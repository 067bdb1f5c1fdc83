"""Display objects for anomaly maps, detections and training, in scikit-learn's style.

Like :class:`sklearn.metrics.RocCurveDisplay`: ``from_estimator`` and
``from_predictions`` build and plot a display; ``plot`` re-draws it from the
data kept on the object, and sets the artists as attributes ending in ``_``.
Needs matplotlib (``pip install 'sksvdd[plot]'``), imported only to plot.
"""

from ._anomaly_mask import AnomalyMaskDisplay, false_color_rgb
from ._score_map import ScoreMapDisplay
from ._training_history import TrainingHistoryDisplay

__all__ = ["AnomalyMaskDisplay", "ScoreMapDisplay", "TrainingHistoryDisplay", "false_color_rgb"]
