"""Object-level detection metrics: connected regions of the ground truth hit or missed.

Public through :mod:`sksvdd.metrics`; the masks are ``(rows, cols)`` images,
so these metrics need the images' shapes (unlike the pixel metrics).
"""

import numpy as np
from scipy import ndimage

from ._utils import check_mask


def object_detection_report(y_true, decisions, *, connectivity=8):
    """Object-level detection: ground-truth objects hit or missed, and false alarms.

    An *object* is a connected region of anomalous pixels in the ground
    truth; it is *detected* (hit) when at least one of its pixels is
    predicted anomalous, else missed. A *false alarm* is a connected region
    of predicted anomalies that touches no ground-truth pixel. This is how an
    inspection line counts: a target found by one pixel is found, and each
    spurious blob costs one look, whatever its size. Pixel-level IoU,
    precision and recall come from :func:`detection_report`.

    Parameters
    ----------
    y_true : array-like of shape (rows, cols) or (n_images, rows, cols), \
            or list of arrays of shape (rows_i, cols_i)
        Ground truth per image: 1 / True for anomalous pixels.
    decisions : array-like or list, in the same form and shapes as ``y_true``
        Predicted anomalies, 1 / True = anomaly, e.g.
        ``image_detector.predict(cube) == -1``.
    connectivity : {8, 4}, default=8
        Pixels that touch by a corner belong to the same region with 8
        (:func:`scipy.ndimage.label` with a full 3 x 3 structure); 4 joins
        only pixels that share an edge.

    Returns
    -------
    report : dict
        ``detection_rate``: detected objects / objects over all images
        (NaN when the ground truth holds no object); ``false_alarms``:
        false-alarm regions per image (their total divided by the number
        of images); and the counts ``n_objects``, ``n_detected``,
        ``n_false_alarms``, ``n_images`` (ints).

    Raises
    ------
    ValueError
        If a mask is not 2-D binary, the two sides hold different numbers
        of images or shapes, or ``connectivity`` is not 4 or 8.

    See Also
    --------
    detection_report : Pixel-level metrics (AUROC, AP, IoU, precision, recall).
    anomaly_scorer : ``"detection_rate"`` and ``"neg_false_alarms"`` as scorers.

    Examples
    --------
    Two objects (one of two pixels joined by a corner), one of them hit,
    and one predicted blob away from both:

    >>> import numpy as np
    >>> from sksvdd.metrics import object_detection_report
    >>> y_true = np.zeros((6, 6), dtype=bool)
    >>> y_true[1, 1] = y_true[2, 2] = True     # one object with 8-connectivity
    >>> y_true[4, 4] = True
    >>> predicted = np.zeros((6, 6), dtype=bool)
    >>> predicted[2, 2] = True                 # hits the first object
    >>> predicted[0, 5] = True                 # a false alarm
    >>> report = object_detection_report(y_true, predicted)
    >>> report["detection_rate"], report["false_alarms"], report["n_objects"]
    (0.5, 1.0, 2)
    >>> object_detection_report(y_true, predicted, connectivity=4)["n_objects"]
    3
    """
    if connectivity not in (4, 8) or isinstance(connectivity, bool):
        raise ValueError(f"connectivity must be 4 or 8; got {connectivity!r}.")
    truths = mask_images(y_true, "y_true")
    predictions = mask_images(decisions, "decisions")
    if len(truths) != len(predictions):
        raise ValueError(
            f"y_true holds {len(truths)} image(s) but decisions {len(predictions)}; give "
            "one predicted mask per ground-truth mask."
        )
    structure = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    n_objects = n_detected = n_false_alarms = 0
    for i, (truth, predicted) in enumerate(zip(truths, predictions)):
        if truth.shape != predicted.shape:
            raise ValueError(
                f"decisions[{i}] has shape {predicted.shape} but y_true[{i}] has shape "
                f"{truth.shape}; they must match."
            )
        objects, n = ndimage.label(truth, structure)
        regions, n_regions = ndimage.label(predicted, structure)
        overlap = truth & predicted
        n_objects += n
        n_detected += np.unique(objects[overlap]).size
        n_false_alarms += n_regions - np.unique(regions[overlap]).size
    return {
        "detection_rate": n_detected / n_objects if n_objects else float("nan"),
        "false_alarms": n_false_alarms / len(truths),
        "n_objects": n_objects,
        "n_detected": n_detected,
        "n_false_alarms": n_false_alarms,
        "n_images": len(truths),
    }


def maps(values):
    """An image-level estimator's output (one map, a batch or a list) as a list of maps."""
    if isinstance(values, (list, tuple)):
        return list(values)
    values = np.asarray(values)
    return [values] if values.ndim == 2 else list(values)


def mask_images(masks, name):
    """Binary ``(rows, cols)`` masks from one mask, a batch or a list, as a list."""
    if not isinstance(masks, (list, tuple)):
        masks = np.asarray(masks)
        if masks.ndim not in (2, 3):
            raise ValueError(
                f"{name} must be a (rows, cols) mask, a batch (n_images, rows, cols) or a "
                f"list of masks; got shape {masks.shape}."
            )
    masks = maps(masks)
    if not masks:
        raise ValueError(f"{name} holds no mask.")
    checked = []
    for i, mask in enumerate(masks):
        mask = check_mask(mask, name=f"{name}[{i}]")
        if mask.ndim != 2:
            raise ValueError(f"{name}[{i}] must be a (rows, cols) mask; got shape {mask.shape}.")
        checked.append(mask)
    return checked
