"""Speed and memory of DeepSVDDDetector against a bare PyTorch loop and PyOD's DeepSVDD.

Sections (all by default; ``--only`` picks a subset):

``scoring``
    ``score_samples`` throughput of a fitted detector (``max_epochs=1``) next to
    a bare ``torch.no_grad()`` forward of the same module on the same float32
    tensor in one call (the limit on this machine; target ratio >= 0.8), the
    same forward in 2048-row slices, and PyOD's ``DeepSVDD.decision_function``
    (``hidden_neurons=[128, 32]``).
``training``
    Seconds per phase-2 epoch: ``(fit(max_epochs=k) - fit(max_epochs=0)) / k``
    with default parameters, next to a bare PyTorch loop on the same module
    (batch 256, Adam, same loss, ``torch.randperm`` shuffling; target
    bare / ours >= 0.7) and PyOD's DeepSVDD (``(fit(epochs=k) - fit(epochs=0))
    / k``, batch 256; target: ours faster).
``scaling``
    Fit (``--scaling-epochs``, default 1, to keep 1e6 pixels affordable) and
    score times against the number of pixels (200 bands) and of bands (1e5
    pixels), with a straight-line fit ``time = a + b * n_pixels`` (slope in
    seconds per million pixels, R^2).
``memory``
    In fresh subprocesses: peak RSS while scoring a 1000 x 1000 x 200 cube held
    as an array (float32, and float64), minus the RSS before scoring (the
    working set), plus NumPy's own peak allocation (tracemalloc) to find copies.
``profile``
    py-spy (sampling, in a subprocess) on a fit and on scoring: shares of the
    hottest leaf functions and of sksvdd / skorch frames. Then candidate code
    changes are measured by monkeypatching them in this process (package files
    are not edited), interleaved with the unpatched code.

Timings are medians over ``--repeats`` repetitions, interleaved (A, B, A, B, ...)
so that load from other jobs on the machine hits every variant alike; compare
the ratios, which are measured in the same process. Data are Gaussian float32
pixels (the cost does not depend on their values).

Usage (from the repository root; 5 to 7 minutes on 2 shared cores)::

    python benchmarks/speed.py --json benchmarks/results/speed.json \\
        --markdown benchmarks/results/speed.md
    python benchmarks/speed.py --only scoring training --threads 2
"""

import argparse
import gc
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import torch

import sksvdd._detector as _detector_mod
from sksvdd import DeepSVDDDetector
from sksvdd._network import DeepSVDDModule
from sklearn.utils.validation import check_is_fitted, validate_data

from sksvdd._training import FiniteGuard, HypersphereTracker, SVDDNet, svdd_loss

try:
    from pyod.models.deep_svdd import DeepSVDD as PyODDeepSVDD
except ImportError:  # PyOD is optional: its columns are skipped with a note
    PyODDeepSVDD = None

try:
    import psutil
except ImportError:
    psutil = None

SECTIONS = ("scoring", "training", "scaling", "memory", "profile")
BANDS = 200
MEMORY_VARIANTS = ("float32", "float64", "float32, proposed")
MB = 2**20


# --------------------------------------------------------------------------- helpers

def pixels(n, bands=BANDS, seed=0):
    return np.random.default_rng(seed).standard_normal((int(n), bands), dtype=np.float32)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(fns, repeats):
    """Median seconds of each callable, run round-robin ``repeats`` times."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}, times


def md_table(rows, columns):
    """Markdown table of ``rows`` (list of dicts) with ``columns`` [(key, header, fmt)]."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    text_cols = {key for key, _, fmt in columns if fmt is None}
    rule = "|" + "|".join("---" if key in text_cols else "---:" for key, _, _ in columns) + "|"
    body = []
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append("-" if value is None else (fmt.format(value) if fmt else str(value)))
        body.append("| " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *body])


def fitted_detector(X, **params):
    params = {"max_epochs": 1, "random_state": 0, **params}
    return DeepSVDDDetector(**params).fit(X)


def pyod_detector(epochs):
    # random_state=None: PyOD seeds torch globally when given one.
    return PyODDeepSVDD(n_features=BANDS, hidden_neurons=[128, 32], epochs=epochs,
                        batch_size=256, verbose=0, contamination=0.005)


def bare_epochs(X, epochs, *, batch_size=256, lr=1e-5, weight_decay=1e-6, seed=0):
    """The reference loop: same module and loss, Adam, index-permutation batches."""
    gen = torch.Generator().manual_seed(seed)
    module = DeepSVDDModule(X.shape[1], 128, 32, generator=gen)
    module.center.fill_(0.1)
    module.radius2.fill_(1.0)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    Xt = torch.from_numpy(X)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), batch_size):
            xb = Xt[perm[start:start + batch_size]]
            optimizer.zero_grad()
            dist2 = ((module(xb) - module.center) ** 2).sum(dim=1)
            loss = svdd_loss(dist2, module.radius2, 0.1, "soft-boundary")
            loss.backward()
            optimizer.step()
            loss.item()  # every real loop logs the loss
    return module


def fit_line(n, t):
    """Slope and intercept of ``t = a + b * n`` and its R^2."""
    n, t = np.asarray(n, float), np.asarray(t, float)
    b, a = np.polyfit(n, t, 1)
    resid = t - (a + b * n)
    r2 = 1 - (resid @ resid) / max(((t - t.mean()) ** 2).sum(), 1e-300)
    return float(a), float(b), float(r2)


# --------------------------------------------------------------------------- scoring

def bench_scoring(args):
    X = pixels(args.score_pixels)
    X_fit = X[:20000]
    det = fitted_detector(X_fit)
    module = det.net_.module_
    Xt = torch.from_numpy(X)

    def bare_one_call():
        with torch.no_grad():
            module.dist2(Xt).numpy()

    def bare_sliced():
        with torch.inference_mode():
            torch.cat([module.dist2(Xt[s:s + 2048]) for s in range(0, len(Xt), 2048)]).numpy()

    fns = {"sksvdd score_samples": lambda: det.score_samples(X),
           "bare forward, one call": bare_one_call,
           "bare forward, 2048-row slices": bare_sliced}
    note = None
    if PyODDeepSVDD is not None:
        pyod = pyod_detector(epochs=1).fit(X_fit)
        fns["PyOD DeepSVDD decision_function"] = lambda: pyod.decision_function(X)
    else:
        note = "PyOD is not installed: its row is skipped."
    for fn in fns.values():  # warm-up (allocator, lazy init)
        fn()
    med, raw = interleaved(fns, args.repeats)
    limit = med["bare forward, one call"]
    rows = [{"method": name, "seconds": s, "pixels_per_s": len(X) / s,
             "ratio": limit / s} for name, s in med.items()]
    ratio = limit / med["sksvdd score_samples"]
    text = (f"### Scoring throughput ({len(X):,} pixels x {BANDS} bands, float32, "
            f"{args.threads} thread(s), median of {args.repeats})\n\n"
            + md_table(rows, [("method", "method", None), ("seconds", "s", "{:.3f}"),
                              ("pixels_per_s", "pixels/s", "{:,.0f}"),
                              ("ratio", "throughput / bare one call", "{:.2f}x")])
            + f"\n\nsksvdd / bare one-call forward: **{ratio:.2f}x** (target >= 0.8x: "
            f"{'met' if ratio >= 0.8 else 'NOT met'}); against the 2048-row slices (the "
            f"faster bare form on this CPU): "
            f"{med['bare forward, 2048-row slices'] / med['sksvdd score_samples']:.2f}x.")
    if "PyOD DeepSVDD decision_function" in med:
        text += (f" sksvdd is {med['PyOD DeepSVDD decision_function'] / med['sksvdd score_samples']:.2f}x "
                 "as fast as PyOD.")
    if note:
        text += f"\n\nNote: {note}"
    return {"rows": rows, "raw_seconds": raw, "ratio_vs_bare": ratio, "note": note}, text


# --------------------------------------------------------------------------- training

def bench_training(args):
    X = pixels(args.train_pixels)
    k = args.epochs
    durs = []

    def ours(epochs):
        def run():
            det = DeepSVDDDetector(max_epochs=epochs, random_state=0).fit(X)
            durs.extend(row["dur"] for row in det.history_)
        return run

    fns = {"ours k": ours(k), "ours 0": ours(0), "bare k": lambda: bare_epochs(X, k)}
    note = None
    if PyODDeepSVDD is not None:
        fns["pyod k"] = lambda: pyod_detector(k).fit(X)
        fns["pyod 0"] = lambda: pyod_detector(0).fit(X)
    else:
        note = "PyOD is not installed: its row is skipped."
    fitted_detector(X[:5000])  # warm-up: lazy imports and first-call costs
    bare_epochs(X[:5000], 1)
    med, raw = interleaved(fns, args.repeats)
    per_epoch = {
        "sksvdd DeepSVDDDetector": (med["ours k"] - med["ours 0"]) / k,
        "bare PyTorch loop": med["bare k"] / k,
    }
    if "pyod k" in med:
        per_epoch["PyOD DeepSVDD"] = (med["pyod k"] - med["pyod 0"]) / k
    ours_s = per_epoch["sksvdd DeepSVDDDetector"]
    rows = [{"method": name, "s_per_epoch": s, "pixels_per_s": len(X) / s,
             "bare_over": per_epoch["bare PyTorch loop"] / s} for name, s in per_epoch.items()]
    ratio = per_epoch["bare PyTorch loop"] / ours_s
    text = (f"### Training: seconds per phase-2 epoch ({len(X):,} pixels x {BANDS} bands, "
            f"batch 256, {args.threads} thread(s), (fit with {k} epochs - fit with 0) / {k}, "
            f"median of {args.repeats})\n\n"
            + md_table(rows, [("method", "method", None), ("s_per_epoch", "s / epoch", "{:.3f}"),
                              ("pixels_per_s", "pixels/s", "{:,.0f}"),
                              ("bare_over", "bare / this", "{:.2f}x")])
            + f"\n\nbare / sksvdd: **{ratio:.2f}x** (target >= 0.7x: "
            f"{'met' if ratio >= 0.7 else 'NOT met'}). skorch's own epoch timer "
            f"(`history_[i]['dur']`, median): {statistics.median(durs):.3f} s."
            f" Fixed cost of a fit with `max_epochs=0` (validation, phase 1, offset "
            f"scoring): {med['ours 0']:.3f} s.")
    if "PyOD DeepSVDD" in per_epoch:
        speedup = per_epoch["PyOD DeepSVDD"] / ours_s
        text += (f" PyOD / sksvdd per epoch: **{speedup:.2f}x** (target > 1: "
                 f"{'met' if speedup > 1 else 'NOT met'}).")
    if note:
        text += f"\n\nNote: {note}"
    return {"rows": rows, "raw_seconds": raw, "ratio_bare_over_ours": ratio,
            "history_dur_median": statistics.median(durs), "note": note}, text


# --------------------------------------------------------------------------- scaling

def bench_scaling(args):
    epochs = args.scaling_epochs
    rows = []

    def measure(n, bands):
        X = pixels(n, bands)
        gc.collect()
        det = DeepSVDDDetector(max_epochs=epochs, random_state=0)
        fit_s = timed(lambda: det.fit(X))
        score_s = min(timed(lambda: det.score_samples(X)) for _ in range(2))
        row = {"n_pixels": int(n), "bands": bands, "fit_s": fit_s, "score_s": score_s,
               "fit_us_per_pixel": 1e6 * fit_s / n, "score_us_per_pixel": 1e6 * score_s / n}
        print(f"  scaling: {int(n):>9,} x {bands:3d}: fit {fit_s:7.2f} s, "
              f"score {score_s:6.3f} s", flush=True)
        del X, det
        return row

    fitted_detector(pixels(5000))  # warm-up
    for n in args.scaling_pixels:
        rows.append(measure(n, BANDS))
    for bands in args.scaling_bands:
        if bands == BANDS and args.band_pixels in args.scaling_pixels:
            rows.append(next(r for r in rows if r["n_pixels"] == args.band_pixels and r["bands"] == BANDS))
        else:
            rows.append(measure(args.band_pixels, bands))
    by_n = [r for r in rows[: len(args.scaling_pixels)]]
    n = [r["n_pixels"] for r in by_n]
    lines = {}
    for key in ("fit_s", "score_s"):
        a, b, r2 = fit_line(n, [r[key] for r in by_n])
        lines[key] = {"intercept_s": a, "slope_s_per_million": b * 1e6, "r2": r2}
    cols = [("n_pixels", "pixels", "{:,}"), ("bands", "bands", None), ("fit_s", "fit s", "{:.2f}"),
            ("score_s", "score s", "{:.3f}"), ("fit_us_per_pixel", "fit us/pixel", "{:.2f}"),
            ("score_us_per_pixel", "score us/pixel", "{:.3f}")]
    text = (f"### Scaling (fit with `max_epochs={epochs}`, default otherwise; "
            f"{args.threads} thread(s), one run each, score: best of 2)\n\n"
            + md_table(rows, cols) + "\n\nStraight line `time = a + b * n_pixels` over the "
            f"{BANDS}-band rows: fit slope {lines['fit_s']['slope_s_per_million']:.2f} s per "
            f"million pixels (a = {lines['fit_s']['intercept_s']:.2f} s, "
            f"R^2 = {lines['fit_s']['r2']:.4f}); score slope "
            f"{lines['score_s']['slope_s_per_million']:.2f} s per million pixels "
            f"(a = {lines['score_s']['intercept_s']:.3f} s, R^2 = {lines['score_s']['r2']:.4f}).")
    return {"rows": rows, "lines": lines, "fit_max_epochs": epochs}, text


# --------------------------------------------------------------------------- memory

class PeakRSS:
    """Peak RSS of this process (psutil, sampled every 2 ms) while the block runs."""

    def __enter__(self):
        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def memory_child(variant, threads):
    """Runs in a fresh process: score a 1000 x 1000 x 200 cube, print JSON."""
    torch.set_num_threads(threads)
    dtype = np.float64 if variant == "float64" else np.float32
    if variant == "float32, proposed":  # the finiteness-check change of the profile section
        patched("validate").__enter__()
    rng = np.random.default_rng(0)
    cube = np.empty((1000, 1000, BANDS), dtype=dtype)
    for r in range(0, 1000, 100):  # in slabs: no full-size temporary
        cube[r:r + 100] = rng.standard_normal((100, 1000, BANDS), dtype=np.float32)
    X = cube.reshape(-1, BANDS)  # a view
    det = DeepSVDDDetector(max_epochs=1, random_state=0).fit(X[:10000])
    det.score_samples(X[:10000])
    gc.collect()
    rss_before = psutil.Process().memory_info().rss
    start = time.perf_counter()
    with PeakRSS() as peak:
        det.score_samples(X)
    seconds = time.perf_counter() - start
    gc.collect()
    tracemalloc.start()  # NumPy reports its buffers to tracemalloc; torch's do not
    det.score_samples(X)
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({
        "variant": variant, "input_mb": X.nbytes / MB, "rss_before_mb": rss_before / MB,
        "peak_rss_mb": peak.peak / MB, "working_set_mb": (peak.peak - rss_before) / MB,
        "numpy_peak_mb": numpy_peak / MB, "seconds": seconds,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def bench_memory(args):
    if psutil is None:
        return {"note": "psutil is not installed"}, "### Memory\n\nskipped: psutil is not installed."
    rows = []
    for variant in args.memory_variants:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", variant, "--threads", str(args.threads)],
            capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  memory: {rows[-1]}", flush=True)
    n = 1_000_000
    expected = {"float64 scores (8 MB)": 8 * n, "float32 distances + torch.cat (2 x 4 MB)": 8 * n,
                "isfinite mask (1 MB) and its negation (1 MB)": 2 * n,
                "-dist2 (8 MB)": 8 * n}
    text = ("### Memory: scoring a 1000 x 1000 x 200 cube held as an array (fresh process)\n\n"
            + md_table(rows, [("variant", "cube dtype", None), ("input_mb", "input MB", "{:.0f}"),
                              ("rss_before_mb", "RSS before MB", "{:.0f}"),
                              ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
                              ("working_set_mb", "peak - before MB", "{:.1f}"),
                              ("numpy_peak_mb", "NumPy peak MB (tracemalloc)", "{:.1f}"),
                              ("seconds", "score s", "{:.2f}")])
            + "\n\nNo full copy of the input is made: `validate_data` keeps float32 and "
            "float64 C-contiguous input as it is, and `_map_batches` copies 2048 rows at a "
            "time (NumPy's own peak, tracemalloc, is the outputs only). The necessary "
            "outputs for 1e6 pixels are "
            + ", ".join(expected) + f" = {sum(expected.values()) / MB:.0f} MB at most. "
            "Before `_map_batches` wrote into one preallocated output (a change this "
            "benchmark proposed, now in the package), RSS grew by 143-389 MB here: one small output tensor "
            "per chunk was kept alive in a list between the freed 1.6 MB chunk buffers, "
            "fragmenting the heap. `float32, proposed` now differs from `float32` only by "
            "the proposed finiteness check after scoring.")
    return {"rows": rows}, text


# --------------------------------------------------------------------------- profile

def profile_child(what, threads):
    """Runs under py-spy: warm up, then the profiled region in a marked function."""
    torch.set_num_threads(threads)
    X = pixels(100_000)
    fitted_detector(X[:5000])

    def profiled_fit():
        DeepSVDDDetector(max_epochs=3, random_state=0).fit(X)

    if what == "fit":
        profiled_fit()
    else:
        det = fitted_detector(X[:20000])
        Xs = pixels(500_000)

        def profiled_score():
            for _ in range(6):
                det.score_samples(Xs)

        profiled_score()


def _frame_name(frame):
    """``func (path:line)`` -> ``func (short/path)`` without the line."""
    func, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for root in ("site-packages/", "sksvdd/", "benchmarks/"):
        if root in path:
            path = path.split(root, 1)[1] if root == "site-packages/" else root + path.split(root, 1)[1]
    return f"{func} ({path})"


def parse_pyspy(raw_path, marker):
    """Self (leaf) and inclusive sample shares under the frame named ``marker``."""
    leaf, inclusive, total = Counter(), Counter(), 0
    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        idx = next((i for i, f in enumerate(frames)
                    if f.partition(" (")[0].endswith(marker)), None)
        if idx is None:
            continue
        frames = [_frame_name(f) for f in frames[idx + 1:]]
        count = int(count)
        total += count
        if not frames:
            continue
        leaf[frames[-1]] += count
        for name in set(frames):
            if "sksvdd/" in name or "skorch/" in name or "torch/optim" in name \
                    or "torch/utils/data" in name or "torch/autograd" in name:
                inclusive[name] += count
    return leaf, inclusive, total


def run_pyspy(what, args, tmp):
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        return None, "py-spy is not installed"
    raw = Path(tmp) / f"{what}.txt"
    cmd = [py_spy, "record", "-r", "250", "--format", "raw", "-o", str(raw), "--",
           sys.executable, __file__, "--profile-child", what, "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not raw.exists():
        return None, f"py-spy failed: {proc.stderr.strip()[-300:]}"
    marker = "profiled_fit" if what == "fit" else "profiled_score"
    return parse_pyspy(raw, marker), None


# Candidate changes, applied by monkeypatching (package files untouched).

class _PermutationBatches:
    """Training batches by slicing one ``torch.randperm`` per epoch (no DataLoader)."""

    def __init__(self, X, batch_size, generator):
        self.X, self.batch_size, self.generator = X, batch_size, generator

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        perm = torch.randperm(len(self.X), generator=self.generator)
        for start in range(0, len(self.X), self.batch_size):
            yield self.X[perm[start:start + self.batch_size]], None


def _get_iterator_proposed(self, dataset, training=False):
    if training and hasattr(dataset, "X") and isinstance(dataset.X, torch.Tensor):
        gen = self.get_params_for("iterator_train").get("generator")
        return _PermutationBatches(dataset.X, self.batch_size, gen)
    return SVDDNet._orig_get_iterator(self, dataset, training=training)


def _get_loss_proposed(self, y_pred, y_true, X=None, training=False):
    module = self.module_
    dist2 = ((y_pred - module.center) ** 2).sum(dim=1)
    self._last_dist2 = dist2.detach()  # reused by the tracker: no second distance pass
    return self.criterion_(dist2, module.radius2)


def _tracker_batch_end_proposed(self, net, batch=None, training=False, y_pred=None, **kwargs):
    if not training:
        return
    module = net.module_
    with torch.no_grad():
        self._dists.append(net._last_dist2)
        if self.center_ema > 0:
            module.center.lerp_(y_pred.detach().mean(dim=0), self.center_ema)


def _guard_batch_end_proposed(self, net, training=False, loss=None, **kwargs):
    if not training:
        return
    self._batch += 1
    # skorch has just recorded loss.item() in the history: no second tensor op.
    if not math.isfinite(net.history[-1, "batches", -1, "train_loss"]):
        self._stop(net, self._batch)


def _score_samples_public_proposed(self, X):
    """``score_samples`` without validate_data's finiteness pass over all of ``X``.

    Non-finite input gives non-finite distances, which ``_score_samples``
    already re-scores in float64; rows still non-finite there had NaN / inf
    input, so the error is raised from the output (one pass over n floats
    instead of n * n_features).
    """
    check_is_fitted(self)
    X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64],
                      ensure_all_finite=False)
    _detector_mod._check_float32_range(X)
    scores = self._score_samples(X)
    if not np.isfinite(scores).all():
        raise ValueError("Input X contains NaN or infinity.")
    return scores


_ORIGINAL_BUILD_NET = _detector_mod.DeepSVDDDetector._build_net


def _build_net_fused_adam(self, module, device, shuffle_gen):
    """The same net with ``optimizer__fused=True`` (one fused Adam kernel, CPU and CUDA)."""
    return _ORIGINAL_BUILD_NET(self, module, device, shuffle_gen).set_params(
        optimizer__fused=True)


PATCHES = {
    "adam": [(_detector_mod.DeepSVDDDetector, "_build_net", _build_net_fused_adam)],
    "validate": [(_detector_mod.DeepSVDDDetector, "score_samples",
                  _score_samples_public_proposed)],
    "iterator": [(SVDDNet, "get_iterator", _get_iterator_proposed)],
    "tracker": [(SVDDNet, "get_loss", _get_loss_proposed),
                (HypersphereTracker, "on_batch_end", _tracker_batch_end_proposed)],
    "guard": [(FiniteGuard, "on_batch_end", _guard_batch_end_proposed)],
}
SVDDNet._orig_get_iterator = SVDDNet.get_iterator


class patched:
    """Context manager applying the named PATCHES, restoring the originals on exit."""

    def __init__(self, *names):
        self.items = [p for name in names for p in PATCHES[name]]

    def __enter__(self):
        # None: inherited, so deleting the override restores it
        self.saved = [(owner, attr, owner.__dict__.get(attr)) for owner, attr, _ in self.items]
        for owner, attr, new in self.items:
            setattr(owner, attr, new)

    def __exit__(self, *exc):
        for owner, attr, old in reversed(self.saved):
            if old is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, old)


def per_batch_costs(n_calls=2000):
    """Microseconds per call of skorch's and sksvdd's per-batch bookkeeping."""
    X = pixels(20000)
    det = DeepSVDDDetector(max_epochs=1, random_state=0).fit(X)
    net = det.net_
    y_pred = net.module_(torch.from_numpy(X[:256]))
    loss = y_pred.sum()
    batch = (torch.from_numpy(X[:256]), None)
    tracker = dict(net.callbacks_)["hypersphere"]
    guard = dict(net.callbacks_)["finite_guard"]
    net.history.new_epoch()
    tracker.on_epoch_begin(net)
    guard.on_epoch_begin(net)
    net.history.new_batch()
    net.history.record_batch("train_loss", 1.0)
    net._last_dist2 = ((y_pred - net.module_.center) ** 2).sum(dim=1).detach()
    dataset = _detector_mod.PixelDataset(X)
    idx_list = list(range(0, 20000, 78))[:256]
    idx_tensor = torch.as_tensor(idx_list)
    loader = net.get_iterator(dataset, training=True)
    cases = {
        "HypersphereTracker.on_batch_end":
            lambda: tracker.on_batch_end(net, batch=batch, training=True, y_pred=y_pred),
        "HypersphereTracker.on_batch_end, proposed (reuse dist2, lerp_)":
            lambda: _tracker_batch_end_proposed(tracker, net, batch=batch, training=True,
                                                y_pred=y_pred),
        "FiniteGuard.on_batch_end": lambda: guard.on_batch_end(net, training=True, loss=loss),
        "FiniteGuard.on_batch_end, proposed (recorded float)":
            lambda: _guard_batch_end_proposed(guard, net, training=True, loss=loss),
        "other callbacks' on_batch_end (skorch defaults, LR, early stop)":
            lambda: [cb.on_batch_end(net, batch=batch, training=True, y_pred=y_pred, loss=loss)
                     for name, cb in net.callbacks_ if name not in ("hypersphere", "finite_guard")],
        "history.record_batch x2 + loss.item()":
            lambda: (net.history.record_batch("train_loss", loss.item()),
                     net.history.record_batch("train_batch_size", 256)),
        "PixelDataset.__getitems__ (list of 256 ints)": lambda: dataset.__getitems__(idx_list),
        "X[index tensor] (256 rows)": lambda: dataset.X[idx_tensor],
        # last: skorch's own on_batch_begin starts a new (empty) history batch
        "net.notify('on_batch_begin') (all callbacks)":
            lambda: net.notify("on_batch_begin", batch=batch, training=True),
    }
    out = {}
    for name, fn in cases.items():
        for _ in range(50):
            fn()
        start = time.perf_counter()
        for _ in range(n_calls):
            fn()
        out[name] = 1e6 * (time.perf_counter() - start) / n_calls
        tracker._dists = []
    # DataLoader per batch (sampler + fetch + collate) vs slicing a permutation
    it_time = timed(lambda: sum(1 for _ in loader))
    n_batches = len(loader)
    out["DataLoader batch (RandomSampler + __getitems__)"] = 1e6 * it_time / n_batches
    perm = _PermutationBatches(dataset.X, 256, torch.Generator().manual_seed(0))
    out["randperm slice batch (proposed)"] = 1e6 * timed(lambda: sum(1 for _ in perm)) / n_batches
    return out


def bench_profile(args):
    result, parts = {"pyspy": {}}, []
    with tempfile.TemporaryDirectory() as tmp:
        for what in ("fit", "score"):
            parsed, err = run_pyspy(what, args, tmp)
            if err:
                result["pyspy"][what] = {"note": err}
                parts.append(f"### Profile of {what}\n\nskipped: {err}")
                continue
            leaf, inclusive, total = parsed
            top_leaf = [{"function": f, "share": c / total} for f, c in leaf.most_common(args.top)]
            top_incl = [{"function": f, "share": c / total}
                        for f, c in inclusive.most_common(args.top)]
            result["pyspy"][what] = {"samples": total, "self": top_leaf, "inclusive": top_incl}
            region = ("`fit` of 100,000 pixels, 3 epochs" if what == "fit"
                      else "`score_samples` of 500,000 pixels, 6 times")
            parts.append(
                f"### Profile of {region} (py-spy, {total} samples)\n\n"
                "Self time (leaf Python function; torch kernels count in the function "
                "that calls them):\n\n"
                + md_table(top_leaf, [("function", "function", None), ("share", "share", "{:.1%}")])
                + "\n\nInclusive time of sksvdd / skorch / torch.optim / DataLoader / autograd "
                "frames:\n\n"
                + md_table(top_incl, [("function", "function", None), ("share", "share", "{:.1%}")]))

    costs = per_batch_costs()
    result["per_batch_us"] = costs
    parts.append("### Per-batch bookkeeping (microseconds per call, one batch of 256)\n\n"
                 + md_table([{"what": k, "us": v} for k, v in costs.items()],
                            [("what", "what", None), ("us", "us / call", "{:.1f}")]))

    # Candidate changes: scoring
    X = pixels(args.score_pixels)
    det = fitted_detector(X[:20000])
    reference = det.score_samples(X)
    score_patches = {"validate": ("validate",)}
    identical = {}
    for name, names in score_patches.items():
        with patched(*names):
            identical[name] = bool(np.array_equal(det.score_samples(X), reference))

    def score_with(*names):
        def run():
            with patched(*names):
                det.score_samples(X)
        return run

    med, _ = interleaved({"current": score_with(),
                          **{k: score_with(*v) for k, v in score_patches.items()}},
                         args.repeats + 4)
    result["score_patches_s"] = {**med, "bit_identical": identical}

    # Candidate changes: training (one patch at a time, then all together)
    Xtr = pixels(args.train_pixels)

    def fit_with(*names):
        def run():
            with patched(*names):
                DeepSVDDDetector(max_epochs=args.epochs, random_state=0).fit(Xtr)
        return run

    variants = {"current": fit_with(), "iterator": fit_with("iterator"),
                "tracker": fit_with("tracker"), "guard": fit_with("guard"),
                "all three": fit_with("iterator", "tracker", "guard"),
                "adam": fit_with("adam"),
                "all four": fit_with("iterator", "tracker", "guard", "adam"),
                "bare loop": lambda: bare_epochs(Xtr, args.epochs)}
    with patched("iterator", "tracker", "guard", "adam"):  # the patched fit still works
        check = DeepSVDDDetector(max_epochs=2, random_state=0).fit(Xtr[:5000])
        assert np.isfinite(check.score_samples(Xtr[:100])).all()
    med_fit, _ = interleaved({"zero epochs": lambda: DeepSVDDDetector(
        max_epochs=0, random_state=0).fit(Xtr), **variants}, args.repeats)
    base = med_fit.pop("zero epochs")
    epoch = {name: ((s - base) if name != "bare loop" else s) / args.epochs
             for name, s in med_fit.items()}
    result["train_patches_s_per_epoch"] = epoch
    score_labels = {
        "validate": "`score_samples`: `validate_data(..., ensure_all_finite=False)`, raise on "
                    "non-finite scores instead (no full pass over X)",
    }
    rows = [{"change": label, "where": "score_samples", "before": med["current"],
             "after": med[name], "gain": med["current"] / med[name] - 1,
             "note": "bit-identical scores" if identical[name] else "SCORES DIFFER"}
            for name, label in score_labels.items()]
    labels = {
        "iterator": "`SVDDNet.get_iterator`: one `torch.randperm` per epoch, slice it "
                    "(no DataLoader, sampler or list->tensor per batch)",
        "tracker": "`get_loss` keeps `dist2.detach()`; `HypersphereTracker` reuses it and "
                   "updates the centre with `center.lerp_`",
        "guard": "`FiniteGuard.on_batch_end`: test the loss skorch already recorded "
                 "(`math.isfinite`) instead of a tensor op",
        "all three": "the three bookkeeping changes above together",
        "adam": "`_build_net`: `optimizer__fused=True` (fused Adam; not bit-identical to "
                "the per-tensor Adam)",
        "all four": "all four training changes together",
    }
    # Expected saving from the per-batch micro-benchmarks (steadier than whole fits)
    n_batches = -(-len(Xtr) // 256)
    saved_us = {
        "iterator": costs["DataLoader batch (RandomSampler + __getitems__)"]
        - costs["randperm slice batch (proposed)"],
        "tracker": costs["HypersphereTracker.on_batch_end"]
        - costs["HypersphereTracker.on_batch_end, proposed (reuse dist2, lerp_)"],
        "guard": costs["FiniteGuard.on_batch_end"]
        - costs["FiniteGuard.on_batch_end, proposed (recorded float)"],
    }
    saved_us["all three"] = sum(saved_us.values())
    for name, label in labels.items():
        if name not in saved_us:  # a kernel change: no per-batch estimate
            rows.append({"change": label, "where": "fit, per epoch", "before": epoch["current"],
                         "after": epoch[name], "gain": epoch["current"] / epoch[name] - 1,
                         "note": f"bare / ours: {epoch['bare loop'] / epoch['current']:.2f}x -> "
                                 f"{epoch['bare loop'] / epoch[name]:.2f}x (the bare loop "
                                 "keeps the default Adam)"})
            continue
        expected = saved_us[name] * 1e-6 * n_batches / epoch["current"]
        rows.append({"change": label, "where": "fit, per epoch", "before": epoch["current"],
                     "after": epoch[name], "gain": epoch["current"] / epoch[name] - 1,
                     "note": f"expected from per-batch costs: {saved_us[name]:.0f} us/batch = "
                             f"{expected:.0%} of the epoch; bare / ours: "
                             f"{epoch['bare loop'] / epoch['current']:.2f}x -> "
                             f"{epoch['bare loop'] / epoch[name]:.2f}x"})
    result["proposals"] = rows
    parts.append(
        f"### Candidate changes, measured by monkeypatching (median of {args.repeats}+, "
        f"interleaved; training: {len(Xtr):,} pixels, {args.epochs} epochs)\n\n"
        + md_table(rows, [("change", "change", None), ("where", "where", None),
                          ("before", "before s", "{:.3f}"), ("after", "after s", "{:.3f}"),
                          ("gain", "speed-up", "{:+.0%}"), ("note", "note", None)]))
    return result, "\n\n".join(parts)


# --------------------------------------------------------------------------- main

BENCHES = {"scoring": bench_scoring, "training": bench_training, "scaling": bench_scaling,
           "memory": bench_memory, "profile": bench_profile}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="sections to run (default: all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1: steadier on a shared machine)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repetitions")
    parser.add_argument("--score-pixels", type=int, default=200_000)
    parser.add_argument("--train-pixels", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=3, help="epochs timed per training fit")
    parser.add_argument("--scaling-pixels", type=float, nargs="+", default=[1e4, 1e5, 3e5, 1e6])
    parser.add_argument("--scaling-bands", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--band-pixels", type=int, default=100_000)
    parser.add_argument("--scaling-epochs", type=int, default=1,
                        help="max_epochs of the scaling fits (default 1)")
    parser.add_argument("--memory-variants", nargs="+", choices=MEMORY_VARIANTS,
                        default=list(MEMORY_VARIANTS))
    parser.add_argument("--top", type=int, default=12, help="rows of the profile tables")
    parser.add_argument("--json", type=Path, help="write all measurements as JSON")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.threads)
    if args.profile_child:
        return profile_child(args.profile_child, args.threads)
    args.scaling_pixels = [int(n) for n in args.scaling_pixels]
    torch.set_num_threads(args.threads)

    machine = {"python": platform.python_version(), "torch": torch.__version__,
               "numpy": np.__version__, "cpu_count": os.cpu_count(), "threads": args.threads,
               "processor": platform.processor() or platform.machine()}
    results, parts = {"machine": machine, "args": {k: v for k, v in vars(args).items()
                                                   if k not in ("json", "markdown")}}, []
    total = time.perf_counter()
    for section in SECTIONS:
        if section not in args.only:
            continue
        start = time.perf_counter()
        print(f"[{section}] ...", flush=True)
        results[section], text = BENCHES[section](args)
        results[section]["section_seconds"] = time.perf_counter() - start
        parts.append(text)
        print("\n" + text + "\n", flush=True)
    results["total_seconds"] = time.perf_counter() - total
    header = (f"## sksvdd speed ({machine['cpu_count']} CPUs, torch {machine['torch']}, "
              f"{args.threads} torch thread(s); total {results['total_seconds']:.0f} s)\n\n"
              "Reproduce: `python benchmarks/speed.py --json benchmarks/results/speed.json "
              "--markdown benchmarks/results/speed.md`\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if args.markdown:
        args.markdown.write_text(header + "\n" + "\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
