"""The image layer: spatial context as image operations, and detectors for whole images.

Everything here takes images of shape ``(rows, cols, bands)`` (or a batch
``(n_images, rows, cols, bands)``, or a list of images of different sizes)
and returns images or ``(rows, cols)`` maps, as
:mod:`sklearn.feature_extraction.image` works on images. The pixel layer
(:class:`~sksvdd.DeepSVDDDetector`, :class:`~sksvdd.RXDetector`, the
transformers) works on matrices of pixels and never needs an image's shape.

- :class:`DualWindowResidual`: each pixel minus its local (ring) background.
- :class:`AttributeResidual`: area openings and closings of the principal
  components, minus the components: small structures of any shape.
- :class:`ImageDetector`: spatial context + a pixel-level detector, fitted
  on one or several images; scores and predicts ``(rows, cols)`` maps.
- :class:`FusionDetector`: several image detectors (branches, e.g. the
  spectrum alone and its local residual) whose standardised scores are
  fused per pixel.
"""

from ._attribute import AttributeResidual
from ._detector import ImageDetector
from ._fusion import FusionDetector
from ._spatial import DualWindowResidual

__all__ = ["AttributeResidual", "DualWindowResidual", "FusionDetector", "ImageDetector"]
