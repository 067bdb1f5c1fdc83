"""Detection quality per scene: sksvdd's default pipeline against RX (and more).

Fits every detector on each scene's own pixels (unsupervised, anomalies
included, as in practice) and scores the same pixels; the ground truth is used
only for the metrics. Scenes: the nine public scenes of the README's table, read from
``../shared/data/hsi`` where the team's copies are, else fetched with
``sksvdd.datasets.fetch_scene`` (``fetch_abu``, ``fetch_san_diego``, ``fetch_hydice``;
downloaded once into ``sksvdd.datasets.get_data_home()``, extra ``sksvdd[data]``; skipped
with a note where they can be neither read nor downloaded), and the built-in scene.

Usage (from the repository root)::

    python benchmarks/quality.py                      # print the table
    python benchmarks/quality.py --json benchmarks/results/quality.json \
        --markdown benchmarks/results/quality.md
    python benchmarks/quality.py --from-json benchmarks/results/quality.json  # tables only

Metrics are computed per scene and averaged over scenes (HSI papers' macro
average); IoU / precision / recall are at each detector's fitted threshold
(``predict == -1``, ``contamination=0.005``).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from sklearn.pipeline import make_pipeline

from sksvdd import (
    DeepSVDDDetector,
    DualWindowResidual,
    FusionDetector,
    ImageDetector,
    PerPixelUnitNorm,
    RXDetector,
    make_default_detector,
)
from sksvdd.datasets import cube_to_pixels, fetch_scene, make_hyperspectral_scene
from sksvdd.metrics import detection_report, format_table

SHARED_HSI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hsi"
# The development scenes with pixel ground truth (HYDICE1.mat duplicates hydice.mat).
REAL_SCENES = [
    "abu-airport-1", "abu-airport-2", "abu-airport-3", "abu-airport-4",
    "abu-beach-1", "abu-beach-2", "abu-beach-3", "sandiego", "hydice",
]


def load_real(name):
    """A public scene by name: the team's copy where present, else fetched (and cached)."""
    return fetch_scene(name, data_home=SHARED_HSI if SHARED_HSI.is_dir() else None)


def load_real_scenes(names=tuple(REAL_SCENES)):
    """``{name: scene}``, or ``{}`` with a note when they can be neither read nor fetched."""
    try:
        return {name: load_real(name) for name in names}
    except (ImportError, OSError) as exc:  # no pooch; offline (ConnectionError)
        print(f"note: the real scenes are not available ({exc}); only the built-in scene "
              "is measured")
        return {}

class _Subsampled:
    """Fit ``estimator`` on ``n`` random pixels, score all (for detectors that do not scale)."""

    def __init__(self, estimator, n, random_state=0):
        self.estimator, self.n, self.random_state = estimator, n, random_state

    def fit(self, X):
        rng = np.random.RandomState(self.random_state)
        idx = rng.choice(len(X), size=min(self.n, len(X)), replace=False)
        self.estimator.fit(X[idx])
        return self

    def score_samples(self, X):
        return self.estimator.score_samples(X)

    def predict(self, X):
        return self.estimator.predict(X)


class _PyODDeepSVDD:
    """PyOD's DeepSVDD behind the scikit-learn outlier sign conventions."""

    def __init__(self, **params):
        self.params = params

    def fit(self, X):
        from pyod.models.deep_svdd import DeepSVDD

        self.model = DeepSVDD(n_features=X.shape[1], verbose=0, random_state=0,
                              contamination=0.005, **self.params).fit(X)
        return self

    def score_samples(self, X):
        return -self.model.decision_function(X)  # PyOD: higher = more anomalous

    def predict(self, X):
        return np.where(self.model.predict(X) == 1, -1, 1)  # PyOD: 1 = outlier


def _has_pyod():
    try:
        import pyod  # noqa: F401
    except ImportError:
        return False
    return True


def _residual(background="median", **params):
    """The residual detector alone (the default before 0.2, now its ``residual`` branch)."""
    return ImageDetector(spatial=DualWindowResidual(background=background),
                         detector=DeepSVDDDetector(random_state=0, **params))


# Image-level detectors (ImageDetector, with a ``halo``) are fitted on and score the
# cube; pixel-level ones its pixels.
DETECTORS = {
    "sksvdd": lambda: make_default_detector(random_state=0),
    "sksvdd-residual": lambda: _residual(),
    "sksvdd-notrim": lambda: _residual(trim_fraction=0),
    "sksvdd-ringmean": lambda: _residual(background="mean"),
    "sksvdd-spectral": lambda: make_default_detector(spatial=False, random_state=0),
    # The previous default: spectral branch (whiten_reg=1e-2) and residual branch, mean.
    "sksvdd-two-branch": lambda: FusionDetector([
        ("spectral", ImageDetector(detector=DeepSVDDDetector(
            encoder="whiten", whiten_reg=1e-2, max_epochs=0, random_state=0))),
        ("residual", _residual())], fusion="mean"),
    "sksvdd-whiten": lambda: ImageDetector(
        detector=DeepSVDDDetector(encoder="whiten", random_state=0)),
    "sksvdd-unitnorm": lambda: make_pipeline(
        PerPixelUnitNorm(), DeepSVDDDetector(random_state=0)),
    "sksvdd-phase1": lambda: _residual(max_epochs=0),
    "RX": lambda: RXDetector(),
    "IsolationForest": lambda: IsolationForest(random_state=0),
    # As in ../shared/data/README.md: nu=0.1, standardised, fitted on a 2000-pixel subsample.
    "OneClassSVM": lambda: _Subsampled(
        make_pipeline(StandardScaler(), OneClassSVM(nu=0.1, gamma="scale")), 2000),
    # Optional extra (pip install pyod); 20 epochs, batch 256 as in the data README.
    "PyOD-DeepSVDD": lambda: _PyODDeepSVDD(epochs=20, batch_size=256),
}


def fit_score(est, cube):
    """Fit ``est`` on the scene and return (anomaly scores, flagged) per pixel, row-major."""
    if hasattr(est, "halo"):  # image level
        est.fit(cube)
        return -est.score_samples(cube).ravel(), (est.predict(cube) == -1).ravel()
    X = cube_to_pixels(cube)
    est.fit(X)
    return -est.score_samples(X), est.predict(X) == -1


def scenes():
    """Yield (name, cube, anomaly labels in row-major order)."""
    for name, scene in load_real_scenes().items():
        yield name, scene.cube, scene.mask.ravel()
    scene = make_hyperspectral_scene(random_state=0)
    yield "builtin", scene.cube, scene.mask.ravel()


def run(detectors):
    results = {name: {} for name in detectors}
    for scene, cube, y in scenes():
        for name in detectors:
            est = DETECTORS[name]()
            start = time.perf_counter()
            scores, flagged = fit_score(est, cube)
            fit_s = time.perf_counter() - start
            report = detection_report(y, scores, decisions=flagged)
            report["fit_s"] = fit_s
            results[name][scene] = report
            print(f"{scene:15s} {name:15s} AUROC={report['roc_auc']:.4f} "
                  f"AP={report['average_precision']:.4f} fit={fit_s:.2f}s", flush=True)
    return results


def summary_table(results, metric="roc_auc"):
    """Scenes as rows, detectors as columns, plus mean and worst real-scene rows."""
    names = list(results)
    scene_names = list(next(iter(results.values())))
    table = {scene: {n: results[n][scene][metric] for n in names} for scene in scene_names}
    real = [s for s in scene_names if s != "builtin"] or scene_names
    table["mean (real scenes)"] = {n: float(np.mean([table[s][n] for s in real])) for n in names}
    worst = np.max if metric == "fit_s" else np.min  # times: the slowest is the worst
    table["worst (real scenes)"] = {n: float(worst([table[s][n] for s in real])) for n in names}
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=list(DETECTORS))
    parser.add_argument("--json", type=Path, help="write all per-scene metrics as JSON")
    parser.add_argument("--markdown", type=Path, help="write the AUROC / AP tables as Markdown")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads and, through joblib.parallel_config, the "
                             "detectors' n_jobs (default 2)")
    parser.add_argument("--from-json", type=Path,
                        help="render the tables of an earlier run's --json file instead of running")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        torch.set_num_threads(args.threads)
        if "PyOD-DeepSVDD" in args.detectors and not _has_pyod():
            print("note: pyod is not installed (pip install pyod); skipping PyOD-DeepSVDD")
            args.detectors.remove("PyOD-DeepSVDD")
        import joblib

        with joblib.parallel_config(n_jobs=args.threads):  # n_jobs=None follows it
            results = run(args.detectors)
    parts = []
    for metric, title in [("roc_auc", "Pixel ROC AUC"), ("average_precision", "Average precision"),
                          ("iou", "IoU at the fitted threshold"),
                          ("precision", "Precision at the fitted threshold"),
                          ("recall", "Recall at the fitted threshold"),
                          ("fit_s", "Fit + score time (s)")]:
        parts.append(f"### {title}\n\n{format_table(summary_table(results, metric), digits=4)}\n")
    text = "\n".join(parts)
    print("\n" + text)
    if args.json and not args.from_json:
        args.json.write_text(json.dumps(results, indent=2))
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
