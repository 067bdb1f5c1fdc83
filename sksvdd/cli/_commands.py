"""The commands of the ``sksvdd`` command line and their helpers.

:mod:`sksvdd.cli` parses the arguments and calls one ``_cmd_*`` function per
command with the parsed namespace; a :class:`CommandError` raised here is
reported as one line on stderr with exit status 1, and ``parser.error``
(``args.parser``) as a usage error with status 2.
"""

import contextlib
import difflib
import importlib.util
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .._atomic import atomic_path, check_writable
from .._utils import final_estimator, image_map, nested_estimators, trained_detector

# The heavy modules (torch through the detector, h5py, joblib, matplotlib) are
# imported inside the commands, so that a usage error fails fast once the
# package import itself is lazy.

# Detector parameters that --param does not accept, with the reason.
_NOT_PARAMS = {
    "random_state": "use --random-state N instead",
    "callbacks": "skorch callbacks cannot be given on the command line; "
                 "build the pipeline in Python instead",
}

# Names users bring from the reference tutorial or other libraries, with the
# sksvdd parameter (and a note) that --param suggests for them.
_PARAM_ALIASES = {
    "alpha": ("center_ema", "the reference tutorial's alpha"),
    "ema": ("center_ema", ""),
    "learning_rate": ("lr", ""),
    "epochs": ("max_epochs", ""),
    "n_epochs": ("max_epochs", ""),
    "quantile": ("contamination", "contamination = 1 - quantile, e.g. 0.005 for 0.995"),
    "threshold": ("contamination", "contamination = 1 - the threshold quantile"),
    "unfreeze": ("freeze_encoder", "unfreeze=true is freeze_encoder=false"),
    "seed": ("--random-state", ""),
}

# The shorter side of a --mask-out image is at least this many pixels: each
# scene pixel becomes a square block (a 100 x 100 mask is otherwise a speck).
_MASK_MIN_SIDE = 400

# detection_report keys shown in the tables.
_METRICS = ("roc_auc", "average_precision", "iou", "precision", "recall")

# Heatmap PNGs are _HEATMAP_INCHES * _HEATMAP_DPI pixels (width, height).
_HEATMAP_INCHES = (6.4, 4.8)
_HEATMAP_DPI = 100


class CommandError(Exception):
    """A failure reported as one line on stderr with exit status 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that it takes the same clean-up path (exit 143)."""


@contextlib.contextmanager
def terminate_as_interrupt():
    """Raise :class:`Terminated` in the main thread on SIGTERM while the block runs.

    Python's default SIGTERM action kills the process at once, leaving
    temporary output files behind; raised as an exception, SIGTERM unwinds
    through :func:`~sksvdd._atomic.atomic_path`, which removes them.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def on_sigterm(signum, frame):
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- #
# Commands
# --------------------------------------------------------------------------- #


def _cmd_demo(args):
    """Fit the default detector and RX on the built-in scene; write model and map."""
    from .. import RXDetector, make_default_detector
    from ..datasets import cube_to_pixels, make_hyperspectral_scene

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out '{out}' is a file; the demo writes into a directory.")
    out.mkdir(parents=True, exist_ok=True)
    with_png = _has_matplotlib()

    scene = make_hyperspectral_scene(
        n_rows=args.size, n_cols=args.size, random_state=args.random_state
    )
    X = cube_to_pixels(scene.cube)
    rows, cols, bands = scene.cube.shape
    _say(args, f"Built-in scene: {rows} x {cols} pixels, {bands} bands, "
               f"{int(scene.mask.sum())} anomaly pixels (random_state={args.random_state}).")

    model = make_default_detector(random_state=args.random_state)
    _say(args, "Fitting Deep SVDD...")
    fit_time = _fit(model, scene.cube, progress=not args.quiet)
    tic = time.perf_counter()
    rx = RXDetector().fit(X)
    rx_time = time.perf_counter() - tic
    _say(args, f"Fitted Deep SVDD in {fit_time:.1f} s ({_epochs(model)}), "
               f"RXDetector in {rx_time:.2f} s.")

    scores, flagged = _score_image(model, scene.cube)
    table = [("sksvdd", _report(scene.mask, scores, flagged)),
             ("RXDetector", _report(scene.mask, -rx.score_samples(X), rx.predict(X) == -1))]
    print()
    print(_format_table(table))
    print()

    model_path = out / "model.sksvdd"
    _dump_model(model, model_path)
    print(f"Wrote {model_path} (the fitted detector; load it with sksvdd.load)")
    if with_png:
        png_path = out / "scores.png"
        _save_heatmap(png_path, scores, scene.mask, "sksvdd")
        print(f"Wrote {png_path} (anomaly score map)")
    else:
        print("Skipped scores.png: matplotlib is not installed (pip install 'sksvdd[plot]').")


def _cmd_fit(args):
    """Fit the default detector on one or several scene files and save it."""
    from .. import make_default_detector

    params = _parse_params(args.param, args.parser)
    low, high = args.bandpass or (None, None)
    bandpass = low is not None or high is not None
    if low is not None and high is not None and low >= high:
        args.parser.error(f"--bandpass: MIN ({low:g}) must be below MAX ({high:g}).")
    for option, masks in (("--normal-mask", args.normal_mask),
                          ("--exclude-mask", args.exclude_mask)):
        if masks and len(masks) != len(args.scenes):
            args.parser.error(
                f"{option} is given {len(masks)} time(s) for {len(args.scenes)} scene(s); "
                "give one mask file per scene, in the order of the scenes.")
    model = make_default_detector(
        spatial=not args.no_spatial, min_wavelength_nm=low, max_wavelength_nm=high,
        random_state=args.random_state, **params,
    )
    _validate_model_params(model, args.parser)
    out = _check_output(args.out, "--out")

    scenes = [_load_scene(path) for path in args.scenes]
    for scene, path in zip(scenes, args.scenes):
        _check_finite(scene.cube, path)
    _check_same_bands(scenes, args.scenes)
    cubes = [scene.cube for scene in scenes]
    masks = {
        name: [_load_mask(spec, cube.shape[:2], option) for spec, cube in zip(specs, cubes)]
        for name, option, specs in (("normal_mask", "--normal-mask", args.normal_mask),
                                    ("exclude_mask", "--exclude-mask", args.exclude_mask))
        if specs
    }
    if bandpass:
        wavelengths = _shared_wavelengths(scenes, args.scenes)
        model.set_params(**{key: wavelengths for key in model.get_params()
                            if key.endswith("bandpass__wavelengths")})
    # The training pixels of each scene, for the messages (the detector selects its own).
    reference = [np.ones(cube.shape[:2], bool) for cube in cubes]
    for i, keep in enumerate(masks.get("normal_mask", [])):
        reference[i] &= keep
    for i, drop in enumerate(masks.get("exclude_mask", [])):
        reference[i] &= ~drop
    n_reference = int(sum(r.sum() for r in reference))
    bands = cubes[0].shape[2]
    names = ", ".join(f"'{scene.name}'" for scene in scenes)
    _say(args, f"Fitting on {n_reference} reference pixels x {bands} bands of {names}...")
    if len(cubes) == 1:  # one image, one (rows, cols) mask each
        X, masks = cubes[0], {name: value[0] for name, value in masks.items()}
    else:
        X = cubes
    fit_time = _fit(model, X, progress=not args.quiet and "verbose" not in params, **masks)
    _dump_model(model, out)
    n_flagged = sum(int(np.sum((model.predict(cube) == -1) & keep))
                    for cube, keep in zip(cubes, reference))
    print(f"Fitted in {fit_time:.1f} s ({_epochs(model)}); the threshold flags {n_flagged} "
          f"of {n_reference} training pixels. Wrote {out}")


def _cmd_score(args):
    """Write the anomaly score image and / or PNGs of a scene."""
    if not (args.out or args.png or args.mask_out):
        args.parser.error("Nothing to write: give --out SCORES.npy, --png MAP.png "
                          "and / or --mask-out MASK.png.")
    if args.out and Path(args.out).suffix.lower() != ".npy":
        hint = (" For a heat map image use --png, for the anomaly mask --mask-out."
                if Path(args.out).suffix.lower() == ".png" else "")
        args.parser.error(f"--out {args.out!r}: the scores are written as a NumPy array; "
                          f"give a name ending in .npy.{hint}")
    out = args.out and _check_output(args.out, "--out")
    png = args.png and _check_output(args.png, "--png")
    mask_out = args.mask_out and _check_output(args.mask_out, "--mask-out")
    if (png or mask_out) and not _has_matplotlib():
        raise CommandError("Writing PNG files needs matplotlib: pip install 'sksvdd[plot]'.")

    model = _load_model(args.model, args.allow_pickle)
    scene = _load_scene(args.scene)
    _check_bands(model, scene.cube, args.scene)
    _check_finite(scene.cube, args.scene)
    shape = scene.cube.shape[:2]
    scores, predicted = _score_image(model, scene.cube)
    if out:
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            np.save(f, scores)
        print(f"Wrote {out}: anomaly scores, shape {shape}, higher = more anomalous "
              f"(range {np.min(scores):.4g} to {np.max(scores):.4g})")
    if png:
        _save_heatmap(png, scores, scene.mask, _model_name(model))
        print(f"Wrote {png} (anomaly score map)")
    if mask_out:
        block = _save_mask(mask_out, predicted)
        print(f"Wrote {mask_out}: predicted anomalies in white "
              f"({int(predicted.sum())} of {predicted.size} pixels; each pixel is a "
              f"{block} x {block} block)")


def _cmd_evaluate(args):
    """Print detection metrics of a model on a scene with ground truth."""
    scene = _load_scene(args.scene)
    if scene.mask is None:
        raise CommandError(
            f"'{args.scene}' has no ground-truth anomaly mask, which evaluate needs "
            "(a 'map', 'mask' or 'gt' variable; for ENVI a '<name>_mask.npy' file)."
        )
    model = _load_model(args.model, args.allow_pickle)
    _check_bands(model, scene.cube, args.scene)
    _check_finite(scene.cube, args.scene)
    report = _report(scene.mask, *_score_image(model, scene.cube))
    rows, cols = scene.mask.shape
    print(f"Scene '{scene.name}': {rows} x {cols} pixels, {int(scene.mask.sum())} anomaly "
          "pixels; predictions at each detector's fitted threshold. RXDetector: global "
          "RX fitted on this scene's bands, as a baseline.")
    print(_format_table([(_model_name(model), report), ("RXDetector", _rx_report(scene))]))


def _cmd_info(args):
    """Describe a scene file (without importing scikit-learn: see _read_scene)."""
    from ..datasets._io import _read_scene

    scene = SimpleNamespace(**_read_scene(args.scene))  # the fields of load_scene's Bunch
    rows, cols, bands = scene.cube.shape
    if scene.wavelengths is None:
        wavelengths = "unknown"
    else:
        wavelengths = (f"{np.min(scene.wavelengths):g} to {np.max(scene.wavelengths):g} nm")
    if scene.mask is None:
        anomalies = "no ground truth"
    else:
        n = int(scene.mask.sum())
        anomalies = f"{n} pixels ({100.0 * n / scene.mask.size:.2f}%)"
    print(f"scene:        {scene.name}")
    print(f"size:         {rows} rows x {cols} cols = {rows * cols} pixels")
    print(f"bands:        {bands}")
    print(f"wavelengths:  {wavelengths}")
    print(f"anomalies:    {anomalies}")
    print(f"NaN / inf:    {_non_finite_summary(scene.cube) or 'none'}")


# --------------------------------------------------------------------------- #
# --param values
# --------------------------------------------------------------------------- #


def _parse_params(items, parser):
    """Turn ``["name=value", ...]`` into detector parameters, or exit with a usage error."""
    valid = param_names()
    params = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            parser.error(f"--param expects NAME=VALUE, got {item!r}.")
        if name in _NOT_PARAMS:
            parser.error(f"--param {name}: {_NOT_PARAMS[name]}.")
        if name not in valid:
            hint = _suggestion(name, valid)
            parser.error(f"--param: unknown detector parameter {name!r}.{hint} "
                         f"Valid names: {', '.join(valid)}.")
        if name in params:
            parser.error(f"--param {name} is given twice.")
        params[name] = _parse_value(text)
    return params


def param_names():
    """The DeepSVDDDetector parameters that ``--param`` accepts, sorted (imports torch)."""
    from .._svdd._detector import DeepSVDDDetector

    return sorted(set(DeepSVDDDetector().get_params()) - set(_NOT_PARAMS))


def _suggestion(name, valid):
    """" Did you mean ...?" for an unknown --param name: a known alias, else a close name."""
    target, note = _PARAM_ALIASES.get(name.lower(), (None, ""))
    if target is None:
        close = difflib.get_close_matches(name, valid, n=1)
        target = close[0] if close else None
    if target is None:
        return ""
    if target.startswith("--"):
        return f" Use {target} instead."
    return f" Did you mean '{target}'{f' ({note})' if note else ''}?"


def _parse_value(text):
    """Read a --param value as bool, None, int, float or, failing those, text."""
    word = text.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    if word in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def _validate_model_params(model, parser):
    """Report an invalid --param or --bandpass value as a usage error, before any work."""
    from sklearn.utils._param_validation import InvalidParameterError

    estimators = [model] + [
        value for value in model.get_params(deep=True).values()
        if hasattr(value, "_validate_params")
    ]
    for estimator in estimators:
        try:
            estimator._validate_params()
        except InvalidParameterError as exc:
            parser.error(_one_line(exc))


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _fit(model, X, *, progress, **fit_params):
    """Fit ``model`` (an image-level detector) on the image(s) ``X``; return the seconds taken.

    ``fit_params`` (``normal_mask``, ``exclude_mask``) go to ``model.fit``.

    With ``progress``, each Deep SVDD detector inside prints its per-epoch
    table and, on a terminal where tqdm is installed, a skorch progress bar
    per epoch; both go to stderr. Their ``verbose`` and ``callbacks`` are
    restored afterwards (on the fitted clones too), so the saved model
    carries the user's parameters only.

    skorch ends training quietly on Ctrl-C and keeps the partly trained net;
    here an interrupt is re-raised after ``fit`` returns, so that no truncated
    model is saved and the exit status says what happened.
    """
    from .._svdd import DeepSVDDDetector

    interrupted = []
    detectors = [est for est in nested_estimators(model) if isinstance(est, DeepSVDDDetector)]
    saved = []
    with_bar = (progress and sys.stderr.isatty()
                and importlib.util.find_spec("tqdm") is not None)
    for detector in detectors:
        callbacks = [*(detector.callbacks or []),
                     ("stop_when_interrupted", _stop_when_interrupted(interrupted))]
        if with_bar:
            from skorch.callbacks import ProgressBar

            callbacks.append(("progress", ProgressBar()))
        overrides = {"callbacks": callbacks, **({"verbose": 1} if progress else {})}
        saved.append({name: getattr(detector, name) for name in overrides})
        detector.set_params(**overrides)
    tic = time.perf_counter()
    try:
        with _interrupt_watch(interrupted), contextlib.redirect_stdout(sys.stderr):
            model.fit(X, **fit_params)
    except Exception as exc:
        if interrupted:  # e.g. the interrupt surfaced inside a library as another error
            raise (Terminated if signal.SIGTERM in interrupted else KeyboardInterrupt) from exc
        raise
    finally:
        for detector, before in zip(detectors, saved):
            detector.set_params(**before)
        # The fitted clones carry the overrides too; the command line sets the same
        # verbose / callbacks on every Deep SVDD detector, so one saved set fits all.
        for fitted in nested_estimators(model):
            if isinstance(fitted, DeepSVDDDetector) and saved and saved[0]:
                fitted.set_params(**saved[0])
    if interrupted:
        raise Terminated if signal.SIGTERM in interrupted else KeyboardInterrupt
    return time.perf_counter() - tic


def _stop_when_interrupted(interrupted):
    """A skorch callback that ends training at the next batch once ``interrupted`` is set.

    After a Ctrl-C or SIGTERM in one detector's training (which skorch ends
    quietly), the later branches of a fused detector then stop at once too.
    """
    from skorch.callbacks import Callback

    class StopWhenInterrupted(Callback):
        def __init__(self, flag):
            self.flag = flag

        def __deepcopy__(self, memo):  # detectors clone their callbacks: share this one
            return self

        def __reduce__(self):  # the fitted net keeps its callbacks; saved models drop it
            return (_no_callback, ())

        def on_batch_begin(self, net, **kwargs):
            if self.flag:
                raise KeyboardInterrupt  # skorch ends this training quietly

    return StopWhenInterrupted(interrupted)


def _no_callback():
    from skorch.callbacks import Callback

    return Callback()


@contextlib.contextmanager
def _interrupt_watch(interrupted):
    """Record SIGINTs and SIGTERMs in the list ``interrupted``; they still raise.

    skorch ends training quietly on KeyboardInterrupt (and so on
    :class:`Terminated`); the record tells :func:`_fit` to raise it again.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread
        return

    def on_signal(signum, frame):
        interrupted.append(signum)
        if signum == signal.SIGTERM:
            raise Terminated
        signal.default_int_handler(signum, frame)

    previous = {signum: signal.signal(signum, on_signal)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _epochs(model):
    n_iter = getattr(trained_detector(model), "n_iter_", None)
    return "no epochs" if n_iter is None else f"{n_iter} epoch{'s' * (n_iter != 1)}"


def _report(mask, scores, decisions):
    from ..metrics import detection_report

    return detection_report(np.ravel(mask), np.ravel(scores), decisions=np.ravel(decisions))


def _format_table(rows):
    """``[(name, report), ...]`` as a Markdown table, one row per detector."""
    from ..metrics import format_table

    shown = {name: {key: report[key] for key in _METRICS if key in report}
             for name, report in rows}
    return format_table(shown, digits=4, row_label="detector")


def _rx_report(scene):
    """detection_report of global RX fitted on the scene, at its fitted threshold."""
    from .. import RXDetector
    from ..datasets import cube_to_pixels

    X = cube_to_pixels(scene.cube)
    rx = RXDetector().fit(X)
    return _report(scene.mask, -rx.score_samples(X), rx.predict(X) == -1)


def _non_finite_summary(cube):
    """"N pixels hold NaN or inf (in B of BANDS bands: ...)", or "" when all are finite."""
    bad = ~np.isfinite(cube)
    if not bad.any():
        return ""
    pixels = int(bad.any(axis=2).sum())
    bands = np.flatnonzero(bad.any(axis=(0, 1)))
    listed = ", ".join(map(str, bands[:8])) + (", ..." if bands.size > 8 else "")
    n_nan = int(np.isnan(cube).sum())
    return (f"{pixels} of {cube.shape[0] * cube.shape[1]} pixels hold NaN or inf "
            f"({n_nan} NaN and {int(bad.sum()) - n_nan} inf values) in {bands.size} of "
            f"{cube.shape[2]} bands (band indices from 0: {listed})")


def _check_finite(cube, scene_path):
    """One line saying what is not finite and what to do, instead of scikit-learn's text."""
    summary = _non_finite_summary(cube)
    if summary:
        raise CommandError(
            f"In '{scene_path}', {summary}; the detectors need finite values. Mask those "
            "pixels, interpolate them, or drop those bands, then save the scene again."
        )


def _load_scene(path):
    from ..datasets import load_scene

    return load_scene(path)


def _load_mask(spec, shape, option):
    """The ``(rows, cols)`` mask named by ``FILE`` or ``FILE:KEY`` (a .mat / .npz variable)."""
    from ..datasets import load_mask

    path, key = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and not Path(spec).exists() and Path(head).suffix.lower() in (".mat", ".npz"):
        path, key = head, tail
    try:
        return load_mask(path, key=key or None, shape=shape)
    except ValueError as exc:
        raise CommandError(f"{option} {spec}: {_one_line(exc)}") from exc


def _check_same_bands(scenes, paths):
    bands = scenes[0].cube.shape[2]
    for scene, path in zip(scenes[1:], paths[1:]):
        if scene.cube.shape[2] != bands:
            raise CommandError(
                f"'{path}' has {scene.cube.shape[2]} bands but '{paths[0]}' has {bands}; "
                "scenes fitted together must come from the same sensor and band set."
            )


def _shared_wavelengths(scenes, paths):
    """The band wavelengths all scenes carry (--bandpass needs them), or a CommandError."""
    for scene, path in zip(scenes, paths):
        if scene.wavelengths is None:
            raise CommandError(
                f"--bandpass needs band wavelengths, but '{path}' has none. Hint: "
                "store them (in nm) as a 'wavelengths' variable in the .mat/.npz file or "
                "as 'wavelength' in the ENVI header, or fit without --bandpass."
            )
        if not np.allclose(scene.wavelengths, scenes[0].wavelengths):
            raise CommandError(
                f"'{path}' and '{paths[0]}' have different band wavelengths; --bandpass "
                "keeps bands by wavelength, so scenes fitted together must share them."
            )
    return scenes[0].wavelengths


def _load_model(path, allow_pickle=False):
    """The model in ``path``: an sksvdd model file, or a joblib file with ``allow_pickle``."""
    import zipfile

    import joblib

    path = Path(path)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise CommandError(f"Model file '{path}' {what}.")
    if zipfile.is_zipfile(path):
        from .. import load

        try:
            return load(path)
        except ValueError as exc:
            raise CommandError(_one_line(exc)) from exc
    if not allow_pickle:
        raise CommandError(
            f"'{path}' is not an sksvdd model file. If it is a joblib file (e.g. written by "
            "'sksvdd fit --out model.joblib') from a source you trust, pass --allow-pickle: "
            "loading a pickle runs code stored in it."
        )
    try:
        model = joblib.load(path)
    except Exception as exc:  # unpickling raises almost anything on a foreign file
        # The message may quote raw bytes of the file: --debug shows it.
        raise CommandError(
            f"Cannot read the model file '{path}' ({type(exc).__name__}); is it a "
            "model written by 'sksvdd fit'?"
        ) from exc
    if not (hasattr(model, "score_samples") and hasattr(model, "predict")):
        raise CommandError(
            f"'{path}' holds a {type(model).__name__}, not an outlier detector with "
            "score_samples and predict; is it a model written by 'sksvdd fit'?"
        )
    return model


def _check_bands(model, cube, scene_path):
    expected = getattr(model, "n_bands_in_", getattr(model, "n_features_in_", None))
    if expected is not None and expected != cube.shape[2]:
        raise CommandError(
            f"The model was fitted on {expected} bands but '{scene_path}' has "
            f"{cube.shape[2]}; score scenes from the same sensor and band set."
        )


def _score_image(model, cube):
    """``(anomaly scores, predicted anomalies)`` of a cube, as ``(rows, cols)`` images.

    An image-level model (with a ``halo``, such as ImageDetector) takes the
    cube; a pixel-level one (a detector or pipeline saved by other code)
    takes its pixels.
    """
    return -image_map(model, cube, "score_samples"), image_map(model, cube, "predict") == -1


def _model_name(model):
    """The name of a model in tables and plot titles: "sksvdd" for Deep SVDD models, as in demo.

    The default detector, a fusion of branches, and any model whose detector
    is a DeepSVDDDetector (e.g. ``fit --no-spatial``) are "sksvdd"; another
    model is named by its detector's class (e.g. "RXDetector").
    """
    from .._svdd import DeepSVDDDetector

    if hasattr(model, "detectors") or any(
            isinstance(est, DeepSVDDDetector) for est in nested_estimators(model)):
        return "sksvdd"
    return type(final_estimator(model)).__name__


def _check_output(path, option):
    """Fail before any work if ``path`` cannot be written; return it as a Path."""
    path = Path(path)
    try:
        if path.is_dir():
            raise CommandError(f"{option} '{path}' is a directory; give a file name.")
        if not path.parent.is_dir():
            raise CommandError(
                f"{option} '{path}': the directory '{path.parent}' does not exist.")
        # Writes and removes a temporary file: catches read-only file systems,
        # permissions and names over the length limit before hours of work.
        check_writable(path)
    except OSError as exc:  # e.g. "File name too long" from is_dir itself
        reason = exc.strerror or str(exc)
        raise CommandError(f"{option} '{path}' cannot be written: {reason}.") from exc
    return path


# Output names that ask for a joblib (pickle) file; anything else is an sksvdd model file.
_PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def _dump_model(model, path):
    """Write ``model`` atomically: sksvdd's safe format, or joblib for a pickle file name."""
    if Path(path).suffix.lower() not in _PICKLE_SUFFIXES:
        from .. import save

        save(model, path)
        return
    import joblib

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        joblib.dump(model, f)


def _save_heatmap(path, scores, mask, name):
    """Write the (rows, cols) anomaly scores as a PNG heatmap, outlining ``mask``."""
    from matplotlib.figure import Figure

    from ..plotting import ScoreMapDisplay

    # A bare Figure, not pyplot: no global figure state, no GUI backend needed.
    fig = Figure(figsize=_HEATMAP_INCHES, dpi=_HEATMAP_DPI, layout="constrained")
    ScoreMapDisplay.from_predictions(scores, mask=mask, name=name, ax=fig.add_subplot())
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=_HEATMAP_DPI)


def _save_mask(path, predicted):
    """Write a boolean (rows, cols) image as a black and white PNG; return the block size.

    Each pixel becomes a ``block x block`` square, the smallest that makes the
    shorter side at least ``_MASK_MIN_SIDE`` pixels, so that a small scene's
    mask is viewable; ``png[::block, ::block]`` gives the mask back.
    """
    import matplotlib.image

    block = max(1, -(-_MASK_MIN_SIDE // max(1, min(predicted.shape))))
    image = np.kron(predicted.astype(np.float64), np.ones((block, block)))
    with atomic_path(path) as tmp:
        matplotlib.image.imsave(tmp, image, cmap="gray", vmin=0, vmax=1)
    return block


def _has_matplotlib():
    return importlib.util.find_spec("matplotlib") is not None


def _say(args, message):
    """Print a progress message unless --quiet."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def _one_line(exc):
    """An exception's message on one line, starting with a capital like the CLI's own."""
    message = re.sub(r"\s*\n\s*", " ", str(exc)).strip()
    if message[:1].islower():
        message = message[0].upper() + message[1:]
    return message or type(exc).__name__
