"""The allow-list of the sksvdd model format: classes, schemas and value checks.

Every class a model file may name is listed in ``_SPECS`` with the schema of
its fitted attributes (a check per attribute, and the shapes they must
have). :mod:`sksvdd._persistence._tree` writes and reads estimators against
this list; :mod:`sksvdd._persistence._file` reads and writes the files.
"""

import math
import numbers

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

from .._svdd._detector import DeepSVDDDetector
from .._preprocessing import BandpassByWavelength, PerPixelUnitNorm
from .._rx import RXDetector
from ..image import AttributeResidual, DualWindowResidual, FusionDetector, ImageDetector

_SCALAR_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                  "uint64", "float16", "float32", "float64")


class _FormatError(ValueError):
    """The file is readable but its contents break the format; the message says how."""


# --- the allow-list: classes and the schema of their fitted attributes -------------------


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= 0


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_finite(v):
    return _is_real(v) and math.isfinite(v)


def _array(ndim, kinds="f"):
    # Floating arrays must be finite: a fitted model reads every one of them, and a NaN
    # or infinity would give NaN scores (and predict would then flag nothing).
    return lambda v: (isinstance(v, np.ndarray) and v.ndim == ndim and v.dtype.kind in kinds
                      and (v.dtype.kind != "f" or bool(np.isfinite(v).all())))


def _optional(check):
    return lambda v: v is None or check(v)


def _is_names(v):
    return (isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype == object
            and all(isinstance(s, str) for s in v))


def _is_output_config(v):
    return isinstance(v, dict) and all(
        isinstance(k, str) and v[k] in ("default", "pandas", "polars") for k in v
    )


_HISTORY_FIELDS = {"epoch": _is_int, "loss": _is_finite, "loss_best": lambda v: isinstance(
    v, (bool, np.bool_)), "radius": _is_real, "center_shift": _is_real,
    "outside_frac": _is_real, "lr": _is_real, "dur": _is_real, "valid_loss": _is_real,
    "valid_loss_best": lambda v: isinstance(v, (bool, np.bool_))}


def _is_history(v):
    return isinstance(v, list) and all(
        isinstance(row, dict) and all(k in _HISTORY_FIELDS and _HISTORY_FIELDS[k](x)
                                      for k, x in row.items())
        for row in v
    )


_COMMON = {"n_features_in_": _is_int, "feature_names_in_": _is_names,
           "_sklearn_output_config": _is_output_config}
_OPTIONAL = {"feature_names_in_", "_sklearn_output_config"}
_VEC = _array(1)


def _vec_shapes(*names):
    return lambda a, p: {name: (a["n_features_in_"],) for name in names}


class _Spec:
    """One allowed class: its schema of fitted attributes and their expected shapes."""

    def __init__(self, cls, attrs, shapes=None, optional=(), common=_COMMON):
        self.cls = cls
        self.attrs = {**common, **attrs}
        self.optional = _OPTIONAL | set(optional)
        self.shapes = shapes or (lambda a, p: {})


_SPECS = {
    "sksvdd.DeepSVDDDetector": _Spec(
        DeepSVDDDetector,
        {"center_": _VEC, "radius_": _is_finite, "offset_": _is_finite, "n_iter_": _is_int,
         "history_": _is_history},
        # encoder="whiten" embeds in the whitened space of all the bands.
        lambda a, p: {"center_": (a["n_features_in_"] if p.get("encoder") == "whiten"
                                  else p["rep_dim"],)},
    ),
    "sksvdd.RXDetector": _Spec(
        RXDetector,
        {"location_": _VEC, "precision_": _array(2), "offset_": _is_finite},
        lambda a, p: {"location_": (a["n_features_in_"],),
                      "precision_": (a["n_features_in_"],) * 2},
    ),
    "sksvdd.BandpassByWavelength": _Spec(
        BandpassByWavelength,
        {"wavelengths_": _VEC, "support_": _array(1, "b")},
        _vec_shapes("wavelengths_", "support_"),
    ),
    "sksvdd.PerPixelUnitNorm": _Spec(PerPixelUnitNorm, {}),
    "sksvdd.DualWindowResidual": _Spec(DualWindowResidual, {"n_bands_in_": _is_int}, common={}),
    "sksvdd.AttributeResidual": _Spec(
        AttributeResidual,
        {"n_bands_in_": _is_int, "n_components_": _is_int, "mean_": _VEC,
         "components_": _array(2)},
        lambda a, p: {"mean_": (a["n_bands_in_"],),
                      "components_": (min(p["n_components"], a["n_bands_in_"]),
                                      a["n_bands_in_"])},
        common={},
    ),
    "sklearn.preprocessing.StandardScaler": _Spec(
        StandardScaler,
        {"mean_": _optional(_VEC), "var_": _optional(_VEC), "scale_": _optional(_VEC),
         "n_samples_seen_": lambda v: _is_real(v) or _array(1, "iu")(v)},
        lambda a, p: {k: (a["n_features_in_"],) for k in ("mean_", "var_", "scale_")
                      if a[k] is not None},
    ),
    "sklearn.preprocessing.MinMaxScaler": _Spec(
        MinMaxScaler,
        {"scale_": _VEC, "min_": _VEC, "data_min_": _VEC, "data_max_": _VEC,
         "data_range_": _VEC, "n_samples_seen_": _is_int},
        _vec_shapes("scale_", "min_", "data_min_", "data_max_", "data_range_"),
    ),
    "sklearn.preprocessing.Normalizer": _Spec(Normalizer, {}),
    "sklearn.decomposition.PCA": _Spec(
        PCA,
        {"mean_": _VEC, "components_": _array(2), "explained_variance_": _VEC,
         "explained_variance_ratio_": _VEC, "singular_values_": _VEC,
         "n_components_": _is_int, "n_samples_": _is_int, "noise_variance_": _is_real,
         "_fit_svd_solver": lambda v: v in ("full", "arpack", "randomized",
                                            "covariance_eigh", "auto")},
        lambda a, p: {"mean_": (a["n_features_in_"],),
                      "components_": (a["n_components_"], a["n_features_in_"]),
                      **{k: (a["n_components_"],) for k in (
                          "explained_variance_", "explained_variance_ratio_",
                          "singular_values_")}},
    ),
}
_NAME_OF = {spec.cls: name for name, spec in _SPECS.items()}
_PIPELINE = "sklearn.pipeline.Pipeline"
# Image detectors hold estimators (not arrays) as parameters and fitted attributes:
# written and read like pipelines, by _tree.
_IMAGE_DETECTOR = "sksvdd.ImageDetector"
_IMAGE_DETECTOR_CLS = ImageDetector
_SPATIAL_CLASSES = (AttributeResidual, DualWindowResidual)
_FUSION_DETECTOR = "sksvdd.FusionDetector"
_FUSION_DETECTOR_CLS = FusionDetector


def _describe(estimator, step=None):
    kind = type(estimator).__name__
    return kind if step is None else f"pipeline step {step!r} ({kind})"


def _construct(cls, params, where):
    """``cls(**params)``, with the parameters checked by the class's own constraints."""
    est = cls(**params)
    try:
        est._validate_params()
    except ValueError as exc:  # InvalidParameterError
        raise _FormatError(f"{where} ({cls.__name__}) has invalid parameters: {exc}") from None
    return est
