"""
===========================================
Comparing anomaly detectors with ROC curves
===========================================

Deep SVDD (with and without spatial context), the classical RX detector,
scikit-learn's IsolationForest and OneClassSVM, each fitted on the pixels of
the built-in scene without labels and graded against its ground truth.

Every detector follows scikit-learn's convention, ``score_samples``: higher =
more normal, so the anomaly score passed to
:meth:`sklearn.metrics.RocCurveDisplay.from_predictions` is
``-score_samples``. The benchmark over nine real scenes is in
:doc:`/comparison`.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import RocCurveDisplay
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from sksvdd import RXDetector, make_default_detector
from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
from sksvdd.metrics import detection_report, format_table

scene = make_hyperspectral_scene(random_state=0)
X = cube_to_pixels(scene.cube)
y = scene.mask.ravel().astype(int)

# %%
# The detectors
# -------------
# As in ``benchmarks/quality.py``: defaults everywhere, and OneClassSVM
# (whose fit grows quadratically with the pixels) on a 2000-pixel subsample.
# The two sksvdd detectors are image-level (they take the cube, and the
# spatial one looks at each pixel's neighbours); the others take pixels.
image_level = {
    "sksvdd": make_default_detector(random_state=0),
    "sksvdd (spectral)": make_default_detector(spatial=False, random_state=0),
}
detectors = {
    **image_level,
    "RX": RXDetector(),
    "IsolationForest": IsolationForest(random_state=0),
    "OneClassSVM": make_pipeline(StandardScaler(), OneClassSVM(nu=0.1)),
}

subsample = np.random.RandomState(0).choice(len(X), 2000, replace=False)
fit_rows = {"OneClassSVM": subsample}      # every other detector fits on all pixels

scores, reports = {}, {}
for name, detector in detectors.items():
    data = scene.cube if name in image_level else X
    tic = time.perf_counter()
    detector.fit(data if name in image_level else X[fit_rows.get(name, slice(None))])
    fit_time = time.perf_counter() - tic
    scores[name] = -detector.score_samples(data).ravel()          # anomaly score
    flagged = (detector.predict(data) == -1).ravel()
    reports[name] = detection_report(y, scores[name], decisions=flagged)
    print(f"{name:>18}: fitted in {fit_time:.1f} s")

# %%
# Metrics
# -------
# AUROC and average precision judge the ranking at every threshold; IoU,
# precision and recall judge each detector's own fitted threshold (one row
# per detector; :func:`~sksvdd.metrics.format_table` calls the rows scenes).
print(format_table(reports))

# %%
# ROC curves
# ----------
fig, ax = plt.subplots(figsize=(6, 5))
for name, score in scores.items():
    RocCurveDisplay.from_predictions(y, score, name=name, ax=ax)
ax.set(title="Built-in scene: pixel ROC curves")
ax.set_xscale("log")
ax.set_xlim(1e-4, 1)
ax.set_aspect("auto")              # RocCurveDisplay makes the axes square for a linear FPR
ax.legend(loc="lower right")
fig.tight_layout()

# %%
# With a log-scaled false-positive rate, the left part of the curves shows
# what matters for anomaly maps: how many targets a detector finds before it
# raises its first false alarms. On one synthetic scene the ranking of
# detectors is not a verdict; see :doc:`/comparison` for nine real scenes.
plt.show()
