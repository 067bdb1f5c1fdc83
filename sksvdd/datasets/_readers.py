"""Bounded readers for scene files: list the variables first, read the chosen ones after.

A scene file may come from anywhere, and its headers can declare any shape: a
1 KB HDF5 file can declare a (500, 1000, 1000) dataset that reads as 4 GB of
fill values, an npy header can declare terabytes, a compressed member can
inflate a thousandfold. So each reader here first lists a file's variables
from the file's own directory (MATLAB v5 variable headers, HDF5 dataset
metadata, npy headers of npz members) without touching the data;
:func:`~sksvdd.datasets.load_scene` chooses the variables it needs, checks
their declared sizes with :func:`check_sizes`, and only then reads those
variables, and only the declared number of bytes of each.

Every ``list_*`` function returns ``(variables, read)``: ``variables`` maps
each name to a :class:`Variable`, and ``read(names)`` returns the arrays of
those names. Both may raise anything on a corrupt file; the caller turns that
into a ValueError naming the file.
"""

import io
import math
import struct
import zipfile
import zlib
from typing import NamedTuple

import numpy as np
import scipy.io

# load_scene's default for max_bytes: the most a file may make it read.
DEFAULT_MAX_BYTES = 4 * 2**30

# Compressed data may expand up to MAX_EXPANSION times its stored size, or to
# SMALL_BYTES whatever its stored size. Real cubes compress a few times at most
# (sensor noise); a zero-filled 2 GB "cube" in a 2 MB file (ratio ~1000, the
# limit of DEFLATE) is a decompression bomb. The floor keeps small, highly
# compressible arrays such as anomaly masks loading.
MAX_EXPANSION = 100
SMALL_BYTES = 64 * 2**20

_CHUNK_BYTES = 16 * 2**20  # npz members are inflated this much at a time
_MAX_NPY_HEADER = 100_000  # numpy's own default limit for a trusted header

# MATLAB v5 array classes (scipy.io.whosmat) that load as numeric arrays, with
# their item sizes; the others (char, cell, struct, sparse, ...) are not cubes.
_MAT_CLASS_ITEMSIZE = {
    "double": 8, "single": 4, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2,
    "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "logical": 1,
}
# MATLAB v5 format: data types of a variable, array flags, numeric class codes.
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MAT_LOGICAL, _MAT_COMPLEX = 0x200, 0x800
_MAT_CLASS_CODE_ITEMSIZE = {6: 8, 7: 4, 8: 1, 9: 1, 10: 2, 11: 2, 12: 4, 13: 4, 14: 8, 15: 8}
_V5_HEAD_BYTES = 4096  # a variable's name, class and shape lie in its first bytes


class Variable(NamedTuple):
    """What a file declares about one variable, before any of its data is read."""

    shape: tuple
    numeric: bool  # a bool, integer or real floating-point array
    nbytes: int  # the size of the array once read
    stored: int  # bytes the file holds for it
    compressed: bool


def check_sizes(where, variables, names, max_bytes):
    """Raise ValueError unless the variables ``names`` can be read within bounds.

    Uncompressed data cannot be larger than the bytes that store it (else the
    file is truncated, or declares fill values it does not hold); compressed
    data may expand at most :data:`MAX_EXPANSION` times beyond
    :data:`SMALL_BYTES`; and together the variables may take at most
    ``max_bytes``.
    """
    for name in names:
        var = variables[name]
        what = f"Variable {name!r} in {where}, shape {var.shape}, declares {var.nbytes} bytes"
        if not var.compressed and var.nbytes > var.stored:
            raise ValueError(
                f"{what} but the file stores only {var.stored} bytes for it: the file is "
                "truncated or corrupt."
            )
        if var.compressed and var.nbytes > max(SMALL_BYTES, MAX_EXPANSION * var.stored):
            raise ValueError(
                f"{what} but stores it compressed in {var.stored} bytes, an expansion "
                f"above {MAX_EXPANSION}x: refused as a likely decompression bomb. If the "
                "file is genuine, save it without compression."
            )
    total = sum(variables[name].nbytes for name in names)
    if total > max_bytes:
        listing = ", ".join(f"{n} {variables[n].shape}" for n in names)
        raise ValueError(
            f"{where} would need {total} bytes ({total / 2**30:.2f} GiB) to read "
            f"{listing}, more than max_bytes={max_bytes}. If the file is trusted, pass "
            "a larger limit: load_scene(..., max_bytes=...)."
        )


# ----------------------------------------------------------------------------- MATLAB


def list_mat(path):
    """List the variables of a MATLAB v4, v5 or v7.3 (HDF5) file."""
    with open(path, "rb") as f:
        header = f.read(128)
    order = {b"IM": "<", b"MI": ">"}.get(header[126:128]) if len(header) == 128 else None
    # A v5 header (version 0x0100) needs no h5py, whose import `sksvdd info` then saves.
    v5 = order is not None and header[124:126] == (b"\x00\x01" if order == "<" else b"\x01\x00")
    if not v5 and _h5py().is_hdf5(path):
        return _list_hdf5(path)
    if order is None:
        return _list_mat_v4(path)
    return _list_mat_v5(path, header, order)


def _h5py():
    import h5py

    return h5py


def _list_mat_v4(path):
    """List a MATLAB v4 file (never compressed) through scipy."""
    size = path.stat().st_size
    variables = {}
    for name, shape, matlab_class in scipy.io.whosmat(path):
        itemsize = _MAT_CLASS_ITEMSIZE.get(matlab_class)
        variables[name] = Variable(
            shape=tuple(int(n) for n in shape), numeric=itemsize is not None,
            nbytes=math.prod(shape) * (itemsize or 1), stored=size, compressed=False,
        )

    def read(names):
        contents = scipy.io.loadmat(path, variable_names=list(names))
        return {name: contents[name] for name in names}

    return variables, read


def _list_mat_v5(path, header, order):
    """List a MATLAB v5 file from its variables' headers, and read only chosen ones.

    scipy's ``whosmat`` and ``loadmat(variable_names=...)`` inflate the whole
    of every compressed variable they pass, so the tags are walked here, only
    the first bytes of each variable are inflated to read its name, class and
    shape, and ``read`` hands scipy a file holding just the chosen variables.
    """
    variables, elements = {}, {}
    size = path.stat().st_size
    with open(path, "rb") as f:
        position = 128
        while position + 8 <= size:
            f.seek(position)
            mdtype, nbytes = struct.unpack(order + "II", f.read(8))
            if mdtype >> 16:  # a "small data element": not a variable
                position += 8
                continue
            compressed = mdtype == _MI_COMPRESSED
            head = f.read(min(nbytes, _V5_HEAD_BYTES))
            if compressed:
                head = zlib.decompressobj().decompress(head, _V5_HEAD_BYTES)
            else:
                head = struct.pack(order + "II", mdtype, nbytes) + head
            name, shape, itemsize, numeric = _mat_v5_variable(head, order)
            elements[name] = (position, 8 + nbytes)
            variables[name] = Variable(shape=shape, numeric=numeric,
                                       nbytes=math.prod(shape) * itemsize,
                                       stored=nbytes, compressed=compressed)
            position += 8 + nbytes

    def read(names):
        parts = [header]
        with open(path, "rb") as f:
            for name in names:
                start, length = elements[name]
                f.seek(start)
                parts.append(f.read(length))
        contents = scipy.io.loadmat(io.BytesIO(b"".join(parts)))
        return {name: contents[name] for name in names}

    return variables, read


def _mat_v5_variable(head, order):
    """Parse an miMATRIX header: ``(name, shape, bytes per element, numeric)``."""

    def element(position):
        mdtype, nbytes = struct.unpack_from(order + "II", head, position)
        if mdtype >> 16:  # small format: the size in the upper half, data in the tag
            return head[position + 4:position + 4 + (mdtype >> 16)], position + 8
        end = position + 8 + nbytes
        if end > len(head):
            raise ValueError("a variable header is truncated or too long")
        return head[position + 8:end], end + (-nbytes % 8)

    mdtype, _ = struct.unpack_from(order + "II", head, 0)
    if mdtype != _MI_MATRIX:
        raise ValueError(f"expected a MATLAB array (miMATRIX), found data type {mdtype}")
    flags, position = element(8)
    dims, position = element(position)
    name, _ = element(position)
    flags = struct.unpack_from(order + "I", flags)[0]
    shape = struct.unpack(f"{order}{len(dims) // 4}i", dims)
    if any(n < 0 for n in shape):
        raise ValueError(f"negative dimensions {shape}")
    if flags & _MAT_LOGICAL:
        itemsize = 1
    else:
        itemsize = _MAT_CLASS_CODE_ITEMSIZE.get(flags & 0xFF)
    numeric = itemsize is not None and not flags & _MAT_COMPLEX
    itemsize = (itemsize or 1) * (2 if flags & _MAT_COMPLEX else 1)
    return name.decode("latin1"), tuple(shape), itemsize, numeric


def _list_hdf5(path):
    """List the datasets of a MATLAB v7.3 file (HDF5), shapes as MATLAB shows them."""
    variables = {}
    h5py = _h5py()
    with h5py.File(path, "r") as f:
        for name, item in f.items():
            if not isinstance(item, h5py.Dataset) or name.startswith("#") or item.shape is None:
                continue
            # v7.3 files store the column-major MATLAB array as is: reversed axes.
            # Unallocated storage reads as fill values, which get_storage_size()
            # does not count: a dataset without filters holds at most that.
            variables[name] = Variable(
                shape=item.shape[::-1], numeric=item.dtype.kind in "biuf",
                nbytes=item.size * item.dtype.itemsize, stored=item.id.get_storage_size(),
                compressed=item.id.get_create_plist().get_nfilters() > 0,
            )

    def read(names):
        with h5py.File(path, "r") as f:
            return {name: np.asarray(f[name][()]).T for name in names}

    return variables, read


# ------------------------------------------------------------------------------ NumPy


def list_npz(path):
    """List the ``.npy`` members of an ``.npz`` archive from their headers."""
    variables, members = {}, {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # zipfile bounds DEFLATE output by the declared size but
                # decompresses BZIP2 and LZMA members whole.
                raise ValueError(
                    f"member {info.filename!r} uses compression method "
                    f"{info.compress_type}; only stored and deflated members are read"
                )
            with archive.open(info) as member:
                dtype, shape, fortran, _ = _npy_header(member)
            name = info.filename[: -len(".npy")]
            members[name] = (info, dtype, shape, fortran)
            variables[name] = Variable(
                shape=shape, numeric=_numeric_dtype(dtype),
                nbytes=math.prod(shape) * dtype.itemsize, stored=info.compress_size,
                compressed=info.compress_type != zipfile.ZIP_STORED,
            )

    def read(names):
        arrays = {}
        with zipfile.ZipFile(path) as archive:
            for name in names:
                info, dtype, shape, fortran = members[name]
                with archive.open(info) as member:
                    _npy_header(member)
                    arrays[name] = _read_exactly(member, dtype, shape, fortran, name)
        return arrays

    return variables, read


def list_npy(path):
    """List the single array of an ``.npy`` file as the variable ``"array"``."""
    with open(path, "rb") as f:
        dtype, shape, _, offset = _npy_header(f)
    variables = {"array": Variable(
        shape=shape, numeric=_numeric_dtype(dtype), nbytes=math.prod(shape) * dtype.itemsize,
        stored=path.stat().st_size - offset, compressed=False,
    )}

    def read(names):
        return {"array": np.load(path, allow_pickle=False)}

    return variables, read


def _npy_header(stream):
    """Read an npy header: ``(dtype, shape, fortran_order, data offset)``."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(
            stream, max_header_size=_MAX_NPY_HEADER)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(
            stream, max_header_size=_MAX_NPY_HEADER)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    offset = stream.tell() if stream.seekable() else None
    return dtype, tuple(shape), fortran, offset


def _numeric_dtype(dtype):
    return dtype.kind in "biuf" and not dtype.hasobject and dtype.fields is None


def _read_exactly(stream, dtype, shape, fortran, name):
    """Read the declared bytes of an array from ``stream``, a chunk at a time."""
    if not _numeric_dtype(dtype):
        raise ValueError(f"member {name!r} is not a numeric array ({dtype})")
    array = np.empty(math.prod(shape), dtype=dtype)
    buffer = memoryview(array.view(np.uint8))
    filled = 0
    while filled < len(buffer):
        chunk = stream.read(min(_CHUNK_BYTES, len(buffer) - filled))
        if not chunk:
            raise ValueError(
                f"member {name!r} is truncated: {filled} of {len(buffer)} bytes")
        buffer[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    return array.reshape(shape, order="F" if fortran else "C")
