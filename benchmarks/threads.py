"""Fit time against torch's thread count and the batch size, on an idle and a busy machine.

The question (issue 16): on a machine shared with other work, fits ran 3-17x
slower than on an idle one, and ``OMP_NUM_THREADS=1`` fixed it. This measures,
on a 100 x 100 pixel x 200 band synthetic scene (``make_hyperspectral_scene``,
``random_state=0``):

- ``DeepSVDDDetector`` (the defaults, ``random_state=0``) fitted on the scene's
  10 000 pixels, for several ``batch_size`` values;
- the default image detector (``make_default_detector``, what ``sksvdd fit``
  fits: two Deep SVDD branches and the ring-median residual);
- ``score_samples`` of a fitted ``DeepSVDDDetector`` on 200 000 pixels (the
  scene's pixels, 20 times);

each with torch's intra-op threads set to 1 (``n_jobs=None``, the default),
2 (where that is not torch's default) and torch's default, one per core
(``n_jobs=-1``), through the detectors' ``n_jobs``; and with torch's default
inside ``threadpoolctl.threadpool_limits(1)`` (the limit reaches torch through
its OpenMP runtime, not its MKL). "Busy" runs the same while
``--busy`` extra processes spin on the CPU (a load like the one reported: 3-7
on 2 cores).

Timings are medians over ``--repeats`` runs, interleaved across the thread
settings so that load from other jobs hits each alike; the ratio column is
the time over the 1-thread time of the same model and load, in the same run.

Usage (from the repository root; a few minutes on 2 cores)::

    python benchmarks/threads.py --json benchmarks/results/threads.json \\
        --markdown benchmarks/results/threads.md
    python benchmarks/threads.py --busy 0 --repeats 1 --batch-sizes 256   # smoke test
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import threadpoolctl
import torch

from sksvdd import DeepSVDDDetector, make_default_detector
from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene

from _output import finish  # benchmarks/ is sys.path[0] when run as a script

DEFAULT_THREADS = torch.get_num_threads()


def settings():
    """(label, n_jobs, context manager factory) of each thread setting."""
    return [
        ("1 thread (n_jobs=None)", None, nullcontext),
        *([("2 threads (n_jobs=2)", 2, nullcontext)] if DEFAULT_THREADS != 2 else []),
        (f"torch default, {DEFAULT_THREADS} (n_jobs=-1)", -1, nullcontext),
        ("threadpool_limits(1), n_jobs=-1", -1, lambda: threadpoolctl.threadpool_limits(1)),
    ]


def tasks(batch_sizes, data):
    """(label, callable of n_jobs) of each timed task."""
    out = [(f"fit DeepSVDDDetector, batch {b}",
            lambda n_jobs, b=b: DeepSVDDDetector(batch_size=b, n_jobs=n_jobs,
                                                 random_state=0).fit(data["pixels"]))
           for b in batch_sizes]
    out.append(("fit make_default_detector (sksvdd fit)",
                lambda n_jobs: make_default_detector(n_jobs=n_jobs,
                                                     random_state=0).fit(data["cube"])))
    fitted = DeepSVDDDetector(max_epochs=1, random_state=0).fit(data["pixels"])
    many = np.tile(data["pixels"], (20, 1))
    out.append(("score_samples, 200 000 pixels",
                lambda n_jobs: fitted.set_params(n_jobs=n_jobs).score_samples(many)))
    return out


@contextmanager
def busy(n):
    """``n`` processes spinning on the CPU while the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0)
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def run(args):
    scene = make_hyperspectral_scene(n_rows=100, n_cols=100, n_bands=200, random_state=0)
    data = {"cube": scene.cube, "pixels": cube_to_pixels(scene.cube)}
    rows = []
    for load in args.busy:
        with busy(load):
            for task_label, task in tasks(args.batch_sizes, data):
                times = {label: [] for label, _, _ in settings()}
                for _ in range(args.repeats):
                    for label, n_jobs, limit in settings():
                        with limit():
                            tic = time.perf_counter()
                            task(n_jobs)
                            times[label].append(time.perf_counter() - tic)
                        assert torch.get_num_threads() == DEFAULT_THREADS  # restored
                base = statistics.median(times["1 thread (n_jobs=None)"])
                for label, values in times.items():
                    median = statistics.median(values)
                    rows.append({"busy": load, "task": task_label, "threads": label,
                                 "seconds": median, "ratio_to_1_thread": median / base,
                                 "runs": values})
                    print(f"busy={load} {task_label:38s} {label:22s} {median:7.2f} s "
                          f"x{median / base:5.2f}", flush=True)
    return rows


def markdown(rows, meta):
    lines = [
        f"### Fit and score time against torch threads ({meta['scene']}; "
        f"{meta['cpu_count']} cores, load average {meta['load_before'][0]:.1f} before and "
        f"{meta['load_after'][0]:.1f} after the run from other jobs; torch {meta['torch']}, "
        f"default {meta['default_threads']} threads; median of {meta['repeats']}; busy = "
        "extra processes spinning on the CPU)",
        "",
        "| busy | task | threads | seconds | / 1 thread |",
        "|---:|---|---|---:|---:|",
    ]
    lines += [f"| {r['busy']} | {r['task']} | {r['threads']} | {r['seconds']:.2f} | "
              f"{r['ratio_to_1_thread']:.2f} |" for r in rows]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256, 4096])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 2],
                        help="numbers of spinning processes to run beside (default: 0 2); "
                             "the load average before and after is recorded")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    meta = {"scene": "100 x 100 pixels x 200 bands", "cpu_count": os.cpu_count(),
            "torch": torch.__version__, "default_threads": DEFAULT_THREADS,
            "repeats": args.repeats, "python": platform.python_version(),
            "load_before": os.getloadavg(), "numpy": np.__version__}
    rows = run(args)
    meta["load_after"] = os.getloadavg()
    finish(args, meta, rows, markdown(rows, meta))


if __name__ == "__main__":
    main()
