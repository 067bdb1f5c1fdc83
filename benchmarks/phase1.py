"""Phase 1 against phase 2 and RX, for both encoders, on raw spectra and the spatial residual.

Fits each detector on each scene's own pixels (unsupervised, anomalies
included, as ``quality.py`` does) and reports the pixel ROC AUC of

- ``RX``: global RX (``RXDetector()``, deterministic);
- ``std-p1`` / ``std-p2``: ``DeepSVDDDetector(encoder="standardize")`` with
  ``max_epochs=0`` (the statistical phase alone) / with its defaults;
- ``wht-p1`` / ``wht-p2``: the same with ``encoder="whiten"``;
- ``wht-p1-notrim``: ``encoder="whiten", max_epochs=0, trim_fraction=0``,
  which is RX itself up to float32 rounding when ``sample_n`` covers the
  scene (the "RX by construction" check without the robust trimming),
- ``ridge-p1`` / ``ridge-p2``: ``encoder="whiten", whiten_reg=1e-2`` (the
  default detector's spectral branch is ``ridge-p1``) / with phase 2,

per scene (averaged over the seeds) and as the mean / worst over the nine
real scenes, with the spread (max - min) over seeds of that mean and worst.
Inputs: ``raw`` (the scene's spectra) and ``residual``
(``DualWindowResidual().fit_transform(cube)`` first, as the default image
detector does). The decision checks of the whitening default are printed
last.

Usage (from the repository root)::

    python benchmarks/phase1.py --seeds 0 1 2 --json benchmarks/results/phase1.json \
        --markdown benchmarks/results/phase1.md
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sksvdd import DeepSVDDDetector, DualWindowResidual, RXDetector
from sksvdd.datasets import cube_to_pixels
from sksvdd.metrics import format_table

from quality import scenes  # the development scenes (read or fetched) and the built-in one

DETECTORS = {
    "std-p1": dict(encoder="standardize", max_epochs=0),
    "std-p2": dict(encoder="standardize"),
    "wht-p1": dict(encoder="whiten", max_epochs=0),
    "wht-p2": dict(encoder="whiten"),
    "wht-p1-notrim": dict(encoder="whiten", max_epochs=0, trim_fraction=0),
    # The default detector's spectral branch (whiten_reg=1e-2), with and without phase 2.
    "ridge-p1": dict(encoder="whiten", whiten_reg=1e-2, max_epochs=0),
    "ridge-p2": dict(encoder="whiten", whiten_reg=1e-2),
}
INPUTS = ("raw", "residual")


def auroc(est, X, y):
    est.fit(X)
    return float(roc_auc_score(y, -est.score_samples(X)))


def run(seeds, inputs):
    """``results[input][detector][scene]`` = list of AUROCs, one per seed (one for RX)."""
    results = {inp: {name: {} for name in ["RX", *DETECTORS]} for inp in inputs}
    for scene, cube, y in scenes():
        for inp in inputs:
            pixels = cube_to_pixels(
                DualWindowResidual().fit_transform(cube) if inp == "residual" else cube
            )
            start = time.perf_counter()
            results[inp]["RX"][scene] = [auroc(RXDetector(), pixels, y)]
            for name, params in DETECTORS.items():
                results[inp][name][scene] = [
                    auroc(DeepSVDDDetector(random_state=seed, **params), pixels, y)
                    for seed in seeds
                ]
            print(f"{scene:15s} {inp:8s} " + " ".join(
                f"{name}={np.mean(v[scene]):.4f}" for name, v in results[inp].items())
                + f" ({time.perf_counter() - start:.0f}s)", flush=True)
    return results


def summary(per_scene):
    """Rows per scene (mean over seeds) plus mean / worst over the real scenes and their spread."""
    names = list(per_scene)
    scene_names = list(per_scene[names[0]])
    real = [s for s in scene_names if s != "builtin"] or scene_names
    table = {s: {n: float(np.mean(per_scene[n][s])) for n in names} for s in scene_names}
    for label, reduce in [("mean", np.mean), ("worst", np.min)]:
        # One value per seed (RX has one seed), then their average and spread.
        per_seed = {n: [reduce([per_scene[n][s][k] for s in real])
                        for k in range(len(per_scene[n][real[0]]))] for n in names}
        table[f"{label} (real scenes)"] = {n: float(np.mean(v)) for n, v in per_seed.items()}
        table[f"{label}: seed spread"] = {n: float(np.ptp(v)) for n, v in per_seed.items()}
    return table


def decision(results):
    """The checks of the rule for making ``encoder="whiten"`` the default."""
    lines = []
    for inp, per_scene in results.items():
        real = [s for s in per_scene["RX"] if s != "builtin"] or list(per_scene["RX"])
        gap = min(min(per_scene["wht-p1"][s]) - per_scene["RX"][s][0] for s in real)
        gap_notrim = max(abs(a - per_scene["RX"][s][0])
                         for s in real for a in per_scene["wht-p1-notrim"][s])
        table = summary(per_scene)
        mean_w, mean_s = (table["mean (real scenes)"][n] for n in ("wht-p2", "std-p2"))
        worst_w, worst_s = (table["worst (real scenes)"][n] for n in ("wht-p2", "std-p2"))
        spread = max(table["mean: seed spread"]["std-p2"], table["worst: seed spread"]["std-p2"])
        gain = [np.mean(per_scene["wht-p2"][s]) - np.mean(per_scene["wht-p1"][s]) for s in real]
        ridge = [np.mean(per_scene["ridge-p2"][s]) - np.mean(per_scene["ridge-p1"][s])
                 for s in real]
        lines += [
            f"{inp}: min over scenes and seeds of wht-p1 - RX = {gap:+.4f} "
            f"(rule: >= -0.005); max |wht-p1-notrim - RX| = {gap_notrim:.2e}",
            f"{inp}: mean wht-p2 {mean_w:.4f} vs std-p2 {mean_s:.4f}; worst wht-p2 "
            f"{worst_w:.4f} vs std-p2 {worst_s:.4f} (seed spread of std-p2 {spread:.4f})",
            f"{inp}: phase 2 - phase 1 with whitening, per real scene: mean {np.mean(gain):+.4f}, "
            f"min {np.min(gain):+.4f}, max {np.max(gain):+.4f}",
            f"{inp}: phase 2 - phase 1 with whiten_reg=1e-2, per real scene: mean "
            f"{np.mean(ridge):+.4f}, min {np.min(ridge):+.4f}, max {np.max(ridge):+.4f}",
        ]
    return lines


def render(results):
    parts = [f"### Pixel ROC AUC, {inp}\n\n{format_table(summary(per_scene), digits=4)}\n"
             for inp, per_scene in results.items()]
    parts.append("### Decision checks\n\n" + "\n".join(f"- {x}" for x in decision(results)) + "\n")
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=INPUTS)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--json", type=Path, help="write every AUROC (per seed) as JSON")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    parser.add_argument("--from-json", type=Path,
                        help="render the tables of an earlier run's --json file instead of running")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        torch.set_num_threads(args.threads)
        results = run(args.seeds, args.inputs)
    text = render(results)
    print("\n" + text)
    if args.json and not args.from_json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
