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
    with ``trim_fraction=0`` (every pixel trained on, as in the other loops)
    and with the defaults (2% of the pixels left out), next to a bare PyTorch
    loop on the same module (batch 256, same loss, ``torch.randperm``
    shuffling) with the package's optimizer, fused Adam (target bare / ours
    >= 0.7), the same loop with torch's default per-tensor Adam (what fused
    Adam buys), and PyOD's DeepSVDD (``(fit(epochs=k) - fit(epochs=0)) / k``,
    batch 256; target: ours faster).
``scaling``
    Fit (``--scaling-epochs``, default 1, to keep 1e6 pixels affordable) and
    score times against the number of pixels (200 bands) and of bands (1e5
    pixels), with a straight-line fit ``time = a + b * n_pixels`` (slope in
    seconds per million pixels, R^2).
``memory``
    In fresh subprocesses: peak RSS while scoring a 1000 x 1000 x 200 cube held
    as an array (float32, and float64), minus the RSS before scoring (the
    working set), plus NumPy's own peak allocation (tracemalloc) to find copies.
``end_to_end``
    Whole images: the recommended image detector (``make_default_detector``:
    three branches, spectral, attribute and 5/1 ring-median residual) fitted on and scoring a
    ``--image-size`` square scene of 200 bands, per pixel, beside the Deep SVDD
    detector alone on the raw pixels, global RX, the spatial step alone (the
    package's exact ring median, 1 and 2 threads, and torch on the CPU; the
    default's attribute residual) and
    scipy's ``median_filter`` with the same ring footprint (the previous
    implementation; same numbers, checked before timing).
``bookkeeping``
    The cost per batch of the package's training bookkeeping (callbacks,
    ``ShuffledBatches``), which a bare loop does not have, and of one Adam step,
    fused (the package's) and per-tensor (torch's default).

Timings are medians over ``--repeats`` repetitions, interleaved (A, B, A, B, ...)
so that load from other jobs on the machine hits every variant alike; compare
the ratios, which are measured in the same process. Data are Gaussian float32
pixels (the cost does not depend on their values).

Usage (from the repository root; about 5 minutes on 2 shared cores)::

    python benchmarks/speed.py --json benchmarks/results/speed.json \\
        --markdown benchmarks/results/speed.md
    python benchmarks/speed.py --only scoring training --threads 2
    # smoke test (seconds): small sizes, one repeat
    python benchmarks/speed.py --only scoring training --repeats 1 \\
        --score-pixels 20000 --train-pixels 5000 --epochs 1
"""

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import joblib
import numpy as np
import torch

from sksvdd import (
    AttributeResidual, DeepSVDDDetector, DualWindowResidual, RXDetector, make_default_detector,
)
from sksvdd.datasets import make_hyperspectral_scene
from sksvdd._svdd._hypersphere import squared_distance, svdd_loss
from sksvdd._svdd._network import DeepSVDDModule
from sksvdd._svdd._training import PixelDataset, ShuffledBatches

try:
    from pyod.models.deep_svdd import DeepSVDD as PyODDeepSVDD
except ImportError:  # PyOD is optional: its rows are skipped with a note
    PyODDeepSVDD = None

try:
    import psutil
except ImportError:
    psutil = None

SECTIONS = ("scoring", "training", "scaling", "memory", "end_to_end", "bookkeeping")
BANDS = 200
MEMORY_VARIANTS = ("float32", "float64")
MB = 2**20
NO_PYOD = "PyOD is not installed: its rows are skipped."


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
    rule = "|" + "|".join("---" if fmt is None else "---:" for _, _, fmt in columns) + "|"
    body = ["| " + " | ".join("-" if row.get(key) is None else
                              (fmt.format(row[key]) if fmt else str(row[key]))
                              for key, _, fmt in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def met(ok):
    return "met" if ok else "NOT met"


def fitted_detector(X, **params):
    return DeepSVDDDetector(**{"max_epochs": 1, "random_state": 0, **params}).fit(X)


def pyod_detector(epochs):
    # random_state=None: PyOD seeds torch globally when given one.
    return PyODDeepSVDD(n_features=BANDS, hidden_neurons=[128, 32], epochs=epochs,
                        batch_size=256, verbose=0, contamination=0.005)


def bare_epochs(X, epochs, *, fused=True, batch_size=256, lr=1e-5, weight_decay=1e-6, seed=0):
    """The reference loop: same module, loss and Adam settings, index-permutation batches.

    ``fused=True`` is the package's optimizer (``optimizer__fused=True``);
    ``fused=False`` is torch's default per-tensor Adam.
    """
    gen = torch.Generator().manual_seed(seed)
    module = DeepSVDDModule(X.shape[1], 128, 32, generator=gen)
    module.center.fill_(0.1)
    module.radius2.fill_(1.0)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay,
                                 fused=fused)
    Xt = torch.from_numpy(X)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), batch_size):
            xb = Xt[perm[start:start + batch_size]]
            optimizer.zero_grad()
            dist2 = squared_distance(module(xb), module.center)
            loss = svdd_loss(dist2, module.radius2, 0.1, "soft-boundary")
            loss.backward()
            optimizer.step()
            loss.item()  # every real loop logs the loss
    return module


def fit_line(n, t):
    """Intercept and slope of ``t = a + b * n`` and its R^2."""
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
    if PyODDeepSVDD is not None:
        pyod = pyod_detector(epochs=1).fit(X_fit)
        fns["PyOD DeepSVDD decision_function"] = lambda: pyod.decision_function(X)
    for fn in fns.values():  # warm-up (allocator, lazy init)
        fn()
    med, raw = interleaved(fns, args.repeats)
    ours, limit = med["sksvdd score_samples"], med["bare forward, one call"]
    rows = [{"method": name, "seconds": s, "pixels_per_s": len(X) / s, "ratio": limit / s}
            for name, s in med.items()]
    ratio = limit / ours
    text = (f"### Scoring throughput ({len(X):,} pixels x {BANDS} bands, float32, "
            f"{args.threads} thread(s), median of {args.repeats})\n\n"
            + md_table(rows, [("method", "method", None), ("seconds", "s", "{:.3f}"),
                              ("pixels_per_s", "pixels/s", "{:,.0f}"),
                              ("ratio", "throughput / bare one call", "{:.2f}x")])
            + f"\n\nsksvdd / bare one-call forward: **{ratio:.2f}x** (target >= 0.8x: "
            f"{met(ratio >= 0.8)}); against the 2048-row slices (the faster bare form on "
            f"this CPU): {med['bare forward, 2048-row slices'] / ours:.2f}x.")
    pyod_ratio = None
    if "PyOD DeepSVDD decision_function" in med:
        pyod_ratio = med["PyOD DeepSVDD decision_function"] / ours
        text += f" sksvdd is **{pyod_ratio:.2f}x** as fast as PyOD."
    else:
        text += f"\n\nNote: {NO_PYOD}"
    return {"rows": rows, "raw_seconds": raw, "ratio_vs_bare": ratio,
            "ratio_vs_pyod": pyod_ratio}, text


# --------------------------------------------------------------------------- training

def bench_training(args):
    X = pixels(args.train_pixels)
    k = args.epochs
    durs, trained = {0.0: [], 0.02: []}, {}

    def ours(epochs, trim):
        def run():
            det = DeepSVDDDetector(max_epochs=epochs, trim_fraction=trim, random_state=0).fit(X)
            if epochs:
                durs[trim].extend(row["dur"] for row in det.history_)
                trained[trim] = sum(b["train_batch_size"] for b in det.net_.history[-1, "batches"])
        return run

    fns = {"ours k": ours(k, 0.0), "ours 0": ours(0, 0.0),
           "ours trim k": ours(k, 0.02), "ours trim 0": ours(0, 0.02),
           "bare fused k": lambda: bare_epochs(X, k, fused=True),
           "bare default k": lambda: bare_epochs(X, k, fused=False)}
    if PyODDeepSVDD is not None:
        fns["pyod k"] = lambda: pyod_detector(k).fit(X)
        fns["pyod 0"] = lambda: pyod_detector(0).fit(X)
    fitted_detector(X[:5000])  # warm-up: lazy imports and first-call costs
    bare_epochs(X[:5000], 1, fused=True)
    bare_epochs(X[:5000], 1, fused=False)
    med, raw = interleaved(fns, args.repeats)
    ours_name = "sksvdd DeepSVDDDetector (`trim_fraction=0`: every pixel, as the bare loop)"
    bare = "bare PyTorch loop, fused Adam (the package's optimizer)"
    bare_default = "bare PyTorch loop, default Adam (reference)"
    per_epoch = {ours_name: (med["ours k"] - med["ours 0"]) / k,
                 "sksvdd DeepSVDDDetector, defaults (`trim_fraction=0.02`)":
                     (med["ours trim k"] - med["ours trim 0"]) / k,
                 bare: med["bare fused k"] / k, bare_default: med["bare default k"] / k}
    if "pyod k" in med:
        per_epoch["PyOD DeepSVDD"] = (med["pyod k"] - med["pyod 0"]) / k
    ours_s, bare_s = per_epoch[ours_name], per_epoch[bare]
    rows = [{"method": name, "s_per_epoch": s, "bare_over": bare_s / s,
             "pixels": trained.get(0.02) if "0.02" in name else len(X)}
            for name, s in per_epoch.items()]
    for row in rows:
        row["pixels_per_s"] = row["pixels"] / row["s_per_epoch"]
    ratio, ratio_default = bare_s / ours_s, per_epoch[bare_default] / ours_s
    fused_gain = per_epoch[bare_default] / bare_s - 1
    text = (f"### Training: seconds per phase-2 epoch ({len(X):,} pixels x {BANDS} bands, "
            f"batch 256, {args.threads} thread(s), (fit with {k} epochs - fit with 0) / {k}, "
            f"median of {args.repeats})\n\n"
            + md_table(rows, [("method", "method", None), ("pixels", "pixels / epoch", "{:,}"),
                              ("s_per_epoch", "s / epoch", "{:.3f}"),
                              ("pixels_per_s", "pixels/s", "{:,.0f}"),
                              ("bare_over", "bare (fused) / this", "{:.2f}x")])
            + f"\n\nbare loop (same network, batch size and fused Adam) / sksvdd: "
            f"**{ratio:.2f}x** (target >= 0.7x: {met(ratio >= 0.7)}). Against the bare loop "
            f"with the default per-tensor Adam: {ratio_default:.2f}x; fused Adam's speed-up of "
            f"the bare loop: {fused_gain:+.0%} per epoch. skorch's own epoch timer "
            f"(`history_[i]['dur']`, median, `trim_fraction=0`): {statistics.median(durs[0.0]):.3f} s. "
            f"Fixed cost of a fit with `max_epochs=0` (validation, phase 1, offset scoring): "
            f"{med['ours 0']:.3f} s ({med['ours trim 0']:.3f} s with trimming, which scores "
            "every pixel and redoes phase 1).")
    speedup = None
    if "PyOD DeepSVDD" in per_epoch:
        speedup = per_epoch["PyOD DeepSVDD"] / ours_s
        text += f" PyOD / sksvdd per epoch: **{speedup:.2f}x** (target > 1: {met(speedup > 1)})."
    else:
        text += f"\n\nNote: {NO_PYOD}"
    return {"rows": rows, "raw_seconds": raw, "ratio_bare_over_ours": ratio,
            "ratio_bare_default_adam_over_ours": ratio_default,
            "fused_adam_gain_bare": fused_gain, "ratio_pyod_over_ours": speedup,
            "history_dur_median": statistics.median(durs[0.0])}, text


# --------------------------------------------------------------------------- scaling

def bench_scaling(args):
    epochs = args.scaling_epochs
    measured = {}

    def measure(n, bands):
        if (n, bands) in measured:
            return measured[n, bands]
        X = pixels(n, bands)
        gc.collect()
        det = DeepSVDDDetector(max_epochs=epochs, random_state=0)
        fit_s = timed(lambda: det.fit(X))
        score_s = min(timed(lambda: det.score_samples(X)) for _ in range(2))
        print(f"  scaling: {n:>9,} x {bands:3d}: fit {fit_s:7.2f} s, score {score_s:6.3f} s",
              flush=True)
        measured[n, bands] = {"n_pixels": n, "bands": bands, "fit_s": fit_s,
                              "score_s": score_s, "fit_us_per_pixel": 1e6 * fit_s / n,
                              "score_us_per_pixel": 1e6 * score_s / n}
        return measured[n, bands]

    fitted_detector(pixels(5000))  # warm-up
    by_n = [measure(n, BANDS) for n in args.scaling_pixels]
    rows = by_n + [measure(args.band_pixels, bands) for bands in args.scaling_bands]
    lines = {}
    for key in ("fit_s", "score_s"):
        a, b, r2 = fit_line([r["n_pixels"] for r in by_n], [r[key] for r in by_n])
        lines[key] = {"intercept_s": a, "slope_s_per_million": b * 1e6, "r2": r2}
    fit, score = lines["fit_s"], lines["score_s"]
    cols = [("n_pixels", "pixels", "{:,}"), ("bands", "bands", "{}"), ("fit_s", "fit s", "{:.2f}"),
            ("score_s", "score s", "{:.3f}"), ("fit_us_per_pixel", "fit us/pixel", "{:.2f}"),
            ("score_us_per_pixel", "score us/pixel", "{:.3f}")]
    text = (f"### Scaling (fit with `max_epochs={epochs}`, default otherwise; "
            f"{args.threads} thread(s), one run each, score: best of 2)\n\n"
            + md_table(rows, cols) + "\n\nStraight line `time = a + b * n_pixels` over the "
            f"{BANDS}-band rows: fit slope **{fit['slope_s_per_million']:.2f} s per million "
            f"pixels** (a = {fit['intercept_s']:.2f} s, R^2 = {fit['r2']:.4f}); score slope "
            f"**{score['slope_s_per_million']:.2f} s per million pixels** "
            f"(a = {score['intercept_s']:.3f} s, R^2 = {score['r2']:.4f}).")
    return {"rows": rows, "lines": lines, "fit_max_epochs": epochs}, text


# --------------------------------------------------------------------------- memory

class PeakRSS:
    """Peak RSS of this process (psutil, sampled every 2 ms) while the block runs."""

    def __enter__(self):
        self._proc = psutil.Process()
        self.peak = self._proc.memory_info().rss
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
    rng = np.random.default_rng(0)
    cube = np.empty((1000, 1000, BANDS), dtype=dtype)
    for r in range(0, 1000, 100):  # in slabs: no full-size temporary
        cube[r:r + 100] = rng.standard_normal((100, 1000, BANDS), dtype=np.float32)
    X = cube.reshape(-1, BANDS)  # a view
    det = fitted_detector(X[:10000], n_jobs=threads)
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
    expected = {"float32 distances (4 MB)": 4 * n, "their float64 copy (8 MB)": 8 * n,
                "isfinite mask and its negation (2 x 1 MB)": 2 * n, "-dist2 (8 MB)": 8 * n}
    text = ("### Memory: scoring a 1000 x 1000 x 200 cube held as an array (fresh process)\n\n"
            + md_table(rows, [("variant", "cube dtype", None), ("input_mb", "input MB", "{:.0f}"),
                              ("rss_before_mb", "RSS before MB", "{:.0f}"),
                              ("peak_rss_mb", "peak RSS MB", "{:.0f}"),
                              ("working_set_mb", "peak - before MB", "{:.1f}"),
                              ("numpy_peak_mb", "NumPy peak MB (tracemalloc)", "{:.1f}"),
                              ("seconds", "score s", "{:.2f}")])
            + "\n\nNo full copy of the input is made: `validate_data` keeps float32 and "
            "float64 C-contiguous input as it is, and `map_batches` copies at most 2048 rows "
            "at a time into one reused buffer and writes into one preallocated output. The "
            "outputs for 1e6 pixels are " + ", ".join(expected)
            + f" = {sum(expected.values()) / MB:.0f} MB at most.")
    return {"rows": rows}, text


# --------------------------------------------------------------------------- bookkeeping

# --------------------------------------------------------------------------- end to end

def bench_end_to_end(args):
    from scipy import ndimage

    size = args.image_size
    cube = make_hyperspectral_scene(n_rows=size, n_cols=size, n_bands=200, random_state=0).cube
    pixels_ = cube.reshape(-1, cube.shape[2])
    n = pixels_.shape[0]
    footprint = np.ones((5, 5, 1), dtype=bool)
    footprint[2, 2] = False
    reference = ndimage.median_filter(cube, footprint=footprint, mode="reflect")
    ring = cube - reference
    for variant in (DualWindowResidual(), DualWindowResidual(device="cpu")):
        assert np.array_equal(variant.fit_transform(cube), ring.astype(cube.dtype))

    det = make_default_detector(random_state=0)
    svdd = DeepSVDDDetector(random_state=0)
    rx = RXDetector()
    fns = {
        "image detector: fit": lambda: det.fit(cube),
        "image detector: score": lambda: det.score_samples(cube),
        "Deep SVDD alone: fit": lambda: svdd.fit(pixels_),
        "Deep SVDD alone: score": lambda: svdd.score_samples(pixels_),
        "global RX: fit": lambda: rx.fit(pixels_),
        "global RX: score": lambda: rx.score_samples(pixels_),
        "spatial step: ring median, 1 thread": lambda: DualWindowResidual().fit_transform(cube),
        "spatial step: ring median, n_jobs=2":
            lambda: DualWindowResidual(n_jobs=2).fit_transform(cube),
        "spatial step: ring median, torch CPU":
            lambda: DualWindowResidual(device="cpu").fit_transform(cube),
        "spatial step: attribute residual (5 components, area 64)":
            lambda: AttributeResidual(n_components=5, areas=(64,)).fit_transform(cube),
        "scipy median_filter (previous)":
            lambda: ndimage.median_filter(cube, footprint=footprint, mode="reflect"),
    }
    for name in ("image detector: fit", "Deep SVDD alone: fit", "global RX: fit"):
        fns[name]()  # fitted once before the interleaved repeats, so scoring has a model
    med, raw = interleaved(fns, args.repeats)
    rx_total = med["global RX: fit"] + med["global RX: score"]
    rows = [{"method": name, "seconds": t, "us_per_pixel": 1e6 * t / n,
             "vs_rx_fit_score": t / rx_total} for name, t in med.items()]
    scipy_t = med["scipy median_filter (previous)"]
    speedup = scipy_t / med["spatial step: ring median, 1 thread"]
    e2e = med["image detector: fit"] + med["image detector: score"]
    text = (f"### End to end ({size} x {size} pixels x 200 bands, {args.threads} torch "
            f"thread(s), median of {args.repeats})\n\n"
            + md_table(rows, [("method", "method", None), ("seconds", "s", "{:.3f}"),
                              ("us_per_pixel", "us / pixel", "{:.2f}"),
                              ("vs_rx_fit_score", "x (RX fit + score)", "{:.2f}")])
            + f"\n\nRecommended image detector, fit + score: {1e6 * e2e / n:.1f} us per pixel, "
            f"{e2e / rx_total:.1f}x global RX's fit + score. Ring median: "
            f"{1e6 * med['spatial step: ring median, 1 thread'] / n:.2f} us per pixel on one "
            f"thread, **{speedup:.1f}x** scipy's median_filter (target >= 10x: "
            f"{met(speedup >= 10)}), the same numbers (checked).")
    return {"rows": rows, "raw_seconds": raw, "ring_median_speedup_vs_scipy": speedup,
            "image_detector_us_per_pixel": 1e6 * e2e / n}, text


def per_batch_costs(n_calls=2000, batch_size=256):
    """Microseconds per call of the package's and skorch's per-batch bookkeeping."""
    X = pixels(20000)
    net = fitted_detector(X).net_
    xb = torch.from_numpy(X[:batch_size])
    y_pred = net.module_(xb)
    loss = y_pred.sum()
    dist2 = squared_distance(y_pred, net.module_.center).detach()
    batch = (xb, None)
    step = {"loss": loss, "y_pred": y_pred, "dist2": dist2}  # what train_step returns
    callbacks = dict(net.callbacks_)
    tracker, guard = callbacks["hypersphere"], callbacks["divergence_guard"]
    net.history.new_epoch()
    guard.on_train_begin(net)
    tracker.on_epoch_begin(net)
    guard.on_epoch_begin(net)
    net.history.new_batch()
    net.history.record_batch("train_loss", 1.0)
    dataset = PixelDataset(X)
    idx = torch.randperm(len(X))[:batch_size]
    own = ("hypersphere", "divergence_guard")
    cases = {
        "HypersphereTracker.on_batch_end (the step's dist2, lerp_)":
            lambda: tracker.on_batch_end(net, batch=batch, training=True, **step),
        "DivergenceGuard.on_batch_end (recorded float loss)":
            lambda: guard.on_batch_end(net, batch=batch, training=True, **step),
        "other callbacks' on_batch_end (skorch defaults, LR, early stop)":
            lambda: [cb.on_batch_end(net, batch=batch, training=True, **step)
                     for name, cb in net.callbacks_ if name not in own],
        "history.record_batch x2 + loss.item()":
            lambda: (net.history.record_batch("train_loss", loss.item()),
                     net.history.record_batch("train_batch_size", batch_size)),
        "PixelDataset.__getitems__ (index tensor)": lambda: dataset.__getitems__(idx),
        # after the cases reading the history: skorch's on_batch_begin starts a new batch
        "net.notify('on_batch_begin') (all callbacks)":
            lambda: net.notify("on_batch_begin", batch=batch, training=True),
    }
    module = DeepSVDDModule(BANDS, 128, 32)  # the optimizer step alone, gradients set once
    (module(xb) ** 2).sum().backward()
    for fused in (False, True):
        cases["Adam.step, " + ("fused (the package's)" if fused else "default per-tensor")] = \
            torch.optim.Adam(module.parameters(), lr=1e-5, weight_decay=1e-6, fused=fused).step
    out = {}
    for name, fn in cases.items():
        for _ in range(50):
            fn()
        start = time.perf_counter()
        for _ in range(n_calls):
            fn()
        out[name] = 1e6 * (time.perf_counter() - start) / n_calls
        tracker._dists = []
    batches = ShuffledBatches(dataset, batch_size, torch.Generator().manual_seed(0))
    seconds = min(timed(lambda: sum(1 for _ in batches)) for _ in range(3))
    out["ShuffledBatches, one batch (randperm slice + __getitems__)"] = 1e6 * seconds / len(batches)
    return out


def bench_bookkeeping(args):
    costs = per_batch_costs()
    callbacks_us = sum(v for k, v in costs.items() if "on_batch" in k)
    adam_us = costs["Adam.step, default per-tensor"] - costs["Adam.step, fused (the package's)"]
    n_batches = -(-args.train_pixels // 256)
    result = {"per_batch_us": {**costs, "callbacks, total": callbacks_us,
                               "fused Adam saves": adam_us}}
    text = (f"### Per-batch bookkeeping (microseconds per call, one batch of 256, "
            f"{args.threads} thread(s))\n\n"
            + md_table([{"what": k, "us": v} for k, v in costs.items()],
                       [("what", "what", None), ("us", "us / call", "{:.1f}")])
            + f"\n\nThe callbacks, which the bare loop does not have, cost {callbacks_us:.0f} "
            f"us per batch = {callbacks_us * 1e-6 * n_batches:.3f} s per epoch of "
            f"{args.train_pixels:,} pixels; the batch fetch and `loss.item()` are in the "
            f"bare loop too. Fused Adam saves {adam_us:.0f} us per step = "
            f"{adam_us * 1e-6 * n_batches:.3f} s per epoch.")
    return result, text


# --------------------------------------------------------------------------- main

BENCHES = {"scoring": bench_scoring, "training": bench_training, "scaling": bench_scaling,
           "memory": bench_memory, "end_to_end": bench_end_to_end,
           "bookkeeping": bench_bookkeeping}


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
    parser.add_argument("--image-size", type=int, default=100,
                        help="side of the square scene of the end_to_end section")
    parser.add_argument("--json", type=Path, help="write all measurements as JSON")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.threads)
    args.scaling_pixels = [int(n) for n in args.scaling_pixels]
    torch.set_num_threads(args.threads)

    machine = {"python": platform.python_version(), "torch": torch.__version__,
               "numpy": np.__version__, "cpu_count": os.cpu_count(), "threads": args.threads,
               "processor": platform.processor() or platform.machine()}
    results = {"machine": machine,
               "args": {k: v for k, v in vars(args).items() if k not in ("json", "markdown")}}
    parts, total = [], time.perf_counter()
    for section in (s for s in SECTIONS if s in args.only):
        start = time.perf_counter()
        print(f"[{section}] ...", flush=True)
        # The detectors' n_jobs=None follows joblib's parallel_config: --threads for them too.
        with joblib.parallel_config(n_jobs=args.threads):
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
