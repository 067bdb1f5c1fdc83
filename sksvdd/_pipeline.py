"""The recommended pipeline, shared by the CLI, the demo and the docs."""

from sklearn.pipeline import Pipeline

from ._detector import DeepSVDDDetector
from ._preprocessing import BandpassByWavelength, PerPixelUnitNorm


def make_default_pipeline(
    *, wavelengths=None, min_wavelength_nm=None, max_wavelength_nm=None,
    random_state=None, **detector_params,
):
    """Build the recommended sksvdd pipeline: [band-pass ->] unit norm -> Deep SVDD.

    Parameters
    ----------
    wavelengths : array-like of shape (n_bands,), default=None
        Band centres in nm. Needed only when a wavelength bound is given.
    min_wavelength_nm, max_wavelength_nm : float, default=None
        Band-pass bounds; when either is set a :class:`BandpassByWavelength`
        step comes first.
    random_state : int, RandomState instance or None, default=None
        Passed to the detector.
    **detector_params
        Further :class:`DeepSVDDDetector` parameters (e.g. ``nu=0.05``).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        An unfitted pipeline with steps named ``bandpass`` (optional),
        ``unitnorm`` and ``detector``.

    Examples
    --------
    >>> from sksvdd import make_default_pipeline
    >>> pipe = make_default_pipeline(random_state=0, nu=0.05)
    >>> [name for name, _ in pipe.steps]
    ['unitnorm', 'detector']
    """
    steps = []
    if min_wavelength_nm is not None or max_wavelength_nm is not None:
        steps.append(("bandpass", BandpassByWavelength(
            wavelengths=wavelengths, min_wavelength_nm=min_wavelength_nm,
            max_wavelength_nm=max_wavelength_nm,
        )))
    steps.append(("unitnorm", PerPixelUnitNorm()))
    steps.append(("detector", DeepSVDDDetector(random_state=random_state, **detector_params)))
    return Pipeline(steps)
