"""Input checking for the image layer: one image, a batch of images, or a list of them."""

import numpy as np
from sklearn.utils import check_array

from .._utils import check_mask

# How the caller passed its images, so that results come back in the same form.
_IMAGE, _BATCH, _LIST = "image", "batch", "list"


def check_images(X, *, n_bands=None, owner="estimator", name="X"):
    """Validate hyperspectral images and return them as a list of float arrays.

    Parameters
    ----------
    X : array-like of shape (rows, cols, bands) or (n_images, rows, cols, bands), \
            or list of arrays of shape (rows_i, cols_i, bands)
        One image, a batch of images of one size, or a list of images that
        may differ in size (not in bands).
    n_bands : int, default=None
        The number of bands the images must have (a fitted estimator's
        ``n_bands_in_``); ``None`` accepts any number shared by all images.
    owner : str, default="estimator"
        The estimator's name, for error messages.
    name : str, default="X"
        The argument's name, for error messages.

    Returns
    -------
    images : list of ndarray of shape (rows_i, cols_i, bands)
        float64 or float32 (other dtypes become float64), finite.
    layout : {"image", "batch", "list"}
        The form ``X`` came in; :func:`restore_layout` gives results back
        in that form.
    """
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{owner}: {name} is an empty list; pass at least one image.")
        images, layout = list(X), _LIST
    else:
        X = np.asarray(X) if not hasattr(X, "ndim") else X
        if X.ndim == 3:
            images, layout = [X], _IMAGE
        elif X.ndim == 4:
            images, layout = list(X), _BATCH
            if not images:
                raise ValueError(f"{owner}: {name} holds no image (shape {X.shape}).")
        else:
            raise ValueError(_shape_message(owner, name, X.shape))
    checked = []
    for i, image in enumerate(images):
        where = name if layout == _IMAGE else f"{name}[{i}]"
        image = check_array(
            image, dtype=[np.float64, np.float32], allow_nd=True, ensure_all_finite=False,
            input_name=where, estimator=owner, ensure_min_samples=0,
        )
        if image.ndim != 3:
            raise ValueError(_shape_message(owner, where, image.shape))
        if 0 in image.shape:
            raise ValueError(
                f"{owner}: {where} has shape {image.shape}; an image needs at least one "
                "row, one column and one band."
            )
        _check_finite(image, owner, where)
        expected = n_bands if n_bands is not None else checked[0].shape[2] if checked else None
        if expected is not None and image.shape[2] != expected:
            fitted = " (as during fit)" if n_bands is not None else f" (as {name}[0])"
            raise ValueError(
                f"{owner}: {where} has {image.shape[2]} bands, expected {expected}{fitted}."
            )
        checked.append(image)
    return checked, layout


def check_reference_masks(images, layout, *, normal_mask=None, exclude_mask=None,
                          owner="estimator"):
    """The training pixels of each image: inside ``normal_mask`` and outside ``exclude_mask``.

    Parameters
    ----------
    images : list of ndarray of shape (rows_i, cols_i, bands)
        The checked images, from :func:`check_images`.
    layout : {"image", "batch", "list"}
        The form the images came in; each mask argument comes in the same
        form: one ``(rows, cols)`` mask for one image, a batch
        ``(n_images, rows, cols)`` or a list of masks for a batch, a list
        of masks (one per image, ``None`` for no mask) for a list.
    normal_mask, exclude_mask : array-like, list or None
        Pixels known to be normal (train on these only) and pixels known to
        be anomalous (never train on these); bool or 0/1, 1 = selected.
    owner : str
        The estimator's name, for error messages.

    Returns
    -------
    selected : list of ndarray of bool of shape (rows_i, cols_i), or None
        None when neither mask is given (every pixel trains).
    """
    if normal_mask is None and exclude_mask is None:
        return None
    normal = _per_image(normal_mask, "normal_mask", "1 = normal", images, layout, owner)
    exclude = _per_image(exclude_mask, "exclude_mask", "1 = excluded", images, layout, owner)
    selected = [
        (np.ones(image.shape[:2], bool) if keep is None else keep)
        & ~(np.zeros(image.shape[:2], bool) if drop is None else drop)
        for image, keep, drop in zip(images, normal, exclude)
    ]
    if not any(s.any() for s in selected):
        raise ValueError(
            f"{owner}: normal_mask and exclude_mask leave no pixel to fit on; "
            "normal_mask marks the pixels to train on (1 = normal), exclude_mask the "
            "pixels to leave out (1 = known anomaly)."
        )
    return selected


def _per_image(masks, name, meaning, images, layout, owner):
    """One boolean ``(rows, cols)`` mask (or None) per image, checked against its image."""
    if masks is None:
        return [None] * len(images)
    if layout == _IMAGE:
        masks = [masks]
    elif not isinstance(masks, (list, tuple)):
        masks = np.asarray(masks)
        if masks.ndim != 3:
            raise ValueError(
                f"{owner}: {name} must give one (rows, cols) mask per image of X: an "
                f"array of shape (n_images, rows, cols) or a list; got shape {masks.shape}."
            )
        masks = list(masks)
    if len(masks) != len(images):
        raise ValueError(
            f"{owner}: {name} holds {len(masks)} mask(s) for {len(images)} image(s); "
            "give one per image (None for an image without a mask)."
        )
    return [
        None if mask is None else check_mask(
            mask, shape=image.shape[:2], meaning=meaning,
            name=f"{owner}: {name}" if layout == _IMAGE else f"{owner}: {name}[{i}]")
        for i, (mask, image) in enumerate(zip(masks, images))
    ]


def restore_layout(maps, layout):
    """Per-image ``(rows, cols)`` results in the form the images came in."""
    if layout == _IMAGE:
        return maps[0]
    if layout == _BATCH:
        return np.stack(maps)
    return list(maps)


def map_layout(fn, maps):
    """``fn`` applied to each map of a result in any layout (one array, a batch, a list)."""
    return [fn(m) for m in maps] if isinstance(maps, list) else fn(maps)


def labels(decisions):
    """``-1`` where a decision map is negative, else ``+1`` (ints), in the same layout."""
    return map_layout(lambda d: np.where(d < 0, -1, 1), decisions)


def _shape_message(owner, name, shape):
    hint = ""
    if len(shape) == 2:
        hint = (
            " A 2-D array is a matrix of pixels: score it with a pixel-level estimator "
            "(e.g. DeepSVDDDetector), or give it its image shape with "
            "sksvdd.datasets.pixels_to_image."
        )
    return (
        f"{owner}: {name} must be an image of shape (rows, cols, bands), a batch of "
        f"shape (n_images, rows, cols, bands) or a list of images; got shape {shape}.{hint}"
    )


def _check_finite(image, owner, where):
    bad = ~np.isfinite(image)
    if bad.any():
        pixels = int(bad.any(axis=2).sum())
        bands = int(bad.any(axis=(0, 1)).sum())
        raise ValueError(
            f"{owner}: {where} holds NaN or infinity in {pixels} pixel(s) across "
            f"{bands} band(s). Mask those pixels, interpolate them, or drop the bands "
            "(e.g. cube[:, :, np.isfinite(cube).all(axis=(0, 1))])."
        )
