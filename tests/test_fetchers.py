"""Dataset fetchers, offline: a local HTTP server on 127.0.0.1 stands in for the public hosts.

Nothing here downloads from the internet: every test points ``SKSVDD_DATA_URL``
at the local server (or at a closed port) and registers the hashes of the small
files it serves.
"""

import functools
import hashlib
import http.server
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from conftest import SHARED_HSI, real_scene_file
from sksvdd.datasets import (
    clear_data_home,
    fetch_abu,
    fetch_gulfport,
    fetch_hydice,
    fetch_san_diego,
    fetch_scene,
    get_data_home,
)
from sksvdd.datasets import _fetchers

pytest.importorskip("pooch", reason="the fetchers need pooch: pip install -e \".[data]\"")


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder, records each requested path, logs nothing."""

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(folder served, list of requested paths); SKSVDD_DATA_URL points at it."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_CountingHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SKSVDD_DATA_URL", f"http://127.0.0.1:{httpd.server_port}/mirror")
    (folder / "mirror").mkdir()
    yield folder / "mirror", httpd.requests
    httpd.shutdown()
    httpd.server_close()


def _serve(folder, monkeypatch, name, *, register=True, **variables):
    """Write ``<name>.mat`` into the served folder and register its SHA-256."""
    path = folder / f"{name}.mat"
    scipy.io.savemat(path, variables)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if register:
        monkeypatch.setitem(_fetchers._SHA256, path.name, digest)
    return digest


def _abu_like(seed=0):
    rng = np.random.RandomState(seed)
    data = rng.randint(0, 4000, size=(6, 7, 5)).astype(np.uint16)
    mask = np.zeros((6, 7), np.uint8)
    mask[2, 3] = mask[4, 1] = 1
    return data, mask


def test_download_loads_the_served_file(server, tmp_path, monkeypatch):
    folder, requests = server
    data, mask = _abu_like()
    _serve(folder, monkeypatch, "abu-beach-2", data=data, map=mask)
    home = tmp_path / "home"

    scene = fetch_abu("beach-2", data_home=home)

    np.testing.assert_array_equal(scene.cube, data.astype(np.float32))
    np.testing.assert_array_equal(scene.mask, mask == 1)
    assert scene.wavelengths is None
    assert scene.name == "abu-beach-2"
    assert Path(scene.filename) == home / "abu-beach-2.mat"
    assert scene.url.endswith("/mirror/abu-beach-2.mat")
    assert "ABU beach scene 2" in scene.DESCR and "Terms" in scene.DESCR
    assert requests == ["/mirror/abu-beach-2.mat"]
    assert sorted(p.name for p in home.iterdir()) == ["abu-beach-2.mat"]


def test_second_call_reads_the_cache_without_the_server(server, tmp_path, monkeypatch):
    folder, requests = server
    data, mask = _abu_like()
    _serve(folder, monkeypatch, "hydice", data=data, map=mask)
    first = fetch_hydice(data_home=tmp_path)
    (folder / "hydice.mat").unlink()  # gone from the host: only the cache can answer

    second = fetch_hydice(data_home=tmp_path)
    third = fetch_hydice(data_home=tmp_path, download_if_missing=False)

    assert requests == ["/mirror/hydice.mat"]
    np.testing.assert_array_equal(second.cube, first.cube)
    np.testing.assert_array_equal(third.mask, first.mask)


def test_wavelengths_are_returned_where_the_file_has_them(server, tmp_path, monkeypatch):
    folder, _ = server
    cube = np.random.RandomState(1).uniform(size=(4, 5, 3)).astype(np.float32)
    wavelengths = np.array([[450.0, 550.0, 650.0]])  # a MATLAB row vector
    gt = np.zeros((4, 5), np.uint8)
    gt[1, 1] = 1
    _serve(folder, monkeypatch, "gulfport-targets", hsi_sub=cube, gtImg_sub=gt,
           wavelengths=wavelengths, tgt_spectra=np.ones((3, 1)))

    scene = fetch_gulfport("targets", data_home=tmp_path)

    np.testing.assert_array_equal(scene.wavelengths, wavelengths.ravel())
    np.testing.assert_array_equal(scene.mask, gt == 1)
    np.testing.assert_array_equal(scene.cube, cube)


def test_hash_mismatch_is_refused_and_nothing_kept(server, tmp_path, monkeypatch):
    folder, _ = server
    data, mask = _abu_like()
    _serve(folder, monkeypatch, "sandiego", register=False, data=data, map=mask)
    monkeypatch.setitem(_fetchers._SHA256, "sandiego.mat", "0" * 64)

    with pytest.raises(ValueError, match="not the expected sandiego.mat") as info:
        fetch_san_diego(data_home=tmp_path)

    assert "0" * 64 in str(info.value) and "/mirror/sandiego.mat" in str(info.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "served"]  # no file, no temporary left


def test_corrupt_cache_is_downloaded_again_or_refused(server, tmp_path, monkeypatch):
    folder, requests = server
    data, mask = _abu_like()
    _serve(folder, monkeypatch, "abu-airport-3", data=data, map=mask)
    home = tmp_path / "home"
    home.mkdir()
    (home / "abu-airport-3.mat").write_bytes(b"truncated")

    with pytest.raises(ValueError, match="cached file .* SHA-256 differs"):
        fetch_abu("airport-3", data_home=home, download_if_missing=False)
    assert requests == []

    scene = fetch_abu("airport-3", data_home=home)
    assert requests == ["/mirror/abu-airport-3.mat"]
    np.testing.assert_array_equal(scene.cube, data.astype(np.float32))


def test_offline_error_names_the_url_and_where_to_place_the_file(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port on which nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SKSVDD_DATA_URL", f"http://127.0.0.1:{port}")

    with pytest.raises(ConnectionError) as info:
        fetch_abu("airport-1", data_home=tmp_path)

    message = str(info.value)
    assert f"http://127.0.0.1:{port}/abu-airport-1.mat" in message
    assert f"place it as {tmp_path / 'abu-airport-1.mat'}" in message
    assert _fetchers._SHA256["abu-airport-1.mat"] in message
    assert list(tmp_path.iterdir()) == []


def test_missing_scene_without_download_raises_oserror(tmp_path, monkeypatch):
    monkeypatch.setenv("SKSVDD_DATA_URL", "http://127.0.0.1:9")  # never contacted
    with pytest.raises(OSError, match="download_if_missing=False") as info:
        fetch_scene("hydice", data_home=tmp_path, download_if_missing=False)
    assert str(tmp_path / "hydice.mat") in str(info.value)


@pytest.mark.parametrize("call, match", [
    (lambda: fetch_scene("pavia"), "Unknown scene 'pavia'; expected one of: 'abu-airport-1'"),
    (lambda: fetch_abu("airport-5"), "scene must be one of 'airport-1'"),
    (lambda: fetch_gulfport("full"), "scene must be one of 'sub', 'targets'; got 'full'"),
])
def test_unknown_scene_names_the_choices(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_without_pooch_cached_scenes_load_and_downloads_say_what_to_install(
        server, tmp_path, monkeypatch):
    folder, _ = server
    data, mask = _abu_like()
    _serve(folder, monkeypatch, "hydice", data=data, map=mask)
    fetch_hydice(data_home=tmp_path)
    monkeypatch.setitem(sys.modules, "pooch", None)  # import pooch now fails

    np.testing.assert_array_equal(fetch_hydice(data_home=tmp_path).mask, mask == 1)
    with pytest.raises(ImportError, match=r"pip install 'sksvdd\[data\]'"):
        fetch_san_diego(data_home=tmp_path)


def test_data_home_from_argument_environment_and_default(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SKSVDD_DATA", raising=False)
    assert get_data_home() == str(tmp_path / "user" / "sksvdd_data")
    monkeypatch.setenv("SKSVDD_DATA", str(tmp_path / "from-env"))
    assert get_data_home() == str(tmp_path / "from-env")
    assert get_data_home("~/given") == str(tmp_path / "user" / "given")
    for folder in ("user/sksvdd_data", "from-env", "user/given"):
        assert (tmp_path / folder).is_dir()
    (tmp_path / "from-env" / "x.mat").write_bytes(b"x")
    clear_data_home()
    assert not (tmp_path / "from-env").exists()


def test_registry_points_at_the_public_hosts():
    for filename, entry in _fetchers._REGISTRY.items():
        assert entry["remote"].startswith("https://raw.githubusercontent.com/"), filename
        assert len(_fetchers._SHA256[filename]) == 64, filename
    assert set(_fetchers._SHA256) == set(_fetchers._REGISTRY)


@pytest.mark.parametrize("filename", sorted(_fetchers._REGISTRY))
def test_registered_hashes_match_the_team_copies(filename, monkeypatch):
    path = real_scene_file(filename)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == _fetchers._SHA256[filename]
    monkeypatch.setenv("SKSVDD_DATA_URL", "http://127.0.0.1:9")  # must not be contacted
    scene = fetch_scene(filename.removesuffix(".mat"), data_home=SHARED_HSI,
                        download_if_missing=False)
    assert scene.cube.ndim == 3 and scene.filename == str(path)


def test_team_copy_served_locally_passes_the_registered_hash(server, tmp_path):
    """The real registry entry, end to end through pooch, with the file from a local host."""
    folder, requests = server
    (folder / "abu-beach-2.mat").symlink_to(real_scene_file("abu-beach-2.mat"))
    scene = fetch_abu("beach-2", data_home=tmp_path / "home")
    assert requests == ["/mirror/abu-beach-2.mat"]
    assert scene.cube.shape == (100, 100, 193) and int(scene.mask.sum()) == 202
