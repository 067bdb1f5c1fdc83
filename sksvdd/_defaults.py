"""The recommended configurations, built in one place for the CLI, the demo and the docs."""

from sklearn.pipeline import Pipeline

from ._preprocessing import BandpassByWavelength
from ._svdd import DeepSVDDDetector
from .image import DualWindowResidual, ImageDetector


def make_default_detector(
    *, spatial=True, wavelengths=None, min_wavelength_nm=None, max_wavelength_nm=None,
    device="cpu", random_state=None, **detector_params,
):
    """Build the recommended detector for whole images.

    :class:`ImageDetector` with:

    - ``spatial``: :class:`DualWindowResidual` with its defaults (a 5/1
      window, the ring's median as background): each pixel minus its local
      background. Omitted with ``spatial=False`` (the spectra alone).
    - ``detector``: :class:`DeepSVDDDetector` with its defaults (including
      the robust statistical phase, ``trim_fraction=0.02``), preceded by
      :class:`BandpassByWavelength` when a wavelength bound is given.

    How these choices were measured, and how the result compares with RX
    and other detectors, is in ``benchmarks/README.md``.

    Parameters
    ----------
    spatial : bool, default=True
        Include the dual-window residual (spatial context).
    wavelengths : array-like of shape (n_bands,), default=None
        Band centres in nm. Needed only when a wavelength bound is given.
    min_wavelength_nm, max_wavelength_nm : float, default=None
        Band-pass bounds; when either is set, a band-pass step comes first
        in the pixel pipeline.
    device : str, default="cpu"
        Torch device of the detector (and of the spatial step when it is
        not ``"cpu"``): ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    random_state : int, RandomState instance or None, default=None
        Passed to the detector.
    **detector_params
        Further :class:`DeepSVDDDetector` parameters (e.g. ``nu=0.05``).

    Returns
    -------
    detector : ImageDetector
        Unfitted. Its pixel detector is a :class:`DeepSVDDDetector`, or a
        :class:`~sklearn.pipeline.Pipeline` of steps ``bandpass`` and
        ``detector`` when a wavelength bound is given.

    Examples
    --------
    >>> from sksvdd import make_default_detector
    >>> from sksvdd.datasets import make_hyperspectral_scene
    >>> scene = make_hyperspectral_scene(n_rows=40, n_cols=40, random_state=0)
    >>> det = make_default_detector(random_state=0, max_epochs=2).fit(scene.cube)
    >>> det.score_samples(scene.cube).shape
    (40, 40)
    >>> det.set_params(detector__nu=0.05).get_params()["spatial__outer_window"]
    5
    """
    detector = DeepSVDDDetector(random_state=random_state, device=device, **detector_params)
    if min_wavelength_nm is not None or max_wavelength_nm is not None:
        detector = Pipeline([
            ("bandpass", BandpassByWavelength(
                wavelengths=wavelengths, min_wavelength_nm=min_wavelength_nm,
                max_wavelength_nm=max_wavelength_nm,
            )),
            ("detector", detector),
        ])
    residual = None
    if spatial:
        residual = DualWindowResidual(device=None if device == "cpu" else device)
    return ImageDetector(spatial=residual, detector=detector)
