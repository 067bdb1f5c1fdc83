"""Anomaly-detection metrics, scorers for model selection and per-scene tables.

Conventions, as everywhere in sksvdd: ``y_true`` is the anomaly mask
(1 / True = anomaly, 0 / False = normal); ``scores`` are *anomaly* scores
(higher = more anomalous), i.e. ``-estimator.score_samples(X)``; ``decisions``
are predicted anomalies (1 / True = anomaly), i.e. ``estimator.predict(X) == -1``.

Two levels: pixel metrics (:func:`detection_report`: AUROC, AP, and IoU,
precision, recall at a fitted threshold) and object metrics
(:func:`object_detection_report`: connected regions of the ground truth hit
or missed, false alarms per image), which need the images' shapes.
"""

from collections.abc import Mapping
from numbers import Real

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    jaccard_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from ._object_metrics import mask_images as _mask_images
from ._object_metrics import maps as _maps
from ._object_metrics import object_detection_report
from ._utils import check_mask

__all__ = [
    "anomaly_scorer",
    "detection_report",
    "format_table",
    "object_detection_report",
    "summarize_scenes",
]

# Metrics computed from the continuous scores (threshold-free rankings).
_RANKING_METRICS = {
    "roc_auc": roc_auc_score,
    "average_precision": average_precision_score,
}
# Metrics computed from the binary decisions; zero_division=0 so that a
# detector flagging nothing scores 0 instead of warning.
_THRESHOLD_METRICS = {
    "iou": jaccard_score,
    "precision": precision_score,
    "recall": recall_score,
    "f1": f1_score,
}
# Object metrics (image-level estimators only), as scorers: greater is better.
_OBJECT_METRICS = {"detection_rate": 1.0, "neg_false_alarms": -1.0}
_METRIC_NAMES = tuple(_RANKING_METRICS) + tuple(_THRESHOLD_METRICS) + tuple(_OBJECT_METRICS)
_SUMMARY_ROWS = ("mean", "worst")
_LABELS = {
    "roc_auc": "AUROC",
    "average_precision": "AP",
    "iou": "IoU",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "detection_rate": "Detection rate",
    "false_alarms": "False alarms / image",
}


def detection_report(y_true, scores, *, decisions=None):
    """Detection quality of anomaly scores (and optionally binary decisions).

    The ranking metrics (AUROC, average precision) judge ``scores`` at every
    threshold; the threshold metrics (IoU, precision, recall, F1) judge the
    binary ``decisions`` of a fitted threshold, e.g. ``predict(X) == -1``.
    All are computed with :mod:`sklearn.metrics` for the anomaly class.

    Parameters
    ----------
    y_true : array-like of shape (n_pixels,) or (rows, cols)
        Ground truth: 1 / True for anomalous pixels, 0 / False for normal ones
        (the ``mask`` of :func:`sksvdd.datasets.load_scene`).
    scores : array-like of shape (n_pixels,) or (rows, cols)
        Anomaly scores, higher = more anomalous, e.g.
        ``-estimator.score_samples(X)``. Must be finite.
    decisions : array-like of shape (n_pixels,) or (rows, cols), default=None
        Predicted anomalies, bool or 0/1 with 1 = anomaly. From an outlier
        detector use ``estimator.predict(X) == -1``. When None, only the
        ranking metrics are returned.

    Returns
    -------
    report : dict
        ``roc_auc`` and ``average_precision``; with ``decisions`` also
        ``iou`` (Jaccard index of the anomaly class), ``precision``,
        ``recall`` and ``f1``. Values are Python floats.

    Raises
    ------
    ValueError
        If the arrays differ in size or shape, ``y_true`` or ``decisions``
        are not binary 0/1, ``y_true`` lacks one of the classes, or
        ``scores`` is not finite.

    Notes
    -----
    2-D inputs are flattened in row-major order, the order of
    :func:`sksvdd.datasets.cube_to_pixels`, so a ``(rows, cols)`` mask can be
    paired with the flat scores of ``score_samples``. Two 2-D inputs must have
    the same shape.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd.metrics import detection_report
    >>> y_true = np.array([0, 0, 0, 0, 1, 1])
    >>> scores = np.array([0.1, 0.2, 0.3, 0.8, 0.7, 0.9])
    >>> report = detection_report(y_true, scores, decisions=scores > 0.5)
    >>> {k: round(v, 3) for k, v in report.items()}
    {'roc_auc': 0.875, 'average_precision': 0.833,
     'iou': 0.667, 'precision': 0.667, 'recall': 1.0, 'f1': 0.8}
    """
    y_true = check_mask(y_true, name="y_true")
    scores = _check_same_shape(np.asarray(scores), y_true, "scores")
    if decisions is not None:
        decisions = _check_same_shape(check_mask(decisions, name="decisions"), y_true, "decisions")
    y_true = y_true.ravel()
    scores = _check_scores(scores.ravel(), "scores")
    n_anomalies = int(y_true.sum())
    if n_anomalies == 0:
        raise ValueError(
            "y_true has no anomaly pixels (all 0 / False): AUROC and average "
            "precision are undefined. Check that the ground-truth mask marks "
            "anomalies with 1 / True."
        )
    if n_anomalies == y_true.size:
        raise ValueError(
            "y_true has no normal pixels (all 1 / True): AUROC and average "
            "precision are undefined."
        )
    report = {name: float(fn(y_true, scores)) for name, fn in _RANKING_METRICS.items()}
    if decisions is not None:
        report.update(
            (name, float(fn(y_true, decisions.ravel(), zero_division=0)))
            for name, fn in _THRESHOLD_METRICS.items()
        )
    return report


def anomaly_scorer(name):
    """A scorer for model selection of outlier detectors against anomaly labels.

    Use it as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` (alone or in a dict of
    several, with ``refit=`` naming one of them) with ``y`` the anomaly mask:
    1 = anomaly, 0 = normal. The detector (or a Pipeline ending in one) is
    still fitted without labels; ``y`` only grades it.

    Two kinds of estimator are graded:

    - pixel-level (a :class:`~sksvdd.DeepSVDDDetector`, a Pipeline, a
      scikit-learn detector): ``X`` is a matrix of pixels and ``y`` one
      label per pixel;
    - image-level (an :class:`~sksvdd.ImageDetector` or
      :class:`~sksvdd.FusionDetector`, recognised by its ``halo``): ``X`` is
      images, e.g. a batch ``(n_images, rows, cols, bands)`` that
      cross-validation splits by image, and ``y`` their ``(rows, cols)``
      masks in the same form. Pixel metrics pool the pixels of all images.

    Parameters
    ----------
    name : {"roc_auc", "average_precision", "iou", "f1", "precision", \
            "recall", "detection_rate", "neg_false_alarms"}
        The metric. ``"roc_auc"`` and ``"average_precision"`` rank pixels by
        ``-estimator.score_samples(X)``; the others compare
        ``estimator.predict(X) == -1`` with ``y``, so they also judge the
        fitted threshold ``offset_`` (and hence ``contamination``).
        ``"detection_rate"`` and ``"neg_false_alarms"`` (minus the false
        alarms per image, so that greater is better) are the object metrics
        of :func:`object_detection_report`; they need an image-level
        estimator, since objects need the images' shapes.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Raises
    ------
    ValueError
        If ``name`` is not one of the names above.

    See Also
    --------
    detection_report : The same metrics from precomputed scores.
    object_detection_report : The object metrics from predicted masks.

    Notes
    -----
    Why not plain ``scoring="roc_auc"``? scikit-learn's ``roc_auc`` scorer
    ranks samples by ``decision_function``, which for an outlier detector is
    *higher for inliers*, and treats the larger label (here 1 = anomaly) as the
    positive class. With anomaly labels it therefore measures how well
    *normal* pixels score above anomalies, which is ``1 - AUROC``; grid search
    would pick the worst detector. Relabelling ``y`` as 1 = normal fixes AUROC
    but not average precision or F1, which are about the anomaly class. These
    scorers negate ``score_samples`` (so higher = more anomalous) and map
    ``predict``'s -1 to anomaly, so every metric is for the anomaly class.

    A fold without anomalies makes AUROC undefined; the scorer then raises
    and ``GridSearchCV`` records ``error_score``. Use
    :class:`~sklearn.model_selection.StratifiedKFold` so that every fold has
    anomalies.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import get_scorer, roc_auc_score
    >>> from sksvdd import RXDetector
    >>> from sksvdd.metrics import anomaly_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(400, 5))
    >>> y = np.zeros(400, dtype=int)
    >>> X[:20] += 3.0  # 20 anomalies, labelled 1
    >>> y[:20] = 1
    >>> rx = RXDetector().fit(X)
    >>> auc = anomaly_scorer("roc_auc")(rx, X, y)
    >>> bool(auc == roc_auc_score(y, -rx.score_samples(X)))
    True
    >>> bool(np.isclose(get_scorer("roc_auc")(rx, X, y), 1 - auc))  # inverted
    True

    Tuning the threshold with F1 while also recording AUROC (which does not
    depend on ``contamination``):

    >>> from sklearn.model_selection import GridSearchCV, StratifiedKFold
    >>> search = GridSearchCV(
    ...     RXDetector(),
    ...     {"contamination": [0.01, 0.05, 0.2]},
    ...     scoring={"auc": anomaly_scorer("roc_auc"), "f1": anomaly_scorer("f1")},
    ...     refit="f1",
    ...     cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ... ).fit(X, y)
    >>> search.best_params_
    {'contamination': 0.05}
    >>> bool(search.cv_results_["mean_test_auc"].min() > 0.95)
    True

    Object metrics for an image-level detector, cross-validated over images:

    >>> from sklearn.model_selection import KFold, cross_val_score
    >>> from sksvdd import ImageDetector
    >>> images = rng.normal(size=(4, 20, 20, 5))
    >>> masks = np.zeros((4, 20, 20), dtype=bool)
    >>> images[:, 5, 5] += 6.0                  # one target per image
    >>> masks[:, 5, 5] = True
    >>> cross_val_score(ImageDetector(detector=RXDetector()), images, masks,
    ...                 scoring=anomaly_scorer("detection_rate"), cv=KFold(2))
    array([1., 1.])
    """
    if name not in _METRIC_NAMES:
        raise ValueError(
            f"name={name!r} is not a known metric; valid names are "
            f"{', '.join(repr(n) for n in _METRIC_NAMES)}."
        )
    return _AnomalyScorer(name)


class _AnomalyScorer:
    """Callable ``(estimator, X, y) -> float`` behind :func:`anomaly_scorer`.

    A plain callable rather than ``make_scorer``: ``make_scorer`` cannot call
    ``score_samples``, and ``decision_function`` differs between libraries
    (PyOD's is higher = more anomalous), so reading ``score_samples`` makes a
    sign error fail loudly instead of silently inverting the metric.
    """

    def __init__(self, name):
        self.name = name

    def __call__(self, estimator, X, y):
        if y is None:
            raise ValueError(
                f"anomaly_scorer({self.name!r}) needs y, the anomaly labels "
                "(1 = anomaly, 0 = normal); pass y to fit / cross_validate."
            )
        if hasattr(estimator, "halo"):  # image level: maps of (rows, cols)
            return self._score_images(estimator, X, y)
        if self.name in _OBJECT_METRICS:
            raise ValueError(
                f"anomaly_scorer({self.name!r}) counts connected objects, which needs "
                f"images, but {type(estimator).__name__} scores a matrix of pixels. Grade "
                "an image-level detector (e.g. sksvdd.ImageDetector(detector=...)) on "
                "images X with their (rows, cols) masks y."
            )
        y = check_mask(y, name="y").ravel()
        if self.name in _RANKING_METRICS:
            scores = -np.asarray(estimator.score_samples(X), dtype=np.float64)
            return detection_report(y, scores)[self.name]
        predicted = np.asarray(estimator.predict(X)) == -1
        return float(_THRESHOLD_METRICS[self.name](y, predicted, zero_division=0))

    def _score_images(self, estimator, X, y):
        masks = _mask_images(y, "y")
        if self.name in _RANKING_METRICS:
            scores = _maps(estimator.score_samples(X))
            _check_pairs(masks, scores, "score_samples(X)")
            flat = np.concatenate([-np.asarray(m, dtype=np.float64).ravel() for m in scores])
            return detection_report(np.concatenate([m.ravel() for m in masks]), flat)[self.name]
        predicted = [np.asarray(m) == -1 for m in _maps(estimator.predict(X))]
        _check_pairs(masks, predicted, "predict(X)")
        if self.name in _OBJECT_METRICS:
            report = object_detection_report(masks, predicted)
            if not report["n_objects"] and self.name == "detection_rate":
                raise ValueError(
                    "anomaly_scorer('detection_rate'): y holds no anomaly object, so the "
                    "detection rate is undefined; make every fold hold anomalies."
                )
            key = "detection_rate" if self.name == "detection_rate" else "false_alarms"
            return _OBJECT_METRICS[self.name] * float(report[key])
        y_flat = np.concatenate([m.ravel() for m in masks])
        flagged = np.concatenate([m.ravel() for m in predicted])
        return float(_THRESHOLD_METRICS[self.name](y_flat, flagged, zero_division=0))

    def __repr__(self):
        return f"anomaly_scorer({self.name!r})"


def summarize_scenes(per_scene):
    """Per-scene metrics and their average over scenes, as HSI papers report them.

    Metrics are computed on each image separately and then averaged over
    images (a macro average), so that every scene weighs the same whatever
    its size or number of anomalies; pooling all pixels would let one large
    or easy scene dominate and mix score scales of different images.

    Parameters
    ----------
    per_scene : dict of str to tuple or dict
        Scene name to ``(y_true, scores)`` or ``(y_true, scores, decisions)``,
        passed to :func:`detection_report`; or to an already computed report
        (a dict of metric name to float). Either all scenes have decisions or
        none do.

    Returns
    -------
    table : dict of str to dict
        One report per scene, in the input order, then ``"mean"``: the mean
        of each metric over scenes, and ``"worst"``: its minimum over scenes
        (all metrics are higher = better). Render it with :func:`format_table`.

    Raises
    ------
    ValueError
        If ``per_scene`` is empty, a scene is named ``"mean"`` or ``"worst"``,
        an entry has the wrong form, or scenes report different metrics.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd.metrics import summarize_scenes
    >>> y = np.array([0, 0, 0, 1])
    >>> table = summarize_scenes({
    ...     "a": (y, np.array([0.1, 0.2, 0.3, 0.9])),
    ...     "b": (y, np.array([0.1, 0.2, 0.9, 0.5])),
    ... })
    >>> list(table)
    ['a', 'b', 'mean', 'worst']
    >>> round(table["b"]["roc_auc"], 3), round(table["mean"]["roc_auc"], 3)
    (0.667, 0.833)
    >>> table["worst"]["roc_auc"]
    0.666...
    """
    if not isinstance(per_scene, Mapping) or len(per_scene) == 0:
        raise ValueError(
            "per_scene must be a non-empty dict of scene name to (y_true, scores[, "
            f"decisions]); got {type(per_scene).__name__} {per_scene!r:.80}."
        )
    table = {}
    for scene, entry in per_scene.items():
        if scene in _SUMMARY_ROWS:
            raise ValueError(
                f"per_scene has a scene named {scene!r}, which would clash with the "
                "summary rows 'mean' and 'worst'; rename it."
            )
        if isinstance(entry, Mapping):
            report = {key: float(value) for key, value in entry.items()}
        elif isinstance(entry, (tuple, list)) and len(entry) in (2, 3):
            report = detection_report(*entry[:2], decisions=entry[2] if len(entry) == 3 else None)
        else:
            raise ValueError(
                f"per_scene[{scene!r}] must be (y_true, scores), (y_true, scores, "
                f"decisions) or a dict of metrics; got {type(entry).__name__}."
            )
        table[scene] = report
    keys = [tuple(report) for report in table.values()]
    if len(set(keys)) > 1:
        raise ValueError(
            "per_scene entries report different metrics "
            f"({', '.join(f'{s}: {list(r)}' for s, r in table.items())}); give "
            "decisions for every scene or for none, so the mean covers all scenes."
        )
    values = np.array([list(report.values()) for report in table.values()])
    table["mean"] = dict(zip(keys[0], map(float, values.mean(axis=0))))
    table["worst"] = dict(zip(keys[0], map(float, values.min(axis=0))))
    return table


def format_table(report, *, digits=3, row_label="scene"):
    """Render a report as a Markdown table.

    Parameters
    ----------
    report : dict
        Either the output of :func:`summarize_scenes` (one row per scene,
        then ``mean`` and ``worst``) or of :func:`detection_report` (a
        single row).
    digits : int, default=3
        Decimal places of every value.
    row_label : str, default="scene"
        Header of the first column, when there are named rows (e.g.
        ``"detector"`` for one row per detector).

    Returns
    -------
    table : str
        A GitHub-flavoured Markdown table, without a trailing newline.
        Known metrics get short headers (AUROC, AP, IoU, ...); a metric a
        row lacks is shown as ``-``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd.metrics import detection_report, format_table, summarize_scenes
    >>> y = np.array([0, 0, 0, 1])
    >>> table = summarize_scenes({
    ...     "a": (y, np.array([0.1, 0.2, 0.3, 0.9])),
    ...     "b": (y, np.array([0.1, 0.2, 0.9, 0.5])),
    ... })
    >>> print(format_table(table, digits=2))
    | scene | AUROC |   AP |
    |-------|------:|-----:|
    | a     |  1.00 | 1.00 |
    | b     |  0.67 | 0.50 |
    | mean  |  0.83 | 0.75 |
    | worst |  0.67 | 0.50 |
    >>> print(format_table(detection_report(y, [0.1, 0.2, 0.3, 0.9])))
    | AUROC | AP    |
    |------:|------:|
    | 1.000 | 1.000 |
    """
    if not isinstance(report, Mapping) or len(report) == 0:
        raise ValueError(
            "report must be a non-empty dict from detection_report or "
            f"summarize_scenes; got {report!r:.80}."
        )
    if not (isinstance(digits, int) and digits >= 0):
        raise ValueError(f"digits must be a non-negative int; got {digits!r}.")
    if all(isinstance(value, Mapping) for value in report.values()):
        rows = {str(name): row for name, row in report.items()}
    elif all(isinstance(value, Real) for value in report.values()):
        rows = {None: report}
    else:
        raise ValueError(
            "report must map metric names to numbers (detection_report) or scene "
            "names to such dicts (summarize_scenes)."
        )
    metrics = []
    for row in rows.values():
        metrics += [key for key in row if key not in metrics]
    header = [_LABELS.get(key, key) for key in metrics]
    body = [
        [f"{row[key]:.{digits}f}" if key in row else "-" for key in metrics]
        for row in rows.values()
    ]
    aligns = ["-:"] * len(metrics)
    if None not in rows:
        header = [row_label] + header
        body = [[name] + cells for name, cells in zip(rows, body)]
        aligns = ["-"] + aligns
    widths = [max(len(cells[i]) for cells in [header] + body) for i in range(len(header))]
    widths = [max(width, 3) for width in widths]

    def line(cells):
        padded = (
            cell.rjust(w) if a == "-:" else cell.ljust(w)
            for cell, w, a in zip(cells, widths, aligns)
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        "-" * (w + 1) + ":" if a == "-:" else "-" * (w + 2) for a, w in zip(aligns, widths)
    ) + "|"
    return "\n".join([line(header), rule] + [line(cells) for cells in body])


def _check_pairs(masks, maps, what):
    """Raise unless ``maps`` holds one map of each mask's shape."""
    shapes = [m.shape for m in masks]
    got = [np.shape(m) for m in maps]
    if shapes != got:
        raise ValueError(
            f"y holds masks of shapes {shapes} but {what} gives maps of shapes {got}; "
            "give y as one (rows, cols) mask per image of X, in the same form."
        )


def _check_same_shape(values, y_true, name):
    """Check ``values`` pairs with ``y_true``: same shape, or same size if one is flat."""
    same = values.shape == y_true.shape
    flat_pair = (values.ndim == 1 or y_true.ndim == 1) and values.size == y_true.size
    if not (same or flat_pair) or max(values.ndim, y_true.ndim) > 2:
        raise ValueError(
            f"{name} has shape {values.shape} but y_true has shape {y_true.shape}; "
            "they must be 1-D (pixels) or 2-D (rows, cols) with the same shape, or "
            "have the same number of pixels when one is flat."
        )
    return values


def _check_scores(scores, name):
    """Return ``scores`` as float64, or raise if not numeric and finite."""
    try:
        scores = scores.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric; got dtype {scores.dtype}.") from exc
    if not np.isfinite(scores).all():
        raise ValueError(
            f"{name} contains NaN or infinite values ({int((~np.isfinite(scores)).sum())} "
            "of them); score only valid pixels, e.g. y_true[valid], scores[valid]."
        )
    return scores
