"""The recommended configurations, built in one place for the CLI, the demo and the docs."""

from sklearn.pipeline import Pipeline

from ._preprocessing import BandpassByWavelength
from ._svdd import DeepSVDDDetector
from .image import AttributeResidual, DualWindowResidual, FusionDetector, ImageDetector


# The default detector's branches and fusion, chosen by benchmarks/selection.py (leave one
# background out; among the candidates never consistently more than 0.01 below global RX,
# over implanted sizes 1-16 and the scenes' own truth, the best mean AUROC).
SPECTRAL_SETTINGS = {"encoder": "whiten", "whiten_reg": 3e-2, "max_epochs": 0}
ATTRIBUTE_SETTINGS = {"n_components": 5, "areas": (64,)}
ATTRIBUTE_DETECTOR_SETTINGS = {"encoder": "whiten", "whiten_reg": 1e-2, "max_epochs": 0}
DEFAULT_FUSION = "mean"
# spectral, attribute, residual: the spectral branch counts twice.
DEFAULT_WEIGHTS = (2.0, 1.0, 1.0)


def make_default_detector(
    *, spatial=True, wavelengths=None, min_wavelength_nm=None, max_wavelength_nm=None,
    device="cpu", random_state=None, **detector_params,
):
    """Build the recommended detector for whole images.

    A :class:`FusionDetector` of three branches whose robustly standardised
    anomaly scores are averaged, the spectral branch with twice the weight
    of each other (``fusion="mean", weights=(2, 1, 1)``):

    - ``spectral``: :class:`ImageDetector` of the spectra alone and
      :class:`DeepSVDDDetector` with ``SPECTRAL_SETTINGS``
      (``encoder="whiten", whiten_reg=3e-2, max_epochs=0``): a Mahalanobis
      (RX) distance from robust (trimmed) statistics with a ridge of 3e-2 of
      the mean band variance. The ridge damps the noise-dominated,
      low-variance directions, in which plain RX gives every background
      pixel a large distance while a target that covers a few percent of
      the image inflates its own direction's variance; with it, wide
      targets keep their score. The branch is the statistical phase alone:
      gradient training did not improve it (measured, see the user guide).
    - ``attribute``: :class:`ImageDetector` of :class:`AttributeResidual`
      (the first 5 whitened principal components minus their area opening
      and closing at 64 pixels: bright or dark structures of fewer than 64
      pixels, of any shape, kept whole) and a whitened distance
      (``DeepSVDDDetector(encoder="whiten", whiten_reg=1e-2,
      max_epochs=0)``).
    - ``residual``: :class:`ImageDetector` of :class:`DualWindowResidual`
      (a 5/1 window, the ring's median as background: each pixel minus its
      local background) and :class:`DeepSVDDDetector` with its defaults,
      trained. It finds one- and two-pixel targets against local clutter;
      on targets wider than the window it sees only the rims.

    Targets wider than the spatial branches' scales (more than 64 pixels,
    or wider than the ring) are seen by the spectral branch, which is why
    it counts twice. These settings (the ridge, the attribute scale, the
    weights) were chosen by a leave-one-background-out protocol on targets
    of 1 to 16 pixels implanted into ten real scenes plus the scenes' own
    ground truth: the best mean AUROC among the candidates never
    consistently (on every seed) more than 0.01 below global RX
    (``benchmarks/selection.py``).

    With ``spatial=False``: the ``spectral`` branch alone, an
    :class:`ImageDetector` of that :class:`DeepSVDDDetector`. When a
    wavelength bound is given, each pixel detector is a
    :class:`~sklearn.pipeline.Pipeline` of a :class:`BandpassByWavelength`
    step ``bandpass`` and the detector (step ``detector``), except in the
    attribute branch, whose principal components are computed from all
    the bands (its detector sees 5 components, not bands). How these
    choices were measured, and when the detector fails, is in
    ``benchmarks/README.md`` and the user guide.

    Parameters
    ----------
    spatial : bool, default=True
        Include spatial context (the fused three-branch detector); ``False``
        gives the spectral branch alone.
    wavelengths : array-like of shape (n_bands,), default=None
        Band centres in nm. Needed only when a wavelength bound is given.
    min_wavelength_nm, max_wavelength_nm : float, default=None
        Band-pass bounds; when either is set, a band-pass step comes first
        in each pixel pipeline.
    device : str, default="cpu"
        Torch device of the Deep SVDD detectors (and of the spatial step
        when it is not ``"cpu"``): ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
        ``"auto"``.
    random_state : int, RandomState instance or None, default=None
        Passed to the Deep SVDD detectors.
    **detector_params
        Further :class:`DeepSVDDDetector` parameters (e.g. ``nu=0.05``), for
        the Deep SVDD detectors of every branch, except that the spectral
        and attribute branches keep their ``encoder``, ``whiten_reg`` and
        ``max_epochs`` (set them with
        ``set_params(spectral__detector__max_epochs=...)``);
        ``whiten_reg`` replaces the spectral branch's ridge. ``encoder``
        is refused (each branch's is fixed).
        ``contamination`` also sets the fused detector's threshold.

    Returns
    -------
    detector : FusionDetector or ImageDetector
        Unfitted. Nested parameters are reachable by name, e.g.
        ``residual__detector__nu``, ``spectral__detector__whiten_reg``,
        ``attribute__spatial__areas`` and ``residual__spatial__outer_window``
        (``detector__whiten_reg`` with ``spatial=False``).

    Examples
    --------
    >>> from sksvdd import make_default_detector
    >>> from sksvdd.datasets import make_hyperspectral_scene
    >>> scene = make_hyperspectral_scene(n_rows=40, n_cols=40, random_state=0)
    >>> det = make_default_detector(random_state=0, max_epochs=2).fit(scene.cube)
    >>> det.score_samples(scene.cube).shape
    (40, 40)
    >>> [name for name, _ in det.detectors], det.fusion, det.weights
    (['spectral', 'attribute', 'residual'], 'mean', (2.0, 1.0, 1.0))
    >>> params = det.get_params()
    >>> params["spectral__detector__whiten_reg"], params["residual__detector__max_epochs"]
    (0.03, 2)
    >>> params["attribute__spatial__areas"], params["residual__spatial__outer_window"]
    ((64,), 5)
    >>> det.halo   # the attribute branch's: a structure of < 64 pixels reaches 63 away
    63
    """
    def with_bandpass(detector):
        if min_wavelength_nm is None and max_wavelength_nm is None:
            return detector
        return Pipeline([
            ("bandpass", BandpassByWavelength(
                wavelengths=wavelengths, min_wavelength_nm=min_wavelength_nm,
                max_wavelength_nm=max_wavelength_nm,
            )),
            ("detector", detector),
        ])

    def deep_svdd(**params):
        return with_bandpass(DeepSVDDDetector(
            random_state=random_state, device=device, **{**detector_params, **params}))

    if "encoder" in detector_params:
        raise ValueError(
            "make_default_detector fixes each branch's encoder (spectral: 'whiten', residual: "
            "'standardize'); got encoder="
            f"{detector_params['encoder']!r}. Set it on one branch with set_params, e.g. "
            "set_params(residual__detector__encoder='whiten')."
        )
    # whiten_reg acts only on the spectral branch's whitening: a value given here is its.
    spectral_settings = {**SPECTRAL_SETTINGS, **{
        k: v for k, v in detector_params.items() if k == "whiten_reg"}}
    spectral = ImageDetector(detector=deep_svdd(**spectral_settings))
    if not spatial:
        return spectral
    contamination = detector_params.get("contamination", 0.005)
    attribute_detector = DeepSVDDDetector(
        random_state=random_state, device=device,
        **{**detector_params, **ATTRIBUTE_DETECTOR_SETTINGS})
    attribute = ImageDetector(spatial=AttributeResidual(**ATTRIBUTE_SETTINGS),
                              detector=attribute_detector)
    residual = ImageDetector(
        spatial=DualWindowResidual(device=None if device == "cpu" else device),
        detector=deep_svdd())
    return FusionDetector(
        [("spectral", spectral), ("attribute", attribute), ("residual", residual)],
        fusion=DEFAULT_FUSION, weights=DEFAULT_WEIGHTS, contamination=contamination,
    )


# The documented settings for clean reference data (README "Clean reference data", measured
# by benchmarks/reference_training.py).
REFERENCE_SETTINGS = {
    "encoder": "whiten",
    "whiten_reg": 1e-3,
    "trim_fraction": 0.0,
    "validation_fraction": 0.1,
    "max_epochs": 0,
    "contamination": 0.005,
}


def make_reference_pipeline(*, random_state=None, **params):
    """Build the pixel-level detector for clean reference data.

    For the inspection workflow: fit on pixels known to be normal (a clean
    reference, ``(n_pixels, n_bands)``), then flag pixels of new images at
    the threshold fitted on the reference. Returns a
    :class:`DeepSVDDDetector` with the settings measured for that use
    (``benchmarks/reference_training.py``; the figures and the reasons are
    in the README's "Clean reference data" section)::

        encoder="whiten", whiten_reg=1e-3, trim_fraction=0,
        validation_fraction=0.1, max_epochs=0, contamination=0.005

    - ``validation_fraction=0.1``: a random tenth of the reference pixels is
      held out, and the threshold ``offset_`` is the ``contamination``
      quantile of *their* scores, not of the pixels the model was fitted
      on (whose scores are biased towards normal).
    - ``trim_fraction=0``: every reference pixel is normal, none is left out.
    - ``encoder="whiten", whiten_reg=1e-3``: Mahalanobis whitening with a
      ridge of 1e-3 of the mean variance (RX's default is 1e-6). The
      lowest-variance directions are estimated worst from a finite
      reference and get the most weight in RX's distance; the ridge damps
      them, so the distance generalises to new images.
    - ``max_epochs=0``: the statistical phase alone, that regularised RX of
      the training part of the reference. On clean reference data the
      measured gradient phase did not improve on it (see the README); set
      ``max_epochs`` (and ``lr``) to train anyway, with early stopping and
      best-weight restoring on the validation loss.
    - ``contamination=0.005``: flag the pixels beyond the 0.995 quantile of
      the validation scores, the reference tutorial's threshold.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Controls the validation split, the phase-1 sample and (when trained)
        the weights and batches. Pass an int for reproducible results.
    **params
        :class:`DeepSVDDDetector` parameters that override the settings
        above (e.g. ``contamination=0.001`` or ``max_epochs=20``).

    Returns
    -------
    detector : DeepSVDDDetector
        Unfitted; ``fit`` on reference pixels, then ``score_samples``
        (higher = more normal) and ``predict`` (``-1`` = anomaly) on new
        pixels.

    Raises
    ------
    TypeError
        If a name in ``params`` is not a :class:`DeepSVDDDetector`
        parameter.

    See Also
    --------
    make_default_detector : The detector fitted on the image it scores
        (anomalies included), with spatial context.

    Examples
    --------
    >>> import numpy as np
    >>> from sksvdd import make_reference_pipeline
    >>> rng = np.random.RandomState(0)
    >>> reference = rng.normal(size=(2000, 8))            # known-normal pixels
    >>> new = rng.normal(size=(300, 8))
    >>> new[:3] += 5.0                                     # three anomalies
    >>> det = make_reference_pipeline(random_state=0).fit(reference)
    >>> det.predict(new[:3])
    array([-1, -1, -1])
    >>> det.validation_fraction, det.contamination
    (0.1, 0.005)
    >>> make_reference_pipeline(contamination=0.01).contamination
    0.01
    """
    valid = DeepSVDDDetector().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise TypeError(
            f"make_reference_pipeline got unknown parameter(s) {unknown}; expected "
            f"DeepSVDDDetector parameters: {sorted(valid)}."
        )
    return DeepSVDDDetector(**{**REFERENCE_SETTINGS, **params, "random_state": random_state})
