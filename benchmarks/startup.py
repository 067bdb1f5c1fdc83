"""Start-up time of ``sksvdd`` and of ``import sksvdd``, as ratios to ``python -c pass``.

Each case runs in a fresh interpreter (``sys.executable``), ``--repeats``
times, interleaved (pass, import, --help, info, pass, ...) so that load from
other jobs hits every case alike; the table gives the median wall time and its
ratio to the median of ``python -c pass`` measured in the same run. For
reference it also times the imports that the light commands avoid (torch,
scikit-learn) and ``import sksvdd`` followed by the detector (what ``fit``
imports before any work).

Cases:

- ``python -c pass``: the interpreter alone (the baseline);
- ``import sksvdd``;
- ``sksvdd --help`` (``python -m sksvdd --help``);
- ``sksvdd info`` on a small MATLAB v5 file (20 x 30 pixels, 10 bands, with a
  mask) written with :func:`scipy.io.savemat` to a temporary folder;
- ``import torch``, ``import sklearn`` and ``from sksvdd import DeepSVDDDetector``.

Target (issue 16): ``sksvdd --help`` and ``sksvdd info`` under 1 s.

Usage (from the repository root; about a minute on 2 shared cores)::

    python benchmarks/startup.py --json benchmarks/results/startup.json \\
        --markdown benchmarks/results/startup.md
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

from _output import finish  # benchmarks/ is sys.path[0] when run as a script

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0


def cases(scene):
    python = [sys.executable]
    return {
        "python -c pass": python + ["-c", "pass"],
        "import sksvdd": python + ["-c", "import sksvdd"],
        "sksvdd --help": python + ["-m", "sksvdd", "--help"],
        "sksvdd info (20 x 30 x 10 .mat)": python + ["-m", "sksvdd", "info", str(scene)],
        "import torch (reference)": python + ["-c", "import torch"],
        "import sklearn (reference)": python + ["-c", "import sklearn"],
        "from sksvdd import DeepSVDDDetector": python + [
            "-c", "from sksvdd import DeepSVDDDetector"],
    }


def timed(argv, env):
    tic = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - tic


def run(repeats):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    env.pop("EAGER_IMPORT", None)
    with tempfile.TemporaryDirectory() as folder:
        scene = Path(folder) / "small.mat"
        cube = np.random.default_rng(0).random((20, 30, 10))
        scipy.io.savemat(scene, {"data": cube, "map": np.eye(20, 30)})
        argvs = cases(scene)
        for argv in argvs.values():  # warm the file cache once, untimed
            timed(argv, env)
        times = {name: [] for name in argvs}
        for _ in range(repeats):
            for name, argv in argvs.items():
                times[name].append(timed(argv, env))
    base = statistics.median(times["python -c pass"])
    return [{"case": name, "seconds": statistics.median(values),
             "ratio_to_python": statistics.median(values) / base, "runs": values}
            for name, values in times.items()]


def markdown(rows, meta):
    lines = [
        f"### Start-up ({meta['cpu_count']} cores, load average {meta['load_before'][0]:.1f} "
        f"before the run, Python {meta['python']}; median of {meta['repeats']} runs, "
        "each a fresh interpreter)",
        "",
        "| case | seconds | / python -c pass |",
        "|---|---:|---:|",
    ]
    lines += [f"| {r['case']} | {r['seconds']:.3f} | {r['ratio_to_python']:.1f} |"
              for r in rows]
    light = {r["case"]: r["seconds"] for r in rows}
    verdict = ", ".join(f"{name}: {light[name]:.2f} s" for name in light
                        if name.startswith("sksvdd "))
    met = all(light[name] < TARGET_SECONDS for name in light if name.startswith("sksvdd "))
    lines += ["", f"Target: `sksvdd --help` and `sksvdd info` under {TARGET_SECONDS:g} s "
                  f"({verdict}): {'met' if met else 'NOT met'}."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    meta = {"cpu_count": os.cpu_count(), "python": platform.python_version(),
            "repeats": args.repeats, "load_before": os.getloadavg()}
    rows = run(args.repeats)
    meta["load_after"] = os.getloadavg()
    finish(args, meta, rows, markdown(rows, meta))


if __name__ == "__main__":
    main()
