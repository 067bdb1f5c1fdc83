"""A synthetic hyperspectral scene mixed from real measured reflectance spectra."""

import numbers
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.utils import Bunch, check_random_state

# Scene model constants (see the Notes of make_hyperspectral_scene).
_MASK_THRESHOLD = 0.25  # target fraction from which a pixel counts as anomalous
_FULL_PIXEL_PROBABILITY = 0.4  # share of targets that fill whole pixels
_REGION_SCALE = 0.08  # smoothing of the abundance fields, relative to the image size
_SHARPNESS = 2.5  # softmax gain: higher gives purer regions, sharper borders
_ILLUMINATION_SPREAD = 0.08  # std of the log of the smooth brightness field
_TEXTURE_SPREAD = 0.03  # std of the per-pixel brightness texture
_SPECTRAL_VARIABILITY = 0.06  # std of the per-pixel smooth spectral-shape change
_MAX_ANOMALY_FRACTION = 0.05


def make_hyperspectral_scene(
    *,
    n_rows=100,
    n_cols=100,
    n_bands=None,
    n_background=4,
    anomaly_fraction=0.0075,
    snr_db=30.0,
    random_state=None,
):
    """Make a synthetic hyperspectral scene with implanted anomalous targets.

    The scene is mixed from real reflectance spectra measured in the field and in
    the laboratory (soils, sand, gravel, pavement, dry vegetation as background;
    paint, metal, clay tile, glass and roofing shingle as targets; see
    :func:`load_endmembers`), with smooth spatial structure, illumination changes,
    within-class spectral variability and band-dependent sensor noise, so that
    detectors meet the difficulties of a real scene rather than Gaussian blobs.

    Parameters
    ----------
    n_rows, n_cols : int, default=100
        Spatial size of the scene.
    n_bands : int, default=None
        Number of bands. None keeps the library's 180 bands (400-2450 nm in 10 nm
        steps, without the water-vapour bands 1360-1450 nm and 1800-1950 nm);
        an integer resamples the spectra by linear interpolation onto ``n_bands``
        evenly spaced wavelengths from 400 to 2450 nm.
    n_background : int, default=4
        Number of background materials, drawn from the library's 8.
    anomaly_fraction : float, default=0.0075
        Share of pixels labelled anomalous, in [0, 0.05]. Targets are added until
        at least this share is reached; the last one may overshoot by a few
        pixels (at most 9).
    snr_db : float, default=30.0
        Signal-to-noise ratio in decibels, ``10 * log10(mean signal power / mean
        noise variance)``, the signal power being the mean of the squared
        noise-free cube and the noise variance averaged over bands. ``np.inf``
        gives a noise-free cube.
    random_state : int, RandomState instance or None, default=None
        Seed of every random draw; equal seeds give identical scenes. The global
        NumPy random state is never touched.

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        The fields of :func:`load_scene` plus a few describing the ground truth:

        cube : ndarray of shape (n_rows, n_cols, n_bands), dtype float32
            Reflectance-like values (about 0-1), C-contiguous.
        mask : ndarray of shape (n_rows, n_cols), dtype bool
            True where the target fraction is at least 0.25.
        wavelengths : ndarray of shape (n_bands,), dtype float64
            Band centres in nanometres, increasing.
        name : str
            ``"builtin"``.
        target_fraction : ndarray of shape (n_rows, n_cols), dtype float32
            Fraction of each pixel covered by a target (0 to 1).
        abundances : ndarray of shape (n_rows, n_cols, n_background), dtype float32
            Background abundances before targets are implanted; they sum to 1.
        background_names : list of str
            The background materials, in the order of ``abundances``.
        target_names : list of str
            The target materials implanted, sorted.

    Raises
    ------
    ValueError
        If a parameter is out of range.

    See Also
    --------
    load_scene : Load a real scene with the same fields.
    load_endmembers : The spectra the scene is mixed from.

    Notes
    -----
    Background. Each of the ``n_background`` materials gets a Gaussian-filtered
    random field; a softmax across materials turns the fields into abundances that
    sum to one, so regions are dominated by one or two materials with gradual
    borders. Each pixel's material spectra vary in brightness and in a smooth
    spectral tilt and curvature (low-order polynomials in wavelength, about 6%),
    and the pixel is scaled by a smooth illumination field (about 8%) and a
    per-pixel texture (about 3%).

    Targets. Rectangular objects made of one target material each are placed at
    random, without overlapping. About 40% are full-pixel objects of 1-3 by 1-3
    pixels on the pixel grid; the rest are sub-pixel objects of 0.5-1.5 pixels a
    side at a random position, which cover one to nine pixels partially. A pixel
    with target fraction ``f`` holds ``(1 - f) * background + f * target``.
    Pixels with ``0 < f < 0.25`` contain some target but are not labelled, as
    in real ground truth that marks visible objects.

    Noise. Gaussian, independent across pixels and bands, with a standard
    deviation that is lowest near 1200 nm and rises smoothly to about 1.6 times
    that at 400 nm and 2.4 times at 2450 nm, scaled to give ``snr_db``.

    Examples
    --------
    >>> from sksvdd.datasets import make_hyperspectral_scene
    >>> scene = make_hyperspectral_scene(n_rows=60, n_cols=50, random_state=0)
    >>> scene.cube.shape, scene.cube.dtype
    ((60, 50, 180), dtype('float32'))
    >>> scene.wavelengths[[0, -1]]
    array([ 400., 2450.])
    >>> bool(0.0075 <= scene.mask.mean() <= 0.0075 + 9 / 3000)
    True
    >>> make_hyperspectral_scene(n_bands=50, random_state=0).cube.shape
    (100, 100, 50)
    """
    _check_int("n_rows", n_rows, 1)
    _check_int("n_cols", n_cols, 1)
    if n_bands is not None:
        _check_int("n_bands", n_bands, 2)
    library = load_endmembers()
    background = np.flatnonzero(library.roles == "background")
    targets = np.flatnonzero(library.roles == "target")
    _check_int("n_background", n_background, 1, len(background))
    if not (isinstance(anomaly_fraction, numbers.Real)
            and 0 <= anomaly_fraction <= _MAX_ANOMALY_FRACTION):
        raise ValueError(
            f"anomaly_fraction must be a number in [0, {_MAX_ANOMALY_FRACTION}]; "
            f"got {anomaly_fraction!r}."
        )
    if not isinstance(snr_db, numbers.Real) or np.isnan(snr_db):
        raise ValueError(f"snr_db must be a real number (np.inf for no noise); got {snr_db!r}.")
    rng = check_random_state(random_state)

    if n_bands is None:
        wavelengths = library.wavelengths.copy()
        spectra = library.spectra
    else:
        wavelengths = np.linspace(400.0, 2450.0, n_bands)
        spectra = np.array([np.interp(wavelengths, library.wavelengths, s)
                            for s in library.spectra])

    chosen = np.sort(rng.choice(background, size=n_background, replace=False))
    abundances = _abundances(rng, n_rows, n_cols, n_background)
    cube = _background(rng, abundances, spectra[chosen], wavelengths)

    fraction, material = _place_targets(rng, n_rows, n_cols, anomaly_fraction,
                                        n_targets=len(targets))
    brightness = 1.0 + 0.05 * rng.standard_normal(len(targets))
    target_spectra = spectra[targets] * brightness[:, None]
    hit = fraction > 0
    f = fraction[hit][:, None]
    cube[hit] = (1.0 - f) * cube[hit] + f * target_spectra[material[hit]]

    if np.isfinite(snr_db):
        cube += _noise(rng, cube, wavelengths, snr_db)

    used = np.unique(material[fraction >= _MASK_THRESHOLD])
    return Bunch(
        cube=np.ascontiguousarray(cube, dtype=np.float32),
        mask=fraction >= _MASK_THRESHOLD,
        wavelengths=wavelengths,
        name="builtin",
        target_fraction=fraction.astype(np.float32),
        abundances=abundances.astype(np.float32),
        background_names=[str(n) for n in library.names[chosen]],
        target_names=sorted(str(library.names[targets[m]]) for m in used),
    )


@lru_cache(maxsize=1)
def _read_endmembers():
    text = resources.files(__package__).joinpath("data", "endmembers.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header = lines[0].split(",")
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    roles, names = zip(*(column.split(":") for column in header[1:]), strict=True)
    return table[:, 0], table[:, 1:].T, names, roles


def load_endmembers():
    """Load the measured reflectance spectra used by :func:`make_hyperspectral_scene`.

    Thirteen spectra from the earthlib spectral library (MIT licence; the file
    ``endmembers_README.md`` beside the data lists each spectrum's origin):
    eight background materials (soil, dirt, sand, gravel, road, sidewalk, grass
    litter, non-photosynthetic vegetation) and five target materials (paint,
    metal, clay tile, glass, composition roofing shingle).

    Returns
    -------
    endmembers : :class:`~sklearn.utils.Bunch`
        With the fields

        wavelengths : ndarray of shape (180,)
            Band centres in nanometres.
        spectra : ndarray of shape (13, 180)
            Reflectance (0-1), one row per material.
        names : ndarray of str of shape (13,)
            Material names.
        roles : ndarray of str of shape (13,)
            ``"background"`` or ``"target"``.

    Examples
    --------
    >>> from sksvdd.datasets import load_endmembers
    >>> lib = load_endmembers()
    >>> lib.spectra.shape
    (13, 180)
    >>> [str(n) for n in lib.names[lib.roles == "target"]]
    ['paint', 'metal', 'tile', 'glass', 'comp_shingle']
    """
    wavelengths, spectra, names, roles = _read_endmembers()
    return Bunch(wavelengths=wavelengths.copy(), spectra=spectra.copy(),
                 names=np.array(names), roles=np.array(roles))


def _check_int(name, value, low, high=None):
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or value < low or (high is not None and value > high)):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {bounds}; got {value!r}.")


def _smooth_field(rng, shape, sigma):
    """A zero-mean, unit-variance Gaussian random field of correlation ``sigma``."""
    field = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


def _abundances(rng, n_rows, n_cols, n_materials):
    """Smooth abundance maps that sum to one per pixel, shape (rows, cols, k)."""
    sigma = max(1.0, _REGION_SCALE * max(n_rows, n_cols))
    logits = np.stack([_smooth_field(rng, (n_rows, n_cols), sigma)
                       for _ in range(n_materials)], axis=-1)
    weights = np.exp(_SHARPNESS * (logits - logits.max(axis=-1, keepdims=True)))
    return weights / weights.sum(axis=-1, keepdims=True)


def _background(rng, abundances, spectra, wavelengths):
    """Mix the background: variable endmembers, illumination and texture."""
    n_rows, n_cols, n_materials = abundances.shape
    n_pixels = n_rows * n_cols
    # Smooth spectral shape changes: a constant, a tilt and a curvature in
    # wavelength, drawn per pixel and material (within-class variability).
    t = np.linspace(-1.0, 1.0, len(wavelengths))
    basis = np.stack([np.ones_like(t), t, 1.5 * t**2 - 0.5])
    a = abundances.reshape(n_pixels, n_materials)
    mixed = a @ spectra
    for k in range(n_materials):
        coef = _SPECTRAL_VARIABILITY * rng.standard_normal((n_pixels, len(basis)))
        mixed += (a[:, k:k + 1] * coef) @ (basis * spectra[k])
    sigma = max(1.0, 2 * _REGION_SCALE * max(n_rows, n_cols))
    light = np.exp(_ILLUMINATION_SPREAD * _smooth_field(rng, (n_rows, n_cols), sigma))
    light *= 1.0 + _TEXTURE_SPREAD * rng.standard_normal((n_rows, n_cols))
    return mixed.reshape(n_rows, n_cols, -1) * light[..., None]


def _place_targets(rng, n_rows, n_cols, anomaly_fraction, n_targets):
    """Place non-overlapping targets; return fraction and material maps."""
    fraction = np.zeros((n_rows, n_cols))
    material = np.zeros((n_rows, n_cols), dtype=np.intp)
    needed = int(np.ceil(anomaly_fraction * n_rows * n_cols))
    labelled = 0
    for _ in range(200 * needed):
        if labelled >= needed:
            break
        if rng.uniform() < _FULL_PIXEL_PROBABILITY:
            h, w = rng.randint(1, 4, size=2)
            y0 = rng.randint(0, max(1, n_rows - h + 1))
            x0 = rng.randint(0, max(1, n_cols - w + 1))
        else:
            h, w = rng.uniform(0.5, 1.5, size=2)
            y0 = rng.uniform(0, max(0.0, n_rows - h))
            x0 = rng.uniform(0, max(0.0, n_cols - w))
        rows = _coverage(y0, h, n_rows)
        cols = _coverage(x0, w, n_cols)
        patch = np.outer(rows[1], cols[1])
        window = (slice(rows[0], rows[0] + len(rows[1])), slice(cols[0], cols[0] + len(cols[1])))
        if np.any(fraction[window] > 0):
            continue
        fraction[window] = patch
        material[window] = rng.randint(n_targets)
        labelled += int(np.count_nonzero(patch >= _MASK_THRESHOLD))
    return fraction, material


def _coverage(start, length, size):
    """First pixel index and per-pixel overlap of the interval [start, start+length)."""
    first = int(np.floor(start))
    last = min(size, int(np.ceil(start + length)))
    edges = np.arange(first, last + 1, dtype=float)
    overlap = np.minimum(edges[1:], start + length) - np.maximum(edges[:-1], start)
    return first, np.clip(overlap, 0.0, 1.0)


def _noise(rng, cube, wavelengths, snr_db):
    """Band-dependent white Gaussian noise at the requested SNR."""
    span = wavelengths[-1] - wavelengths[0]
    position = (wavelengths - wavelengths[0]) / (span if span > 0 else 1.0)
    profile = 1.0 + 4.0 * (position - 0.4) ** 2  # 1.64 at 400 nm, 1 near 1220, 2.44 at 2450
    noise_variance = np.mean(cube**2) / 10 ** (snr_db / 10)
    std = profile * np.sqrt(noise_variance / np.mean(profile**2))
    return rng.standard_normal(cube.shape) * std
