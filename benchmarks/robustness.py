"""Robustness: targets of every size implanted into real backgrounds, and leave-one-scene-out.

A benchmark that tuning cannot overfit: the ground truth is made here, not
annotated, so it can be redrawn with a new seed, and the target size, the
abundance and the background vary independently.

Implantation. Each background (the nine development scenes of ``quality.py``
and the Gulfport sub-image) receives discs of one extent (diameter in pixels)
at random positions, linearly mixed with sub-pixel edges: a pixel whose area
fraction inside the disc is ``a`` (5x5 supersampling) becomes
``(1 - a * alpha) * background + a * alpha * target`` for the abundance
``alpha``. Extent 1 is one whole pixel (the one-pixel target). Target spectra,
each scaled to the L2 norm of the background's mean spectrum:

- the annotated anomaly pixels of the OTHER development scenes with the same
  band count (abu-airport-1/2/3 among themselves, abu-beach-1/3 likewise);
- for a band count that no other scene shares (abu-airport-4, abu-beach-2,
  sandiego, hydice) the five target spectra of ``load_endmembers`` (paint,
  metal, tile, glass, shingle), resampled by linear interpolation onto the
  scene's bands: San Diego's approximate wavelengths, otherwise
  ``n_bands`` evenly spaced wavelengths from 400 to 2450 nm, as
  ``make_hyperspectral_scene(n_bands=...)`` does (the ABU scenes record no
  wavelengths);
- ``gulfport-targets.mat``'s ``tgt_spectra`` for the Gulfport background.

Ground truth: a pixel is positive when ``a * alpha >= 0.5``; pixels with
``0 < a * alpha < 0.5`` and the scene's own annotated anomalies belong to
neither class (left out of the AUROC). Each detector is fitted on the
implanted image itself (unsupervised, targets included) and graded by pixel
ROC AUC, per image and per abundance, then averaged.

Leave-one-scene-out (``--loso``): for each development scene, the candidate
(registry entries whose name starts with ``--candidates``) with the best mean
AUROC on the other eight scenes' own ground truth is chosen, and its AUROC on
the held-out scene is reported beside RX's.

Usage (from the repository root)::

    python benchmarks/robustness.py --quick                      # tiny, about 20 s
    python benchmarks/robustness.py --loso --json benchmarks/results/robustness.json \
        --markdown benchmarks/results/robustness.md --plot benchmarks/results/robustness.png
    python benchmarks/robustness.py --from-json benchmarks/results/robustness.json
"""

import argparse
import json
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from quality import REAL_SCENES, SHARED_HSI, load_real_scenes
from sksvdd import (
    DeepSVDDDetector,
    DualWindowResidual,
    FusionDetector,
    ImageDetector,
    RXDetector,
    make_default_detector,
)
from sksvdd.datasets import load_endmembers, make_hyperspectral_scene

SIZES = (1, 2, 3, 5, 8, 12, 16)
# alpha * a >= 0.5 must be reachable by every blob: a 2-pixel disc centred on a pixel
# corner covers at most 0.8 of a pixel (5x5 supersampling), so alpha >= 0.625.
ABUNDANCES = (0.7, 1.0)
POSITIVE_FRACTION = 0.5
SUPERSAMPLE = 5


class LocalRX:
    """Dual-window local RX: Mahalanobis distance to the mean and covariance of a ring.

    The image is projected on its first ``n_components`` principal components;
    each pixel's background is the ring between an ``outer`` and an ``inner``
    square window (clipped at the borders), whose mean and covariance come from
    box sums of ``z`` and ``z z^T`` (integral images). The covariance gets a
    ridge of ``reg`` times its mean eigenvalue. Image level: ``fit`` and
    ``score_samples`` take ``(rows, cols, bands)``; higher = more normal.
    """

    def __init__(self, outer=11, inner=3, n_components=20, reg=1e-3):
        self.outer, self.inner, self.n_components, self.reg = outer, inner, n_components, reg

    def fit(self, cube):
        pixels = cube.reshape(-1, cube.shape[-1]).astype(np.float64)
        k = min(self.n_components, *pixels.shape)
        self.pca_ = PCA(n_components=k, svd_solver="randomized", random_state=0).fit(pixels)
        return self

    def score_samples(self, cube):
        rows, cols, bands = cube.shape
        z = self.pca_.transform(cube.reshape(-1, bands).astype(np.float64)).reshape(rows, cols, -1)
        k = z.shape[-1]
        zz = z[..., :, None] * z[..., None, :]
        ho, hi = self.outer // 2, self.inner // 2
        ones = np.ones((rows, cols))
        n = _box_sum(ones, ho) - _box_sum(ones, hi)
        mean = (_box_sum(z, ho) - _box_sum(z, hi)) / n[..., None]
        cov = (_box_sum(zz, ho) - _box_sum(zz, hi)) / n[..., None, None]
        cov -= mean[..., :, None] * mean[..., None, :]
        ridge = self.reg * np.trace(cov, axis1=-2, axis2=-1) / k
        cov += ridge[..., None, None] * np.eye(k)
        d = z - mean
        return -np.einsum("...i,...i->...", d, np.linalg.solve(cov, d[..., None])[..., 0])


def _box_sum(a, half):
    """Sum of ``a`` over the (2 half + 1)^2 window around each pixel, clipped at the borders."""
    pad = [(half + 1, half)] * 2 + [(0, 0)] * (a.ndim - 2)
    c = np.pad(a, pad).cumsum(0).cumsum(1)
    w = 2 * half + 1
    return c[w:, w:] - c[:-w, w:] - c[w:, :-w] + c[:-w, :-w]


def _residual(seed, **spatial):
    """The residual branch alone: DualWindowResidual then Deep SVDD (the 0.1 default)."""
    return ImageDetector(spatial=DualWindowResidual(**spatial),
                         detector=DeepSVDDDetector(random_state=seed))


def _fused(seed, fusion, spectral=None):
    """A spectral branch (default: whitened Deep SVDD) and the residual branch, fused."""
    if spectral is None:
        spectral = DeepSVDDDetector(encoder="whiten", random_state=seed)
    return FusionDetector([("spectral", ImageDetector(detector=spectral)),
                           ("residual", _residual(seed))], fusion=fusion)


# name -> factory(seed): one line per variant. Every factory returns an image-level
# detector (fit / score_samples on cubes, (rows, cols) maps, higher = more normal).
DETECTORS = {
    "sksvdd": lambda seed: make_default_detector(random_state=seed),
    "sksvdd-spectral": lambda seed: make_default_detector(spatial=False, random_state=seed),
    # The spectral form before the whitening ridge (per-band z-score, trained).
    "sksvdd-standardize": lambda seed: ImageDetector(detector=DeepSVDDDetector(random_state=seed)),
    "sksvdd-residual": lambda seed: _residual(seed),
    "sksvdd-ringmean": lambda seed: _residual(seed, background="mean"),
    "sksvdd-window-7/3": lambda seed: _residual(seed, outer_window=7, inner_window=3),
    "sksvdd-fused-max": lambda seed: _fused(seed, "max"),  # the default before the ridge
    "sksvdd-fused-rx": lambda seed: _fused(seed, "max", spectral=RXDetector()),
    "sksvdd-fused-mean": lambda seed: _fused(seed, "mean"),
    # The previous default: its spectral branch (whiten_reg=1e-2) and the residual, mean.
    "sksvdd-two-branch": lambda seed: _fused(seed, "mean", spectral=DeepSVDDDetector(
        encoder="whiten", whiten_reg=1e-2, max_epochs=0, random_state=seed)),
    "sksvdd-spectral-1e-2": lambda seed: ImageDetector(detector=DeepSVDDDetector(
        encoder="whiten", whiten_reg=1e-2, max_epochs=0, random_state=seed)),
    "RX": lambda seed: ImageDetector(detector=RXDetector()),
    "local-RX": lambda seed: LocalRX(),
    "IsolationForest": lambda seed: ImageDetector(detector=IsolationForest(random_state=seed)),
}
DEFAULT_DETECTORS = ["sksvdd", "sksvdd-spectral", "RX", "local-RX", "IsolationForest"]


@dataclass
class Background:
    """A scene to implant into: its cube, pixels to leave out of the AUROC, target spectra."""

    name: str
    cube: np.ndarray  # (rows, cols, bands), float32
    exclude: np.ndarray  # (rows, cols) bool: the scene's own annotated anomalies
    targets: np.ndarray  # (n_targets, bands), not yet scaled
    targets_from: str


def disc_fractions(shape, center, diameter, supersample=SUPERSAMPLE):
    """Area fraction of each pixel inside a disc, by ``supersample``^2 sub-pixels.

    Pixel ``(i, j)`` covers ``[i, i + 1) x [j, j + 1)``; ``center`` is in the same
    continuous coordinates. Extent 1 is the whole pixel containing the centre.
    """
    a = np.zeros(shape)
    cy, cx = center
    if diameter <= 1:
        a[int(cy), int(cx)] = 1.0
        return a
    r = diameter / 2
    r0, r1 = max(0, int(np.floor(cy - r))), min(shape[0], int(np.ceil(cy + r)))
    c0, c1 = max(0, int(np.floor(cx - r))), min(shape[1], int(np.ceil(cx + r)))
    sub = (np.arange(supersample) + 0.5) / supersample
    ys = (np.arange(r0, r1)[:, None] + sub).ravel() - cy
    xs = (np.arange(c0, c1)[:, None] + sub).ravel() - cx
    inside = ys[:, None] ** 2 + xs[None, :] ** 2 <= r * r
    a[r0:r1, c0:c1] = inside.reshape(r1 - r0, supersample, c1 - c0, supersample).mean(axis=(1, 3))
    return a


def place_discs(rng, shape, diameter, n, exclude=None, max_tries=2000):
    """``n`` non-overlapping disc centres, ``diameter / 2`` from the borders, clear of ``exclude``."""
    r = max(diameter / 2, 0.5)
    centers, used = [], np.zeros(shape, bool)
    blocked = np.zeros(shape, bool) if exclude is None else exclude.copy()
    for _ in range(max_tries):
        if len(centers) == n:
            return centers
        if diameter <= 1:
            c = (rng.randint(shape[0]) + 0.5, rng.randint(shape[1]) + 0.5)
        else:
            c = (rng.uniform(r, shape[0] - r), rng.uniform(r, shape[1] - r))
        support = disc_fractions(shape, c, diameter + 2) > 0  # one pixel of clearance
        if not (support & (used | blocked)).any():
            centers.append(c)
            used |= disc_fractions(shape, c, diameter) > 0
    raise RuntimeError(f"could not place {n} discs of extent {diameter} in an image of {shape}")


def implant(cube, fractions, spectra, texture=None):
    """Mix ``spectra[k]`` into ``cube`` with per-pixel fractions ``fractions[k]`` (disjoint).

    ``x = (1 - f) * background + f * (spectrum + texture)``; ``texture`` is an
    optional ``(rows, cols, bands)`` field (see :func:`shift_texture`).
    """
    out = cube.astype(np.float64, copy=True)
    for f, t in zip(fractions, spectra):
        hit = f > 0
        fk = f[hit][:, None]
        target = np.asarray(t, np.float64) + (0.0 if texture is None else texture[hit])
        out[hit] = (1.0 - fk) * out[hit] + fk * target
    return out.astype(cube.dtype)


def shift_texture(cube, rng):
    """Per-pixel variability to give implanted targets: for each pixel, the difference of
    a random pair of horizontally adjacent background pixels, divided by sqrt(2).

    A pure spectrum repeated over a disc has no noise at all, which Mahalanobis-type
    detectors see as *more* normal than the noisy background; this field has the
    background's own pixel-to-pixel noise (its band correlation included).
    """
    rows, cols, _ = cube.shape
    i = rng.randint(rows, size=(rows, cols))
    j = rng.randint(cols - 1, size=(rows, cols))
    return (cube[i, j + 1].astype(np.float64) - cube[i, j]) / np.sqrt(2.0)


def ground_truth(fraction, exclude=None, threshold=POSITIVE_FRACTION):
    """(positive, valid) maps: positive where ``fraction >= threshold``; invalid where
    ``0 < fraction < threshold`` or ``exclude``."""
    positive = fraction >= threshold
    valid = ~((fraction > 0) & ~positive)
    if exclude is not None:
        valid &= ~exclude
    return positive, valid


def scale_to(spectra, cube):
    """Scale each spectrum to the L2 norm of the cube's mean spectrum."""
    target_norm = np.linalg.norm(cube.reshape(-1, cube.shape[-1]).mean(axis=0))
    spectra = np.atleast_2d(np.asarray(spectra, np.float64))
    return spectra * (target_norm / np.linalg.norm(spectra, axis=1, keepdims=True))


def make_image(background, diameter, abundances, blobs_per_abundance, rng, target_texture=True):
    """Implant discs of one extent; return the cube and each abundance's fraction map."""
    shape = background.cube.shape[:2]
    n = blobs_per_abundance * len(abundances)
    centers = place_discs(rng, shape, diameter, n, exclude=background.exclude)
    targets = scale_to(background.targets, background.cube)
    picks = rng.randint(len(targets), size=n)
    fractions, per_abundance = [], {}
    for i, (c, p) in enumerate(zip(centers, picks)):
        alpha = abundances[i % len(abundances)]
        f = alpha * disc_fractions(shape, c, diameter)
        fractions.append(f)
        per_abundance[alpha] = per_abundance.get(alpha, 0) + f
    texture = shift_texture(background.cube, rng) if target_texture else None
    return implant(background.cube, fractions, targets[picks], texture), per_abundance


def image_aurocs(scores, per_abundance, exclude):
    """AUROC (anomaly ``scores``) per abundance; other abundances' blobs left out."""
    total = sum(per_abundance.values())
    out = {}
    for alpha, f in per_abundance.items():
        positive, valid = ground_truth(f, exclude)
        valid &= ~((total > 0) & (f == 0))
        y = positive[valid]
        out[alpha] = float(roc_auc_score(y, scores[valid])) if 0 < y.sum() < y.size else np.nan
    return out


def run_implant(backgrounds, detectors, seeds, sizes=SIZES, abundances=ABUNDANCES,
                placements=1, blobs_per_abundance=2, target_texture=True, verbose=True):
    """One record per (detector, background, size, seed, placement, abundance)."""
    records = []
    for bg in backgrounds:
        bg_key = zlib.crc32(bg.name.encode())  # placements independent of the subset run
        for size in sizes:
            for seed in seeds:
                for p in range(placements):
                    rng = np.random.RandomState([seed, bg_key, int(size), p])
                    cube, per_abundance = make_image(bg, size, abundances, blobs_per_abundance,
                                                     rng, target_texture)
                    for name in detectors:
                        start = time.perf_counter()
                        est = DETECTORS[name](seed).fit(cube)
                        scores = -np.asarray(est.score_samples(cube))
                        seconds = time.perf_counter() - start
                        aucs = image_aurocs(scores, per_abundance, bg.exclude)
                        for alpha, auc in aucs.items():
                            records.append(dict(detector=name, background=bg.name, size=size,
                                                seed=seed, placement=p, abundance=alpha,
                                                auroc=auc, seconds=seconds))
                        if verbose:
                            print(f"{bg.name:14s} size={size:2d} seed={seed} p={p} {name:16s} "
                                  + " ".join(f"a{k}={v:.4f}" for k, v in aucs.items())
                                  + f" ({seconds:.1f}s)", flush=True)
    return records


def load_backgrounds(crop=None, names=None):
    """The development scenes and Gulfport, each with its target spectra (see the module doc)."""
    scenes = load_real_scenes([*REAL_SCENES, "gulfport-sub", "gulfport-targets"])
    if not scenes:
        print("note: the built-in scene (no anomalies) is the only background, with the "
              "endmember targets")
        scene = make_hyperspectral_scene(anomaly_fraction=0.0, random_state=0)
        lib = load_endmembers()
        bgs = [Background("builtin", scene.cube, np.zeros(scene.mask.shape, bool),
                          lib.spectra[lib.roles == "target"], "endmembers")]
        return [_crop(b, crop) for b in bgs]
    gulf, gulf_targets = scenes.pop("gulfport-sub"), scenes.pop("gulfport-targets")
    lib = load_endmembers()
    lib_targets = lib.spectra[lib.roles == "target"]
    bgs = []
    for name, s in scenes.items():
        bands = s.cube.shape[-1]
        peers = [p for p in REAL_SCENES if p != name and scenes[p].cube.shape[-1] == bands]
        if peers:
            targets = np.vstack([scenes[p].cube[scenes[p].mask] for p in peers])
            source = "anomalies of " + ", ".join(peers)
        else:
            wl_file = SHARED_HSI / f"{name}-wavelengths-approx.txt"
            if wl_file.exists():
                wl, how = np.loadtxt(wl_file, comments="#"), "approximate wavelengths"
            else:
                wl, how = np.linspace(400.0, 2450.0, bands), "by index over 400-2450 nm"
            targets = np.array([np.interp(wl, lib.wavelengths, t) for t in lib_targets])
            source = f"endmembers resampled {how}"
        bgs.append(Background(name, s.cube.astype(np.float32), s.mask.astype(bool),
                              targets, source))
    tgt = scipy.io.loadmat(gulf_targets.filename)["tgt_spectra"].T
    bgs.append(Background("gulfport", gulf.cube.astype(np.float32),
                          np.zeros(gulf.cube.shape[:2], bool), tgt, "gulfport-targets tgt_spectra"))
    if names:
        bgs = [b for b in bgs if b.name in names]
    return [_crop(b, crop) for b in bgs]


def _crop(bg, crop):
    if crop is None:
        return bg
    return Background(bg.name, np.ascontiguousarray(bg.cube[:crop, :crop]),
                      bg.exclude[:crop, :crop], bg.targets, bg.targets_from)


def run_loso(candidates, seeds, verbose=True):
    """AUROC on each development scene's own ground truth, per candidate and seed, and RX."""
    aurocs = {c: {} for c in [*candidates, "RX"]}
    for name, scene in load_real_scenes().items():
        y = scene.mask.ravel()
        for c in aurocs:
            per_seed = []
            for seed in seeds[:1] if c == "RX" else seeds:  # RX has no randomness
                est = DETECTORS[c](seed).fit(scene.cube)
                per_seed.append(float(roc_auc_score(y, -est.score_samples(scene.cube).ravel())))
                if verbose:
                    print(f"loso {name:14s} {c:18s} seed={seed} AUROC={per_seed[-1]:.4f}",
                          flush=True)
            aurocs[c][name] = per_seed
    return aurocs


def loso_select(aurocs, candidates, n_seeds):
    """Per seed and held-out scene: the candidate best on the other scenes, and its AUROC."""
    rows = {}
    for held in REAL_SCENES:
        chosen, got = [], []
        for s in range(n_seeds):
            others = {c: np.mean([aurocs[c][o][s] for o in REAL_SCENES if o != held])
                      for c in candidates}
            best = max(others, key=others.get)
            chosen.append(best)
            got.append(aurocs[best][held][s])
        rows[held] = dict(chosen=chosen, auroc=got, rx=aurocs["RX"][held][0])
    return rows


# ---------------------------------------------------------------- tables and plot

def _fmt(x):
    return "-" if x is None or not np.isfinite(x) else f"{x:.3f}"


def summarise(records):
    """detector -> size -> dict(mean, worst, worst_background, spread, per_background)."""
    out = {}
    for r in records:
        if np.isfinite(r["auroc"]):
            d = out.setdefault(r["detector"], {}).setdefault(r["size"], {})
            d.setdefault("bg", {}).setdefault(r["background"], []).append(r["auroc"])
            d.setdefault("seed", {}).setdefault(r["seed"], []).append(r["auroc"])
    for det in out.values():
        for size, d in det.items():
            per_bg = {b: float(np.mean(v)) for b, v in d.pop("bg").items()}
            per_seed = [float(np.mean(v)) for v in d.pop("seed").values()]
            worst = min(per_bg, key=per_bg.get)
            d.update(mean=float(np.mean(list(per_bg.values()))), worst=per_bg[worst],
                     worst_background=worst, spread=max(per_seed) - min(per_seed),
                     per_background=per_bg)
    return out


def implant_tables(records):
    summary = summarise(records)
    dets = list(summary)
    sizes = sorted({s for d in summary.values() for s in d})
    bgs = list(dict.fromkeys(r["background"] for r in records))
    head = "| detector | " + " | ".join(f"size {s}" for s in sizes) + " | all sizes |"
    rule = "|---|" + "---|" * (len(sizes) + 1)
    parts = ["### AUROC vs target size: mean / worst background (seed spread)\n",
             "Mean over backgrounds of the per-background mean over seeds, abundances and "
             "placements; worst = the lowest background; spread = max - min over seeds of the "
             "mean over backgrounds.\n", head, rule]
    for det in dets:
        cells = [f"{_fmt(summary[det][s]['mean'])} / {_fmt(summary[det][s]['worst'])} "
                 f"({summary[det][s]['spread']:.3f})" if s in summary[det] else "-"
                 for s in sizes]
        overall = np.mean([summary[det][s]["mean"] for s in sizes if s in summary[det]])
        parts.append(f"| {det} | " + " | ".join(cells) + f" | {_fmt(overall)} |")
    parts += ["", "### Worst background per size\n", "| detector | "
              + " | ".join(f"size {s}" for s in sizes) + " |", "|---|" + "---|" * len(sizes)]
    for det in dets:
        parts.append(f"| {det} | " + " | ".join(
            summary[det][s]["worst_background"] if s in summary[det] else "-" for s in sizes)
            + " |")
    abund = sorted({r["abundance"] for r in records})
    parts += ["", "### Mean AUROC per abundance (all sizes and backgrounds)\n",
              "| detector | " + " | ".join(f"alpha={a}" for a in abund) + " |",
              "|---|" + "---|" * len(abund)]
    for det in dets:
        parts.append(f"| {det} | " + " | ".join(_fmt(np.nanmean(
            [r["auroc"] for r in records if r["detector"] == det and r["abundance"] == a]))
            for a in abund) + " |")
    for det in dets:
        parts += ["", f"### {det}: AUROC per background and size\n",
                  "| background | " + " | ".join(f"size {s}" for s in sizes) + " |",
                  "|---|" + "---|" * len(sizes)]
        for b in bgs:
            parts.append(f"| {b} | " + " | ".join(
                _fmt(summary[det][s]["per_background"].get(b)) if s in summary[det] else "-"
                for s in sizes) + " |")
    if "sksvdd" in summary and "RX" in summary:
        parts += ["", "### sksvdd minus RX per background and size (negative: RX better)\n",
                  "| background | " + " | ".join(f"size {s}" for s in sizes) + " |",
                  "|---|" + "---|" * len(sizes)]
        for b in bgs:
            cells = []
            for s in sizes:
                a = summary["sksvdd"].get(s, {}).get("per_background", {}).get(b)
                r = summary["RX"].get(s, {}).get("per_background", {}).get(b)
                cells.append("-" if a is None or r is None else f"{a - r:+.3f}")
            parts.append(f"| {b} | " + " | ".join(cells) + " |")
    seconds = {}
    for r in records:
        seconds.setdefault(r["detector"], {})[(r["background"], r["size"], r["seed"],
                                               r["placement"])] = r["seconds"]
    parts += ["", "Fit + score seconds per image (mean): " + ", ".join(
        f"{d} {np.mean(list(v.values())):.2f}" for d, v in seconds.items()), ""]
    return "\n".join(parts)


def loso_table(rows, n_seeds):
    parts = ["### Leave-one-scene-out selection\n",
             "The candidate with the best mean AUROC on the other eight scenes (per seed), "
             "and its AUROC on the held-out scene (mean over seeds).\n",
             "| held-out scene | chosen variant | its AUROC | RX |", "|---|---|---|---|"]
    for held, r in rows.items():
        chosen = ", ".join(dict.fromkeys(r["chosen"]))
        parts.append(f"| {held} | {chosen} | {_fmt(np.mean(r['auroc']))} | {_fmt(r['rx'])} |")
    got = np.array([r["auroc"] for r in rows.values()])  # scenes x seeds
    rx = np.array([r["rx"] for r in rows.values()])
    per_seed = got.mean(axis=0)
    parts.append(f"| **mean** | | {_fmt(got.mean())} | {_fmt(rx.mean())} |")
    parts.append(f"| **worst** | | {_fmt(got.mean(axis=1).min())} | {_fmt(rx.min())} |")
    parts.append(f"| **seed spread of the mean** | | {per_seed.max() - per_seed.min():.3f} | 0 |")
    return "\n".join(parts) + "\n"


def plot(records, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarise(records)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for det, per_size in summary.items():
        sizes = sorted(per_size)
        mean = [per_size[s]["mean"] for s in sizes]
        lo = [min(per_size[s]["per_background"].values()) for s in sizes]
        hi = [max(per_size[s]["per_background"].values()) for s in sizes]
        line, = ax.plot(sizes, mean, marker="o", label=det)
        ax.fill_between(sizes, lo, hi, color=line.get_color(), alpha=0.12)
    ax.set_xscale("log")
    ax.set_xticks(sorted({s for d in summary.values() for s in d}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("target extent (disc diameter, pixels)")
    ax.set_ylabel("pixel ROC AUC (implanted targets)")
    ax.set_title("Mean over backgrounds; band: min-max over backgrounds")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _merge(results):
    """One result from several runs: records concatenated, the first LOSO section kept."""
    merged = {"config": results[0].get("config", {}), "backgrounds": {}, "records": []}
    for r in results:
        merged["backgrounds"].update(r.get("backgrounds", {}))
        merged["records"] += r.get("records", [])
        if "loso" in r and "loso" not in merged:
            merged["loso"] = r["loso"]
    configs = [r.get("config", {}) for r in results]
    merged["config"]["wall_s"] = [c.get("wall_s") for c in configs]
    merged["config"]["backgrounds"] = list(merged["backgrounds"]) or None
    merged["config"]["loso"] = any(c.get("loso") for c in configs)
    merged["config"]["merged_from"] = len(results)
    return merged


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=DEFAULT_DETECTORS,
                        choices=list(DETECTORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--abundances", nargs="+", type=float, default=list(ABUNDANCES))
    parser.add_argument("--placements", type=int, default=1,
                        help="images per (background, size, seed) (default 1)")
    parser.add_argument("--blobs", type=int, default=2, help="discs per abundance and image")
    parser.add_argument("--no-texture", action="store_true",
                        help="implant pure spectra (no background noise on the targets)")
    parser.add_argument("--backgrounds", nargs="+", help="a subset of the backgrounds, by name")
    parser.add_argument("--no-implant", action="store_true", help="skip the implantation part")
    parser.add_argument("--loso", action="store_true", help="add leave-one-scene-out selection")
    parser.add_argument("--candidates", default="sksvdd",
                        help="name prefix of the LOSO candidates (default: every sksvdd variant)")
    parser.add_argument("--quick", action="store_true",
                        help="two backgrounds cropped to 40x40, sizes 1 3 8, alpha 1, one seed")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--json", type=Path, help="write the records and tables as JSON")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    parser.add_argument("--plot", type=Path, help="write AUROC vs size as a PNG")
    parser.add_argument("--from-json", type=Path, nargs="+",
                        help="render earlier --json files (several: merged, e.g. runs split "
                             "by --backgrounds; with --json the merge is written)")
    args = parser.parse_args(argv)
    if args.from_json:
        result = _merge([json.loads(p.read_text()) for p in args.from_json])
    else:
        torch.set_num_threads(args.threads)
        crop, names = None, args.backgrounds
        if args.quick:
            crop, names = 40, args.backgrounds or ["abu-airport-1", "hydice"]
            args.sizes, args.abundances, args.placements, args.seeds = [1, 3, 8], [1.0], 1, [0]
            args.blobs = 3
        result = {"config": {k: v for k, v in vars(args).items()
                             if k not in ("json", "markdown", "plot", "from_json")}}
        start = time.perf_counter()
        if not args.no_implant:
            bgs = load_backgrounds(crop=crop, names=names)
            result["backgrounds"] = {b.name: dict(shape=list(b.cube.shape),
                                                  targets_from=b.targets_from,
                                                  n_targets=len(b.targets)) for b in bgs}
            result["records"] = run_implant(bgs, args.detectors, args.seeds, args.sizes,
                                            args.abundances, args.placements, args.blobs,
                                            not args.no_texture)
        if args.loso:
            if not load_real_scenes():
                print("note: no leave-one-scene-out selection without the real scenes")
            else:
                candidates = [d for d in DETECTORS if d.startswith(args.candidates)]
                aurocs = run_loso(candidates, args.seeds)
                result["loso"] = dict(candidates=candidates, aurocs=aurocs,
                                      rows=loso_select(aurocs, candidates, len(args.seeds)))
        result["config"]["wall_s"] = time.perf_counter() - start
    parts = []
    if result.get("records"):
        parts.append(implant_tables(result["records"]))
    if "loso" in result:
        parts.append(loso_table(result["loso"]["rows"], len(result["config"]["seeds"])))
    text = "\n".join(parts)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))
    if args.markdown:
        args.markdown.write_text(text)
    if args.plot and result.get("records"):
        plot(result["records"], args.plot)
    return result


if __name__ == "__main__":
    main()
