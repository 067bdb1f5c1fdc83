"""Training on clean reference data: the halves protocol of issue #14, item 2.

For each development scene with anomalies in both its left and its right
half: fit on the normal pixels of one half (the ground-truth anomalies
removed: a clean reference), score every pixel of the other half; both
directions. Reported per detector, over the seeds:

- ``auroc``: pixel ROC AUC on the scored half;
- ``iou``: IoU of ``predict == -1`` (the detector's own fitted threshold,
  contamination 0.005, i.e. the 0.995 quantile) with the ground truth;
- ``far``: the fraction of the scored half's normal pixels flagged (the
  false-alarm rate; 0.005 when the threshold generalises).

With ``--one-way``, the scenes whose anomalies all lie in one half are
measured instead (fitted on the clean half, scoring the other): cases not
used to choose the settings.

With ``--diagnose``, every Deep SVDD detector is also compared with its own
statistical phase (the same parameters and seed with ``max_epochs=0``, which
draws the same sample and weights): the Spearman rank correlation of the two
scorings on the scored half, how much the normal pixels' median distance
shrank (``shrink``: phase 2 over phase 1), its relative spread
(``spread``: IQR / median of the distances, phase 2 over phase 1), the
generalisation gap (``gap``: median distance of the scored half's normal
pixels over that of the reference pixels) and the centre's drift (distance
from the phase-1 centre over the median phase-2 distance).

Usage (from the repository root)::

    OMP_NUM_THREADS=1 python benchmarks/reference_training.py --seeds 0 1 2 --diagnose \
        --json benchmarks/results/reference_training.json \
        --markdown benchmarks/results/reference_training.md

Everything at once takes a few hours on one thread (the 50-epoch detectors
dominate). The committed results were run in parts (``--detectors ...``,
``--seeds ...``, each with its own ``--json``; the phase-1 detectors and
the defaults with three seeds, the diagnostics and the 50-epoch candidates
with seed 0) and merged with ``--from-json A.json B.json ... --json
merged.json --markdown merged.md``; a detector measured with one seed is
labelled so in the table.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.metrics import jaccard_score, roc_auc_score

from sksvdd import DeepSVDDDetector, RXDetector
from sksvdd.datasets import load_scene
from sksvdd.metrics import format_table

SHARED_HSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hsi"
# The development scenes, as in quality.py; those without anomalies in both halves are skipped.
REAL_SCENES = [
    "abu-airport-1", "abu-airport-2", "abu-airport-3", "abu-airport-4",
    "abu-beach-1", "abu-beach-2", "abu-beach-3", "sandiego", "hydice",
]


def _dsvdd(**params):
    return lambda seed: DeepSVDDDetector(random_state=seed, **params)


def _reference(**params):
    def make(seed):
        from sksvdd import make_reference_pipeline

        return make_reference_pipeline(random_state=seed, **params)

    return make


CLEAN = dict(lr=1e-3, max_epochs=50, trim_fraction=0, patience=10)
DETECTORS = {
    "RX": lambda seed: RXDetector(),
    "RX-reg1e-4": lambda seed: RXDetector(reg=1e-4),
    "RX-reg1e-3": lambda seed: RXDetector(reg=1e-3),
    "RX-reg1e-2": lambda seed: RXDetector(reg=1e-2),
    "RX-reg1e-1": lambda seed: RXDetector(reg=1e-1),
    "dsvdd-defaults": _dsvdd(),
    "dsvdd-defaults-p1": _dsvdd(max_epochs=0),
    "dsvdd-clean": _dsvdd(**CLEAN),
    "dsvdd-clean-p1": _dsvdd(**{**CLEAN, "max_epochs": 0}),
    "clean-noema": _dsvdd(**CLEAN, center_ema=0),
    "clean-val": _dsvdd(**CLEAN, validation_fraction=0.1),
    "whiten-p1": _dsvdd(encoder="whiten", trim_fraction=0, max_epochs=0),
    "whiten-defaults": _dsvdd(encoder="whiten", trim_fraction=0),
    "whiten-clean": _dsvdd(encoder="whiten", **CLEAN),
    "whiten-clean-val": _dsvdd(encoder="whiten", **CLEAN, validation_fraction=0.1),
    "whiten-val-1e-4": _dsvdd(encoder="whiten", trim_fraction=0, lr=1e-4, max_epochs=50,
                              patience=10, validation_fraction=0.1),
    "whiten-p1-val": _dsvdd(encoder="whiten", trim_fraction=0, max_epochs=0,
                            validation_fraction=0.1),
    "std-val": _dsvdd(trim_fraction=0, validation_fraction=0.1),
    "std-p1-val": _dsvdd(trim_fraction=0, max_epochs=0, validation_fraction=0.1),
    "whiten-reg1e-4-p1": _dsvdd(encoder="whiten", whiten_reg=1e-4, trim_fraction=0,
                                max_epochs=0),
    "whiten-reg1e-4-p1-val": _dsvdd(encoder="whiten", whiten_reg=1e-4, trim_fraction=0,
                                    max_epochs=0, validation_fraction=0.1),
    "whiten-reg1e-3-p1-val": _dsvdd(encoder="whiten", whiten_reg=1e-3, trim_fraction=0,
                                    max_epochs=0, validation_fraction=0.1),
    "whiten-reg3e-4-p1-val": _dsvdd(encoder="whiten", whiten_reg=3e-4, trim_fraction=0,
                                    max_epochs=0, validation_fraction=0.1),
    "whiten-reg1e-2-p1-val": _dsvdd(encoder="whiten", whiten_reg=1e-2, trim_fraction=0,
                                    max_epochs=0, validation_fraction=0.1),
    "whiten-reg1e-3-val-lr1e-4": _dsvdd(encoder="whiten", whiten_reg=1e-3, trim_fraction=0,
                                        validation_fraction=0.1, lr=1e-4, max_epochs=50,
                                        patience=10),
    "reference": _reference(),
}


def cases(one_way=False):
    """Yield (scene, direction, reference pixels, scored pixels, scored labels).

    ``one_way``: the scenes whose anomalies all lie in one half instead, fitted
    on the other half and scoring that one (one direction each).
    """
    for name in REAL_SCENES:
        path = SHARED_HSI / f"{name}.mat"
        if not path.exists():
            continue
        scene = load_scene(path)
        cube, mask = scene.cube, scene.mask.astype(bool)
        half = cube.shape[1] // 2
        halves = {"left": (cube[:, :half], mask[:, :half]),
                  "right": (cube[:, half:], mask[:, half:])}
        both = all(m.any() for _, m in halves.values())
        if both == one_way or not any(m.any() for _, m in halves.values()):
            continue
        for fit_side, score_side in (("left", "right"), ("right", "left")):
            if not halves[score_side][1].any():
                continue
            fcube, fmask = halves[fit_side]
            scube, smask = halves[score_side]
            X_ref = fcube.reshape(-1, cube.shape[2])[~fmask.ravel()]
            yield (name, f"{fit_side}->{score_side}", X_ref,
                   scube.reshape(-1, cube.shape[2]), smask.ravel())


def _core(est):
    """The DeepSVDDDetector inside ``est`` (itself, or a Pipeline's last step), or None."""
    last = est[-1] if hasattr(est, "steps") else est
    return last if isinstance(last, DeepSVDDDetector) else None


def _diagnose(est, X_ref, X, y, seed):
    """Phase 2 against its own phase 1 (same parameters and seed, ``max_epochs=0``)."""
    det = _core(est)
    if det is None or det.max_epochs == 0:
        return {}
    p1 = clone(est).set_params(**{("detector__" if est is not det else "") + "max_epochs": 0})
    p1.fit(X_ref)
    d1, d2 = -p1.score_samples(X), -est.score_samples(X)
    r1, r2 = -p1.score_samples(X_ref), -est.score_samples(X_ref)
    n1, n2 = d1[~y], d2[~y]

    def spread(d):
        q1, q2, q3 = np.percentile(d, [25, 50, 75])
        return (q3 - q1) / q2

    c1 = _core(p1).center_
    return {
        "p1_auroc": float(roc_auc_score(y, d1)),
        "spearman": float(spearmanr(d1, d2)[0]),
        "shrink": float(np.median(n2) / np.median(n1)),
        "spread": float(spread(n2) / spread(n1)),
        "gap": float(np.median(n2) / np.median(r2)),
        "gap_p1": float(np.median(n1) / np.median(r1)),
        "drift": float(np.linalg.norm(det.center_ - c1) / np.sqrt(np.median(n2))),
        "epochs": int(det.n_iter_),
    }


def run(names, seeds, diagnose, one_way=False):
    results = {name: [] for name in names}
    for scene, direction, X_ref, X, y in cases(one_way):
        for name in names:
            for seed in ([0] if name.startswith("RX") else seeds):
                est = DETECTORS[name](seed)
                start = time.perf_counter()
                est.fit(X_ref)
                scores = -est.score_samples(X)
                flagged = est.predict(X) == -1
                row = {
                    "scene": scene, "direction": direction, "seed": seed,
                    "auroc": float(roc_auc_score(y, scores)),
                    "iou": float(jaccard_score(y, flagged, zero_division=0.0)),
                    "far": float(flagged[~y].mean()),
                    "fit_s": time.perf_counter() - start,
                }
                if diagnose:
                    row.update(_diagnose(est, X_ref, X, y, seed))
                results[name].append(row)
                print(f"{scene:14s} {direction:12s} {name:18s} seed={seed} "
                      f"AUROC={row['auroc']:.4f} IoU={row['iou']:.4f} FAR={row['far']:.4f}"
                      + (f" rho={row['spearman']:.3f} shrink={row['shrink']:.3g} "
                         f"gap={row['gap']:.2f}/{row['gap_p1']:.2f} "
                         f"ep={row['epochs']}" if "spearman" in row else ""), flush=True)
    return results


def summarise(rows, metric):
    """Mean over the cases (averaged over seeds), the worst case, and the seed spread of the mean."""
    by_seed = {}
    for r in rows:
        if metric in r:
            by_seed.setdefault(r["seed"], []).append(r[metric])
    if not by_seed:
        return None
    per_seed_mean = [np.mean(v) for v in by_seed.values()]
    per_case = np.mean(list(by_seed.values()), axis=0)
    return {"mean": float(np.mean(per_seed_mean)), "worst": float(per_case.min()),
            "seed_spread": float(np.ptp(per_seed_mean))}


def tables(results):
    order = [n for n in DETECTORS if n in results] + [n for n in results if n not in DETECTORS]
    results = {name: results[name] for name in order}
    main = {}
    for name, rows in results.items():
        auroc, iou, far = (summarise(rows, m) for m in ("auroc", "iou", "far"))
        seeds = sorted({r["seed"] for r in rows})
        label = name if len(seeds) > 1 or name.startswith("RX") else f"{name} (seed {seeds[0]})"
        main[label] = {
            "mean AUROC": auroc["mean"], "worst AUROC": auroc["worst"],
            "AUROC seed spread": auroc["seed_spread"], "mean IoU": iou["mean"],
            "worst IoU": iou["worst"], "IoU seed spread": iou["seed_spread"],
            "mean FAR": far["mean"],
        }
    parts = [f"### Halves protocol (mean over the cases and seeds)\n\n"
             f"{format_table(main, digits=4, row_label='detector')}\n"]
    diag = {}
    for name, rows in results.items():
        stats = {m: summarise(rows, m) for m in
                 ("p1_auroc", "spearman", "shrink", "spread", "gap", "gap_p1", "drift", "epochs")}
        if stats["spearman"] is not None:
            diag[name] = {m: s["mean"] for m, s in stats.items()}
    if diag:
        parts.append(f"### Phase 2 against its own phase 1 (means over the cases, seed 0)\n\n"
                     f"{format_table(diag, digits=3, row_label='detector')}\n")
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS),
                        choices=list(DETECTORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--diagnose", action="store_true",
                        help="compare each Deep SVDD detector with its own phase 1")
    parser.add_argument("--json", type=Path, help="write every per-case row as JSON")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown")
    parser.add_argument("--from-json", type=Path, nargs="+",
                        help="render the tables of earlier --json files (merged)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--one-way", action="store_true",
                        help="the scenes with anomalies in one half only: fit on the other")
    args = parser.parse_args()
    if args.from_json:
        results = {}
        for path in args.from_json:  # a detector's rows for other seeds are pooled
            for name, rows in json.loads(path.read_text()).items():
                have = {(r["scene"], r["direction"], r["seed"]) for r in results.get(name, [])}
                results.setdefault(name, []).extend(
                    r for r in rows if (r["scene"], r["direction"], r["seed"]) not in have)
    else:
        torch.set_num_threads(args.threads)
        results = run(args.detectors, args.seeds, args.diagnose, args.one_way)
    text = tables(results)
    print("\n" + text)
    if args.json:  # with --from-json: the merged rows
        args.json.write_text(json.dumps(results, indent=1))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
