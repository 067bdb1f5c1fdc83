"""The reference workflow: learn normal from clean reference pixels, inspect new pixels.

How an inspection line uses a detector (and how the reference tutorial behind
sksvdd's design measures it): fit on data known to be normal, then flag new
images at the threshold fitted on that reference. Two protocols on the
development scenes (``../shared/data/hsi``; without them, synthetic scenes
with a note):

- **halves**: each scene is cut into its left and right halves (columns
  ``[:w // 2]`` and ``[w // 2:]``); a detector is fitted on the *normal*
  pixels of one half (its annotated anomalies removed: a clean reference)
  and scores the other half; both directions; only scenes whose two halves
  both hold anomalies.
- **multi-image**: scenes of one sensor that share their bands
  (abu-airport-1/2/3, 205 bands; abu-beach-1/3, 188 bands): fitted on the
  normal pixels of all but one, scoring the held-out scene.

Threshold: sksvdd detectors use their own fitted threshold (``predict``);
the baselines flag pixels above the 0.995 quantile of their anomaly scores
on the reference pixels (the tutorial's rule). Metrics per held-out image:
pixel AUROC and AP (threshold-free), pixel IoU, precision and recall at the
threshold, object detection rate (connected ground-truth regions with at
least one flagged pixel, 8-connectivity) and false alarms (flagged regions
touching no ground truth) per image; see :mod:`sksvdd.metrics`. Over three
seeds; tables give the mean over cases and seeds, the worst case (of the
seed means) and the seed spread (max - min over seeds of the mean over
cases).

Detectors: ``sksvdd-reference`` is ``sksvdd.make_reference_pipeline`` with
``random_state=seed`` (and any ``--reference-param``) where sksvdd has it,
else a stand-in ``DeepSVDDDetector`` with the README's settings for clean
data (``STAND_IN``; ``--reference-param`` overrides them); the tables say
which. ``DeepSVDD-defaults`` is ``DeepSVDDDetector(random_state=seed)``;
``sksvdd-fused`` is the image-level default (``make_default_detector``,
spatial context included) fitted on the whole reference images with
``exclude_mask``; RX; IsolationForest (``contamination=0.005``);
OneClassSVM (standardised, nu=0.1, a 2000-pixel subsample, as in
``../shared/data/README.md``); PyOD's DeepSVDD (20 epochs, batch 256;
skipped with a note when pyod is not installed: ``pip install pyod``).

Usage (from the repository root)::

    OMP_NUM_THREADS=1 python benchmarks/reference.py --quick        # about a minute
    OMP_NUM_THREADS=1 python benchmarks/reference.py --json --markdown
    python benchmarks/reference.py --from-json benchmarks/results/reference.json
"""

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import sksvdd
from quality import REAL_SCENES, SHARED_HSI, _has_pyod
from sksvdd import DeepSVDDDetector, RXDetector, make_default_detector
from sksvdd.datasets import load_scene, make_hyperspectral_scene
from sksvdd.metrics import detection_report, format_table, object_detection_report

RESULTS = Path(__file__).resolve().parent / "results"
QUANTILE = 0.995
SEEDS = (0, 1, 2)
# Until sksvdd has make_reference_pipeline: the README's advice for clean data.
STAND_IN = {"lr": 1e-3, "max_epochs": 50, "trim_fraction": 0.0, "patience": 10}
# Scenes of one sensor sharing their band count (see ../shared/data/README.md).
GROUPS = {
    "abu-airport (205 bands)": ["abu-airport-1", "abu-airport-2", "abu-airport-3"],
    "abu-beach (188 bands)": ["abu-beach-1", "abu-beach-3"],
}
METRICS = ("roc_auc", "average_precision", "iou", "precision", "recall",
           "detection_rate", "false_alarms")
LOWER_IS_BETTER = ("false_alarms", "fit_s")
LABELS = {"roc_auc": "AUROC", "average_precision": "AP", "iou": "IoU",
          "precision": "Precision", "recall": "Recall", "detection_rate": "Det. rate",
          "false_alarms": "FA / image", "fit_s": "fit s"}


@dataclass
class Case:
    """One evaluation: fit on the normal pixels of ``train``, score ``test``."""

    protocol: str
    name: str
    train: list  # of (cube, mask) pairs
    test: tuple  # (cube, mask)


def split_halves(cube, mask):
    """Left and right halves ``(cube, mask)`` of a scene: columns ``[:w // 2]``, ``[w // 2:]``."""
    w = cube.shape[1] // 2
    return (cube[:, :w], mask[:, :w]), (cube[:, w:], mask[:, w:])


def halves_cases(scenes):
    """Both directions of every scene whose two halves hold anomalies."""
    for name, (cube, mask) in scenes.items():
        left, right = split_halves(cube, mask)
        if left[1].any() and right[1].any():
            yield Case("halves", f"{name} L->R", [left], right)
            yield Case("halves", f"{name} R->L", [right], left)


def multi_image_cases(scenes, groups=GROUPS):
    """Each scene of a group held out in turn, the others of the group as reference."""
    for members in groups.values():
        present = [m for m in members if m in scenes]
        for held in present:
            train = [scenes[m] for m in present if m != held]
            if train:
                yield Case("multi-image", held, train, scenes[held])


# --------------------------------------------------------------------------- detectors


class PixelModel:
    """A pixel-level detector fitted on the reference pixels of the training images.

    ``own_threshold``: flags are ``predict == -1`` (the detector's fitted
    threshold); otherwise pixels whose anomaly score is above the
    ``QUANTILE`` quantile of the reference pixels' scores. ``subsample``:
    fit on that many random reference pixels (the threshold still from all).
    """

    def __init__(self, estimator, *, own_threshold, subsample=None, seed=0):
        self.estimator, self.own_threshold = estimator, own_threshold
        self.subsample, self.seed = subsample, seed

    def fit(self, train):
        X = np.concatenate([cube[~mask] for cube, mask in train])
        fit_X = X
        if self.subsample is not None and len(X) > self.subsample:
            rng = np.random.RandomState(self.seed)
            fit_X = X[rng.choice(len(X), self.subsample, replace=False)]
        self.estimator.fit(fit_X)
        if not self.own_threshold:
            self.threshold_ = np.quantile(-self.estimator.score_samples(X), QUANTILE)
        return self

    def score(self, cube):
        """``(anomaly scores, flagged)`` as ``(rows, cols)`` maps."""
        X = cube.reshape(-1, cube.shape[2])
        anomaly = -np.asarray(self.estimator.score_samples(X), dtype=np.float64)
        if self.own_threshold:
            flagged = np.asarray(self.estimator.predict(X)) == -1
        else:
            flagged = anomaly > self.threshold_
        return anomaly.reshape(cube.shape[:2]), flagged.reshape(cube.shape[:2])


class ImageModel:
    """An image-level sksvdd detector fitted on whole images with ``exclude_mask``."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, train):
        self.estimator.fit([cube for cube, _ in train], exclude_mask=[mask for _, mask in train])
        return self

    def score(self, cube):
        return -self.estimator.score_samples(cube), self.estimator.predict(cube) == -1


class PyODScores:
    """PyOD's DeepSVDD with scikit-learn's sign: ``score_samples`` higher = more normal."""

    def __init__(self, seed, **params):
        self.seed, self.params = seed, params

    def fit(self, X):
        from pyod.models.deep_svdd import DeepSVDD

        self.model_ = DeepSVDD(n_features=X.shape[1], verbose=0, random_state=self.seed,
                               contamination=1 - QUANTILE, **self.params).fit(X)
        return self

    def score_samples(self, X):
        return -self.model_.decision_function(X)  # PyOD: higher = more anomalous


def reference_detector(seed, params):
    """``make_reference_pipeline`` where sksvdd has it, else the configured stand-in."""
    factory = getattr(sksvdd, "make_reference_pipeline", None)
    if factory is not None:
        return factory(random_state=seed, **params)
    return DeepSVDDDetector(random_state=seed, **{**STAND_IN, **params})


def reference_label(params):
    if hasattr(sksvdd, "make_reference_pipeline"):
        return f"sksvdd.make_reference_pipeline(random_state=seed, **{params})"
    return f"stand-in: DeepSVDDDetector(random_state=seed, **{ {**STAND_IN, **params} })"


# name -> factory(seed, reference_params) returning a PixelModel or an ImageModel.
DETECTORS = {
    "sksvdd-reference": lambda seed, p: PixelModel(reference_detector(seed, p),
                                                   own_threshold=True),
    "DeepSVDD-defaults": lambda seed, p: PixelModel(DeepSVDDDetector(random_state=seed),
                                                    own_threshold=True),
    "sksvdd-fused": lambda seed, p: ImageModel(make_default_detector(random_state=seed)),
    "RX": lambda seed, p: PixelModel(RXDetector(), own_threshold=False),
    "IsolationForest": lambda seed, p: PixelModel(
        IsolationForest(contamination=1 - QUANTILE, random_state=seed), own_threshold=False),
    "OneClassSVM": lambda seed, p: PixelModel(
        make_pipeline(StandardScaler(), OneClassSVM(nu=0.1, gamma="scale")),
        own_threshold=False, subsample=2000, seed=seed),
    "PyOD-DeepSVDD": lambda seed, p: PixelModel(
        PyODScores(seed, epochs=20, batch_size=256), own_threshold=False),
}


# Detectors without randomness: fitted once, under the first seed.
DETERMINISTIC = {"RX"}

# --------------------------------------------------------------------------- running


def evaluate(model, case):
    """Fit ``model`` on the case's reference, score its test image; return the metrics."""
    start = time.perf_counter()
    model.fit(case.train)
    fit_s = time.perf_counter() - start
    cube, mask = case.test
    anomaly, flagged = model.score(cube)
    report = detection_report(mask, anomaly, decisions=flagged)
    objects = object_detection_report(mask, flagged)
    return {**{k: report[k] for k in METRICS if k in report},
            "detection_rate": objects["detection_rate"],
            "false_alarms": objects["false_alarms"], "fit_s": fit_s}


def run(cases, detectors, seeds, reference_params=None, log=print):
    """Records ``{protocol, case, detector, seed, <metrics>}`` for every combination."""
    reference_params = reference_params or {}
    records = []
    for case in cases:
        for name in detectors:
            for seed in (seeds[:1] if name in DETERMINISTIC else seeds):
                metrics = evaluate(DETECTORS[name](seed, reference_params), case)
                records.append(dict(protocol=case.protocol, case=case.name, detector=name,
                                    seed=seed, **metrics))
                log(f"{case.protocol:11s} {case.name:20s} {name:17s} seed={seed} "
                    f"AUROC={metrics['roc_auc']:.3f} IoU={metrics['iou']:.3f} "
                    f"det={metrics['detection_rate']:.2f} FA={metrics['false_alarms']:.0f} "
                    f"fit={metrics['fit_s']:.1f}s")
    return records


def summarize(records, metrics=METRICS):
    """Per detector: mean over cases and seeds, worst case, seed spread (for AUROC and IoU).

    The worst case is the lowest (highest for false alarms) of the per-case
    means over seeds; the seed spread is max - min over seeds of the mean
    over cases.
    """
    table = {}
    for detector in dict.fromkeys(r["detector"] for r in records):
        rows = [r for r in records if r["detector"] == detector]
        cases = list(dict.fromkeys(r["case"] for r in rows))
        seeds = list(dict.fromkeys(r["seed"] for r in rows))
        row = {}
        for metric in metrics:
            per_case = [np.mean([r[metric] for r in rows if r["case"] == c]) for c in cases]
            per_seed = [np.mean([r[metric] for r in rows if r["seed"] == s]) for s in seeds]
            row[LABELS[metric]] = float(np.mean(per_case))
            if metric in ("roc_auc", "iou"):
                worst = max if metric in LOWER_IS_BETTER else min
                row[f"{LABELS[metric]} worst"] = float(worst(per_case))
                row[f"{LABELS[metric]} seed spread"] = float(np.ptp(per_seed))
        table[detector] = row
    return table


def per_case_table(records, metric):
    """Cases as rows, detectors as columns: the metric's mean over seeds."""
    detectors = list(dict.fromkeys(r["detector"] for r in records))
    table = {}
    for case in dict.fromkeys(r["case"] for r in records):
        table[case] = {d: float(np.mean([r[metric] for r in records
                                         if r["case"] == case and r["detector"] == d]))
                       for d in detectors}
    return table


def merge(results):
    """One result from several runs (e.g. one per protocol): records joined, configs listed."""
    if len(results) == 1:
        return results[0]
    configs = [r["config"] for r in results]
    config = dict(configs[0])
    config["command"] = "`; `".join(c["command"] for c in configs)
    config["wall_s"] = sum(c["wall_s"] for c in configs)
    return {"config": config, "records": [rec for r in results for rec in r["records"]]}


def tables(result):
    """The Markdown report of a run (or of its JSON)."""
    config = result["config"]
    parts = [f"Command: `{config['command']}`\n",
             f"Seeds: {config['seeds']}; `sksvdd-reference` = {config['reference']}; "
             f"data: {config['data']}; wall time {config['wall_s']:.0f} s (fit s: seconds "
             "per fit on the machine of the run).\n"]
    for protocol in dict.fromkeys(r["protocol"] for r in result["records"]):
        records = [r for r in result["records"] if r["protocol"] == protocol]
        n_cases = len(set(r["case"] for r in records))
        summary = summarize(records, METRICS + ("fit_s",))
        parts.append(f"### {protocol} ({n_cases} cases): mean over cases and seeds\n\n"
                     f"{format_table(summary, row_label='detector')}\n")
        for metric in ("roc_auc", "iou"):
            parts.append(f"#### {protocol}: {LABELS[metric]} per case (mean over seeds)\n\n"
                         f"{format_table(per_case_table(records, metric), row_label='case')}\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- data


def load_scenes(names=REAL_SCENES, crop=None):
    """Development scenes ``{name: (cube, mask)}`` and their groups of shared bands.

    Without ``../shared/data/hsi``: synthetic scenes, with a note.
    """
    if not SHARED_HSI.is_dir():
        print(f"note: {SHARED_HSI} not found; measuring synthetic scenes instead")
        scenes = synthetic_scenes()
        return scenes, {"synthetic": list(scenes)}
    scenes = {}
    for name in names:
        scene = load_scene(SHARED_HSI / f"{name}.mat")
        cube, mask = scene.cube, scene.mask
        if crop is not None:
            cube, mask = cube[:crop, :crop], mask[:crop, :crop]
        scenes[name] = (cube, mask)
    return scenes, GROUPS


def synthetic_scenes(n=3, size=40):
    """``n`` built-in scenes of one sensor (same bands): ``{name: (cube, mask)}``."""
    scenes = {}
    for seed in range(n):
        scene = make_hyperspectral_scene(n_rows=size, n_cols=size, random_state=seed)
        scenes[f"synthetic-{seed}"] = (scene.cube, scene.mask)
    return scenes


def _parse_params(items):
    from sksvdd.cli._commands import _parse_value

    params = {}
    for item in items:
        name, _, value = item.partition("=")
        params[name.strip()] = _parse_value(value)
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS),
                        choices=list(DETECTORS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--protocols", nargs="+", default=["halves", "multi-image"],
                        choices=["halves", "multi-image"])
    parser.add_argument("--reference-param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of sksvdd-reference (make_reference_pipeline, or the "
                             "DeepSVDDDetector stand-in), repeatable")
    parser.add_argument("--quick", action="store_true",
                        help="scenes cropped to 60x60, one seed, RX and the Deep SVDD entries")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--json", type=Path, nargs="?", const=RESULTS / "reference.json",
                        help="write the records and tables as JSON (default path: %(const)s)")
    parser.add_argument("--markdown", type=Path, nargs="?", const=RESULTS / "reference.md",
                        help="write the tables as Markdown (default path: %(const)s)")
    parser.add_argument("--from-json", type=Path, nargs="+",
                        help="render earlier --json files (several, e.g. one per protocol: "
                             "merged, and with --json the merge is written)")
    args = parser.parse_args(argv)
    if args.from_json:
        result = merge([json.loads(path.read_text()) for path in args.from_json])
    else:
        torch.set_num_threads(args.threads)
        crop = None
        if args.quick:
            crop, args.seeds = 60, args.seeds[:1]
            if args.detectors == list(DETECTORS):
                args.detectors = ["sksvdd-reference", "DeepSVDD-defaults", "RX"]
        if "PyOD-DeepSVDD" in args.detectors and not _has_pyod():
            print("note: pyod is not installed (pip install pyod); skipping PyOD-DeepSVDD")
            args.detectors.remove("PyOD-DeepSVDD")
        reference_params = _parse_params(args.reference_param)
        scenes, groups = load_scenes(crop=crop)
        cases = []
        if "halves" in args.protocols:
            cases += list(halves_cases(scenes))
        if "multi-image" in args.protocols:
            cases += list(multi_image_cases(scenes, groups))
        start = time.perf_counter()
        records = run(cases, args.detectors, args.seeds, reference_params)
        result = {"config": dict(
            command=" ".join(["python benchmarks/reference.py",
                              *(sys.argv[1:] if argv is None else argv)]),
            seeds=args.seeds, detectors=args.detectors,
            reference=reference_label(reference_params),
            data="synthetic" if not SHARED_HSI.is_dir() else (
                f"development scenes{' cropped to 60x60' if crop else ''}"),
            wall_s=time.perf_counter() - start, torch=torch.__version__,
            sksvdd=sksvdd.__version__,
        ), "records": records}
    text = tables(result)
    print("\n" + text)
    if args.json:
        result["tables"] = text
        args.json.write_text(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
