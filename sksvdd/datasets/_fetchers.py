"""Download public hyperspectral anomaly-detection scenes, cached and checked (pooch)."""

import hashlib
import os
import shutil
from pathlib import Path

from ._io import load_scene

# Environment variables: where the cache lives, and a mirror to download from.
_DATA_HOME_ENV = "SKSVDD_DATA"
_MIRROR_ENV = "SKSVDD_DATA_URL"
_TIMEOUT_S = 60

_OT_AD = "https://raw.githubusercontent.com/jiojio0505/OT-AD/main/data/"
_HSI_TOOLKIT = "https://raw.githubusercontent.com/GatorSense/hsi_toolkit/master/"

_ABU_TERMS = (
    "Terms: academic research data, as redistributed by the OT-AD repository "
    "(https://github.com/jiojio0505/OT-AD); cite the original publication and the "
    "redistributing repository when you publish results."
)
_ABU_REFERENCE = (
    "X. Kang, X. Zhang, S. Li, K. Li, J. Li and J. A. Benediktsson, \"Hyperspectral "
    "anomaly detection with attribute and edge-preserving filters\", IEEE Transactions "
    "on Geoscience and Remote Sensing, 55(10), 2017 (the ABU data set)."
)
_GULFPORT_TERMS = (
    "Terms: distributed with GatorSense's hsi_toolkit (https://github.com/GatorSense/"
    "hsi_toolkit, MIT licence) as a subset of the MUUFL Gulfport data set; the MUUFL "
    "Gulfport terms ask you to cite P. Gader, A. Zare, R. Close, J. Aitken and G. Tuell, "
    "\"MUUFL Gulfport hyperspectral and LiDAR airborne data set\", University of "
    "Florida, REP-2013-570, 2013."
)


def _abu(kind, number, rows, cols, bands, anomalies):
    return {
        "remote": f"{_OT_AD}abu-{kind}-{number}.mat",
        "description": (
            f"ABU {kind} scene {number}: {rows} x {cols} pixels, {bands} bands, "
            f"{anomalies} anomaly pixels in the ground truth; no wavelengths (the removed "
            f"bands are not recorded).\n{_ABU_REFERENCE}\n{_ABU_TERMS}"
        ),
    }


# Cache file name -> upstream URL and description; below, the SHA-256 of each file. The
# hashes were computed from the team's copies of these files, which came from these
# repositories (not from a download at the time of writing: see docs/hsi_data.md).
_REGISTRY = {
    "abu-airport-1.mat": _abu("airport", 1, 100, 100, 205, 144),
    "abu-airport-2.mat": _abu("airport", 2, 100, 100, 205, 87),
    "abu-airport-3.mat": _abu("airport", 3, 100, 100, 205, 170),
    "abu-airport-4.mat": _abu("airport", 4, 100, 100, 191, 60),
    "abu-beach-1.mat": _abu("beach", 1, 150, 150, 188, 19),
    "abu-beach-2.mat": _abu("beach", 2, 100, 100, 193, 202),
    "abu-beach-3.mat": _abu("beach", 3, 100, 100, 188, 11),
    "sandiego.mat": {
        "remote": f"{_OT_AD}sandiego.mat",
        "description": (
            "San Diego airport (AVIRIS): 100 x 100 pixels, 189 bands, 58 anomaly pixels "
            "(aircraft); no wavelengths.\n" + _ABU_TERMS
        ),
    },
    "hydice.mat": {
        "remote": f"{_OT_AD}hydice.mat",
        "description": (
            "HYDICE urban: 80 x 100 pixels, 162 bands, 17 anomaly pixels (vehicles); "
            "no wavelengths.\n" + _ABU_TERMS
        ),
    },
    "gulfport-sub.mat": {
        "remote": f"{_HSI_TOOLKIT}anomaly_detectors/an_hsi_image_sub_for_demo.mat",
        "description": (
            "MUUFL Gulfport subset (hsi_toolkit's anomaly-detection demo image): 51 x 88 "
            "pixels, 72 bands with wavelengths (367.7-1043.4 nm); no anomaly ground "
            "truth (mask is None; the file's 'mask_sub' is a region of valid pixels, "
            "read it with load_scene(filename, mask_key='mask_sub')).\n"
            + _GULFPORT_TERMS
        ),
    },
    "gulfport-targets.mat": {
        "remote": f"{_HSI_TOOLKIT}signature_detectors/an_hsi_img_for_tgt_det_demo.mat",
        "description": (
            "MUUFL Gulfport subset (hsi_toolkit's target-detection demo image): 36 x 36 "
            "pixels, 72 bands with wavelengths, 3 target pixels in the ground truth; the "
            "file also holds the target spectra ('tgt_spectra').\n" + _GULFPORT_TERMS
        ),
    },
}
_SHA256 = {
    "abu-airport-1.mat": "5de3c0b74593552e21e88ee280d02c4acae60bd48a013d72bd28ef63815485f5",
    "abu-airport-2.mat": "7121476e700001e76191d6ee6bc6f2d5f680c0fe49186b61a57f10fcac7718b9",
    "abu-airport-3.mat": "97b574be2de8c1ae3158b60b4aa34676c59a218398fc096c0dcdf125a6c74495",
    "abu-airport-4.mat": "c10cb987f0a75ad5834da2be35e2cfe740660fd9094521dd6d047de535a2a72b",
    "abu-beach-1.mat": "b1fa88474fbc06f2e654e4452d8f7f98757c199197e2b7fec1977a5c5753fcb0",
    "abu-beach-2.mat": "3ec5f0c5c36b2f98a41f9d9e69946e9f3e6fdbeee0f42b3e402485a4efd9bb80",
    "abu-beach-3.mat": "56622ebe89aa1a37aced4b41286eb0a045677553f637c63f90c8222f1027f576",
    "sandiego.mat": "6830b031438366acbcf3d20f35a5589f969783471a6fd987b792954c51283b01",
    "hydice.mat": "095875682b1f5da092c64ebf4b40493d4d9071aa6a7856c8821cc986051422c7",
    "gulfport-sub.mat": "c002ca55801c2cafe968c214d773c30b02b2ae1bd132ab875a2ba13246be0a11",
    "gulfport-targets.mat": "916cac91baeca5a5c2ca102ab18eaf74ec92b928a9a0703b99f4738295b6ccd5",
}
SCENES = tuple(name.removesuffix(".mat") for name in _REGISTRY)
_ABU_SCENES = tuple(name.removeprefix("abu-") for name in SCENES if name.startswith("abu-"))
_GULFPORT_SCENES = ("sub", "targets")


def get_data_home(data_home=None):
    """Return the folder where downloaded scenes are cached, creating it if needed.

    As :func:`sklearn.datasets.get_data_home`: ``data_home`` when given, else the
    ``SKSVDD_DATA`` environment variable, else ``~/sksvdd_data``; ``~`` is
    expanded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use.

    Returns
    -------
    data_home : str
        The path of the (existing) folder.

    Examples
    --------
    >>> import tempfile
    >>> from sksvdd.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     get_data_home(folder) == folder
    True
    """
    if data_home is None:
        data_home = os.environ.get(_DATA_HOME_ENV, os.path.join("~", "sksvdd_data"))
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


def clear_data_home(data_home=None):
    """Delete the cache folder of downloaded scenes and everything in it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to delete; None is :func:`get_data_home`'s default.
    """
    shutil.rmtree(get_data_home(data_home))


def fetch_scene(name, *, data_home=None, download_if_missing=True):
    """Load a public anomaly-detection scene, downloading it on first use.

    The file is cached as ``<data_home>/<name>.mat`` and its SHA-256 is checked
    after every download, so a later call reads the cache without a network.
    A file already placed there by hand (the same file, e.g. copied from a
    machine that has internet access) is used as it is, once its SHA-256 is
    checked; a cached file with another SHA-256 is downloaded again. The ``SKSVDD_DATA_URL`` environment variable names a mirror to
    download from instead of the public hosts: a URL under which the files
    lie with their cache names (e.g. ``http://host/sksvdd/abu-airport-1.mat``).

    The scenes, their hosts, sizes and terms of use are listed in the user
    guide's data page (``docs/hsi_data.md``) and in each Bunch's ``DESCR``.

    Parameters
    ----------
    name : str
        One of ``"abu-airport-1"`` ... ``"abu-airport-4"``, ``"abu-beach-1"``
        ... ``"abu-beach-3"`` (:func:`fetch_abu`), ``"sandiego"``
        (:func:`fetch_san_diego`), ``"hydice"`` (:func:`fetch_hydice`),
        ``"gulfport-sub"`` and ``"gulfport-targets"`` (:func:`fetch_gulfport`).
    data_home : str or path-like, default=None
        The cache folder (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        When False, raise :class:`OSError` instead of downloading a scene
        that is not in the cache.

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        The fields of :func:`load_scene` (``cube``, ``mask`` (None where the
        file has no anomaly ground truth), ``wavelengths`` (None where the file
        has none), ``name``) plus

        filename : str
            The path of the cached file.
        url : str
            Where it was (or would be) downloaded from.
        DESCR : str
            What the scene is, its source and its terms of use.

    Raises
    ------
    ValueError
        If ``name`` is not a known scene, or a download (or the cached file)
        does not have the expected SHA-256.
    ConnectionError
        If the download fails (no network, the host is down, the file moved);
        the message names the URL and where to place the file by hand.
    OSError
        If the scene is not cached and ``download_if_missing`` is False.
    ImportError
        If the scene must be downloaded and pooch is not installed
        (``pip install 'sksvdd[data]'``); cached scenes load without it.

    Examples
    --------
    >>> from sksvdd.datasets import fetch_scene
    >>> scene = fetch_scene("abu-beach-2")  # doctest: +SKIP
    >>> scene.cube.shape, int(scene.mask.sum()), scene.wavelengths  # doctest: +SKIP
    ((100, 100, 193), 202, None)
    """
    filename = f"{name}.mat"
    if not isinstance(name, str) or filename not in _REGISTRY:
        raise ValueError(
            f"Unknown scene {name!r}; expected one of: {', '.join(map(repr, SCENES))}."
        )
    path = Path(get_data_home(data_home)) / filename
    url = _url(filename)
    if not path.is_file() and not download_if_missing:
        raise OSError(
            f"Scene {name!r} is not in the data folder ({path}) and "
            "download_if_missing=False. Call it with download_if_missing=True to "
            f"download it from {url}, or place the file there by hand."
        )
    _retrieve(url, path, download=download_if_missing)
    scene = load_scene(path)
    scene.update(filename=str(path), url=url, DESCR=_REGISTRY[filename]["description"])
    return scene


def fetch_abu(scene="airport-1", *, data_home=None, download_if_missing=True):
    """Load one of the seven ABU scenes (Airport-Beach-Urban), downloading it on first use.

    The ABU scenes used in the README's quality table, as redistributed in the
    OT-AD repository: 100 x 100 pixels (beach-1: 150 x 150), 188-205 bands,
    pixel-level anomaly ground truth, no wavelengths. See :func:`fetch_scene`
    for caching, checks and errors.

    Parameters
    ----------
    scene : {"airport-1", "airport-2", "airport-3", "airport-4", "beach-1", \
"beach-2", "beach-3"}, default="airport-1"
        Which scene.
    data_home : str or path-like, default=None
        The cache folder (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        When False, raise :class:`OSError` instead of downloading.

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        ``cube``, ``mask``, ``wavelengths`` (None), ``name``, ``filename``,
        ``url`` and ``DESCR``, as in :func:`fetch_scene`.

    Examples
    --------
    >>> from sksvdd.datasets import fetch_abu
    >>> scene = fetch_abu("airport-2")  # doctest: +SKIP
    >>> scene.cube.shape, int(scene.mask.sum())  # doctest: +SKIP
    ((100, 100, 205), 87)
    """
    _check_choice("scene", scene, _ABU_SCENES)
    return fetch_scene(f"abu-{scene}", data_home=data_home,
                       download_if_missing=download_if_missing)


def fetch_san_diego(*, data_home=None, download_if_missing=True):
    """Load the San Diego airport scene (AVIRIS, 100 x 100 x 189), downloading it on first use.

    As redistributed in the OT-AD repository, with 58 anomaly pixels (aircraft)
    and no wavelengths. See :func:`fetch_scene` for caching, checks and errors.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The cache folder (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        When False, raise :class:`OSError` instead of downloading.

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        As in :func:`fetch_scene`.
    """
    return fetch_scene("sandiego", data_home=data_home,
                       download_if_missing=download_if_missing)


def fetch_hydice(*, data_home=None, download_if_missing=True):
    """Load the HYDICE urban scene (80 x 100 x 162), downloading it on first use.

    As redistributed in the OT-AD repository, with 17 anomaly pixels (vehicles)
    and no wavelengths. See :func:`fetch_scene` for caching, checks and errors.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The cache folder (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        When False, raise :class:`OSError` instead of downloading.

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        As in :func:`fetch_scene`.
    """
    return fetch_scene("hydice", data_home=data_home, download_if_missing=download_if_missing)


def fetch_gulfport(scene="sub", *, data_home=None, download_if_missing=True):
    """Load a MUUFL Gulfport subset from GatorSense's hsi_toolkit, downloading it on first use.

    Both subsets carry their 72 band wavelengths (nm), so band-pass bounds
    apply to them. See :func:`fetch_scene` for caching, checks and errors.

    Parameters
    ----------
    scene : {"sub", "targets"}, default="sub"
        ``"sub"``: the 51 x 88 anomaly-detection demo image, without anomaly
        ground truth (``mask`` is None). ``"targets"``: the 36 x 36
        target-detection demo image, with 3 target pixels as ``mask``.
    data_home : str or path-like, default=None
        The cache folder (see :func:`get_data_home`).
    download_if_missing : bool, default=True
        When False, raise :class:`OSError` instead of downloading.

    Returns
    -------
    scene : :class:`~sklearn.utils.Bunch`
        As in :func:`fetch_scene`.
    """
    _check_choice("scene", scene, _GULFPORT_SCENES)
    return fetch_scene(f"gulfport-{scene}", data_home=data_home,
                       download_if_missing=download_if_missing)


def _check_choice(parameter, value, choices):
    if value not in choices:
        raise ValueError(
            f"{parameter} must be one of {', '.join(map(repr, choices))}; got {value!r}."
        )


def _url(filename):
    mirror = os.environ.get(_MIRROR_ENV)
    if mirror:
        return f"{mirror.rstrip('/')}/{filename}"
    return _REGISTRY[filename]["remote"]


def _retrieve(url, path, *, download):
    """Make ``path`` hold the registered file, downloading it from ``url`` if needed."""
    expected = _SHA256[path.name]
    if path.is_file():
        # Checked with hashlib, so that cached scenes load without pooch installed.
        with path.open("rb") as file:
            if hashlib.file_digest(file, "sha256").hexdigest() == expected:
                return
        if not download:
            raise ValueError(
                f"The cached file {path} is not the expected {path.name}: its SHA-256 "
                f"differs from {expected}. Delete it and fetch again to download it."
            )
    try:
        import pooch
        import requests
    except ImportError as exc:
        raise ImportError(
            f"Downloading {path.name} needs pooch: pip install 'sksvdd[data]' (or pip "
            f"install pooch), or place the file as {path} by hand."
        ) from exc
    try:
        pooch.retrieve(url, known_hash=f"sha256:{expected}", fname=path.name,
                       path=path.parent, progressbar=False,
                       downloader=pooch.HTTPDownloader(timeout=_TIMEOUT_S))
    except requests.RequestException as exc:
        raise ConnectionError(
            f"Could not download {path.name} from {url} ({type(exc).__name__}: {exc}). "
            f"Without a network, download it elsewhere and place it as {path} (SHA-256 "
            f"{expected}); it is then used without downloading. {_MIRROR_ENV} names a "
            "mirror to download from instead."
        ) from exc
    except ValueError as exc:
        if "hash" not in str(exc).lower():
            raise
        raise ValueError(
            f"The file downloaded from {url} is not the expected {path.name}: its "
            f"SHA-256 differs from {expected} ({exc}). It was not kept. The host may "
            "have changed or replaced the file; report it, or place the expected file "
            f"as {path} by hand."
        ) from exc
