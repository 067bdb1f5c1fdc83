"""Private helpers shared by several subpackages (one helper per job).

Light to import: torch is imported only by the helper that needs it.
"""

import threading
import warnings
from contextlib import contextmanager

import numpy as np


def resolve_device(device, *, cpu_fallback=False, context="DeepSVDDDetector", stacklevel=2):
    """Turn a ``device`` parameter into a torch device string.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when it is
        available, else the CPU).
    cpu_fallback : bool, default=False
        What to do when CUDA is requested but not available: ``False``
        raises ValueError (fitting must not silently run elsewhere);
        ``True`` warns (UserWarning) and returns ``"cpu"`` (loading a model
        fitted on another machine).
    context : str, default="DeepSVDDDetector"
        Who asks, for the messages.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`, counted from the caller.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        If ``device`` is not a torch device, is neither a CPU nor a CUDA
        device, or is CUDA where there is none and ``cpu_fallback`` is False.
    """
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{context}: device={device!r} is not a torch device; use 'cpu', 'cuda', "
            "'cuda:N' or 'auto'."
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(
            f"{context}: device={device!r} is not supported; use 'cpu', 'cuda' or 'auto'."
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        if not cpu_fallback:
            raise ValueError(
                f"{context}: device={device!r} was requested but CUDA is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
        warnings.warn(
            f"{context}: device={device!r} was requested but CUDA is not available here; "
            "the network is put on the CPU (scores may differ from CUDA scores in the last "
            "bits). Set device='cpu' before refitting on this machine.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
        return "cpu"
    return device


def final_estimator(estimator):
    """The estimator that scores: the last step of a pipeline, inside an image detector.

    An image-level detector with one pixel detector (``detector`` /
    ``detector_``) is unwrapped to its (fitted, where available) pixel
    detector, and a pipeline to its last step, recursively. A detector with
    several branches (FusionDetector) is its own final estimator.
    """
    if hasattr(estimator, "halo") and hasattr(estimator, "detector"):
        return final_estimator(getattr(estimator, "detector_", estimator.detector))
    if hasattr(estimator, "steps"):
        return final_estimator(estimator.steps[-1][1])
    return estimator


def nested_estimators(estimator):
    """``estimator`` and every estimator inside it, depth first.

    Inside means pipeline steps, the branches of a FusionDetector and the
    spatial step and pixel detector of an ImageDetector, fitted
    (``detectors_``, ``spatial_``, ``detector_``) before unfitted ones.
    """
    yield estimator
    children = []
    if hasattr(estimator, "steps"):
        children = [step for _, step in estimator.steps]
    elif hasattr(estimator, "detectors") and hasattr(estimator, "halo"):
        children = [det for _, det in getattr(estimator, "detectors_", [])]
        children += [det for _, det in estimator.detectors]
    elif hasattr(estimator, "halo") and hasattr(estimator, "detector"):
        children = [getattr(estimator, name, None)
                    for name in ("spatial_", "detector_", "spatial", "detector")]
    for child in children:
        if child is not None and not isinstance(child, str):
            yield from nested_estimators(child)


def trained_detector(estimator):
    """The first fitted detector with a training history (``history_``) inside ``estimator``.

    A detector that trained (a non-empty history) comes before one fitted
    with ``max_epochs=0`` (an empty one), such as the default detector's
    spectral branch; the latter is returned only when no detector trained.
    """
    fitted = [est for est in nested_estimators(estimator) if hasattr(est, "history_")]
    return next((est for est in fitted if len(est.history_)), fitted[0] if fitted else None)

def image_map(estimator, cube, method):
    """``estimator.<method>`` of every pixel of a ``(rows, cols, bands)`` cube, as an image.

    An image-level estimator (one with a ``halo``, such as ImageDetector)
    takes the cube itself; a pixel-level one takes its pixels in row-major
    order.
    """
    cube = np.asarray(cube)
    if hasattr(estimator, "halo"):
        return np.asarray(getattr(estimator, method)(cube))
    values = getattr(estimator, method)(cube.reshape(-1, cube.shape[-1]))
    return np.asarray(values).reshape(cube.shape[:2])


def check_mask(mask, *, shape=None, name="mask", meaning="1 = anomaly"):
    """Return ``mask`` as a boolean array, or raise ValueError saying what is wrong.

    Accepts booleans and 0/1 numbers (1 = anomaly, or 1 = selected, as
    ``meaning`` tells the messages); values that look like ``predict``
    labels (+1 / -1) get a hint. ``shape``, when given, is the exact shape
    the mask must have (e.g. an image's ``(rows, cols)``).
    """
    mask = np.asarray(mask)
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}; got shape {mask.shape}.")
    if mask.dtype == bool:
        return mask
    if mask.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be bool or 0/1 ({meaning}); got dtype {mask.dtype}.")
    unique = np.unique(mask)
    if not np.isin(unique, (0, 1)).all():
        hint = ""
        if np.isin(unique, (-1, 1)).all():
            hint = (
                " These look like predict() labels (+1 inlier, -1 outlier); convert "
                f"them with {name} = predict(X) == -1."
            )
        raise ValueError(
            f"{name} must be bool or 0/1 with {meaning}; got values "
            f"{unique[:10].tolist()}.{hint}"
        )
    return mask.astype(bool)


def validate_pixels(estimator, X, **kwargs):
    """``validate_data(estimator, X, **kwargs)`` for a pixel-level estimator.

    An image cube ``(rows, cols, bands)`` is the most common wrong input of a
    pixel-level estimator; scikit-learn's "Found array with dim 3" does not
    say what to do, so it is refused here with the two ways forward.
    """
    from sklearn.utils.validation import validate_data

    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) == 3:
        name = type(estimator).__name__
        # A detector goes inside ImageDetector itself; a transformer in a pipeline there.
        inner = f"{name}()" if hasattr(estimator, "score_samples") else (
            f"make_pipeline({name}(), <detector>)")
        raise ValueError(
            f"{name} works on pixels, a 2-D array (n_pixels, n_bands), but X is a 3-D "
            f"array of shape {tuple(shape)}, an image cube. Flatten it with "
            "sksvdd.datasets.cube_to_pixels(cube), or work on whole images with "
            f"sksvdd.ImageDetector(detector={inner}) or sksvdd.make_default_detector()."
        )
    return validate_data(estimator, X, **kwargs)


_threads_lock = threading.Lock()
_threads_users = 0
_threads_before = None


@contextmanager
def torch_threads(n_jobs):
    """Run the block with torch's intra-op CPU threads set from ``n_jobs``; restore them after.

    ``n_jobs`` follows scikit-learn's convention (:func:`joblib.effective_n_jobs`):
    ``None`` means 1 unless in a :obj:`joblib.parallel_config` context, ``-1``
    all processors. Nothing changes for ``n_jobs`` equal to torch's current
    count. Concurrent blocks (threads scoring one model) share the setting:
    the first to enter records torch's count and each thread leaving restores
    that, so the count after the last block is the one before the first.
    """
    import torch
    from joblib import effective_n_jobs

    global _threads_users, _threads_before
    wanted = effective_n_jobs(n_jobs)
    with _threads_lock:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
        _threads_users += 1
        before = _threads_before
    try:
        if wanted != torch.get_num_threads():
            torch.set_num_threads(wanted)
        yield
    finally:
        with _threads_lock:
            _threads_users -= 1
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)
