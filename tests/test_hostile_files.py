"""Hostile scene files: each test crafts the attack, tiny, and asserts load_scene refuses it.

Files whose headers declare gigabytes are loaded in a forked child whose
address space is capped and whose run time is limited, so that a regression
fails the test (a MemoryError or a kill) instead of exhausting the machine; the
child's peak memory growth is asserted too.
"""

import json
import os
import resource
import signal
import struct
import zipfile
import zlib

import h5py
import numpy as np
import pytest
import scipy.io

from sksvdd.datasets import load_scene

MiB = 2**20
HUGE = (1000, 1000, 500)  # 4 GB as float64


def _status(field):
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def _load_bounded(path, *, max_growth=64 * MiB, seconds=20, **kwargs):
    """Run ``load_scene(path, **kwargs)`` in a forked child; return what happened.

    The child may grow its address space by at most 1 GiB (beyond that,
    allocations fail) and is killed after ``seconds``; its peak resident memory
    may grow by at most ``max_growth``. Returns ``{"outcome": "ok" or the
    exception's name, "message": ..., "cause": ...}``.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        try:
            # Measured in the child: after fork its resident set starts lower
            # than the parent's (file-backed pages are not carried over).
            rss_before = _status("VmRSS")
            os.close(read_fd)
            signal.alarm(seconds)
            limit = _status("VmSize") + 2**30
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            try:
                scene = load_scene(path, **kwargs)
                result = {"outcome": "ok", "message": str(scene.cube.shape), "cause": None}
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                cause = exc.__cause__
                result = {"outcome": type(exc).__name__, "message": str(exc),
                          "cause": None if cause is None else type(cause).__name__}
            result["rss_before"] = rss_before
            os.write(write_fd, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        data = f.read()
    _, status, usage = os.wait4(pid, 0)
    assert os.WIFEXITED(status), f"the child was killed (signal {os.WTERMSIG(status)})"
    assert data, "the child reported nothing"
    result = json.loads(data)
    growth = usage.ru_maxrss * 1024 - result.pop("rss_before")
    assert growth < max_growth, f"load_scene grew memory by {growth / MiB:.0f} MiB"
    return result


def _assert_refused(result, pattern):
    import re

    assert result["outcome"] == "ValueError", result
    assert "MemoryError" not in result["message"], result
    assert re.search(pattern, result["message"], flags=re.S), result


def _cube(rows=4, cols=5, bands=3, dtype=np.float32):
    return np.random.RandomState(0).uniform(0, 1000, (rows, cols, bands)).astype(dtype)


# ------------------------------------------------------------------ MATLAB v7.3 (HDF5)


def _hdf5_mat(path, **datasets):
    """A MATLAB v7.3-like file (HDF5 with a 512-byte user block)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, (shape, kwargs) in datasets.items():
            f.create_dataset(name, shape=shape[::-1], dtype="f8", **kwargs)
    return path


def test_hdf5_declaring_4gb_of_fill_values_is_refused(tmp_path):
    path = _hdf5_mat(tmp_path / "huge.mat", data=(HUGE, {}))
    assert path.stat().st_size < 4096
    _assert_refused(_load_bounded(path),
                    r"'data' in 'huge\.mat'.*declares 4000000000 bytes.*stores only 0 bytes")


def test_hdf5_compressed_dataset_declaring_4gb_is_a_bomb(tmp_path):
    path = _hdf5_mat(tmp_path / "bomb.mat",
                     data=(HUGE, {"chunks": (100, 100, 100), "compression": "gzip"}))
    _assert_refused(_load_bounded(path), r"bomb\.mat.*decompression bomb")


def test_hdf5_unused_huge_variable_is_not_read(tmp_path):
    path = tmp_path / "extra.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["data"] = _cube().T
        f.create_dataset("junk", shape=(50_000, 10_000), dtype="f8")  # 4 GB, never written
    result = _load_bounded(path, max_growth=32 * MiB)
    assert result == {"outcome": "ok", "message": "(4, 5, 3)", "cause": None}


# ----------------------------------------------------------------------- MATLAB v5


def _patch_v5_dims(path, dims, *, compressed):
    """Make the first variable of a v5 file declare ``dims`` (its data unchanged)."""
    raw = bytearray(path.read_bytes())
    # After the 128-byte file header: the variable's tag (8 bytes), the array
    # flags sub-element (16) and the dimensions' tag (8), then the int32 dims.
    if not compressed:
        raw[160:160 + 4 * len(dims)] = struct.pack(f"<{len(dims)}i", *dims)
        path.write_bytes(bytes(raw))
        return path
    mdtype, nbytes = struct.unpack("<II", raw[128:136])
    assert mdtype == 15
    inner = bytearray(zlib.decompress(bytes(raw[136:136 + nbytes])))
    inner[32:32 + 4 * len(dims)] = struct.pack(f"<{len(dims)}i", *dims)
    packed = zlib.compress(bytes(inner))
    path.write_bytes(bytes(raw[:128]) + struct.pack("<II", 15, len(packed)) + packed
                     + bytes(raw[136 + nbytes:]))
    return path


@pytest.mark.parametrize("compressed, pattern", [
    (False, r"'data' in 'v5\.mat'.*declares 4000000000 bytes.*truncated"),
    (True, r"'data' in 'v5\.mat'.*declares 4000000000 bytes.*decompression bomb"),
])
def test_mat_v5_declaring_4gb_is_refused(tmp_path, compressed, pattern):
    path = tmp_path / "v5.mat"
    scipy.io.savemat(path, {"data": np.zeros((2, 2, 2))}, do_compression=compressed)
    _patch_v5_dims(path, HUGE, compressed=compressed)
    assert scipy.io.whosmat(path)[0][1] == HUGE
    _assert_refused(_load_bounded(path), pattern)


def test_mat_v5_unused_large_variable_is_not_read(tmp_path):
    path = tmp_path / "extra5.mat"
    # 48 MB of zeros compresses to ~50 KB: reading it would show in the peak memory.
    scipy.io.savemat(path, {"data": _cube(), "junk": np.zeros((6000, 1000))},
                     do_compression=True)
    result = _load_bounded(path, max_growth=24 * MiB)
    assert result == {"outcome": "ok", "message": "(4, 5, 3)", "cause": None}


@pytest.mark.parametrize("where", ["zlib header", "deflate data"])
def test_mat_v5_bit_flipped_compression_raises_value_error(tmp_path, where):
    path = tmp_path / "flipped.mat"
    scipy.io.savemat(path, {"data": _cube(20, 20, 20)}, do_compression=True)
    raw = bytearray(path.read_bytes())
    _, nbytes = struct.unpack("<II", raw[128:136])
    position = 136 if where == "zlib header" else 136 + nbytes // 2
    for offset in range(8):  # several bytes, so that the stream cannot stay valid
        raw[position + offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"flipped\.mat") as info:
        load_scene(path)
    assert info.value.__cause__ is not None


# ---------------------------------------------------------------------- npy and npz


def _npy_header(shape, descr="<f8"):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()  # magic string included


def test_npy_header_declaring_terabytes_is_refused(tmp_path):
    path = tmp_path / "tera.npy"
    path.write_bytes(_npy_header((100_000, 100_000, 1000)) + b"\0" * 64)
    _assert_refused(_load_bounded(path), r"tera\.npy.*declares 80000000000000 bytes.*truncated")


@pytest.mark.parametrize("method, pattern", [
    (zipfile.ZIP_STORED, r"tera\.npz.*declares 80000000000000 bytes.*truncated"),
    (zipfile.ZIP_DEFLATED, r"tera\.npz.*declares 80000000000000 bytes.*decompression bomb"),
])
def test_npz_header_declaring_terabytes_is_refused(tmp_path, method, pattern):
    path = tmp_path / "tera.npz"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("data.npy", _npy_header((100_000, 100_000, 1000)) + b"\0" * 64)
    _assert_refused(_load_bounded(path), pattern)


def test_npz_zip_bomb_is_refused(tmp_path):
    # 128 MiB of zeros deflates to ~130 KB (the reported bomb: 2 MB -> 2 GB, same ratio).
    path = tmp_path / "bomb.npz"
    n = 128 * MiB // 8
    zeros = bytes(8 * MiB)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("data.npy", "w", force_zip64=True) as member:
            member.write(_npy_header((n // 64, 8, 8)))
            for _ in range(16):
                member.write(zeros)
    assert path.stat().st_size < 1 * MiB
    _assert_refused(_load_bounded(path, seconds=30), r"bomb\.npz.*decompression bomb")


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_npz_members_compressed_other_than_deflate_are_refused(tmp_path, method):
    # zipfile inflates BZIP2 and LZMA members whole, whatever size they declare.
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        archive.writestr("data.npy", _npy_header((4, 5, 3), "<f4") + _cube().tobytes())
    with pytest.raises(ValueError, match=r"odd\.npz.*compression method") as info:
        load_scene(path)
    assert info.value.__cause__ is not None


def test_npz_member_shorter_than_its_header_is_truncated(tmp_path):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.npy", _npy_header((40, 50, 30), "<f4") + b"\0" * 1000)
    with pytest.raises(ValueError, match=r"short\.npz.*truncated"):
        load_scene(path)


# --------------------------------------------------------------------------- max_bytes


def _files_of_every_format(folder):
    cube = _cube(10, 10, 10, dtype=np.float64)  # 8000 bytes
    np.save(folder / "s.npy", cube)
    np.savez(folder / "s.npz", data=cube)
    scipy.io.savemat(folder / "s5.mat", {"data": cube}, do_compression=True)
    with h5py.File(folder / "s73.mat", "w", userblock_size=512) as f:
        f["data"] = cube.T
    return ["s.npy", "s.npz", "s5.mat", "s73.mat"]


def test_max_bytes_refuses_and_can_be_raised(tmp_path):
    for name in _files_of_every_format(tmp_path):
        with pytest.raises(ValueError, match=rf"{name}.*8000 bytes.*max_bytes=7999.*"
                                             r"load_scene\(\.\.\., max_bytes=\.\.\.\)"):
            load_scene(tmp_path / name, max_bytes=7999)
        assert load_scene(tmp_path / name, max_bytes=8000).cube.shape == (10, 10, 10)


# -------------------------------------------------------------------------------- ENVI

GOOD_HEADER = {"samples": "5", "lines": "4", "bands": "3", "header offset": "0",
               "data type": "4", "interleave": "bsq", "byte order": "0"}


def _envi(folder, data=None, **fields):
    header = {**GOOD_HEADER, **fields}
    lines = ["ENVI"] + [f"{k} = {v}" for k, v in header.items() if v is not None]
    (folder / "scene.hdr").write_text("\n".join(lines) + "\n")
    (folder / "scene.img").write_bytes(_cube().transpose(2, 0, 1).tobytes()
                                       if data is None else data)
    return folder / "scene.hdr"


def test_envi_good_header_loads(tmp_path):
    pytest.importorskip("spectral")
    np.testing.assert_array_equal(load_scene(_envi(tmp_path)).cube, _cube())


@pytest.mark.parametrize("fields, pattern", [
    ({"byte order": "7"}, r"'byte order' field: 7.*0 \(little-endian\) or 1"),
    ({"byte order": None}, r"'byte order' field: ''"),
    ({"interleave": "xyz"}, r"'interleave' field: 'xyz'.*bsq, bil or bip"),
    ({"data type": "6"}, r"complex data.*'data type' = 6"),
    ({"data type": "9"}, r"complex data.*'data type' = 9"),
    ({"data type": "99"}, r"'data type' field: 99"),
    ({"data type": "float"}, r"'data type' field: 'float'"),
    ({"bands": "0"}, r"'bands' field: '0'.*at least 1"),
    ({"samples": "-5"}, r"'samples' field: '-5'"),
    ({"lines": "4.5"}, r"'lines' field: '4.5'"),
    ({"header offset": "-1"}, r"'header offset' field: '-1'.*at least 0"),
    ({"header offset": "8"}, r"truncated: 240 bytes.*needs 248"),
    ({"bands": "4"}, r"truncated: 240 bytes.*needs 320"),
])
def test_envi_invalid_header_fields_are_named(tmp_path, fields, pattern):
    pytest.importorskip("spectral")
    with pytest.raises(ValueError, match=r"scene\.hdr.*" + pattern):
        load_scene(_envi(tmp_path, **fields))


def test_envi_header_declaring_terabytes_is_refused(tmp_path):
    pytest.importorskip("spectral")
    hdr = _envi(tmp_path, samples="100000", lines="100000", bands="1000")
    _assert_refused(_load_bounded(hdr), r"scene\.hdr.*truncated: 240 bytes")


def test_envi_max_bytes(tmp_path):
    pytest.importorskip("spectral")
    hdr = _envi(tmp_path)
    # 60 float32 values: 240 bytes stored, 240 more as the float32 cube.
    with pytest.raises(ValueError, match=r"scene\.hdr.*480 bytes.*max_bytes=479"):
        load_scene(hdr, max_bytes=479)
    assert load_scene(hdr, max_bytes=480).cube.shape == (4, 5, 3)
