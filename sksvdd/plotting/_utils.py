"""Private helpers of :mod:`sksvdd.plotting`: input checks, band choice, matplotlib access.

Matplotlib is imported only through :func:`_pyplot` (and inside the
Displays' ``plot`` methods), so importing :mod:`sksvdd.plotting` does not
need it.
"""

import numpy as np

from .._svdd._history import public_row
from ..datasets import pixels_to_image

# Centres of the red, green and blue channels of a true-colour rendering (nm).
_RGB_NM = (640.0, 550.0, 460.0)
# A band farther than this from a colour centre does not stand for that colour.
_RGB_TOLERANCE_NM = 50.0


def _rgb_bands(wavelengths, n_bands):
    """Indices of the bands that :func:`sksvdd.plotting.false_color_rgb` shows as R, G, B.

    The bands nearest 640, 550 and 460 nm when ``wavelengths`` are given and
    all three lie within ``_RGB_TOLERANCE_NM`` of a band; otherwise three
    evenly spaced bands at 3/4, 1/2 and 1/4 of the band range.
    """
    bands = None
    if wavelengths is not None:
        wavelengths = np.asarray(wavelengths, dtype=np.float64).ravel()
        if wavelengths.size != n_bands:
            raise ValueError(
                f"wavelengths has {wavelengths.size} values but cube has {n_bands} bands."
            )
        distance = np.abs(wavelengths[:, None] - np.array(_RGB_NM))
        nearest = distance.argmin(axis=0)
        if distance[nearest, range(3)].max() <= _RGB_TOLERANCE_NM:
            bands = nearest
    if bands is None:
        bands = np.round(np.linspace(0, n_bands - 1, 5)[3:0:-1]).astype(int)
    return bands


def _stretch_bands(cube, bands, lo, hi):
    """``cube[:, :, bands]`` stretched per channel between percentiles ``lo`` and ``hi``."""
    rgb = np.zeros(cube.shape[:2] + (3,), dtype=np.float32)
    for channel, band in enumerate(bands):
        values = cube[:, :, band]
        if not np.isfinite(values).any():
            continue
        low, high = np.nanpercentile(values, [lo, hi])
        if high > low:
            rgb[:, :, channel] = np.nan_to_num(np.clip((values - low) / (high - low), 0, 1))
    return rgb


def _history_columns(history):
    """Per-epoch arrays ``epoch``, ``loss``, ``radius``, ``outside_frac`` from a history.

    ``history`` is ``DeepSVDDDetector.history_`` or the net's skorch history
    (``net_.history``), whose names are read as ``history_``'s.
    """
    rows = list(history) if history is not None else []
    if not rows or not all(hasattr(row, "items") for row in rows):
        raise ValueError(
            "history must be a non-empty list of per-epoch dicts (DeepSVDDDetector.history_); "
            "it is empty when the detector was fitted with max_epochs=0."
        )
    rows = [public_row(row) for row in rows]
    columns = {"epoch": [row.get("epoch", i + 1) for i, row in enumerate(rows)]}
    for key in ("loss", "radius", "outside_frac"):
        values = [row.get(key) for row in rows]
        if any(value is None for value in values):
            raise ValueError(f"history has epochs without {key!r}; every dict needs it.")
        columns[key] = np.asarray(values, dtype=np.float64)
    return columns


def _pyplot():
    """Import matplotlib.pyplot, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "sksvdd.plotting needs matplotlib; install it with pip install 'sksvdd[plot]'."
        ) from exc
    return plt


def _axes_and_figure(ax):
    """The Axes to draw on and its figure, making a new figure when ``ax`` is None."""
    if ax is None:
        fig, ax = _pyplot().subplots(layout="constrained")
        return ax, fig
    return ax, ax.figure


def _check_percentiles(percentiles, name):
    """Return ``(lo, hi)`` floats with 0 <= lo < hi <= 100, or raise ValueError."""
    try:
        lo, hi = (float(p) for p in percentiles)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a pair (low, high); got {percentiles!r}.") from exc
    if not 0.0 <= lo < hi <= 100.0:
        raise ValueError(
            f"{name} must satisfy 0 <= low < high <= 100; got {percentiles!r}."
        )
    return lo, hi


def _as_image(values, shape, name):
    """Return ``values`` as a (rows, cols) image: 2-D as is, flat reshaped to ``shape``."""
    values = np.asarray(values)
    if values.ndim == 2:
        if shape is not None and values.shape != tuple(shape):
            raise ValueError(f"{name} has shape {values.shape} but shape={tuple(shape)}.")
        return values
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D or 2-D; got shape {values.shape}.")
    if shape is None:
        raise ValueError(
            f"{name} is flat; pass shape=(rows, cols), e.g. shape=cube.shape[:2]."
        )
    return pixels_to_image(values, shape)
