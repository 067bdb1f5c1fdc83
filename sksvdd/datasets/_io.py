"""Loading hyperspectral scenes from MATLAB, ENVI and NumPy files."""

import re
import zipfile
from pathlib import Path

import h5py
import numpy as np
import scipy.io
from sklearn.utils import Bunch

# Ground-truth and wavelength variable names recognised without being named.
_MASK_NAMES = ("map", "mask", "gt", "groundtruth")
_MASK_PREFIXES = ("gtimg",)
_WAVELENGTH_NAMES = ("wavelengths", "wavelength", "wl")
_MICROMETRE_UNITS = {"micrometers", "micrometer", "micrometres", "micrometre", "microns",
                     "micron", "um", "µm"}
_ENVI_DATA_SUFFIXES = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip")


def load_scene(path, *, data_key=None, mask_key=None, wavelengths_key=None):
    """Load a hyperspectral scene (cube, anomaly mask, wavelengths) from a file.

    Supported formats, chosen by the file extension:

    - ``.mat``: MATLAB v5 files (read with :func:`scipy.io.loadmat`) and MATLAB
      v7.3 files (HDF5, read with h5py). MATLAB stores arrays column-major, so
      v7.3 variables come out with their axes reversed; they are transposed back,
      so a v7.3 file loads exactly like the v5 file holding the same variables.
    - ``.npz``: named arrays, with the same key conventions as ``.mat``.
    - ``.npy``: a single cube (no mask, no wavelengths).
    - ENVI: a ``.hdr`` header plus its binary data file, in BSQ, BIL or BIP
      interleave with the header's data type and byte order. ``path`` may name
      either file. Needs the optional Spectral Python package
      (``pip install 'sksvdd[envi]'``). Values are returned as stored: a
      ``reflectance scale factor`` in the header is not applied. ENVI has no
      standard anomaly mask, so the mask is read from a boolean ``(rows, cols)``
      NumPy file ``<stem>_mask.npy`` beside the header when there is one.

    For ``.mat`` and ``.npz`` files, variables not named explicitly are found by
    convention: the cube is the only 3-D numeric array; the anomaly mask is the
    variable named ``map``, ``mask``, ``gt`` or ``groundtruth`` or starting with
    ``gtImg`` (case-insensitive); wavelengths are named ``wavelengths``,
    ``wavelength`` or ``wl``. A missing mask or wavelength variable gives None.

    Parameters
    ----------
    path : str or path-like
        The file to read.
    data_key : str, default=None
        Name of the cube variable (``.mat`` / ``.npz``). Needed when the file holds
        several 3-D arrays.
    mask_key : str, default=None
        Name of the anomaly-mask variable (``.mat`` / ``.npz``). Needed when
        several variables match the mask names, or when the mask has another name
        (e.g. ``mask_sub``). Nonzero entries are anomalies.
    wavelengths_key : str, default=None
        Name of the wavelength variable (``.mat`` / ``.npz``).

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        With the fields

        cube : ndarray of shape (rows, cols, bands), dtype float32
            The C-contiguous image cube; integer counts are converted to float32.
        mask : ndarray of shape (rows, cols), dtype bool, or None
            True where a pixel is an anomaly.
        wavelengths : ndarray of shape (bands,), dtype float64, or None
            Band centres in nanometres. ENVI headers in micrometres are converted;
            ``.mat`` / ``.npz`` values all below 100 are taken as micrometres too.
        name : str
            The file name without its extension.

    Raises
    ------
    ValueError
        If the file does not exist, has an unknown extension, cannot be parsed
        (truncated or corrupt), holds no unambiguous 3-D cube, or if the mask or
        wavelengths do not fit the cube. The message names the file.
    ImportError
        For ENVI files when the Spectral Python package is not installed.

    See Also
    --------
    cube_to_pixels : Flatten the cube into the pixel matrix estimators take.
    make_hyperspectral_scene : A synthetic scene with the same fields.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from sksvdd.datasets import load_scene
    >>> cube = np.arange(24, dtype=np.uint16).reshape(2, 3, 4)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.npz"
    ...     np.savez(path, data=cube, map=np.eye(2, 3), wavelengths=[0.5, 0.6, 0.7, 0.8])
    ...     scene = load_scene(path)
    >>> scene.name, scene.cube.shape, scene.cube.dtype
    ('tiny', (2, 3, 4), dtype('float32'))
    >>> scene.mask
    array([[ True, False, False],
           [False,  True, False]])
    >>> scene.wavelengths
    array([500., 600., 700., 800.])
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"Cannot load scene: file '{path}' does not exist.")
    if path.is_dir():
        raise ValueError(f"Cannot load scene: '{path}' is a directory, not a file.")
    suffix = path.suffix.lower()
    keys = dict(data_key=data_key, mask_key=mask_key, wavelengths_key=wavelengths_key)
    if suffix in (".mat", ".npz"):
        variables = _read_mat(path) if suffix == ".mat" else _read_npz(path)
        return _scene_from_variables(path, variables, **keys)
    named = [name for name, key in keys.items() if key is not None]
    if named:
        raise ValueError(
            f"{', '.join(named)} only apply to .mat and .npz files; '{path.name}' "
            "is not one."
        )
    if suffix == ".npy":
        cube = _read_npy(path)
        return _make_scene(path.stem, cube, None, None, f"'{path.name}'")
    header = _envi_header_for(path)
    if header is not None:
        return _read_envi(path, header)
    raise ValueError(
        f"Cannot load scene '{path.name}': unknown file extension '{path.suffix}'. "
        "Supported: .mat (MATLAB v5 or v7.3), .npz, .npy, and ENVI (.hdr with its "
        "binary data file)."
    )


def _read_mat(path):
    """Return the numeric variables of a MATLAB v5 or v7.3 file as a dict."""
    try:
        if h5py.is_hdf5(path):
            variables = {}
            with h5py.File(path, "r") as f:
                for name, item in f.items():
                    if isinstance(item, h5py.Dataset) and not name.startswith("#"):
                        # v7.3 files store the column-major MATLAB array as is:
                        # reversing the axes gives the array MATLAB shows.
                        variables[name] = np.asarray(item[()]).T
            return variables
        contents = scipy.io.loadmat(path)
    except (OSError, ValueError, TypeError, EOFError, KeyError, IndexError,
            NotImplementedError, scipy.io.matlab.MatReadError) as exc:
        raise ValueError(
            f"Cannot read MATLAB file '{path.name}': the file is truncated, corrupt "
            f"or not a MATLAB file ({type(exc).__name__}: {exc})."
        ) from exc
    return {k: v for k, v in contents.items() if not k.startswith("__")}


def _read_npz(path):
    """Return the arrays of an ``.npz`` archive as a dict."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"Cannot read NumPy archive '{path.name}': the file is truncated, "
            f"corrupt or not an .npz file ({type(exc).__name__}: {exc})."
        ) from exc


def _read_npy(path):
    """Return the array stored in an ``.npy`` file."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(
            f"Cannot read NumPy file '{path.name}': the file is truncated, corrupt "
            f"or not an .npy file ({type(exc).__name__}: {exc})."
        ) from exc


def _scene_from_variables(path, variables, *, data_key, mask_key, wavelengths_key):
    """Pick the cube, mask and wavelengths out of a file's named arrays."""
    where = f"'{path.name}'"
    listing = ", ".join(f"{k} {np.shape(v)}" for k, v in variables.items()) or "none"
    numeric = {k: v for k, v in variables.items() if _is_numeric(v)}

    if data_key is None:
        cubes = [k for k, v in numeric.items() if v.ndim == 3]
        if not cubes:
            raise ValueError(
                f"{where} holds no 3-D numeric array, so it is not a cube (rows, cols, "
                f"bands). Variables found: {listing}."
            )
        if len(cubes) > 1:
            raise ValueError(
                f"{where} holds several 3-D arrays: {', '.join(cubes)}. Pass "
                "data_key=... to choose the cube."
            )
        data_key = cubes[0]
    if mask_key is None:
        found = [k for k in numeric if _is_mask_name(k)]
        if len(found) > 1:
            raise ValueError(
                f"{where} holds several possible anomaly masks: {', '.join(found)}. "
                "Pass mask_key=... to choose one."
            )
        mask_key = found[0] if found else None
    if wavelengths_key is None:
        found = [k for k in numeric if k.lower() in _WAVELENGTH_NAMES]
        if len(found) > 1:
            raise ValueError(
                f"{where} holds several possible wavelength variables: "
                f"{', '.join(found)}. Pass wavelengths_key=... to choose one."
            )
        wavelengths_key = found[0] if found else None

    for parameter, key in (("data_key", data_key), ("mask_key", mask_key),
                           ("wavelengths_key", wavelengths_key)):
        if key is not None and key not in variables:
            raise ValueError(
                f"{where} has no variable {key!r} ({parameter}). Variables found: "
                f"{listing}."
            )
        if key is not None and not _is_numeric(variables[key]):
            raise ValueError(
                f"Variable {key!r} ({parameter}) in {where} is not a numeric array."
            )

    wavelengths = None
    if wavelengths_key is not None:
        wavelengths = np.asarray(variables[wavelengths_key], dtype=np.float64)
        if wavelengths.size and np.nanmax(wavelengths) < 100:
            wavelengths = wavelengths * 1000.0  # micrometres -> nm
    mask = None if mask_key is None else variables[mask_key]
    return _make_scene(path.stem, variables[data_key], mask, wavelengths, where)


def _make_scene(name, cube, mask, wavelengths, where):
    """Validate the parts of a scene and assemble the Bunch."""
    cube = np.asarray(cube)
    if cube.ndim != 3 or not _is_numeric(cube):
        raise ValueError(
            f"{where} is not a cube: expected a 3-D numeric array (rows, cols, bands), "
            f"got shape {cube.shape} and dtype {cube.dtype}."
        )
    cube = np.ascontiguousarray(cube, dtype=np.float32)
    rows, cols, bands = cube.shape
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (rows, cols):
            raise ValueError(
                f"The mask in {where} has shape {mask.shape} but the cube has "
                f"{rows} rows and {cols} columns; it must be ({rows}, {cols})."
            )
        if mask.dtype.kind == "f" and not np.all(np.isfinite(mask)):
            raise ValueError(f"The mask in {where} contains NaN or infinite values.")
        mask = np.ascontiguousarray(mask != 0)
    if wavelengths is not None:
        wavelengths = np.asarray(wavelengths, dtype=np.float64)
        if wavelengths.ndim > 1 and max(wavelengths.shape) == wavelengths.size:
            wavelengths = wavelengths.ravel()  # MATLAB column/row vectors
        if wavelengths.shape != (bands,):
            raise ValueError(
                f"{where} has {wavelengths.size} wavelengths (shape "
                f"{wavelengths.shape}) but the cube has {bands} bands."
            )
        if not np.all(np.isfinite(wavelengths)):
            raise ValueError(f"The wavelengths in {where} contain NaN or infinite values.")
    return Bunch(cube=cube, mask=mask, wavelengths=wavelengths, name=name)


def _is_numeric(value):
    return isinstance(value, np.ndarray) and value.dtype.kind in "biuf"


def _is_mask_name(name):
    name = name.lower()
    return name in _MASK_NAMES or name.startswith(_MASK_PREFIXES)


def _envi_header_for(path):
    """Return the ENVI header belonging to ``path``, or None if there is none."""
    if path.suffix.lower() == ".hdr":
        return path
    for candidate in (path.with_name(path.name + ".hdr"), path.with_suffix(".hdr"),
                      path.with_suffix(".HDR")):
        if candidate.is_file():
            return candidate
    return None


def _read_envi(path, header):
    """Read an ENVI image through Spectral Python."""
    try:
        from spectral.io import envi
    except ImportError as exc:
        raise ImportError(
            f"Reading the ENVI file '{path.name}' needs the Spectral Python package: "
            "pip install 'sksvdd[envi]'"
        ) from exc

    where = f"'{header.name}'"
    data_file = None if path == header else path
    if data_file is None:
        stem = header.with_suffix("")
        found = [stem.with_name(stem.name + s) for s in _ENVI_DATA_SUFFIXES]
        found = [f for f in found if f.is_file()]
        if not found:
            tried = ", ".join(stem.name + suffix for suffix in _ENVI_DATA_SUFFIXES)
            raise ValueError(
                f"The ENVI header {where} has no data file beside it (looked for {tried})."
            )
        data_file = found[0]
    try:
        image = envi.open(str(header), str(data_file))
        if image.__class__.__name__ == "SpectralLibrary":
            raise ValueError("it is an ENVI spectral library, not an image")
        expected = image.offset + image.nrows * image.ncols * image.nbands * image.sample_size
        if data_file.stat().st_size < expected:
            raise ValueError(
                f"data file '{data_file.name}' is truncated: {data_file.stat().st_size} "
                f"bytes, the header needs {expected}"
            )
        cube = image.load(dtype=np.float32, scale=False)
        metadata = image.metadata
    except Exception as exc:  # spectral raises many kinds; report them all alike
        raise ValueError(
            f"Cannot read the ENVI image {where}: {type(exc).__name__}: {exc}"
        ) from exc

    wavelengths = metadata.get("wavelength")
    if wavelengths is not None:
        try:
            wavelengths = np.array([float(w) for w in wavelengths], dtype=np.float64)
        except ValueError as exc:
            raise ValueError(f"The wavelength list in {where} is not numeric.") from exc
        units = re.sub(r"\s+", "", str(metadata.get("wavelength units", ""))).lower()
        if units in _MICROMETRE_UNITS:
            wavelengths = wavelengths * 1000.0
    name = header.stem  # "scene.hdr" -> "scene"; "scene.img.hdr" -> "scene"
    if Path(name).suffix.lower() in _ENVI_DATA_SUFFIXES:
        name = Path(name).stem
    mask_file = header.with_name(f"{name}_mask.npy")
    mask = _read_npy(mask_file) if mask_file.is_file() else None
    return _make_scene(name, np.asarray(cube), mask, wavelengths, where)
