"""sksvdd: Deep SVDD one-class anomaly detection for scikit-learn, built for hyperspectral imaging.

Public API
----------
BandpassByWavelength
    Keep the bands inside a wavelength interval (a scikit-learn selector).
PerPixelUnitNorm
    Centre each spectrum and scale it to unit L2 norm (stateless).
DualWindowResidual
    Subtract each pixel's local (dual-window) background: an image operation.
AttributeResidual
    Area-attribute residuals of the principal components: small structures of any shape.
ImageDetector
    Spatial context + a pixel-level detector, fitted on and applied to whole images.
FusionDetector
    Several image detectors whose standardised per-pixel scores are fused.
DeepSVDDDetector
    Two-phase Deep SVDD outlier detector on a skorch net.
RXDetector
    Global Reed-Xiaoli (Mahalanobis) baseline detector.
make_default_detector
    The recommended ImageDetector (used by the CLI and the demo).
save, load
    Safe model files (JSON + safetensors in a zip; loading cannot run code).
TrainingDivergedWarning
    Warned when training stops on a non-finite loss (last good weights kept).

Two layers: the pixel layer (transformers and detectors on matrices of
pixels, row by row) and the image layer (``sksvdd.image``: operations on
images ``(rows, cols, bands)`` and detectors that score whole images).

Submodules: ``sksvdd.image`` (the image layer), ``sksvdd.datasets`` (files, cubes, the built-in scene),
``sksvdd.metrics`` (detection metrics and scorers), ``sksvdd.plotting``
(Displays, extra ``[plot]``), ``sksvdd.monitoring`` (progress bar,
TensorBoard, extra ``[tensorboard]``) and ``sksvdd.parallel`` (Dask:
score_cube / predict_cube for cubes larger than memory, fit_out_of_core;
extra ``[dask]``).
"""

# First: quiet Ctrl-C while the sksvdd command starts (see its docstring).
from . import _startup  # noqa: F401 - imported for its effect
from ._version import __version__

# The public names are PEP 562 lazy attributes (lazy_loader, as in
# scikit-image): `import sksvdd` stays fast, and torch, skorch, scikit-learn,
# Dask and matplotlib are imported only with the first name that needs them.
# The command line relies on this: `sksvdd --help` and `sksvdd info` import
# none of them. EAGER_IMPORT=1 in the environment imports everything at once.
import lazy_loader as _lazy  # noqa: E402 - after _startup, on purpose

__getattr__, _lazy_dir, _ = _lazy.attach(
    __name__,
    submodules=["cli", "datasets", "image", "metrics", "monitoring", "parallel", "plotting"],
    submod_attrs={
        "_defaults": ["make_default_detector", "make_reference_pipeline"],
        "_persistence": ["load", "save"],
        "_preprocessing": ["BandpassByWavelength", "PerPixelUnitNorm"],
        "_rx": ["RXDetector"],
        "_svdd": ["DeepSVDDDetector", "TrainingDivergedWarning"],
        "image": ["AttributeResidual", "DualWindowResidual", "FusionDetector", "ImageDetector"],
    },
)


def __dir__():
    # The module's own names (as a plain dir() shows them) and the lazy ones.
    return sorted(set(globals()) | set(_lazy_dir()))


__all__ = [
    "AttributeResidual",
    "BandpassByWavelength",
    "DeepSVDDDetector",
    "DualWindowResidual",
    "FusionDetector",
    "ImageDetector",
    "PerPixelUnitNorm",
    "RXDetector",
    "TrainingDivergedWarning",
    "load",
    "make_default_detector",
    "make_reference_pipeline",
    "save",
    "__version__",
]
