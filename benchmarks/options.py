"""Measured effect of each documented option of the default pipeline, over several seeds.

Every variant is the residual detector (``ImageDetector`` of
``DualWindowResidual`` and ``DeepSVDDDetector(random_state=seed)``: the
default's ``residual`` branch) with some parameters changed (``set_params``
names, e.g. ``detector__trim_fraction``),
fitted on each scene itself and graded by
pixel ROC AUC, as in ``quality.py``. The table gives, per variant, the mean
and worst AUROC over the nine real scenes for each seed, their averages over
the seeds, and the built-in scene. Differences smaller than the spread over
seeds are noise.

Usage (from the repository root)::

    python benchmarks/options.py                          # all variants, seeds 0 1 2
    python benchmarks/options.py --variants default no-trim --seeds 0
    python benchmarks/options.py --json benchmarks/results/options.json \
        --markdown benchmarks/results/options.md
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from quality import scenes
from sksvdd import DeepSVDDDetector, DualWindowResidual, ImageDetector, make_default_detector

# name -> (set_params of the residual detector, or "no-spatial", what it tests)
VARIANTS = {
    "default": ({}, "trim_fraction=0.02, 5/1 dual window, median background"),
    "mean-background": ({"spatial__background": "mean"}, "ring mean instead of median"),
    "no-trim": ({"detector__trim_fraction": 0.0}, "robust statistics off"),
    "trim-0.05": ({"detector__trim_fraction": 0.05}, "leave out 5%"),
    "window-3/1": ({"spatial__outer_window": 3}, "smaller ring"),
    "window-7/3": ({"spatial__outer_window": 7, "spatial__inner_window": 3}, "wider guard"),
    "window-7/3-mean-no-trim": (
        {"spatial__outer_window": 7, "spatial__inner_window": 3,
         "spatial__background": "mean", "detector__trim_fraction": 0.0},
        "the default pipeline before trimming and the median",
    ),
    "window-9/1": ({"spatial__outer_window": 9}, "larger ring"),
    "no-spatial": ("no-spatial", "raw spectra, no DualWindowResidual"),
    "phase1-only": ({"detector__max_epochs": 0}, "statistical phase alone"),
    "nu-0.2": ({"detector__nu": 0.2}, "softer boundary"),
    "one-class": ({"detector__objective": "one-class"}, "one-class objective"),
    "center-ema-0": ({"detector__center_ema": 0.0}, "fixed phase-1 centre"),
    "epochs-20": ({"detector__max_epochs": 20}, "longer phase 2"),
}


def build(variant, seed):
    params, _ = VARIANTS[variant]
    if params == "no-spatial":
        return make_default_detector(spatial=False, random_state=seed)
    residual = ImageDetector(spatial=DualWindowResidual(),
                             detector=DeepSVDDDetector(random_state=seed))
    return residual.set_params(**params)


def run(variants, seeds):
    results = {v: {} for v in variants}  # variant -> scene -> [auroc per seed]
    for scene, cube, y in scenes():
        for v in variants:
            aucs = []
            for seed in seeds:
                start = time.perf_counter()
                scores = -build(v, seed).fit(cube).score_samples(cube).ravel()
                aucs.append(float(roc_auc_score(y, scores)))
                print(f"{scene:15s} {v:20s} seed={seed} AUROC={aucs[-1]:.4f} "
                      f"({time.perf_counter() - start:.1f}s)", flush=True)
            results[v][scene] = aucs
    return results


def table(results, seeds):
    rows = ["| variant | what it tests | " + " | ".join(f"mean / worst, seed {s}" for s in seeds)
            + " | mean / worst, seed average | built-in |",
            "|---|---|" + "---|" * (len(seeds) + 2)]
    for v, per_scene in results.items():
        real = np.array([aucs for scene, aucs in per_scene.items() if scene != "builtin"])
        if real.size == 0:
            real = np.array(list(per_scene.values()))
        means, worsts = real.mean(axis=0), real.min(axis=0)
        cells = [f"{m:.3f} / {w:.3f}" for m, w in zip(means, worsts)]
        builtin = np.mean(per_scene["builtin"]) if "builtin" in per_scene else float("nan")
        row = [v, VARIANTS[v][1], *cells, f"{means.mean():.3f} / {worsts.mean():.3f}",
               f"{builtin:.3f}"]
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--json", type=Path, help="write the AUROC per variant, scene and seed")
    parser.add_argument("--markdown", type=Path, help="write the summary table as Markdown")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = run(args.variants, args.seeds)
    text = table(results, args.seeds)
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps({"seeds": args.seeds, "auroc": results}, indent=2))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
