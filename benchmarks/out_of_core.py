"""Out-of-core scoring of a cube larger than memory should need: peak RSS and throughput.

Writes a float32 cube of ``--rows x --cols x --bands`` (default 1900 x 1900 x
160, 2.3 GB) to a temporary file, opens it as a ``np.memmap`` and scores it
with :func:`sksvdd.parallel.score_cube` on Dask's threaded scheduler and on a
``distributed.LocalCluster`` of worker processes, next to the in-memory
``score_samples`` of one strip as the baseline. The file is deleted afterwards.

The model is ``DeepSVDDDetector(random_state=0)`` (default Deep SVDD, without
the spatial step, to measure the detector itself) fitted on the 100 x
100 built-in scene resampled to ``--bands``;
the cube is that scene tiled, so every pixel is a realistic spectrum. The
file is freshly written, so it is read from the page cache: these are
compute-bound figures; a cold disk adds its read time (2.3 GB at the disk's
sequential rate).

It also times one training epoch of ``DeepSVDDDetector`` on ``--epoch-pixels``
pixels (the figure the multi-GPU plan in ``docs/scaling.md`` starts from).

Usage (from the repository root, 2 cores: about 3 minutes)::

    OMP_NUM_THREADS=1 python benchmarks/out_of_core.py --json benchmarks/results/out_of_core.json

Peak RSS is sampled every 20 ms with psutil (the process, or the sum over the
cluster's worker processes). It includes the interpreter, torch and the model
(several hundred MB per process), so the table shows the RSS before scoring
(``RSS0``), the peak, and the growth ``+MB`` that scoring caused, also as a
fraction of the cube's size.
"""

import argparse
import json
import os
import platform
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from sksvdd import DeepSVDDDetector
from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene
from sksvdd.parallel import score_cube

try:
    import psutil
except ImportError:  # fall back to getrusage's lifetime peak
    psutil = None

MB = 2**20


class PeakRSS:
    """Peak resident set size of some processes while the ``with`` block runs (psutil).

    ``pids`` is a callable returning the processes to watch; the peak of
    their summed RSS and of the largest one are recorded.
    """

    def __init__(self, pids, interval=0.02):
        self.pids = pids
        self.interval = interval
        self.peak_total = self.peak_single = 0

    def _sample(self):
        sizes = []
        for pid in self.pids():
            try:
                sizes.append(psutil.Process(pid).memory_info().rss)
            except psutil.Error:
                pass
        if sizes:
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_single = max(self.peak_single, max(sizes))

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._stop = threading.Event()
        if psutil is not None:
            self._sample()
            self.start_total = self.peak_total
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if psutil is not None:
            self._thread.join()
        else:  # lifetime peak of this process only
            self.start_total = 0
            self.peak_total = self.peak_single = (
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            )


def make_model(n_bands):
    scene = make_hyperspectral_scene(n_rows=100, n_cols=100, n_bands=n_bands, random_state=0)
    start = time.perf_counter()
    model = DeepSVDDDetector(random_state=0).fit(cube_to_pixels(scene.cube))
    return scene.cube, model, time.perf_counter() - start


def write_cube(path, tile, rows, cols):
    """Tile ``tile`` into a (rows, cols, bands) float32 file, one row slab at a time."""
    reps = -(-cols // tile.shape[1])
    with open(path, "wb") as f:
        for r0 in range(0, rows, tile.shape[0]):
            slab = np.tile(tile, (1, reps, 1))[: min(tile.shape[0], rows - r0), :cols]
            f.write(np.ascontiguousarray(slab, dtype=np.float32).tobytes())


def time_in_memory(model, cube, n_rows):
    """Baseline: score_samples on an in-memory strip of ``n_rows`` rows, one thread."""
    strip = np.array(cube[:n_rows])
    X = cube_to_pixels(strip)
    start = time.perf_counter()
    scores = model.score_samples(X)
    seconds = time.perf_counter() - start
    return strip, scores, {"mode": "in-memory strip (baseline)", "workers": 1,
                           "pixels": X.shape[0], "seconds": seconds}


def time_score_cube(model, cube, chunks, mode, workers, client=None, pids=None):
    scores = score_cube(model, cube, chunks=chunks)
    with PeakRSS(pids or (lambda: [os.getpid()])) as rss:
        start = time.perf_counter()
        if client is None:
            image = scores.compute(scheduler="threads", num_workers=workers)
        else:
            image = scores.compute(scheduler=client)
        seconds = time.perf_counter() - start
    n_blocks = int(np.prod(scores.numblocks))
    return image, {
        "mode": mode, "workers": workers, "pixels": int(np.prod(cube.shape[:2])),
        "seconds": seconds, "blocks": n_blocks,
        "rss_before_mb": rss.start_total / MB, "peak_rss_mb": rss.peak_total / MB,
        "peak_rss_per_process_mb": rss.peak_single / MB,
    }


def time_epoch(n_pixels, n_bands, tile):
    """Seconds of one phase-2 epoch and the scoring rate of the bare detector."""
    reps = -(-n_pixels // (tile.shape[0] * tile.shape[1]))
    X = np.tile(cube_to_pixels(tile), (reps, 1))[:n_pixels]
    det = DeepSVDDDetector(max_epochs=1, patience=None, random_state=0).fit(X)
    start = time.perf_counter()
    det.score_samples(X)
    score_s = time.perf_counter() - start
    return {"pixels": n_pixels, "bands": n_bands, "batch_size": det.batch_size,
            "epoch_seconds": det.history_[0]["dur"], "score_seconds": score_s,
            "train_pixels_per_s": n_pixels / det.history_[0]["dur"],
            "score_pixels_per_s": n_pixels / score_s}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1900)
    parser.add_argument("--cols", type=int, default=1900)
    parser.add_argument("--bands", type=int, default=160)
    parser.add_argument("--chunks", type=int, nargs=2, default=(256, 256),
                        metavar=("ROWS", "COLS"), help="spatial block size (default 256 256)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epoch-pixels", type=int, default=100_000,
                        help="pixels of the training-epoch timing (0 skips it)")
    parser.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster run")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the cube is written")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # one thread per Dask worker thread; see docs/scaling.md

    tile, model, fit_s = make_model(args.bands)
    shape = (args.rows, args.cols, args.bands)
    cube_mb = np.prod(shape) * 4 / MB
    fd, path = tempfile.mkstemp(suffix=".f32", dir=args.dir)
    os.close(fd)
    rows = []
    try:
        start = time.perf_counter()
        write_cube(path, tile, args.rows, args.cols)
        write_s = time.perf_counter() - start
        print(f"cube {shape} float32 = {cube_mb:.0f} MB written to {path} in {write_s:.1f} s; "
              f"model fitted in {fit_s:.1f} s")
        cube = np.memmap(path, dtype=np.float32, mode="r", shape=shape)

        strip, strip_scores, baseline = time_in_memory(model, cube, n_rows=100)
        rows.append(baseline)
        del strip

        image, row = time_score_cube(model, cube, tuple(args.chunks), "dask threads",
                                     args.workers)
        np.testing.assert_array_equal(image[:100].ravel(), strip_scores)  # same scores
        rows.append(row)
        del image

        if not args.no_cluster:
            from distributed import Client, LocalCluster

            with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                client.run(torch.set_num_threads, 1)
                workers = [w["pid"] for w in client.scheduler_info()["workers"].values()
                           if "pid" in w]
                if len(workers) < args.workers:  # older schedulers do not report pids
                    workers = list(client.run(os.getpid).values())
                image, row = time_score_cube(
                    model, cube, tuple(args.chunks), "LocalCluster processes", args.workers,
                    client=client, pids=lambda: workers,
                )
                np.testing.assert_array_equal(image[:100].ravel(), strip_scores)
                rows.append(row)
                del image
        del cube
    finally:
        os.unlink(path)

    for row in rows:
        row["pixels_per_s"] = row["pixels"] / row["seconds"]
        row["pixels_per_s_per_worker"] = row["pixels_per_s"] / row["workers"]
    epoch = time_epoch(args.epoch_pixels, args.bands, tile) if args.epoch_pixels else None

    print(f"\ncube: {cube_mb:.0f} MB; blocks of {args.chunks[0]} x {args.chunks[1]} pixels "
          f"= {args.chunks[0] * args.chunks[1] * args.bands * 4 / MB:.0f} MB")
    header = (f"{'mode':28s} {'workers':>7s} {'Mpixels':>8s} {'s':>7s} {'px/s':>9s} "
              f"{'px/s/wkr':>9s} {'RSS0 MB':>8s} {'peak MB':>8s} {'+MB':>6s} {'+/cube':>7s}")
    print(header)
    print("-" * len(header))
    for row in rows:
        growth = row.get("peak_rss_mb", 0) - row.get("rss_before_mb", 0)
        rss = (f"{row['rss_before_mb']:8.0f} {row['peak_rss_mb']:8.0f} "
               f"{growth:6.0f} {growth / cube_mb:7.3f}" if "peak_rss_mb" in row else "")
        print(f"{row['mode']:28s} {row['workers']:7d} {row['pixels'] / 1e6:8.2f} "
              f"{row['seconds']:7.1f} {row['pixels_per_s']:9.0f} "
              f"{row['pixels_per_s_per_worker']:9.0f} {rss}")
    if epoch:
        print(f"\nDeepSVDDDetector, {epoch['pixels']} pixels x {epoch['bands']} bands, "
              f"1 thread: one epoch (batch {epoch['batch_size']}) {epoch['epoch_seconds']:.2f} s "
              f"= {epoch['train_pixels_per_s']:.0f} px/s; scoring "
              f"{epoch['score_pixels_per_s']:.0f} px/s")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "cube_shape": shape, "cube_mb": cube_mb, "chunks": args.chunks,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "torch": torch.__version__},
            "model_fit_seconds": fit_s, "scoring": rows, "training_epoch": epoch,
        }, indent=2))


if __name__ == "__main__":
    main()
