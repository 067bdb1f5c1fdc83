"""Tests for sksvdd.datasets: file loading, cube helpers and the built-in scene."""

import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from sklearn.metrics import roc_auc_score

from conftest import real_scene_file
from sksvdd.datasets import (
    cube_to_pixels,
    load_endmembers,
    load_mask,
    load_scene,
    make_hyperspectral_scene,
    pixels_to_image,
)

# file -> (rows, cols, bands, anomaly pixels), from ../shared/data/README.md.
REAL_SCENES = {
    "abu-airport-1.mat": (100, 100, 205, 144),
    "abu-airport-2.mat": (100, 100, 205, 87),
    "abu-airport-3.mat": (100, 100, 205, 170),
    "abu-airport-4.mat": (100, 100, 191, 60),
    "abu-beach-1.mat": (150, 150, 188, 19),
    "abu-beach-2.mat": (100, 100, 193, 202),
    "abu-beach-3.mat": (100, 100, 188, 11),
    "sandiego.mat": (100, 100, 189, 58),
    "hydice.mat": (80, 100, 162, 17),
    "HYDICE1.mat": (80, 100, 162, 17),
    "gulfport-sub.mat": (51, 88, 72, None),
    "gulfport-targets.mat": (36, 36, 72, 3),
}


def _cube(rows=4, cols=5, bands=3, dtype=np.float32, seed=0):
    rng = np.random.RandomState(seed)
    return (rng.uniform(0, 1000, size=(rows, cols, bands))).astype(dtype)


# --------------------------------------------------------------------------- real data


@pytest.mark.parametrize("name", sorted(REAL_SCENES))
def test_load_real_scene_matches_readme(name):
    rows, cols, bands, n_anomalies = REAL_SCENES[name]
    scene = load_scene(real_scene_file(name))
    assert scene.cube.shape == (rows, cols, bands)
    assert scene.cube.dtype == np.float32 and scene.cube.flags.c_contiguous
    assert scene.name == Path(name).stem
    if n_anomalies is None:
        assert scene.mask is None  # mask_sub is a region mask, not ground truth
    else:
        assert scene.mask.dtype == bool
        assert int(scene.mask.sum()) == n_anomalies


@pytest.mark.parametrize("name", ["gulfport-sub.mat", "gulfport-targets.mat"])
def test_gulfport_wavelengths_in_nanometres(name):
    scene = load_scene(real_scene_file(name))
    assert scene.wavelengths.shape == (72,)
    assert scene.wavelengths.dtype == np.float64
    assert 367 <= scene.wavelengths.min() and scene.wavelengths.max() <= 1044
    assert np.all(np.diff(scene.wavelengths) > 0)


def test_gulfport_region_mask_by_key():
    scene = load_scene(real_scene_file("gulfport-sub.mat"), mask_key="mask_sub")
    assert scene.mask.shape == (51, 88) and scene.mask.any() and not scene.mask.all()


def test_hydice_v5_and_v73_are_the_same_scene():
    v5 = load_scene(real_scene_file("hydice.mat"))
    v73 = load_scene(real_scene_file("HYDICE1.mat"))
    np.testing.assert_array_equal(v5.mask, v73.mask)
    # HYDICE1.mat stores the cube min-max scaled per band (raw counts in hydice.mat),
    # so compare after the same scaling; a transposition error would not survive it.
    def scaled(cube):
        low, high = cube.min(axis=(0, 1)), cube.max(axis=(0, 1))
        return (cube - low) / (high - low)

    np.testing.assert_allclose(scaled(v5.cube), scaled(v73.cube), atol=5e-3)


# ------------------------------------------------------------------- MATLAB and NumPy


def test_mat_v5_and_v73_written_here_load_identically(tmp_path):
    cube = _cube(dtype=np.uint16)
    mask = np.zeros(cube.shape[:2], dtype=np.uint8)
    mask[1, 2] = 1
    scipy.io.savemat(tmp_path / "v5.mat", {"data": cube, "map": mask})
    # MATLAB v7.3 writes HDF5 after a 512-byte user block, axes reversed.
    with h5py.File(tmp_path / "v73.mat", "w", userblock_size=512) as f:
        f["data"] = cube.T
        f["map"] = mask.T
    v5, v73 = load_scene(tmp_path / "v5.mat"), load_scene(tmp_path / "v73.mat")
    for scene in (v5, v73):
        np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
        assert scene.cube.dtype == np.float32
        np.testing.assert_array_equal(scene.mask, mask.astype(bool))
        assert scene.wavelengths is None


@pytest.mark.parametrize("mask_name", ["map", "MASK", "gt", "GroundTruth", "gtImg_sub"])
def test_mask_names_found_automatically(tmp_path, mask_name):
    cube = _cube()
    mask = np.zeros(cube.shape[:2])
    mask[0, 0] = 2.0
    np.savez(tmp_path / "s.npz", cube=cube, **{mask_name: mask})
    scene = load_scene(tmp_path / "s.npz")
    assert scene.mask.dtype == bool and scene.mask.sum() == 1 and scene.mask[0, 0]


def test_npz_round_trip_with_keys_and_micrometres(tmp_path):
    cube = _cube()
    wl_nm = np.array([450.0, 550.0, 650.0])
    mask = np.eye(4, 5, dtype=bool)
    np.savez(tmp_path / "a.npz", x=cube, y=cube[..., :2].copy(), truth=mask, wl=wl_nm / 1000)
    scene = load_scene(tmp_path / "a.npz", data_key="x", mask_key="truth")
    np.testing.assert_array_equal(scene.cube, cube)
    np.testing.assert_array_equal(scene.mask, mask)
    np.testing.assert_allclose(scene.wavelengths, wl_nm)
    assert scene.name == "a"


def test_npy_round_trip(tmp_path):
    cube = _cube(dtype=np.int16)
    np.save(tmp_path / "c.npy", cube)
    scene = load_scene(str(tmp_path / "c.npy"))
    np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
    assert scene.mask is None and scene.wavelengths is None and scene.name == "c"


def test_ambiguous_cubes_list_the_keys(tmp_path):
    np.savez(tmp_path / "two.npz", first=_cube(), second=_cube(seed=1))
    with pytest.raises(ValueError, match=r"two\.npz.*first, second.*data_key"):
        load_scene(tmp_path / "two.npz")
    chosen = load_scene(tmp_path / "two.npz", data_key="second")
    np.testing.assert_array_equal(chosen.cube, _cube(seed=1))


def test_ambiguous_masks_list_the_keys(tmp_path):
    m = np.zeros((4, 5))
    np.savez(tmp_path / "m.npz", data=_cube(), map=m, gt=m)
    with pytest.raises(ValueError, match=r"m\.npz.*map, gt.*mask_key"):
        load_scene(tmp_path / "m.npz")


def test_unknown_key_lists_the_variables(tmp_path):
    np.savez(tmp_path / "k.npz", data=_cube())
    with pytest.raises(ValueError, match=r"k\.npz.*'nope'.*data \(4, 5, 3\)"):
        load_scene(tmp_path / "k.npz", mask_key="nope")


def _truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def _bad_files(tmp_path):
    """Yield (path, message pattern) for each kind of bad file."""
    cube = _cube()
    yield tmp_path / "missing.mat", r"missing\.mat.*does not exist"
    (tmp_path / "notes.txt").write_text("hello")
    yield tmp_path / "notes.txt", r"notes\.txt.*unknown file extension"
    (tmp_path / "junk.mat").write_bytes(b"this is not a MATLAB file at all" * 10)
    yield tmp_path / "junk.mat", r"junk\.mat"
    scipy.io.savemat(tmp_path / "cut5.mat", {"data": _cube(20, 20, 20)})
    yield _truncate(tmp_path / "cut5.mat"), r"cut5\.mat.*truncated"
    with h5py.File(tmp_path / "cut73.mat", "w", userblock_size=512) as f:
        f["data"] = _cube(20, 20, 20).T
    yield _truncate(tmp_path / "cut73.mat"), r"cut73\.mat.*truncated"
    np.savez(tmp_path / "cut.npz", data=_cube(20, 20, 20))
    yield _truncate(tmp_path / "cut.npz"), r"cut\.npz.*truncated"
    np.save(tmp_path / "cut.npy", _cube(20, 20, 20))
    yield _truncate(tmp_path / "cut.npy"), r"cut\.npy.*truncated"
    np.savez(tmp_path / "flat.npz", data=cube[..., 0], map=cube[..., 0])
    yield tmp_path / "flat.npz", r"flat\.npz.*not a cube"
    np.save(tmp_path / "flat.npy", cube[..., 0])
    yield tmp_path / "flat.npy", r"flat\.npy.*not a cube"
    np.savez(tmp_path / "badmask.npz", data=cube, map=np.zeros((5, 4)))
    yield tmp_path / "badmask.npz", r"badmask\.npz.*\(5, 4\).*must be \(4, 5\)"
    np.savez(tmp_path / "badwl.npz", data=cube, wavelengths=[400.0, 500.0])
    yield tmp_path / "badwl.npz", r"badwl\.npz.*2 wavelengths.*3 bands"
    np.savez(tmp_path / "nanwl.npz", data=cube, wavelengths=[400.0, np.nan, 600.0])
    yield tmp_path / "nanwl.npz", r"nanwl\.npz.*NaN"


def test_bad_files_raise_value_error_naming_the_file(tmp_path):
    cases = list(_bad_files(tmp_path))
    assert len(cases) == 12
    for path, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            load_scene(path)


def test_library_errors_are_chained(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="junk.npz") as info:
        load_scene(tmp_path / "junk.npz")
    assert info.value.__cause__ is not None


def test_keys_rejected_for_formats_without_variables(tmp_path):
    np.save(tmp_path / "c.npy", _cube())
    with pytest.raises(ValueError, match="data_key only apply to .mat and .npz"):
        load_scene(tmp_path / "c.npy", data_key="data")


# ------------------------------------------------------------------------------ ENVI

ENVI_LAYOUTS = {"bsq": (2, 0, 1), "bil": (0, 2, 1), "bip": (0, 1, 2)}
ENVI_TYPES = {np.dtype(np.uint16): 12, np.dtype(np.int16): 2, np.dtype(np.float32): 4,
              np.dtype(np.float64): 5}


def _write_envi(folder, cube, interleave, big_endian, wavelengths_um, data_name="scene.img"):
    """Write an ENVI image by hand: raw bytes in the interleave, plus a header."""
    order = ">" if big_endian else "<"
    raw = np.ascontiguousarray(cube.transpose(ENVI_LAYOUTS[interleave]))
    (folder / data_name).write_bytes(raw.astype(cube.dtype.newbyteorder(order)).tobytes())
    header = "\n".join([
        "ENVI",
        "description = {written by test_datasets.py}",
        f"samples = {cube.shape[1]}",
        f"lines = {cube.shape[0]}",
        f"bands = {cube.shape[2]}",
        "header offset = 0",
        "file type = ENVI Standard",
        f"data type = {ENVI_TYPES[cube.dtype]}",
        f"interleave = {interleave}",
        f"byte order = {int(big_endian)}",
        "wavelength units = Micrometers",
        "wavelength = {" + ", ".join(f"{w:.4f}" for w in wavelengths_um) + "}",
    ])
    hdr = folder / (Path(data_name).stem + ".hdr")
    hdr.write_text(header + "\n")
    return hdr, folder / data_name


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_envi_round_trip(tmp_path, interleave, big_endian, dtype):
    pytest.importorskip("spectral", reason="Spectral Python (sksvdd[envi]) is not installed")
    cube = _cube(rows=6, cols=7, bands=5, dtype=dtype)
    wl_um = np.array([0.45, 0.55, 0.65, 0.85, 1.65])
    hdr, data = _write_envi(tmp_path, cube, interleave, big_endian, wl_um)
    for path in (hdr, data):
        scene = load_scene(path)
        assert scene.cube.dtype == np.float32 and scene.cube.flags.c_contiguous
        np.testing.assert_array_equal(scene.cube, cube.astype(np.float32))
        np.testing.assert_allclose(scene.wavelengths, wl_um * 1000)
        assert scene.mask is None and scene.name == "scene"


def test_envi_sidecar_mask(tmp_path):
    pytest.importorskip("spectral", reason="Spectral Python (sksvdd[envi]) is not installed")
    cube = _cube(rows=6, cols=7, bands=5)
    hdr, _ = _write_envi(tmp_path, cube, "bip", False, np.linspace(0.4, 0.9, 5))
    mask = np.zeros((6, 7), dtype=bool)
    mask[2, 3] = True
    np.save(tmp_path / "scene_mask.npy", mask)
    np.testing.assert_array_equal(load_scene(hdr).mask, mask)
    np.save(tmp_path / "scene_mask.npy", mask.T)
    with pytest.raises(ValueError, match=r"scene\.hdr.*must be \(6, 7\)"):
        load_scene(hdr)


def test_envi_bad_files(tmp_path):
    pytest.importorskip("spectral", reason="Spectral Python (sksvdd[envi]) is not installed")
    hdr, data = _write_envi(tmp_path, _cube(6, 7, 5), "bsq", False, np.linspace(0.4, 0.9, 5))
    _truncate(data)
    with pytest.raises(ValueError, match=r"scene\.hdr.*truncated"):
        load_scene(hdr)
    data.unlink()
    with pytest.raises(ValueError, match=r"scene\.hdr.*no data file"):
        load_scene(hdr)
    hdr.write_text("not an ENVI header\n")
    (tmp_path / "scene.img").write_bytes(b"\0" * 10)
    with pytest.raises(ValueError, match=r"scene\.hdr") as info:
        load_scene(hdr)
    assert info.value.__cause__ is not None


def test_envi_without_spectral_says_how_to_install(tmp_path, monkeypatch):
    hdr, _ = _write_envi(tmp_path, _cube(6, 7, 5), "bsq", False, np.linspace(0.4, 0.9, 5))
    monkeypatch.setitem(sys.modules, "spectral", None)  # makes the import fail
    monkeypatch.setitem(sys.modules, "spectral.io", None)
    with pytest.raises(ImportError, match=r"scene\.hdr.*pip install 'sksvdd\[envi\]'"):
        load_scene(hdr)


# ------------------------------------------------------------------------ cube helpers


def test_cube_pixels_round_trip_exact():
    cube = _cube(rows=5, cols=6, bands=4)
    pixels = cube_to_pixels(cube)
    assert pixels.shape == (30, 4)
    np.testing.assert_array_equal(pixels[1 * 6 + 2], cube[1, 2])  # row-major order
    np.testing.assert_array_equal(pixels_to_image(pixels, cube.shape[:2]), cube)
    scores = pixels.sum(axis=1)
    np.testing.assert_array_equal(pixels_to_image(scores, (5, 6)), cube.sum(axis=2))


def test_cube_pixels_round_trip_with_mask():
    cube = _cube(rows=5, cols=6, bands=4)
    mask = np.random.RandomState(1).uniform(size=(5, 6)) < 0.4
    pixels = cube_to_pixels(cube, mask)
    assert pixels.shape == (mask.sum(), 4)
    image = pixels_to_image(pixels, (5, 6), mask=mask, fill_value=-1.0)
    np.testing.assert_array_equal(image[mask], cube[mask])
    assert np.all(image[~mask] == -1.0)
    labels = pixels_to_image(np.arange(mask.sum()), (5, 6), mask=mask)
    assert labels.dtype == np.float64 and np.isnan(labels[~mask]).all()


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: cube_to_pixels(np.zeros((4, 5))), r"3-D.*\(4, 5\)"),
        (lambda: cube_to_pixels(np.zeros((4, 5, 3)), np.zeros((5, 4), bool)),
         r"\(4, 5\).*\(5, 4\)"),
        (lambda: cube_to_pixels(np.zeros((4, 5, 3)), np.full((4, 5), 2.0)), "bool or 0/1"),
        (lambda: cube_to_pixels(np.zeros((4, 5, 3)), -np.ones((4, 5))), "predict"),
        (lambda: pixels_to_image(np.zeros(19), (4, 5)), "19 rows.*20 pixels"),
        (lambda: pixels_to_image(np.zeros((20, 2, 2)), (4, 5)), "1-D.*2-D"),
        (lambda: pixels_to_image(np.zeros(20), (4, 5, 3)), r"cube\.shape\[:2\]"),
        (lambda: pixels_to_image(np.zeros(3), (4, 5), mask=np.eye(4, 5, dtype=bool)),
         "3 rows.*selects 4"),
    ],
)
def test_cube_helpers_validate_shapes(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---------------------------------------------------------------------- built-in scene


def _rx_auroc(scene):
    """Global RX (Mahalanobis distance with a small ridge), computed independently."""
    x = scene.cube.reshape(-1, scene.cube.shape[2]).astype(np.float64)
    x = x - x.mean(axis=0)
    cov = x.T @ x / (len(x) - 1)
    cov += 1e-6 * np.trace(cov) / len(cov) * np.eye(len(cov))
    scores = np.sum(x * np.linalg.solve(cov, x.T).T, axis=1)
    return roc_auc_score(scene.mask.ravel(), scores)


def test_builtin_scene_fields_and_types():
    scene = make_hyperspectral_scene(n_rows=40, n_cols=30, random_state=0)
    assert scene.cube.shape == (40, 30, 180)
    assert scene.cube.dtype == np.float32 and scene.cube.flags.c_contiguous
    assert scene.mask.shape == (40, 30) and scene.mask.dtype == bool
    assert scene.wavelengths.dtype == np.float64 and scene.wavelengths.shape == (180,)
    assert np.all(np.diff(scene.wavelengths) > 0)
    assert scene.wavelengths[0] >= 400 and scene.wavelengths[-1] <= 2450
    assert scene.name == "builtin"
    assert scene.abundances.shape == (40, 30, 4)
    np.testing.assert_allclose(scene.abundances.sum(axis=2), 1, rtol=1e-5)
    assert len(scene.background_names) == 4
    assert set(scene.target_names) <= {"paint", "metal", "tile", "glass", "comp_shingle"}
    assert scene.target_names
    np.testing.assert_array_equal(scene.mask, scene.target_fraction >= 0.25)
    assert 0.0 < np.median(scene.cube) < 1.0  # reflectance-like values


@pytest.mark.parametrize("fraction", [0.0, 0.005, 0.0075, 0.02])
def test_builtin_scene_anomaly_fraction(fraction):
    scene = make_hyperspectral_scene(anomaly_fraction=fraction, random_state=3)
    n = scene.mask.size
    assert fraction * n <= scene.mask.sum() <= fraction * n + 9
    if fraction == 0:
        assert scene.target_names == [] and not scene.target_fraction.any()


def test_builtin_scene_mixes_sub_pixel_and_full_pixel_targets():
    fractions = make_hyperspectral_scene(random_state=0).target_fraction
    labelled = fractions[fractions >= 0.25]
    assert np.any(labelled == 1.0) and np.any(labelled < 0.9)


def test_builtin_scene_is_deterministic():
    a = make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=7)
    b = make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=np.random.RandomState(7))
    c = make_hyperspectral_scene(n_rows=30, n_cols=30, random_state=8)
    np.testing.assert_array_equal(a.cube, b.cube)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.cube, c.cube)
    state = np.random.get_state()[1].copy()
    make_hyperspectral_scene(n_rows=10, n_cols=10, random_state=0)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global state untouched


def test_builtin_scene_band_resampling():
    scene = make_hyperspectral_scene(n_rows=20, n_cols=20, n_bands=50, random_state=0)
    assert scene.cube.shape == (20, 20, 50)
    np.testing.assert_allclose(scene.wavelengths, np.linspace(400, 2450, 50))
    # Noise-free pure pixels of one material follow the interpolated spectrum.
    clean = make_hyperspectral_scene(n_rows=20, n_cols=20, n_bands=50, n_background=1,
                                     anomaly_fraction=0.0, snr_db=np.inf, random_state=0)
    lib = load_endmembers()
    spectrum = lib.spectra[list(lib.names).index(clean.background_names[0])]
    expected = np.interp(clean.wavelengths, lib.wavelengths, spectrum)
    mean = clean.cube.reshape(-1, 50).mean(axis=0)
    assert np.corrcoef(mean, expected)[0, 1] > 0.999


def test_builtin_scene_noise_follows_snr():
    kwargs = dict(n_rows=30, n_cols=30, anomaly_fraction=0.0, random_state=0)
    clean = make_hyperspectral_scene(snr_db=np.inf, **kwargs).cube.astype(np.float64)
    noisy = make_hyperspectral_scene(snr_db=20.0, **kwargs).cube.astype(np.float64)
    snr = 10 * np.log10(np.mean(clean**2) / np.var(noisy - clean))
    assert abs(snr - 20.0) < 0.2


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(n_rows=0), "n_rows must be an integer >= 1"),
        (dict(n_bands=1), "n_bands"),
        (dict(n_background=9), r"n_background must be an integer in \[1, 8\]"),
        (dict(anomaly_fraction=0.5), "anomaly_fraction"),
        (dict(snr_db=np.nan), "snr_db"),
    ],
)
def test_builtin_scene_rejects_bad_parameters(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        make_hyperspectral_scene(**kwargs)


def test_builtin_scene_is_neither_trivial_nor_impossible_for_rx():
    scene = make_hyperspectral_scene(random_state=0)
    assert 0.6 < _rx_auroc(scene) < 0.999


def test_builtin_scene_is_fast():
    make_hyperspectral_scene(random_state=0)  # warm the endmember cache
    start = time.perf_counter()
    make_hyperspectral_scene(random_state=1)
    assert time.perf_counter() - start < 2.0


def test_endmembers_file_and_attribution():
    lib = load_endmembers()
    assert lib.spectra.shape == (13, 180) and lib.wavelengths.shape == (180,)
    assert lib.wavelengths[0] == 400 and lib.wavelengths[-1] == 2450
    assert np.all((lib.spectra > 0) & (lib.spectra <= 1))
    assert sorted(set(lib.roles)) == ["background", "target"]
    data = Path(__import__("sksvdd.datasets").datasets.__file__).parent / "data"
    assert (data / "endmembers.csv").stat().st_size < 100_000
    assert "MIT License" in (data / "LICENSE-earthlib.txt").read_text()
    readme = (data / "endmembers_README.md").read_text()
    assert "earthlib" in readme
    assert all(f"| {name} |" in readme for name in lib.names)


# --- load_mask ---------------------------------------------------------------------------


def test_load_mask_reads_npy_mat_npz_and_png(tmp_path):
    import matplotlib.image

    rng = np.random.RandomState(0)
    mask = rng.rand(7, 9) < 0.3
    np.save(tmp_path / "m.npy", mask.astype(np.float32) * 3)  # nonzero = selected
    scipy.io.savemat(tmp_path / "m.mat", {"data": np.ones((7, 9, 4)), "gt": mask.astype(np.uint8),
                                          "normal": (~mask).astype(np.uint8)})
    np.savez(tmp_path / "m.npz", mask=mask)
    matplotlib.image.imsave(tmp_path / "m.png", mask.astype(float), cmap="gray")
    for name, key, expected in [("m.npy", None, mask), ("m.mat", None, mask),
                                ("m.mat", "normal", ~mask), ("m.npz", None, mask),
                                ("m.png", None, mask)]:
        loaded = load_mask(tmp_path / name, key=key, shape=(7, 9))
        assert loaded.dtype == bool
        np.testing.assert_array_equal(loaded, expected, err_msg=name)


def test_load_mask_reads_an_enlarged_png_back_at_its_shape(tmp_path):
    import matplotlib.image

    mask = np.random.RandomState(1).rand(5, 6) < 0.4
    big = np.repeat(np.repeat(mask, 3, axis=0), 3, axis=1)  # each pixel a 3 x 3 block
    matplotlib.image.imsave(tmp_path / "big.png", big.astype(float), cmap="gray")
    np.testing.assert_array_equal(load_mask(tmp_path / "big.png", shape=(5, 6)), mask)
    assert load_mask(tmp_path / "big.png").shape == (15, 18)  # without shape: as stored
    big[0, 1] = not big[0, 0]  # a block that is not uniform: not an enlarged mask
    matplotlib.image.imsave(tmp_path / "odd.png", big.astype(float), cmap="gray")
    with pytest.raises(ValueError, match=r"must be \(5, 6\)"):
        load_mask(tmp_path / "odd.png", shape=(5, 6))


@pytest.mark.parametrize("make, kwargs, match", [
    (lambda p: np.save(p / "x.npy", np.ones((3, 3, 2))), {}, r"2-D numeric array .* \(3, 3, 2\)"),
    (lambda p: np.save(p / "x.npy", np.array([[0.0, np.nan]])), {}, "NaN"),
    (lambda p: np.save(p / "x.npy", np.ones((3, 3))), {"shape": (3, 4)}, r"must be \(3, 4\)"),
    (lambda p: np.save(p / "x.npy", np.ones((3, 3))), {"key": "gt"}, "only applies to .mat"),
    (lambda p: np.savez(p / "x.npz", a=np.ones((3, 3))), {}, "found none"),
    (lambda p: np.savez(p / "x.npz", map=np.ones((3, 3)), gt=np.ones((3, 3))), {},
     "several"),
    (lambda p: (p / "x.txt").write_text("0 1"), {}, "unknown file extension"),
])
def test_load_mask_errors_name_the_file(tmp_path, make, kwargs, match):
    make(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(ValueError, match=match) as info:
        load_mask(path, **kwargs)
    assert path.name in str(info.value)
