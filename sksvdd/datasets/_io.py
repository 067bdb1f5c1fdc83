"""Loading hyperspectral scenes from MATLAB, ENVI and NumPy files."""

import re
from pathlib import Path

import numpy as np

from ._readers import DEFAULT_MAX_BYTES, check_sizes, list_mat, list_npy, list_npz

# Ground-truth and wavelength variable names recognised without being named.
_MASK_NAMES = ("map", "mask", "gt", "groundtruth")
_MASK_PREFIXES = ("gtimg",)
_WAVELENGTH_NAMES = ("wavelengths", "wavelength", "wl")
_MICROMETRE_UNITS = {"micrometers", "micrometer", "micrometres", "micrometre", "microns",
                     "micron", "um", "µm"}
_ENVI_DATA_SUFFIXES = ("", ".img", ".dat", ".raw", ".bin", ".bsq", ".bil", ".bip")
# ENVI "data type" codes of real numbers, with their NumPy item sizes.
_ENVI_REAL_ITEMSIZE = {1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 12: 2, 13: 4, 14: 8, 15: 8}
_ENVI_COMPLEX = {6: "complex64", 9: "complex128"}
# How each format's read failures are described, by extension.
_FORMATS = {".mat": ("MATLAB file", "a MATLAB file"), ".npz": ("NumPy archive", "an .npz file"),
            ".npy": ("NumPy file", "an .npy file")}


def load_scene(path, *, data_key=None, mask_key=None, wavelengths_key=None,
               max_bytes=DEFAULT_MAX_BYTES):
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

    Files are treated as untrusted: only the variables needed are read, and
    their sizes as declared by the file (MATLAB and npy headers, HDF5 dataset
    metadata, the ENVI header) are checked before any data is read. Uncompressed
    data may not declare more bytes than the file stores for it; compressed data
    (MATLAB v5 and v7.3 compression, deflated ``.npz`` members) may not expand
    more than 100-fold beyond 64 MiB (a decompression bomb); and what is read
    may not exceed ``max_bytes``. ``.npz`` members compressed other than by
    DEFLATE are refused.

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
    max_bytes : int, default=4 * 2**30
        The most bytes of array data the file may make this function read (the
        cube, mask and wavelengths together, as stored: integer cubes take more
        once converted to float32). A file declaring more is refused before
        anything is read; raise the limit for larger files you trust.

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
        (truncated or corrupt: any error of the underlying reader is raised as
        a ValueError chained to it), declares more data than it holds or than
        ``max_bytes``, holds no unambiguous 3-D cube, has an invalid ENVI header
        field, or if the mask or wavelengths do not fit the cube. The message
        names the file.
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
    from sklearn.utils import Bunch

    return Bunch(**_read_scene(path, data_key=data_key, mask_key=mask_key,
                               wavelengths_key=wavelengths_key, max_bytes=max_bytes))


def _read_scene(path, *, data_key=None, mask_key=None, wavelengths_key=None,
                max_bytes=DEFAULT_MAX_BYTES):
    """:func:`load_scene`'s fields as a plain dict, without importing scikit-learn.

    ``sksvdd info`` reads scenes through this, so that it answers without the
    second that importing scikit-learn takes.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"Cannot load scene: file '{path}' does not exist.")
    if path.is_dir():
        raise ValueError(f"Cannot load scene: '{path}' is a directory, not a file.")
    suffix = path.suffix.lower()
    keys = dict(data_key=data_key, mask_key=mask_key, wavelengths_key=wavelengths_key)
    if suffix in (".mat", ".npz"):
        variables, read = _guarded(path, list_mat if suffix == ".mat" else list_npz, path)
        return _scene_from_variables(path, variables, read, max_bytes=max_bytes, **keys)
    named = [name for name, key in keys.items() if key is not None]
    if named:
        raise ValueError(
            f"{', '.join(named)} only apply to .mat and .npz files; '{path.name}' "
            "is not one."
        )
    if suffix == ".npy":
        cube = _read_npy(path, max_bytes)
        return _make_scene(path.stem, cube, None, None, f"'{path.name}'")
    header = _envi_header_for(path)
    if header is not None:
        return _read_envi(path, header, max_bytes)
    raise ValueError(
        f"Cannot load scene '{path.name}': unknown file extension '{path.suffix}'. "
        "Supported: .mat (MATLAB v5 or v7.3), .npz, .npy, and ENVI (.hdr with its "
        "binary data file)."
    )


def load_mask(path, *, key=None, shape=None, max_bytes=DEFAULT_MAX_BYTES):
    """Load a ``(rows, cols)`` pixel mask from a file: True where a pixel is selected.

    The masks that :meth:`sksvdd.ImageDetector.fit` takes as ``normal_mask``
    or ``exclude_mask`` (and the command line as ``--normal-mask`` /
    ``--exclude-mask``), or a ground truth stored apart from its cube.

    - ``.npy``: a 2-D numeric array; nonzero = selected.
    - ``.mat`` / ``.npz``: the variable ``key``, or else the one named as
      :func:`load_scene` finds anomaly masks (``map``, ``mask``, ``gt``,
      ``groundtruth``, ``gtImg...``), so a scene file's own ground truth
      can serve as the mask of its known anomalies; nonzero = selected.
    - ``.png``: white = selected (a grey level above one half; colour
      channels are averaged and alpha is ignored), e.g. the anomaly mask
      that ``sksvdd score --mask-out`` writes: with ``shape``, an image
      whose pixels are uniform ``k x k`` blocks (as that command enlarges
      them) is read back at ``shape``. Needs matplotlib
      (``pip install 'sksvdd[plot]'``).

    Parameters
    ----------
    path : str or path-like
        The file to read.
    key : str, default=None
        Variable name in a ``.mat`` / ``.npz`` file.
    shape : tuple of int, default=None
        The ``(rows, cols)`` the mask must have, e.g. its image's
        ``cube.shape[:2]``.
    max_bytes : int, default=4 * 2**30
        The most bytes of array data the file may make this function read,
        as for :func:`load_scene`.

    Returns
    -------
    mask : ndarray of bool of shape (rows, cols)

    Raises
    ------
    ValueError
        If the file does not exist, cannot be read, holds no (or no
        unambiguous) 2-D mask, holds NaN, or does not have ``shape``. The
        message names the file.

    See Also
    --------
    load_scene : The cube, its ground truth and wavelengths.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from sksvdd.datasets import load_mask
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "scene.npz"
    ...     np.savez(path, data=np.ones((2, 3, 4)), map=np.eye(2, 3))
    ...     load_mask(path, shape=(2, 3))
    array([[ True, False, False],
           [False,  True, False]])
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ValueError(f"Cannot load mask: '{path}' {what}.")
    where = f"'{path.name}'"
    suffix = path.suffix.lower()
    if key is not None and suffix not in (".mat", ".npz"):
        raise ValueError(f"key={key!r} only applies to .mat and .npz files; {where} is not one.")
    if suffix == ".png":
        mask = _read_png_mask(path)
    elif suffix == ".npy":
        variables, read = _guarded(path, list_npy, path)
        key = "array"
    elif suffix in (".mat", ".npz"):
        variables, read = _guarded(path, list_mat if suffix == ".mat" else list_npz, path)
        listing = ", ".join(f"{k} {v.shape}" for k, v in variables.items()) or "none"
        if key is None:
            found = [k for k, v in variables.items() if v.numeric and _is_mask_name(k)]
            if len(found) != 1:
                which = f"several ({', '.join(found)})" if found else "none"
                raise ValueError(
                    f"{where}: looked for a mask variable named map, mask, gt or "
                    f"groundtruth and found {which}; name it (key=...). Variables "
                    f"found: {listing}."
                )
            key = found[0]
        elif key not in variables:
            raise ValueError(f"{where} has no variable {key!r}. Variables found: {listing}.")
    else:
        raise ValueError(
            f"Cannot load mask {where}: unknown file extension '{path.suffix}'. "
            "Supported: .npy, .png, and .mat / .npz (a variable of the file)."
        )
    if suffix != ".png":
        if not variables[key].numeric or len(variables[key].shape) != 2:
            raise ValueError(
                f"{where}: the mask must be a 2-D numeric array (rows, cols); "
                f"{'it' if suffix == '.npy' else repr(key)} has shape "
                f"{variables[key].shape}{'' if variables[key].numeric else ', not numeric'}."
            )
        check_sizes(where, variables, [key], max_bytes)
        mask = np.asarray(_guarded(path, read, [key])[key])
        if mask.dtype.kind == "f" and not np.all(np.isfinite(mask)):
            raise ValueError(f"The mask in {where} contains NaN or infinite values.")
        mask = mask != 0
    if suffix == ".png" and shape is not None:
        mask = _unenlarge(mask, tuple(shape))
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(
            f"The mask in {where} has shape {mask.shape}; its image has {shape[0]} rows "
            f"and {shape[1]} columns, so it must be {tuple(shape)}."
        )
    return np.ascontiguousarray(mask)


def _unenlarge(mask, shape):
    """``mask`` at ``shape`` if each of its pixels is a uniform k x k block, else unchanged.

    ``sksvdd score --mask-out`` enlarges each pixel to such a block, so that a
    small scene's mask is viewable; ``mask[::k, ::k]`` gives the mask back.
    """
    rows, cols = shape
    k = mask.shape[0] // rows if rows > 0 else 0
    if k > 1 and mask.shape == (k * rows, k * cols):
        small = mask[::k, ::k]
        if np.array_equal(np.repeat(np.repeat(small, k, axis=0), k, axis=1), mask):
            return small
    return mask


def _read_png_mask(path):
    """White (grey level above one half) pixels of a PNG, as a boolean image."""
    try:
        import matplotlib.image
    except ImportError as exc:
        raise ImportError(
            f"Reading the PNG mask '{path.name}' needs matplotlib: pip install 'sksvdd[plot]'"
        ) from exc
    try:
        image = np.asarray(matplotlib.image.imread(path), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on a bad file
        raise ValueError(
            f"Cannot read the PNG mask '{path.name}': {type(exc).__name__}: {exc}"
        ) from exc
    if image.ndim == 3:
        image = image[..., :3].mean(axis=2)  # grey level; alpha ignored
    if image.dtype.kind in "iu" or image.max(initial=0) > 1:
        image = image / 255.0  # 8-bit values (imread gives floats in [0, 1] for PNGs)
    return image > 0.5


def _guarded(path, call, *args):
    """Return ``call(*args)``, any failure raised as a ValueError naming ``path``.

    Readers of hostile files fail in many ways (zlib.error, MemoryError,
    OSError from HDF5, struct.error, ...); all of them mean the same to the user.
    """
    try:
        return call(*args)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        kind, article = _FORMATS[path.suffix.lower()]
        detail = str(exc)
        detail = detail if len(detail) <= 300 else detail[:300] + "..."
        raise ValueError(
            f"Cannot read {kind} '{path.name}': the file is truncated, corrupt or not "
            f"{article} ({type(exc).__name__}: {detail})."
        ) from exc


def _read_npy(path, max_bytes):
    """Return the array stored in an ``.npy`` file, its declared size checked first."""
    variables, read = _guarded(path, list_npy, path)
    where = f"'{path.name}'"
    declared = variables["array"]
    if not declared.numeric:
        # Checked before reading, so that object arrays are never unpickled.
        raise ValueError(
            f"{where} does not hold a numeric array (shape {declared.shape}); "
            "expected a 3-D numeric array (rows, cols, bands)."
        )
    check_sizes(where, variables, ["array"], max_bytes)
    return _guarded(path, read, ["array"])["array"]


def _scene_from_variables(path, variables, read, *, data_key, mask_key, wavelengths_key,
                          max_bytes):
    """Choose the cube, mask and wavelengths from a file's listing, then read them.

    ``variables`` maps names to :class:`~sksvdd.datasets._readers.Variable`
    (declared shapes and sizes); ``read(names)`` reads the arrays.
    """
    where = f"'{path.name}'"
    listing = ", ".join(f"{k} {v.shape}" for k, v in variables.items()) or "none"
    numeric = {k: v for k, v in variables.items() if v.numeric}

    if data_key is None:
        cubes = [k for k, v in numeric.items() if len(v.shape) == 3]
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
        if key is not None and not variables[key].numeric:
            raise ValueError(
                f"Variable {key!r} ({parameter}) in {where} is not a numeric array."
            )

    names = list(dict.fromkeys(k for k in (data_key, mask_key, wavelengths_key)
                                if k is not None))
    check_sizes(where, variables, names, max_bytes)
    arrays = _guarded(path, read, names)
    wavelengths = None
    if wavelengths_key is not None:
        wavelengths = np.asarray(arrays[wavelengths_key], dtype=np.float64)
        if wavelengths.size and np.nanmax(wavelengths) < 100:
            wavelengths = wavelengths * 1000.0  # micrometres -> nm
    mask = None if mask_key is None else arrays[mask_key]
    return _make_scene(path.stem, arrays[data_key], mask, wavelengths, where)


def _make_scene(name, cube, mask, wavelengths, where):
    """Validate the parts of a scene and assemble its fields."""
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
    return dict(cube=cube, mask=mask, wavelengths=wavelengths, name=name)


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


def _read_envi(path, header, max_bytes):
    """Read an ENVI image through Spectral Python, its header checked first."""
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
        fields = envi.read_envi_header(str(header))
    except Exception as exc:  # noqa: BLE001 - spectral raises many kinds; report them alike
        raise ValueError(
            f"Cannot read the ENVI header {where}: {type(exc).__name__}: {exc}"
        ) from exc
    _check_envi_header(where, fields, data_file, max_bytes)
    try:
        image = envi.open(str(header), str(data_file))
        if image.__class__.__name__ == "SpectralLibrary":
            raise ValueError("it is an ENVI spectral library, not an image")
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
    mask = _read_npy(mask_file, max_bytes) if mask_file.is_file() else None
    return _make_scene(name, np.asarray(cube), mask, wavelengths, where)


def _check_envi_header(where, fields, data_file, max_bytes):
    """Raise ValueError naming the field unless the ENVI header describes a readable cube.

    Spectral Python takes any nonzero byte order as big-endian, accepts unknown
    interleaves, drops the imaginary part of complex data and only fails late
    on odd shapes; these checks come first so that the user learns which field
    is wrong.
    """

    def integer(field, minimum, default=None):
        text = str(fields.get(field, "")).strip()
        if not text and default is not None:
            return default
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise ValueError(
                f"The ENVI header {where} has an invalid '{field}' field: {text!r}; "
                f"expected an integer of at least {minimum}."
            )
        return value

    samples, lines, bands = (integer(field, 1) for field in ("samples", "lines", "bands"))
    offset = integer("header offset", 0, default=0)
    byte_order = integer("byte order", 0)
    if byte_order not in (0, 1):
        raise ValueError(
            f"The ENVI header {where} has an invalid 'byte order' field: {byte_order}; "
            "expected 0 (little-endian) or 1 (big-endian)."
        )
    interleave = str(fields.get("interleave", "")).strip().lower()
    if interleave not in ("bsq", "bil", "bip"):
        raise ValueError(
            f"The ENVI header {where} has an invalid 'interleave' field: {interleave!r}; "
            "expected bsq, bil or bip."
        )
    data_type = integer("data type", 0)
    if data_type in _ENVI_COMPLEX:
        raise ValueError(
            f"The ENVI header {where} declares complex data ('data type' = {data_type}, "
            f"{_ENVI_COMPLEX[data_type]}); hyperspectral cubes must be real, and dropping "
            "the imaginary part would change the data. Convert it to real values first."
        )
    if data_type not in _ENVI_REAL_ITEMSIZE:
        raise ValueError(
            f"The ENVI header {where} has an invalid 'data type' field: {data_type}; "
            f"expected one of the real ENVI types {sorted(_ENVI_REAL_ITEMSIZE)}."
        )
    n_values = samples * lines * bands
    needed = offset + n_values * _ENVI_REAL_ITEMSIZE[data_type]
    size = data_file.stat().st_size
    if size < needed:
        raise ValueError(
            f"Cannot read the ENVI image {where}: data file '{data_file.name}' is "
            f"truncated: {size} bytes, the header ('samples', 'lines', 'bands', "
            f"'data type', 'header offset') needs {needed}."
        )
    # Spectral Python reads the stored values, then converts them to float32.
    total = n_values * (_ENVI_REAL_ITEMSIZE[data_type] + 4)
    if total > max_bytes:
        raise ValueError(
            f"The ENVI image {where} ({lines} x {samples} x {bands}) would need {total} "
            f"bytes to read, more than max_bytes={max_bytes}. If the file is trusted, "
            "pass a larger limit: load_scene(..., max_bytes=...)."
        )
