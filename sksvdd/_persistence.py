"""Safe model files: save and load fitted estimators without pickle.

A model file is a zip archive with three members:

- ``manifest.json``: the format name and version, the versions of sksvdd,
  scikit-learn and torch that wrote it, and the estimator as a tree of
  class names (from a fixed allow-list), parameters and fitted attributes.
- ``arrays.safetensors``: the NumPy arrays the manifest refers to.
- ``weights.safetensors``: the torch state dicts of the Deep SVDD networks.

Nothing in the file is ever unpickled, imported or evaluated: loading parses
JSON and safetensors (a raw tensor format), looks class names up in the
allow-list below and checks every value against the class's schema before
it is set on a new estimator.
"""

import json
import math
import numbers
import warnings
import zipfile
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

from ._atomic import atomic_path
from ._detector import DeepSVDDDetector
from ._network import DeepSVDDModule
from ._preprocessing import BandpassByWavelength, DualWindowResidual, PerPixelUnitNorm
from ._rx import RXDetector

FORMAT = "sksvdd-model"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ARRAYS = "arrays.safetensors"
_WEIGHTS = "weights.safetensors"
_MEMBERS = (_MANIFEST, _ARRAYS, _WEIGHTS)
_MAX_MANIFEST_BYTES = 64 * 2**20
_MAX_TENSOR_BYTES = 8 * 2**30
# Fixed zip timestamps: saving the same model twice gives the same bytes.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Parameters used only by fit: stored as None (with a warning) when not JSON.
_TRAINING_ONLY_PARAMS = ("callbacks", "random_state")
_SCALAR_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                  "uint64", "float16", "float32", "float64")


def save(estimator, path):
    """Save a fitted sksvdd estimator or pipeline to a file that loading cannot run code from.

    The file is a zip archive of JSON (classes, parameters, fitted
    attributes) and safetensors (arrays and network weights); it holds no
    pickle. Supported: :class:`DeepSVDDDetector`, :class:`RXDetector`,
    :class:`BandpassByWavelength`, :class:`PerPixelUnitNorm`,
    :class:`DualWindowResidual`, and
    :class:`~sklearn.pipeline.Pipeline` objects made of them and of
    scikit-learn's ``StandardScaler``, ``MinMaxScaler``, ``Normalizer`` and
    ``PCA``. The file is written atomically: ``path`` is either left as it
    was or holds the complete new file.

    Parameters
    ----------
    estimator : estimator or Pipeline
        A fitted (or unfitted) supported estimator.
    path : str or path-like
        The file to write (conventionally ``*.sksvdd``). Its directory must
        exist.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    TypeError
        If the estimator, or a pipeline step (named in the message), is of
        an unsupported class, or a parameter cannot be stored as JSON.
    ValueError
        If an estimator carries an attribute the format does not know.
    ImportError
        If the ``safetensors`` package is not installed.

    Warns
    -----
    UserWarning
        When a ``callbacks`` or ``random_state`` parameter cannot be stored
        (skorch callbacks, a ``RandomState`` instance): it is saved as
        ``None``. Both affect only training, not the fitted model's scores.

    See Also
    --------
    load : Read the file back.

    Notes
    -----
    Use this format to share or deploy models: :func:`load` validates what
    it reads and cannot execute code. ``joblib.dump`` stores any estimator
    (also user callbacks and custom steps) and is fine for your own files,
    but ``joblib.load`` runs whatever code the file contains: load joblib
    files only from sources you trust.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from sksvdd import RXDetector
    >>> from sksvdd._persistence import load, save
    >>> X = np.random.RandomState(0).normal(size=(200, 4))
    >>> rx = RXDetector().fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save(rx, pathlib.Path(folder) / "rx.sksvdd")
    ...     loaded = load(path)
    >>> bool(np.array_equal(loaded.score_samples(X), rx.score_samples(X)))
    True
    """
    st_numpy, st_torch = _safetensors()
    writer = _Writer()
    tree = writer.estimator(estimator, _describe(estimator))
    from sksvdd import __version__

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sksvdd_version": __version__,
        "sklearn_version": sklearn.__version__,
        "torch_version": torch.__version__,
        "estimator": tree,
    }
    members = {
        _MANIFEST: (json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"),
                    zipfile.ZIP_DEFLATED),
        _ARRAYS: (st_numpy.save(writer.arrays), zipfile.ZIP_STORED),
        _WEIGHTS: (st_torch.save(writer.weights), zipfile.ZIP_STORED),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w") as archive:
            for name, (data, compression) in members.items():
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = compression
                archive.writestr(info, data)
    return path


def load(path):
    """Load an estimator or pipeline written by :func:`save`.

    Only the classes :func:`save` supports can come out of a file, and every
    parameter and fitted attribute is checked (types, shapes, dtypes,
    finiteness of the network weights) before it is set. A
    :class:`DeepSVDDDetector` gets a new skorch net (``net_``) holding the
    stored weights, so its scores are bit-identical to the saved model's on
    the same device. A model fitted on CUDA loads onto the CPU (with a
    warning) where CUDA is not available.

    Parameters
    ----------
    path : str or path-like
        The file to read.

    Returns
    -------
    estimator : estimator or Pipeline
        The estimator as it was saved. Parameters stored as ``None`` by
        :func:`save` (``callbacks``, a ``RandomState``) come back as ``None``.

    Raises
    ------
    ValueError
        If the file does not exist, is not an sksvdd model file (e.g. a
        pickle or joblib file), is truncated or corrupt, was written in a
        newer format version, or holds anything the format does not allow.
        The message names the file.
    ImportError
        If the ``safetensors`` package is not installed.

    See Also
    --------
    save : Write the file.
    """
    st_numpy, st_torch = _safetensors()
    path = Path(path)
    where = f"model file '{path}'"
    if not path.is_file():
        raise ValueError(f"Cannot load {where}: it does not exist or is not a file.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"Cannot load {where}: it is not an sksvdd model file (a zip archive written by "
            "sksvdd.save). A joblib or pickle file must be loaded with joblib.load, and only "
            "when you trust its source, since loading it can run arbitrary code."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            data = _read_members(archive)
        manifest = _parse_manifest(data[_MANIFEST])
        arrays = {k: np.array(v) for k, v in st_numpy.load(data[_ARRAYS]).items()}
        weights = st_torch.load(data[_WEIGHTS])
        reader = _Reader(arrays, weights)
        estimator = reader.estimator(manifest["estimator"], "the stored estimator")
        reader.check_all_used()
    except _FormatError as exc:
        raise ValueError(f"Cannot load {where}: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, KeyError,
            UnicodeDecodeError, json.JSONDecodeError, RecursionError, RuntimeError,
            TypeError, ValueError) as exc:
        raise ValueError(
            f"Cannot load {where}: the file is truncated, corrupt or not an sksvdd model "
            f"file ({type(exc).__name__}: {exc})."
        ) from exc
    except Exception as exc:  # safetensors' SafetensorError and zlib.error have no common base
        raise ValueError(
            f"Cannot load {where}: the file is truncated or corrupt "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    return estimator


class _FormatError(ValueError):
    """The file is readable but its contents break the format; the message says how."""


def _safetensors():
    try:
        import safetensors.numpy
        import safetensors.torch
    except ImportError as exc:
        raise ImportError(
            "sksvdd.save and sksvdd.load need the safetensors package: "
            "pip install 'sksvdd[safetensors]'"
        ) from exc
    return safetensors.numpy, safetensors.torch


def _read_members(archive):
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if sorted(names) != sorted(_MEMBERS):
        raise _FormatError(
            f"expected the members {', '.join(_MEMBERS)}, found {', '.join(names) or 'none'}; "
            "it is not an sksvdd model file."
        )
    for info in infos:
        limit = _MAX_MANIFEST_BYTES if info.filename == _MANIFEST else _MAX_TENSOR_BYTES
        if info.file_size > limit:
            raise _FormatError(f"member {info.filename} is implausibly large ({info.file_size} "
                               "bytes).")
    return {info.filename: archive.read(info) for info in infos}


def _parse_manifest(raw):
    from sksvdd import __version__

    manifest = json.loads(raw.decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _FormatError("its manifest does not describe an sksvdd model.")
    version, writer = manifest.get("format_version"), manifest.get("sksvdd_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _FormatError(f"invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise _FormatError(
            f"it was written by sksvdd {writer} in model format version {version}; this "
            f"sksvdd ({__version__}) reads format versions up to {FORMAT_VERSION}. Upgrade "
            "sksvdd to load it."
        )
    if not isinstance(manifest.get("estimator"), dict):
        raise _FormatError("the manifest holds no estimator.")
    return manifest


# --- the allow-list: classes and the schema of their fitted attributes -------------------


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and v >= 0


def _is_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_finite(v):
    return _is_real(v) and math.isfinite(v)


def _array(ndim, kinds="f"):
    return lambda v: isinstance(v, np.ndarray) and v.ndim == ndim and v.dtype.kind in kinds


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
    "outside_frac": _is_real, "lr": _is_real, "dur": _is_real}


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

    def __init__(self, cls, attrs, shapes=None, optional=()):
        self.cls = cls
        self.attrs = {**_COMMON, **attrs}
        self.optional = _OPTIONAL | set(optional)
        self.shapes = shapes or (lambda a, p: {})


_SPECS = {
    "sksvdd.DeepSVDDDetector": _Spec(
        DeepSVDDDetector,
        {"center_": _VEC, "radius_": _is_finite, "offset_": _is_finite, "n_iter_": _is_int,
         "history_": _is_history},
        lambda a, p: {"center_": (p["rep_dim"],)},
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
    "sksvdd.DualWindowResidual": _Spec(DualWindowResidual, {}),
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


def _describe(estimator, step=None):
    kind = type(estimator).__name__
    return kind if step is None else f"pipeline step {step!r} ({kind})"


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
        name = _NAME_OF.get(type(est))
        if name is None:
            supported = ", ".join(sorted(n.rsplit(".", 1)[1] for n in [*_SPECS, _PIPELINE]))
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
            names.add(step)
            where_step = f"pipeline step {step!r}"
            steps.append((step, "passthrough" if sub == "passthrough"
                          else self.estimator(sub, where_step)))
        if not steps:
            raise _FormatError(f"{where} (Pipeline) has no steps.")
        params = self._params(tree, Pipeline, where, skip=("steps",))
        return _construct(Pipeline, {"steps": steps, **params}, where)

    def _params(self, tree, cls, where, skip=()):
        params = tree.get("params")
        if not isinstance(params, dict):
            raise _FormatError(f"{where} has no parameters.")
        known = set(cls._get_param_names()) - set(skip)
        unknown = sorted(set(params) - known)
        if unknown:
            raise _FormatError(f"{where} ({cls.__name__}) has unknown parameters {unknown}.")
        return {k: self.value(v, f"{where}, parameter {k!r}") for k, v in params.items()}

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
        if fitted["n_iter_"] != len(fitted["history_"]):
            raise _FormatError(f"{where}: n_iter_ does not match the length of history_.")
        state = {k[len(prefix):]: t for k, t in self.weights.items() if k.startswith(prefix)}
        self._used_weights.update(prefix + k for k in state)
        for key, tensor in state.items():
            if tensor.dtype != torch.float32 or not bool(torch.isfinite(tensor).all()):
                raise _FormatError(f"{where}: weight {key!r} is not finite float32.")
        module = DeepSVDDModule(fitted["n_features_in_"], est.hidden, est.rep_dim)
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise _FormatError(f"{where}: the weights do not fit the network ({exc}).") from None
        center = module.center.numpy().astype(np.float64)
        radius = float(module.radius2.sqrt())
        if not (np.array_equal(center, fitted["center_"]) and radius == fitted["radius_"]):
            raise _FormatError(f"{where}: center_ / radius_ disagree with the weights.")
        est.net_ = est._build_net(module, _load_device(est.device, where), torch.Generator())
        est.net_.initialize()
        est.net_.history = _skorch_history(fitted["history_"])

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


def _construct(cls, params, where):
    """``cls(**params)``, with the parameters checked by the class's own constraints."""
    est = cls(**params)
    try:
        est._validate_params()
    except ValueError as exc:  # InvalidParameterError
        raise _FormatError(f"{where} ({cls.__name__}) has invalid parameters: {exc}") from None
    return est


def _load_device(device, where):
    """The device to load a stored detector onto: CUDA becomes CPU where there is none."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise _FormatError(f"{where} has an invalid device {device!r}.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"sksvdd.load: {where} was fitted with device={device!r} but CUDA is not available "
            "here; its network is loaded onto the CPU (scores may differ from CUDA scores in "
            "the last bits). Set device='cpu' before refitting it on this machine.",
            UserWarning, stacklevel=4,
        )
        return "cpu"
    if dev.type not in ("cpu", "cuda"):
        raise _FormatError(f"{where} has an unsupported device {device!r}.")
    return device


def _skorch_history(history):
    """A skorch History whose rows match ``history_`` (for ``warm_start``)."""
    from skorch.history import History

    rename = {"loss": "train_loss", "loss_best": "train_loss_best"}
    skorch_history = History()
    for row in history:
        skorch_history.new_epoch()
        for key, value in row.items():
            skorch_history.record(rename.get(key, key), value)
    return skorch_history
