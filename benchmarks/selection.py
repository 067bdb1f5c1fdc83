"""Selection of the default detector's branches, ridge and fusion, leaving one background out.

How ``make_default_detector``'s settings (``SPECTRAL_SETTINGS["whiten_reg"]``,
``ATTRIBUTE_SETTINGS``, ``DEFAULT_FUSION`` and ``DEFAULT_WEIGHTS``) were
chosen, reproducibly. The candidates are

- two branches: a spectral branch ``DeepSVDDDetector(encoder="whiten",
  whiten_reg=r, max_epochs=0)`` for ``r`` in ``REGS`` (``1e-6`` is
  RXDetector's ridge: the whitened distance is then RX's, from trimmed
  statistics) and the residual branch (``DualWindowResidual()`` +
  ``DeepSVDDDetector()``, trained), fused by ``"max"`` or ``"mean"`` of
  their robust z-scores (each branch's anomaly score minus its median over
  the image, over its interquartile range, as :class:`sksvdd.FusionDetector`
  computes them);
- three branches: the spectral branch (``r`` in ``ATTRIBUTE_REGS``), an
  attribute branch (``AttributeResidual(n_components, areas)`` for each of
  ``ATTRIBUTES``, + ``DeepSVDDDetector(encoder="whiten", whiten_reg=1e-2,
  max_epochs=0)``) and the residual branch, fused by the mean of the three
  z-scores (``"mean"``) or with the spectral one counted twice (``"w2"``,
  FusionDetector's ``weights=(2, 1, 1)``).

They are graded on two kinds of ground truth: the targets of every extent
(1-16 px) implanted into the ten backgrounds of ``robustness.py`` (same
images, seeds and AUROC as there) and the development scenes' own
annotations; seeds 0, 1, 2.

Protocol (leave one background out). For each background in turn, the
candidates *feasible* on the other nine backgrounds are those never
consistently more than 0.01 below global RX there: in no (background,
extent) cell of the implanted targets and on no other development scene's
own truth below RX - 0.01 with every seed. The feasible candidate with the
best mean AUROC over the same cells and scenes is chosen, and it is
reported on the held-out background. This is the goal (at or above RX -
0.01 everywhere, then as accurate as possible), with a shortfall that the
seeds do not agree on counted as noise: a cell's seed spread is up to 0.02.
The tables also give the choices of the previous rule (the mean over seeds
below RX - 0.01 makes a candidate infeasible), under which the two-branch
default of the previous release is kept, and of a pure minimax rule (the
best worst gap to RX, rounded to 0.001, ties by the mean), which decides on
differences smaller than the seed spread.

The score maps are cached (``--cache``), one ``.npz`` per image and seed, so a
rerun with the same ``--cache`` only computes what is missing (with every map
there, it fits nothing and only grades).

Usage (from the repository root)::

    python benchmarks/selection.py --cache /tmp/sksvdd-selection \\
        --json benchmarks/results/selection.json --markdown benchmarks/results/selection.md
"""

import argparse
import json
import time
import zlib
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from quality import REAL_SCENES, load_real_scenes
from robustness import ABUNDANCES, SIZES, image_aurocs, load_backgrounds, make_image
from sksvdd import (
    AttributeResidual, DeepSVDDDetector, DualWindowResidual, ImageDetector, RXDetector,
)

REGS = (1e-6, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
FUSIONS = ("max", "mean")
SEEDS = (0, 1, 2)
# Third-branch candidates: AttributeResidual(n_components, areas) + a whitened distance.
ATTRIBUTES = {
    "3/16": (3, (16,)), "5/16": (5, (16,)), "3/64": (3, (64,)), "5/64": (5, (64,)),
    "3/16-64": (3, (16, 64)),
}
# The spectral ridges tried with a third branch, and how the three are fused: "mean" of
# the three robust z-scores, or "w2", the spectral branch counted twice.
ATTRIBUTE_REGS = (1e-3, 1e-2, 3e-2)
ATTRIBUTE_FUSIONS = ("mean", "w2")


def branch_maps(cube, seed):
    """Anomaly maps (higher = more anomalous) of RX, the residual branch and each spectral ridge."""
    maps = {
        "RX": ImageDetector(detector=RXDetector()),
        "residual": ImageDetector(spatial=DualWindowResidual(),
                                  detector=DeepSVDDDetector(random_state=seed)),
    }
    for reg in REGS:
        maps[f"spectral-{reg:g}"] = ImageDetector(detector=DeepSVDDDetector(
            encoder="whiten", whiten_reg=reg, max_epochs=0, random_state=seed))
    return {name: (-est.fit(cube).score_samples(cube)).astype(np.float32)
            for name, est in maps.items()}


def attribute_maps(cube, seed):
    """Anomaly maps of each candidate attribute branch (``ATTRIBUTES``)."""
    out = {}
    for name, (k, areas) in ATTRIBUTES.items():
        est = ImageDetector(
            spatial=AttributeResidual(n_components=k, areas=areas),
            detector=DeepSVDDDetector(encoder="whiten", whiten_reg=1e-2, max_epochs=0,
                                      random_state=seed))
        out[f"attribute-{name}"] = (-est.fit(cube).score_samples(cube)).astype(np.float32)
    return out


def robust_z(a):
    """``(a - median) / IQR`` over the image, as FusionDetector standardises a branch.

    Written out rather than fitting a FusionDetector, which would refit every
    branch for every candidate; ``tests/test_image.py`` checks FusionDetector
    against the same formula.
    """
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    iqr = q3 - q1
    return (a - med) / (iqr if iqr > 0 else 1.0)  # FusionDetector's guard for a flat branch


def candidate_maps(maps):
    """Every candidate's fused anomaly map, plus RX's."""
    out = {"RX": maps["RX"]}
    residual = robust_z(maps["residual"])
    for reg in REGS:
        spectral = robust_z(maps[f"spectral-{reg:g}"])
        for fusion in FUSIONS:
            stacked = np.stack([spectral, residual])
            fused = stacked.max(axis=0) if fusion == "max" else stacked.mean(axis=0)
            out[candidate_name(reg, fusion)] = fused
    for name in ATTRIBUTES:
        key = f"attribute-{name}"
        if key not in maps:
            continue
        attribute = robust_z(maps[key])
        for reg in ATTRIBUTE_REGS:
            spectral = robust_z(maps[f"spectral-{reg:g}"])
            for fusion in ATTRIBUTE_FUSIONS:
                weight = 2.0 if fusion == "w2" else 1.0
                fused = (weight * spectral + attribute + residual) / (weight + 2.0)
                out[f"{candidate_name(reg, fusion)}/attr={name}"] = fused
    return out


def candidate_name(reg, fusion):
    return f"{fusion}/reg={reg:g}"


def cached(cache, key, compute):
    """``compute()``'s dict of arrays, stored as ``cache/key.npz`` (None: no cache)."""
    path = None if cache is None else cache / f"{key}.npz"
    if path is not None and path.exists():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    out = compute()
    if path is not None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)
    return out


def grade(cache, seeds, backgrounds, scenes, verbose=True):
    """``implant[name][(background, size)]`` and ``dev[name][scene]``: per-seed AUROCs."""
    implant, dev = {}, {}
    for bg in backgrounds:
        bg_key = zlib.crc32(bg.name.encode())  # the same images as robustness.py
        for size in SIZES:
            for seed in seeds:
                rng = np.random.RandomState([seed, bg_key, int(size), 0])
                cube, per_abundance = make_image(bg, size, ABUNDANCES, 2, rng, True)
                start = time.perf_counter()
                maps = cached(cache, f"implant-{bg.name}-{size}-{seed}",
                              lambda: branch_maps(cube, seed))
                maps.update(cached(cache, f"attribute-{bg.name}-{size}-{seed}",
                                   lambda: attribute_maps(cube, seed)))
                for name, scores in candidate_maps(maps).items():
                    aucs = image_aurocs(scores, per_abundance, bg.exclude)
                    implant.setdefault(name, {}).setdefault((bg.name, size), []).append(
                        float(np.nanmean(list(aucs.values()))))
                if verbose:
                    print(f"{bg.name:14s} size={size:2d} seed={seed} "
                          f"({time.perf_counter() - start:.1f}s)", flush=True)
    for name, scene in scenes.items():
        y = scene.mask.ravel()
        for seed in seeds:
            maps = cached(cache, f"dev-{name}-{seed}", lambda: branch_maps(scene.cube, seed))
            maps.update(cached(cache, f"dev-attribute-{name}-{seed}",
                               lambda: attribute_maps(scene.cube, seed)))
            for cand, scores in candidate_maps(maps).items():
                dev.setdefault(cand, {}).setdefault(name, []).append(
                    float(roc_auc_score(y, scores.ravel())))
    return implant, dev


def leave_one_out(implant, dev, rule="consistent"):
    """Per held-out background: the chosen candidate and its held-out figures.

    ``rule="consistent"`` (the default's): the best mean AUROC among the
    candidates never consistently more than 0.01 below RX on the other
    backgrounds, i.e. in no cell (and on no development scene) below RX -
    0.01 with every seed; ``"feasible"``: the same with the mean over seeds
    below RX - 0.01 (a cell's seed spread is up to 0.02, so a mean gap of
    -0.011 may be noise); ``"minimax"``: the best worst gap to RX (rounded
    to 0.001; ties by the mean).
    """
    candidates = [c for c in implant if c != "RX"]
    backgrounds = sorted({b for b, _ in implant["RX"]})
    mean = {k: {cell: float(np.mean(v)) for cell, v in d.items()}
            for k, d in implant.items()}
    dmean = {k: {s: float(np.mean(v)) for s, v in d.items()} for k, d in dev.items()}
    rows = []
    for held in backgrounds:
        def fold_stats(c):
            cells = [cell for cell in mean[c] if cell[0] != held]
            scenes = [s for s in dmean[c] if s != held]
            per_seed = [np.subtract(implant[c][cell], implant["RX"][cell]) for cell in cells]
            per_seed += [np.subtract(dev[c][s], dev["RX"][s]) for s in scenes]
            gaps = [float(np.mean(g)) for g in per_seed]
            consistent = min(float(np.max(g)) for g in per_seed)  # best seed of worst cell
            values = [mean[c][cell] for cell in cells] + [dmean[c][s] for s in scenes]
            return min(gaps), float(np.mean(values)), consistent
        stats = {c: fold_stats(c) for c in candidates}  # once per fold
        if rule == "minimax":
            chosen = max(candidates, key=lambda c: (round(stats[c][0], 3), stats[c][1]))
        else:
            worst = 0 if rule == "feasible" else 2
            feasible = [c for c in candidates if stats[c][worst] >= -0.01] or candidates
            chosen = max(feasible, key=lambda c: stats[c][1])
        held_cells = [cell for cell in mean[chosen] if cell[0] == held]
        rows.append(dict(
            held_out=held, chosen=chosen, train_worst_gap=stats[chosen][0],
            held_out_mean=float(np.mean([mean[chosen][c] for c in held_cells])),
            held_out_rx=float(np.mean([mean["RX"][c] for c in held_cells])),
            held_out_worst_gap=float(min(mean[chosen][c] - mean["RX"][c] for c in held_cells)),
            held_out_dev=dmean[chosen].get(held), held_out_dev_rx=dmean["RX"].get(held),
        ))
    return rows


def markdown(rows, header, row_label):
    """A Markdown table of preformatted string cells."""
    lines = ["| " + " | ".join([row_label, *header]) + " |",
             "|" + "---|" * (len(header) + 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def tables(implant, dev, rows):
    """Markdown tables: per size, the cells below RX - 0.01, development scenes, the LOBO choice."""
    backgrounds = sorted({b for b, _ in implant["RX"]})
    names = list(implant)
    out = ["### Implanted targets: mean / worst background AUROC per extent (seeds 0-2)", ""]
    body = []
    for name in names:
        cells = []
        for size in SIZES:
            per_bg = [np.mean(implant[name][(b, size)]) for b in backgrounds]
            cells.append(f"{np.mean(per_bg):.3f} / {min(per_bg):.3f}")
        body.append([name, *cells])
    out += [markdown(body, [f"size {s}" for s in SIZES], row_label="candidate"), ""]
    out += ["### Worst gap to global RX and development scenes (own ground truth)", "",
            "cells below: (background, extent) cells more than 0.01 below RX in the mean over "
            "seeds; on every seed: below RX - 0.01 with each seed; dev: mean over "
            "the development scenes of the mean over seeds, worst scene, and the spread over "
            "seeds of the mean over scenes.", ""]
    body = []
    for name in names:
        gaps = [np.mean(implant[name][c]) - np.mean(implant["RX"][c]) for c in implant[name]]
        per_scene = np.array([dev[name][s] for s in sorted(dev[name])])  # scenes x seeds
        dgaps = per_scene.mean(1) - np.array([np.mean(dev["RX"][s]) for s in sorted(dev[name])])
        seed_means = per_scene.mean(0)
        consistent = sum(bool(np.all(np.subtract(implant[name][c], implant["RX"][c]) < -0.01))
                         for c in implant[name])
        body.append([name, str(sum(g < -0.01 for g in gaps)), str(consistent),
                     f"{min(gaps):+.3f}",
                     f"{per_scene.mean():.4f}", f"{per_scene.mean(1).min():.3f}",
                     f"{seed_means.max() - seed_means.min():.4f}", f"{dgaps.min():+.3f}"])
    out += [markdown(body, ["cells below", "on every seed", "worst implant gap", "dev mean",
                            "dev worst",
                                "dev seed spread", "worst dev gap"], row_label="candidate"), ""]
    for rule, title in [("consistent", "never more than 0.01 below RX on every seed, then "
                                       "the best mean (the rule of the default)"),
                        ("feasible", "never more than 0.01 below RX in the mean over seeds, "
                                     "then the best mean (the previous rule, for comparison)"),
                        ("minimax", "the best worst gap to RX (for comparison)")]:
        out += [f"### Leave one background out: {title}", "",
                "chosen on the other nine backgrounds (and the other development scenes), "
                "reported on the held-out one.", ""]
        body = [[r["held_out"], r["chosen"], f"{r['held_out_mean']:.3f}",
                 f"{r['held_out_rx']:.3f}", f"{r['held_out_worst_gap']:+.3f}",
                 "-" if r["held_out_dev"] is None else f"{r['held_out_dev']:.3f}",
                 "-" if r["held_out_dev_rx"] is None else f"{r['held_out_dev_rx']:.3f}"]
                for r in rows[rule]]
        out += [markdown(body, ["chosen", "implant mean", "RX", "worst gap to RX (sizes)",
                                "own truth", "RX own truth"], row_label="held out"), ""]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="folder for the score maps (reused)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--backgrounds", nargs="+", help="a subset of the backgrounds")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    backgrounds = load_backgrounds(names=args.backgrounds)
    scenes = load_real_scenes([n for n in REAL_SCENES
                               if not args.backgrounds or n in args.backgrounds])
    implant, dev = grade(args.cache, args.seeds, backgrounds, scenes)
    rows = {rule: leave_one_out(implant, dev, rule)
            for rule in ("consistent", "feasible", "minimax")}
    text = tables(implant, dev, rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(dict(
            regs=REGS, fusions=FUSIONS, attributes=ATTRIBUTES,
            attribute_regs=ATTRIBUTE_REGS, attribute_fusions=ATTRIBUTE_FUSIONS, seeds=args.seeds,
            implant={k: {f"{b}|{s}": v for (b, s), v in d.items()} for k, d in implant.items()},
            dev=dev, leave_one_out=rows), indent=1))


if __name__ == "__main__":
    main()
