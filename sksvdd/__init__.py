"""sksvdd: Deep SVDD one-class anomaly detection for scikit-learn, built for hyperspectral imaging.

Public API
----------
BandpassByWavelength
    Keep the bands inside a wavelength interval (a scikit-learn selector).
PerPixelUnitNorm
    Centre each spectrum and scale it to unit L2 norm (stateless).
DualWindowResidual
    Subtract each pixel's local (dual-window) background (spatial context).
DeepSVDDDetector
    Two-phase Deep SVDD outlier detector on a skorch net.
RXDetector
    Global Reed-Xiaoli (Mahalanobis) baseline detector.
make_default_pipeline
    The recommended pipeline (used by the CLI and the demo).
save, load
    Safe model files (JSON + safetensors in a zip; loading cannot run code).
TrainingDivergedWarning
    Warned when training stops on a non-finite loss (last good weights kept).

Submodules: ``sksvdd.datasets`` (files, cubes, the built-in scene),
``sksvdd.metrics`` (detection metrics and scorers), ``sksvdd.plotting``
(Displays, extra ``[plot]``), ``sksvdd.monitoring`` (progress bar,
TensorBoard, extra ``[tensorboard]``) and ``sksvdd.parallel`` (Dask:
score_cube / predict_cube for cubes larger than memory, fit_out_of_core;
extra ``[dask]``).
"""

# First, before the slow imports: quiet Ctrl-C while the sksvdd command starts.
from . import _startup  # noqa: F401 - imported for its effect, see its docstring
from ._detector import DeepSVDDDetector
from ._persistence import load, save
from ._pipeline import make_default_pipeline
from ._preprocessing import BandpassByWavelength, DualWindowResidual, PerPixelUnitNorm
from ._rx import RXDetector
from ._training import TrainingDivergedWarning

__version__ = "0.1.0.dev0"

__all__ = [
    "BandpassByWavelength",
    "DeepSVDDDetector",
    "DualWindowResidual",
    "PerPixelUnitNorm",
    "RXDetector",
    "TrainingDivergedWarning",
    "load",
    "make_default_pipeline",
    "save",
    "__version__",
]
