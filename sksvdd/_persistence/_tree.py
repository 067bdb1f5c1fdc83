"""Estimators to and from the JSON tree of a model file, checked against the allow-list.

:class:`_Writer` turns an estimator into the manifest's tree, collecting its
arrays and network weights aside; :class:`_Reader` rebuilds estimators from
a tree, checking every class, parameter and fitted attribute against
:mod:`sksvdd._persistence._schema` before it is set.
"""

import warnings

import numpy as np
from sklearn.pipeline import Pipeline

from .._svdd._detector import DeepSVDDDetector
from .._utils import resolve_device
from ..image._fusion import branch_weights
from ._schema import (
    _FUSION_DETECTOR,
    _FUSION_DETECTOR_CLS,
    _IMAGE_DETECTOR,
    _IMAGE_DETECTOR_CLS,
    _NAME_OF,
    _PIPELINE,
    _SPATIAL_CLASSES,
    _SCALAR_DTYPES,
    _SPECS,
    _construct,
    _describe,
    _FormatError,
)

# Parameters used only by fit: stored as None (with a warning) when not JSON.
_TRAINING_ONLY_PARAMS = ("callbacks", "random_state")


# --- writing -----------------------------------------------------------------------------


class _Writer:
    """Turns an estimator into a JSON tree, collecting its arrays and weights aside."""

    def __init__(self):
        self.arrays = {}
        self.weights = {}
        self._nets = 0

    def estimator(self, est, where):
        if type(est) is Pipeline:
            return self._pipeline(est, where)
        if type(est) is _IMAGE_DETECTOR_CLS:
            return self._image_detector(est, where)
        if type(est) is _FUSION_DETECTOR_CLS:
            return self._fusion_detector(est, where)
        name = _NAME_OF.get(type(est))
        if name is None:
            supported = ", ".join(sorted(
                n.rsplit(".", 1)[1]
                for n in [*_SPECS, _PIPELINE, _IMAGE_DETECTOR, _FUSION_DETECTOR]
            ))
            raise TypeError(
                f"sksvdd.save cannot store {where}: {type(est).__module__}."
                f"{type(est).__qualname__} is not supported (supported: {supported}). "
                "Use joblib.dump for other estimators (and joblib.load only on trusted files)."
            )
        spec = _SPECS[name]
        params = self._params(est, where)
        fitted = {k: v for k, v in vars(est).items() if k not in params and k != "net_"}
        unknown = sorted(set(fitted) - set(spec.attrs))
        if unknown:
            raise ValueError(
                f"sksvdd.save cannot store {where}: its attributes {unknown} are not part of "
                "the sksvdd model format."
            )
        tree = {"class": name, "params": params,
                "fitted": {k: self.value(v, f"{where}, attribute {k!r}")
                           for k, v in sorted(fitted.items())}}
        if isinstance(est, DeepSVDDDetector) and hasattr(est, "net_"):
            prefix = f"net{self._nets}."
            self._nets += 1
            for key, tensor in est.net_.module_.state_dict().items():
                self.weights[prefix + key] = tensor.detach().to("cpu").contiguous().clone()
            tree["weights"] = prefix
        return tree

    def _pipeline(self, pipe, where):
        params = self._params(pipe, where, skip=("steps",))
        if params.get("memory") is not None:
            warnings.warn(
                f"sksvdd.save: {where} has memory={pipe.memory!r}, a cache of fitted steps; "
                "model files store no paths, so it is saved as memory=None (it only affects "
                "refitting).", UserWarning, stacklevel=4)
            params["memory"] = None
        steps = []
        for step, est in pipe.steps:
            if est is None or est == "passthrough":
                steps.append([step, "passthrough"])
            else:
                steps.append([step, self.estimator(est, _describe(est, step))])
        extra = {k for k in vars(pipe) if k not in pipe.get_params(deep=False)}
        if extra - {"_sklearn_output_config"}:
            raise ValueError(f"sksvdd.save cannot store {where}: unexpected attributes "
                             f"{sorted(extra)}.")
        return {"class": _PIPELINE, "params": params, "steps": steps}

    def _image_detector(self, det, where):
        params = {}
        for key, value in det.get_params(deep=False).items():
            params[key] = value if value is None or isinstance(value, str) else (
                self.estimator(value, f"{where}, parameter {key!r}"))
        fitted = {}
        if hasattr(det, "detector_"):
            fitted = {
                "spatial_": None if det.spatial_ is None
                else self.estimator(det.spatial_, f"{where}, spatial_"),
                "detector_": self.estimator(det.detector_, f"{where}, detector_"),
                "n_bands_in_": int(det.n_bands_in_),
                "n_images_in_": int(det.n_images_in_),
            }
        extra = set(vars(det)) - set(params) - set(fitted)
        if extra:
            raise ValueError(f"sksvdd.save cannot store {where}: unexpected attributes "
                             f"{sorted(extra)}.")
        return {"class": _IMAGE_DETECTOR, "params": params, "fitted": fitted}

    def _fusion_detector(self, det, where):
        params = {
            "detectors": [[name, self.estimator(sub, f"{where}, branch {name!r}")]
                          for name, sub in det.detectors],
            "fusion": det.fusion, "contamination": self.value(det.contamination, where),
            "weights": None if det.weights is None else _float_list(det.weights, where),
        }
        fitted = {}
        if hasattr(det, "detectors_"):
            fitted = {
                "detectors_": [[name, self.estimator(sub, f"{where}, fitted branch {name!r}")]
                               for name, sub in det.detectors_],
                "location_": self.value(np.asarray(det.location_, dtype=np.float64), where),
                "scale_": self.value(np.asarray(det.scale_, dtype=np.float64), where),
                "weights_": self.value(np.asarray(det.weights_, dtype=np.float64), where),
                "offset_": float(det.offset_),
                "n_bands_in_": int(det.n_bands_in_),
                "n_images_in_": int(det.n_images_in_),
            }
        extra = set(vars(det)) - set(params) - set(fitted)
        if extra:
            raise ValueError(f"sksvdd.save cannot store {where}: unexpected attributes "
                             f"{sorted(extra)}.")
        return {"class": _FUSION_DETECTOR, "params": params, "fitted": fitted}

    def _params(self, est, where, skip=()):
        params = {}
        for key, value in est.get_params(deep=False).items():
            if key in skip:
                continue
            try:
                params[key] = self.value(value, f"{where}, parameter {key!r}")
            except TypeError:
                if key not in _TRAINING_ONLY_PARAMS:
                    raise
                warnings.warn(
                    f"sksvdd.save: {where} has {key}={value!r}, which cannot be stored "
                    f"safely; it is saved as {key}=None. It only matters for training: set it "
                    "again before refitting the loaded model.",
                    UserWarning, stacklevel=4,
                )
                params[key] = None
        return params

    def value(self, v, where):
        """JSON form of ``v``; arrays go to ``self.arrays`` and are referred to by key."""
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and type(v) in (int, float):
            return v
        if isinstance(v, np.generic) and v.dtype.name in _SCALAR_DTYPES:
            return {"__scalar__": v.dtype.name, "value": v.item()}
        if isinstance(v, np.ndarray):
            if v.dtype.kind in "biuf" and v.dtype.name in _SCALAR_DTYPES:
                key = f"a{len(self.arrays)}"
                self.arrays[key] = np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("="))
                if v.ndim > 1 and v.flags.f_contiguous and not v.flags.c_contiguous:
                    # The memory layout picks the BLAS kernel, hence the last bits of
                    # results (e.g. PCA.transform): keep it.
                    return {"__array__": key, "order": "F"}
                return {"__array__": key}
            if v.ndim == 1 and v.dtype.kind in "OU" and all(isinstance(s, str) for s in v):
                return {"__strings__": [str(s) for s in v]}
        if isinstance(v, list):
            return [self.value(x, where) for x in v]
        if isinstance(v, tuple):
            return {"__tuple__": [self.value(x, where) for x in v]}
        if isinstance(v, dict) and all(isinstance(k, str) for k in v):
            return {"__dict__": {k: self.value(x, where) for k, x in v.items()}}
        raise TypeError(
            f"sksvdd.save cannot store {where}: a value of type {type(v).__name__} has no "
            "safe representation."
        )


# --- reading -----------------------------------------------------------------------------


class _Reader:
    """Rebuilds estimators from the JSON tree, checking everything against the allow-list."""

    def __init__(self, arrays, weights):
        self.arrays = arrays
        self.weights = weights
        self._used_arrays = set()
        self._used_weights = set()

    def check_all_used(self):
        extra = (set(self.arrays) - self._used_arrays) | (set(self.weights) - self._used_weights)
        if extra:
            raise _FormatError(f"it holds tensors no estimator refers to: {sorted(extra)[:5]}.")

    def estimator(self, tree, where):
        if not isinstance(tree, dict) or not isinstance(tree.get("class"), str):
            raise _FormatError(f"{where} is not an estimator description.")
        name = tree["class"]
        if name == _PIPELINE:
            return self._pipeline(tree, where)
        if name == _IMAGE_DETECTOR:
            return self._image_detector(tree, where)
        if name == _FUSION_DETECTOR:
            return self._fusion_detector(tree, where)
        spec = _SPECS.get(name)
        if spec is None:
            raise _FormatError(
                f"{where} has class {name!r}, which is not one the sksvdd model format "
                f"allows ({', '.join(sorted([*_SPECS, _PIPELINE]))})."
            )
        allowed = set(tree) <= {"class", "params", "fitted", "weights"}
        if not allowed or not isinstance(tree.get("fitted", {}), dict):
            raise _FormatError(f"{where} ({name}) has unexpected entries.")
        params = self._params(tree, spec.cls, where)
        est = _construct(spec.cls, params, where)
        fitted = {k: self.value(v, f"{where}, attribute {k!r}")
                  for k, v in tree.get("fitted", {}).items()}
        self._check_fitted(spec, fitted, params, where)
        for key, value in fitted.items():
            setattr(est, key, value)
        if isinstance(est, DeepSVDDDetector):
            self._attach_net(est, tree.get("weights"), fitted, where)
        return est

    def _pipeline(self, tree, where):
        if set(tree) != {"class", "params", "steps"} or not isinstance(tree["steps"], list):
            raise _FormatError(f"{where} (Pipeline) is malformed.")
        steps, names = [], set()
        for item in tree["steps"]:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise _FormatError(f"{where} (Pipeline) has a malformed step.")
            step, sub = item
            if step in names or "__" in step or not step:
                raise _FormatError(f"{where} (Pipeline) has an invalid step name {step!r}.")
            if step in Pipeline._get_param_names():
                raise _FormatError(
                    f"{where} (Pipeline) has a step named {step!r}, which is also the name of "
                    "a Pipeline parameter; scikit-learn cannot set such a step's parameters.")
            names.add(step)
            where_step = f"pipeline step {step!r}"
            steps.append((step, "passthrough" if sub == "passthrough"
                          else self.estimator(sub, where_step)))
        if not steps:
            raise _FormatError(f"{where} (Pipeline) has no steps.")
        params = self._params(tree, Pipeline, where, skip=("steps",))
        if params.get("memory") is not None:
            # A cache folder would be written to and read back (with pickle) at the next
            # fit: a loaded model must not point at a path the file chose.
            raise _FormatError(
                f"{where} (Pipeline) has memory={params['memory']!r}; model files store "
                "pipelines without a cache folder (memory=None).")
        return _construct(Pipeline, {"steps": steps, **params}, where)

    def _image_detector(self, tree, where):
        if set(tree) != {"class", "params", "fitted"} or not isinstance(tree["params"], dict):
            raise _FormatError(f"{where} (ImageDetector) is malformed.")
        params = {}
        for key, value in tree["params"].items():
            if key not in ("spatial", "detector"):
                raise _FormatError(f"{where} (ImageDetector) has an unknown parameter {key!r}.")
            params[key] = value if value is None or value == "passthrough" else (
                self.estimator(value, f"{where}, parameter {key!r}"))
        det = _construct(_IMAGE_DETECTOR_CLS, params, where)
        fitted = tree["fitted"]
        if not isinstance(fitted, dict):
            raise _FormatError(f"{where} (ImageDetector) is malformed.")
        if not fitted:
            return det
        if set(fitted) != {"spatial_", "detector_", "n_bands_in_", "n_images_in_"}:
            raise _FormatError(f"{where} (ImageDetector) has the wrong fitted attributes.")
        n_bands, n_images = fitted["n_bands_in_"], fitted["n_images_in_"]
        if not (type(n_bands) is int and n_bands >= 1 and type(n_images) is int
                and n_images >= 1):
            raise _FormatError(f"{where} (ImageDetector): invalid n_bands_in_ / n_images_in_.")
        spatial = None
        if fitted["spatial_"] is not None:
            spatial = self.estimator(fitted["spatial_"], f"{where}, spatial_")
            if not isinstance(spatial, _SPATIAL_CLASSES) or getattr(
                    spatial, "n_bands_in_", None) != n_bands:
                raise _FormatError(f"{where} (ImageDetector): spatial_ is not a fitted "
                                   f"spatial step for {n_bands} bands.")
        detector = self.estimator(fitted["detector_"], f"{where}, detector_")
        first = detector.steps[0][1] if isinstance(detector, Pipeline) else detector
        # The pixel detector sees the spatial step's channels (the bands, for a residual).
        n_features = n_bands if spatial is None else spatial.n_channels_out_
        if getattr(first, "n_features_in_", None) != n_features or not hasattr(
                detector[-1] if isinstance(detector, Pipeline) else detector, "offset_"):
            raise _FormatError(f"{where} (ImageDetector): detector_ is not a fitted detector "
                               f"for {n_features} features.")
        det.spatial_, det.detector_ = spatial, detector
        det.n_bands_in_, det.n_images_in_ = n_bands, n_images
        return det

    def _branches(self, items, where):
        if not (isinstance(items, list) and items):
            raise _FormatError(f"{where} (FusionDetector) has no branches.")
        branches, names = [], set()
        for item in items:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise _FormatError(f"{where} (FusionDetector) has a malformed branch.")
            name, sub = item
            if name in names or "__" in name or not name:
                raise _FormatError(f"{where} (FusionDetector) has an invalid branch name "
                                   f"{name!r}.")
            names.add(name)
            branches.append((name, self.estimator(sub, f"{where}, branch {name!r}")))
        return branches

    def _fusion_detector(self, tree, where):
        if set(tree) != {"class", "params", "fitted"} or not isinstance(tree["params"], dict):
            raise _FormatError(f"{where} (FusionDetector) is malformed.")
        params = dict(tree["params"])
        # Files written before FusionDetector had weights have neither weights nor weights_.
        if set(params) - {"weights"} != {"detectors", "fusion", "contamination"}:
            raise _FormatError(f"{where} (FusionDetector) has the wrong parameters.")
        weights = params.get("weights")
        if not (weights is None or (isinstance(weights, list) and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) for w in weights))):
            raise _FormatError(f"{where} (FusionDetector) has invalid weights.")
        params["detectors"] = self._branches(params["detectors"], where)
        params["contamination"] = self.value(params["contamination"], where)
        det = _construct(_FUSION_DETECTOR_CLS, params, where)
        fitted = tree["fitted"]
        if not isinstance(fitted, dict):
            raise _FormatError(f"{where} (FusionDetector) is malformed.")
        if not fitted:
            return det
        expected = {"detectors_", "location_", "scale_", "offset_", "n_bands_in_",
                    "n_images_in_"}
        if set(fitted) - {"weights_"} != expected:
            raise _FormatError(f"{where} (FusionDetector) has the wrong fitted attributes.")
        branches = self._branches(fitted["detectors_"], where)
        n_bands, n_images = fitted["n_bands_in_"], fitted["n_images_in_"]
        location = self.value(fitted["location_"], where)
        scale = self.value(fitted["scale_"], where)
        offset = fitted["offset_"]
        weights_ = self.value(fitted["weights_"], where) if "weights_" in fitted else (
            np.ones(len(branches)))
        try:
            expected_weights = branch_weights(det.weights, len(branches))
        except ValueError:
            raise _FormatError(f"{where} (FusionDetector) has invalid weights.") from None
        valid = (
            type(n_bands) is int and n_bands >= 1 and type(n_images) is int and n_images >= 1
            and [name for name, _ in branches] == [name for name, _ in params["detectors"]]
            and all(getattr(sub, "n_bands_in_", None) == n_bands for _, sub in branches)
            and isinstance(location, np.ndarray) and isinstance(scale, np.ndarray)
            and location.shape == scale.shape == (len(branches),)
            and np.isfinite(location).all() and (scale > 0).all() and np.isfinite(scale).all()
            and isinstance(offset, float) and np.isfinite(offset)
            and isinstance(weights_, np.ndarray) and weights_.shape == location.shape
            and np.allclose(weights_, expected_weights)
        )
        if not valid:
            raise _FormatError(f"{where} (FusionDetector): its fitted branches, location_, "
                               "scale_, offset_ or band count are inconsistent.")
        det.detectors_ = branches
        det.location_, det.scale_, det.offset_ = location, scale, offset
        det.weights_ = weights_
        det.n_bands_in_, det.n_images_in_ = n_bands, n_images
        return det

    def _params(self, tree, cls, where, skip=()):
        params = tree.get("params")
        if not isinstance(params, dict):
            raise _FormatError(f"{where} has no parameters.")
        known = set(cls._get_param_names()) - set(skip)
        unknown = sorted(set(params) - known)
        if unknown:
            raise _FormatError(f"{where} ({cls.__name__}) has unknown parameters {unknown}.")
        values = {k: self.value(v, f"{where}, parameter {k!r}") for k, v in params.items()}
        if values.get("callbacks") not in (None, []):
            # save() never stores callbacks (they are code): anything else was crafted.
            raise _FormatError(f"{where} ({cls.__name__}) has callbacks="
                               f"{str(values['callbacks'])[:60]}; model files store none.")
        return values

    def _check_fitted(self, spec, fitted, params, where):
        cls = spec.cls.__name__
        unknown = sorted(set(fitted) - set(spec.attrs))
        if unknown:
            raise _FormatError(f"{where} ({cls}) has unknown attributes {unknown}.")
        if not fitted:
            return  # an unfitted estimator
        missing = sorted(set(spec.attrs) - spec.optional - set(fitted))
        if missing:
            raise _FormatError(f"{where} ({cls}) lacks the fitted attributes {missing}.")
        for key, value in fitted.items():
            if not spec.attrs[key](value):
                raise _FormatError(
                    f"{where} ({cls}) has an invalid {key} (type {type(value).__name__}"
                    + (f", dtype {value.dtype}, shape {value.shape}" if isinstance(
                        value, np.ndarray) else "") + ")."
                )
        shapes = spec.shapes(fitted, params)
        if "feature_names_in_" in fitted:
            shapes["feature_names_in_"] = (fitted["n_features_in_"],)
        for key, shape in shapes.items():
            if fitted[key].shape != shape:
                raise _FormatError(f"{where} ({cls}): {key} has shape {fitted[key].shape}, "
                                   f"expected {shape}.")

    def _attach_net(self, est, prefix, fitted, where):
        if not fitted:
            if prefix is not None:
                raise _FormatError(f"{where}: an unfitted detector cannot have weights.")
            return
        if not isinstance(prefix, str) or not prefix:
            raise _FormatError(f"{where}: the fitted detector's weights are missing.")
        state = {k[len(prefix):]: t for k, t in self.weights.items() if k.startswith(prefix)}
        self._used_weights.update(prefix + k for k in state)
        try:
            # A model fitted on CUDA loads onto the CPU where there is none (with a warning).
            device = resolve_device(est.device, cpu_fallback=True,
                                    context=f"sksvdd.load: {where}", stacklevel=4)
            est._restore_fitted(fitted, state, device)
        except ValueError as exc:
            raise _FormatError(f"{where}: {exc}") from None

    def value(self, v, where):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)):
            return v
        if isinstance(v, list):
            return [self.value(x, where) for x in v]
        if not (isinstance(v, dict) and len(v) in (1, 2)):
            raise _FormatError(f"{where}: unexpected value {str(v)[:80]!r}.")
        if set(v) == {"__scalar__", "value"}:
            dtype, x = v["__scalar__"], v["value"]
            if dtype not in _SCALAR_DTYPES or not isinstance(x, (bool, int, float)):
                raise _FormatError(f"{where}: invalid scalar {str(v)[:80]!r}.")
            return np.dtype(dtype).type(x)
        if set(v) == {"__array__"} or (set(v) == {"__array__", "order"} and v["order"] == "F"):
            key = v["__array__"]
            if not isinstance(key, str) or key not in self.arrays:
                raise _FormatError(f"{where}: refers to a missing array {key!r}.")
            array = self.arrays[key]
            if array.dtype.kind not in "biuf":
                raise _FormatError(f"{where}: array {key!r} is not numeric.")
            self._used_arrays.add(key)
            return np.asfortranarray(array) if "order" in v else array
        if set(v) == {"__strings__"} and isinstance(v["__strings__"], list):
            if not all(isinstance(s, str) for s in v["__strings__"]):
                raise _FormatError(f"{where}: invalid list of names.")
            return np.array(v["__strings__"], dtype=object)
        if set(v) == {"__tuple__"} and isinstance(v["__tuple__"], list):
            return tuple(self.value(x, where) for x in v["__tuple__"])
        if set(v) == {"__dict__"} and isinstance(v["__dict__"], dict):
            return {k: self.value(x, where) for k, x in v["__dict__"].items()}
        raise _FormatError(f"{where}: unexpected value {str(v)[:80]!r}.")


def _float_list(values, where):
    """``values`` (the user's weights) as a JSON list of finite floats."""
    out = np.asarray(values, dtype=np.float64).ravel()
    if not np.isfinite(out).all():
        raise ValueError(f"sksvdd.save cannot store {where}: non-finite weights.")
    return [float(v) for v in out]
