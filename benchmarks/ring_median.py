"""Speed of the exact ring median against scipy.ndimage.median_filter.

For each cube (float32, Gaussian values; the cost of a min/max network does not
depend on them) the script first checks that every implementation returns
exactly scipy's values, then times, interleaved (scipy, ours, torch, scipy,
...) so that load from other jobs hits every variant alike:

``scipy``
    ``scipy.ndimage.median_filter(cube, footprint=ring, mode="reflect")``, the
    reference (one thread).
``ring_median n_jobs=J``
    :func:`sksvdd.image._ring.ring_median`, NumPy, rows split over ``J`` threads.
``ring_median_torch threads=T``
    :func:`sksvdd.image._ring.ring_median_torch` on a CPU tensor, torch using
    ``T`` intra-op threads.

Each time is the minimum over ``--repeats`` runs; the speed-up is scipy's time
divided by the variant's, both measured in this process. The table gives
seconds, microseconds per pixel (all bands together) and the speed-up.

Usage (from the repository root; a few minutes, mostly scipy on the larger cube)::

    python benchmarks/ring_median.py
    python benchmarks/ring_median.py --json benchmarks/results/ring_median.json
    # smoke test (seconds)
    python benchmarks/ring_median.py --sizes 30x30x50 --repeats 1
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import scipy
import torch
from scipy import ndimage

from sksvdd.image._ring import ring_median, ring_median_torch


def ring_footprint(outer, inner):
    footprint = np.ones((outer, outer, 1), dtype=bool)
    start = (outer - inner) // 2
    footprint[start : start + inner, start : start + inner] = False
    return footprint


def make_variants(cube, outer, inner, n_jobs, torch_threads):
    footprint = ring_footprint(outer, inner)
    tensor = torch.from_numpy(cube)
    variants = {"scipy": lambda: ndimage.median_filter(cube, footprint=footprint, mode="reflect")}
    for j in n_jobs:
        variants[f"ring_median n_jobs={j}"] = (
            lambda j=j: ring_median(cube, outer, inner, n_jobs=j)
        )
    for t in torch_threads:

        def run_torch(t=t):
            previous = torch.get_num_threads()
            torch.set_num_threads(t)
            try:
                return ring_median_torch(tensor, outer, inner).numpy()
            finally:
                torch.set_num_threads(previous)

        variants[f"ring_median_torch threads={t}"] = run_torch
    return variants


def bench_cube(shape, outer, inner, repeats, n_jobs, torch_threads, seed=0):
    cube = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    variants = make_variants(cube, outer, inner, n_jobs, torch_threads)
    reference = variants["scipy"]()
    for name, run in variants.items():
        if not np.array_equal(run(), reference):
            raise AssertionError(f"{name} differs from scipy on a {shape} cube")
    best = dict.fromkeys(variants, np.inf)
    for _ in range(repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    n_pixels = shape[0] * shape[1]
    return [
        {
            "shape": list(shape),
            "outer": outer,
            "inner": inner,
            "variant": name,
            "seconds": seconds,
            "us_per_pixel": seconds / n_pixels * 1e6,
            "speedup_vs_scipy": best["scipy"] / seconds,
            "equal_to_scipy": True,
        }
        for name, seconds in best.items()
    ]


def print_table(rows):
    header = (
        f"{'cube':>14} {'window':>6}  {'variant':<28} "
        f"{'seconds':>9} {'us/pixel':>9} {'speed-up':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        shape = "x".join(map(str, row["shape"]))
        window = f"{row['outer']}/{row['inner']}"
        print(
            f"{shape:>14} {window:>6}  {row['variant']:<28} {row['seconds']:9.4f} "
            f"{row['us_per_pixel']:9.2f} {row['speedup_vs_scipy']:8.1f}x"
        )


def parse_shape(text):
    shape = tuple(int(v) for v in text.lower().split("x"))
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLSxBANDS, got {text!r}")
    return shape


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", nargs="+", type=parse_shape, default=[(100, 100, 204), (400, 400, 200)],
        help="cubes as ROWSxCOLSxBANDS (default: 100x100x204 400x400x200)",
    )
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument("--inner", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (min kept)")
    parser.add_argument("--n-jobs", nargs="+", type=int, default=[1, 2])
    parser.add_argument(
        "--torch-threads", nargs="+", type=int, default=sorted({1, torch.get_num_threads()})
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    rows = []
    for shape in args.sizes:
        rows += bench_cube(
            shape, args.outer, args.inner, args.repeats, args.n_jobs, args.torch_threads
        )
    print_table(rows)
    if args.json:
        meta = {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__,
            "repeats": args.repeats,
            "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
        }
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
