"""Safe model files: save and load fitted estimators without pickle.

A model file is a zip archive with three members:

- ``manifest.json``: the format name and version, the versions of sksvdd,
  scikit-learn and torch that wrote it, and the estimator as a tree of
  class names (from a fixed allow-list), parameters and fitted attributes.
- ``arrays.safetensors``: the NumPy arrays the manifest refers to.
- ``weights.safetensors``: the torch state dicts of the Deep SVDD networks.

Nothing in the file is ever unpickled, imported or evaluated: loading parses
JSON and safetensors (a raw tensor format), looks class names up in the
allow-list of :mod:`sksvdd._persistence._schema` and checks every value
against the class's schema before it is set on a new estimator.
"""

import json
import zipfile
from pathlib import Path

import numpy as np
import safetensors.numpy as st_numpy
import safetensors.torch as st_torch
import sklearn
import torch

from .._atomic import atomic_path
from .._version import __version__
from ._schema import _describe, _FormatError
from ._tree import _Reader, _Writer

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


def save(estimator, path):
    """Save a fitted sksvdd estimator or pipeline to a file that loading cannot run code from.

    The file is a zip archive of JSON (classes, parameters, fitted
    attributes) and safetensors (arrays and network weights); it holds no
    pickle. Supported: :class:`DeepSVDDDetector`, :class:`RXDetector`,
    :class:`BandpassByWavelength`, :class:`PerPixelUnitNorm`,
    :class:`DualWindowResidual`, :class:`AttributeResidual`,
    :class:`~sklearn.pipeline.Pipeline` objects made of them and of
    scikit-learn's ``StandardScaler``, ``MinMaxScaler``, ``Normalizer`` and
    ``PCA``, and :class:`ImageDetector` objects made of those. The file is written atomically: ``path`` is either left as it
    was or holds the complete new file.

    Parameters
    ----------
    estimator : estimator, Pipeline or ImageDetector
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
    writer = _Writer()
    tree = writer.estimator(estimator, _describe(estimator))

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

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sksvdd import DeepSVDDDetector, PerPixelUnitNorm, load, save
    >>> X = np.random.RandomState(0).normal(size=(200, 8)).astype(np.float32)
    >>> pipe = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(max_epochs=1, random_state=0))
    >>> pipe = pipe.fit(X)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save(pipe, pathlib.Path(folder) / "model.sksvdd")
    ...     loaded = load(path)
    >>> [name for name, _ in loaded.steps], loaded[-1].n_iter_
    (['perpixelunitnorm', 'deepsvdddetector'], 1)
    >>> bool(np.array_equal(loaded.score_samples(X), pipe.score_samples(X)))
    True

    Anything but a model file is refused before it is read:

    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "model.joblib"
    ...     _ = path.write_bytes(b"not a model file")
    ...     load(path)
    Traceback (most recent call last):
    ...
    ValueError: Cannot load model file '...model.joblib': it is not an sksvdd model file ...
    """
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


def _read_members(archive):
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if sorted(names) != sorted(_MEMBERS):
        raise _FormatError(
            f"expected the members {', '.join(_MEMBERS)}, found {', '.join(names) or 'none'}; "
            "it is not an sksvdd model file."
        )
    members = {}
    for info in infos:
        # save() stores the tensors uncompressed and deflates only the manifest. Any other
        # method (BZIP2 and LZMA members are inflated in full by zipfile, whatever size their
        # header declares) is refused, so no member can expand beyond what the file holds,
        # except the manifest, read in chunks up to its cap.
        allowed = ((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) if info.filename == _MANIFEST
                   else (zipfile.ZIP_STORED,))
        if info.compress_type not in allowed:
            raise _FormatError(f"member {info.filename} uses zip compression method "
                               f"{info.compress_type}, which sksvdd model files do not use.")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise _FormatError(f"member {info.filename} declares inconsistent sizes.")
        limit = _MAX_MANIFEST_BYTES if info.filename == _MANIFEST else _MAX_TENSOR_BYTES
        if info.file_size > limit:
            raise _FormatError(f"member {info.filename} is implausibly large ({info.file_size} "
                               "bytes).")
        members[info.filename] = _read_bounded(archive, info, limit)
    return members


def _read_bounded(archive, info, limit, chunk=2**20):
    """The member's bytes, read in chunks; a ``_FormatError`` past ``limit`` or its header."""
    parts, total = [], 0
    with archive.open(info) as f:
        while data := f.read(chunk):
            total += len(data)
            if total > min(limit, info.file_size):
                raise _FormatError(f"member {info.filename} holds more data than it declares.")
            parts.append(data)
    return b"".join(parts)


def _parse_manifest(raw):

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
