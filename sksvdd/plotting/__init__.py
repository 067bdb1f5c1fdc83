"""Display objects for anomaly maps, detections and training, in scikit-learn's style.

Like :class:`sklearn.metrics.RocCurveDisplay`: ``from_estimator`` and
``from_predictions`` build and plot a display; ``plot`` re-draws it from the
data kept on the object, and sets the artists as attributes ending in ``_``.
Needs matplotlib (``pip install 'sksvdd[plot]'``), imported only to plot.
"""

from ._displays import (
    AnomalyMaskDisplay,
    ScoreMapDisplay,
    TrainingHistoryDisplay,
    false_color_rgb,
)

__all__ = ["AnomalyMaskDisplay", "ScoreMapDisplay", "TrainingHistoryDisplay", "false_color_rgb"]
