"""Conversions between hyperspectral cubes and pixel matrices."""

import numpy as np

from .._utils import check_mask


def cube_to_pixels(cube, mask=None):
    """Flatten a ``(rows, cols, bands)`` cube into a ``(n_pixels, bands)`` matrix.

    Pixels are taken in C (row-major) order: pixel ``(r, c)`` becomes row
    ``r * cols + c``. This is the layout every estimator in sksvdd expects, and
    :func:`pixels_to_image` undoes it.

    Parameters
    ----------
    cube : array-like of shape (rows, cols, bands)
        The hyperspectral cube.
    mask : array-like of bool or 0/1 of shape (rows, cols), default=None
        If given, keep only the pixels where ``mask`` is True (still in row-major
        order), e.g. to fit on background pixels only.

    Returns
    -------
    pixels : ndarray of shape (rows * cols, bands) or (mask.sum(), bands)
        The pixel spectra, with the cube's dtype. Without ``mask`` this is a view
        of ``cube`` whenever the cube is contiguous.

    Raises
    ------
    ValueError
        If ``cube`` is not 3-D or ``mask`` is not a boolean (or 0/1) ``(rows, cols)`` array.

    See Also
    --------
    pixels_to_image : Put per-pixel values back into image shape.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd.datasets import cube_to_pixels
    >>> cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    >>> cube_to_pixels(cube).shape
    (6, 4)
    >>> cube_to_pixels(cube)[4]  # pixel (row 1, col 1)
    array([16., 17., 18., 19.], dtype=float32)
    >>> mask = np.array([[True, False, False], [False, False, True]])
    >>> cube_to_pixels(cube, mask)
    array([[ 0.,  1.,  2.,  3.],
           [20., 21., 22., 23.]], dtype=float32)
    """
    cube = np.asarray(cube)
    if cube.ndim != 3:
        raise ValueError(
            f"cube must be a 3-D array of shape (rows, cols, bands); got an array "
            f"with shape {cube.shape}."
        )
    if mask is None:
        return cube.reshape(-1, cube.shape[2])
    mask = check_mask(mask, shape=cube.shape[:2])
    return cube[mask]


def pixels_to_image(values, shape, *, mask=None, fill_value=np.nan):
    """Reshape per-pixel values into an image, the inverse of :func:`cube_to_pixels`.

    Parameters
    ----------
    values : array-like of shape (n_pixels,) or (n_pixels, k)
        One value (e.g. an anomaly score) or ``k`` values per pixel, in the
        row-major order of :func:`cube_to_pixels`.
    shape : tuple of int (rows, cols)
        The spatial shape of the image, e.g. ``cube.shape[:2]``.
    mask : array-like of bool or 0/1 of shape (rows, cols), default=None
        If given, ``values`` holds only the pixels where ``mask`` is True (as
        returned by ``cube_to_pixels(cube, mask)``); they are scattered back to
        their positions and every other pixel gets ``fill_value``.
    fill_value : scalar, default=np.nan
        Value of the pixels outside ``mask``. Ignored without ``mask``. The output
        dtype is the common type of ``values`` and ``fill_value``, so integer
        values with a NaN fill come back as floats.

    Returns
    -------
    image : ndarray of shape (rows, cols) or (rows, cols, k)
        The values laid out as an image.

    Raises
    ------
    ValueError
        If ``shape`` is not a pair of non-negative integers, ``values`` is not
        1-D or 2-D, the number of values does not match ``rows * cols`` (or
        ``mask.sum()``), or ``mask`` does not have shape ``shape``.

    See Also
    --------
    cube_to_pixels : Flatten a cube into a pixel matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd.datasets import cube_to_pixels, pixels_to_image
    >>> cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    >>> scores = cube_to_pixels(cube).sum(axis=1)
    >>> pixels_to_image(scores, cube.shape[:2])
    array([[ 6., 22., 38.],
           [54., 70., 86.]], dtype=float32)
    >>> mask = np.array([[True, False, False], [False, False, True]])
    >>> pixels_to_image(np.array([1.0, 2.0]), (2, 3), mask=mask)
    array([[ 1., nan, nan],
           [nan, nan,  2.]])
    """
    shape = _check_shape(shape)
    values = np.asarray(values)
    if values.ndim not in (1, 2):
        raise ValueError(
            f"values must be 1-D (one value per pixel) or 2-D (n_pixels, k); got an "
            f"array with shape {values.shape}."
        )
    n_pixels = shape[0] * shape[1]
    if mask is None:
        if values.shape[0] != n_pixels:
            raise ValueError(
                f"values has {values.shape[0]} rows but shape {shape} has "
                f"{n_pixels} pixels; pass mask=... if values covers only some pixels."
            )
        return values.reshape(shape + values.shape[1:])
    mask = check_mask(mask, shape=shape)
    n_selected = int(mask.sum())
    if values.shape[0] != n_selected:
        raise ValueError(
            f"values has {values.shape[0]} rows but mask selects {n_selected} pixels."
        )
    dtype = np.result_type(values, fill_value)
    image = np.full(shape + values.shape[1:], fill_value, dtype=dtype)
    image[mask] = values
    return image


def _check_shape(shape):
    """Return ``shape`` as a ``(rows, cols)`` tuple of ints, or raise ValueError."""
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"shape must be a (rows, cols) tuple; got {shape!r}.") from exc
    if len(shape) != 2 or min(shape) < 0:
        raise ValueError(
            f"shape must be a (rows, cols) tuple of non-negative integers; got "
            f"{shape!r}. For a cube, pass cube.shape[:2]."
        )
    return shape
