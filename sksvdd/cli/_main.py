"""Argument parsing and dispatch of the ``sksvdd`` command (documented in the package)."""

import argparse
import importlib
import importlib.util  # noqa: F401 - the tests patch importlib.util.find_spec via cli
import sys
import traceback

from .. import _startup
from ._commands import (  # noqa: F401 - _HEATMAP_* and _parse_value: used by the tests
    _HEATMAP_DPI,
    _HEATMAP_INCHES,
    CommandError,
    Terminated,
    _cmd_demo,
    _cmd_evaluate,
    _cmd_fit,
    _cmd_info,
    _cmd_score,
    _has_matplotlib,
    _one_line,
    _parse_value,
    param_names,
    terminate_as_interrupt,
)

# The heavy modules (torch through the detector, h5py, joblib, matplotlib) are
# imported inside the commands, so that a usage error fails fast once the
# package import itself is lazy.

PROG = "sksvdd"

_MIN_DEMO_SIZE = 10


def main(argv=None):
    """Run the ``sksvdd`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 1 on failure, 2 on a usage error, 130 when interrupted
        (SIGINT, Ctrl-C), 143 when terminated (SIGTERM).

    Notes
    -----
    ``--help`` and ``info`` import neither torch nor scikit-learn (the
    package's names are lazy), so they answer in a fraction of a second;
    the detector is imported by the commands that fit or load one.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> from sksvdd.cli import main
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.npz"
    ...     np.savez(path, data=np.ones((4, 5, 3)), map=np.eye(4, 5))
    ...     main(["info", str(path)])
    scene:        tiny
    size:         4 rows x 5 cols = 20 pixels
    bands:        3
    wavelengths:  unknown
    anomalies:    4 pixels (20.00%)
    NaN / inf:    none
    0
    """
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
        _preload(args)
    except SystemExit as exc:  # --help, --version and usage errors
        return _exit_status(exc)
    except KeyboardInterrupt:  # e.g. while `fit --help` imports the detector
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        _startup.end()  # from here on, Ctrl-C raises KeyboardInterrupt
    try:
        with terminate_as_interrupt():
            args.handler(args)
    except SystemExit as exc:  # a usage error found by a command (parser.error)
        return _exit_status(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM raised as Terminated
        if args.debug:
            traceback.print_exc()
        terminated = isinstance(exc, Terminated)
        print(f"{PROG}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except Exception as exc:  # noqa: BLE001 - the CLI's one place that reports failures
        if args.debug:
            traceback.print_exc()
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _preload(args):
    """Import what the command will need while _startup's quiet handlers still run.

    ``import sksvdd`` is light (lazy names), so torch, skorch, scikit-learn
    and matplotlib are imported by the commands. Imported here, before
    :func:`_startup.end`, a Ctrl-C during those seconds ends the command
    with one line and status 130, as during ``import sksvdd`` itself. Left to
    the commands, a KeyboardInterrupt raised inside an import (in the
    ``exec`` of a dataclass, for one) can make CPython exit by SIGINT (status
    -2) even though :func:`main` catches it. ``info`` needs none of them.
    """
    if args.command == "info":
        return
    names = ["sksvdd._defaults", "sksvdd._persistence", "sksvdd._rx", "sksvdd.metrics"]
    if (args.command == "demo" or getattr(args, "png", None)
            or getattr(args, "mask_out", None)) and _has_matplotlib():
        names += ["matplotlib.figure", "matplotlib.image", "sksvdd.plotting"]
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:  # the command reports a missing dependency itself
            pass


# --------------------------------------------------------------------------- #
# Argument parsing
# --------------------------------------------------------------------------- #


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be a function, called only to show the help.

    ``sksvdd fit --help`` lists the detector's parameter names, which takes
    importing the detector (torch, seconds); no other use of the parser does.
    """

    def format_help(self):
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()


def _param_epilog():
    return "Parameter names for --param: " + ", ".join(param_names()) + "."


def _build_parser():
    from .. import __version__

    # --debug is accepted before and after the command; SUPPRESS keeps a
    # subcommand's default from overwriting `sksvdd --debug COMMAND`.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback when the command fails")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true",
                       help="no progress output, only the results")

    parser = _Parser(
        prog=PROG,
        description="Deep SVDD anomaly detection for hyperspectral images.",
        epilog="Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted (Ctrl-C), "
               "143 terminated (SIGTERM). Run 'sksvdd COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback when the command fails")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    def add(name, handler, help, parents=(debug,), epilog=None):
        sub = commands.add_parser(name, help=help, description=help, parents=list(parents),
                                  epilog=epilog)
        sub.set_defaults(handler=handler, parser=sub)
        return sub

    demo = add("demo", _cmd_demo, "Fit sksvdd and RX on the built-in synthetic scene, "
               "print their metrics and write the model and a score map.", (debug, quiet))
    demo.add_argument("--out", default="sksvdd-demo", metavar="DIR",
                      help="output directory, created if needed (default: %(default)s)")
    demo.add_argument("--size", type=_int_at_least(_MIN_DEMO_SIZE), default=100, metavar="N",
                      help="the scene is N x N pixels (default: %(default)s)")
    demo.add_argument("--random-state", type=_seed, default=0, metavar="N",
                      help="seed of the scene and the model (default: %(default)s)")

    fit = add("fit", _cmd_fit, "Fit the default detector (robust RX-based Deep SVDD on the "
              "spectra, fused with a whitened distance on area-attribute residuals and Deep "
              "SVDD on the dual-window residual) on one or several scenes and save it.",
              (debug, quiet), epilog=_param_epilog)
    fit.add_argument("scenes", nargs="+", metavar="SCENE",
                     help="scene file(s) (.mat, .npz, .npy or ENVI .hdr); several scenes must "
                          "have the same bands, and are learnt from together")
    fit.add_argument("--normal-mask", action="append", default=[], metavar="FILE[:KEY]",
                     help="pixels known to be normal, the only ones fitted on (a clean "
                          "reference): a (rows, cols) .npy (nonzero = normal), a .png (white = "
                          "normal) or a .mat / .npz variable (FILE:KEY; without KEY its map / "
                          "mask / gt variable). Give it once per SCENE, in the same order")
    fit.add_argument("--exclude-mask", action="append", default=[], metavar="FILE[:KEY]",
                     help="pixels left out of the fit, e.g. known anomalies (nonzero / white "
                          "= excluded), read like --normal-mask, once per SCENE; the scene "
                          "file itself gives its own ground truth")
    fit.add_argument("--out", required=True, metavar="MODEL",
                     help="where to write the fitted detector, e.g. model.sksvdd (the safe "
                          "format: loading it cannot run code); a .joblib name writes a joblib "
                          "(pickle) file instead")
    fit.add_argument("--bandpass", nargs=2, type=_wavelength, metavar=("MIN", "MAX"),
                     help="keep only bands from MIN to MAX nm ('none' for no bound); "
                          "the scene must carry wavelengths")
    fit.add_argument("--no-spatial", action="store_true",
                     help="Deep SVDD on each pixel's spectrum alone, without spatial "
                          "context (and without the RX branch)")
    fit.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a DeepSVDDDetector parameter, repeatable; values are read as "
                          "int, float, true/false, none or text (the names are listed below)")
    fit.add_argument("--random-state", type=_seed, default=0, metavar="N",
                     help="seed of the model's initialisation and sampling, as in 'demo' "
                          "(default: %(default)s)")

    score = add("score", _cmd_score, "Write a scene's anomaly scores (higher = more "
                "anomalous) as a (rows, cols) .npy array, a heat map and/or the predicted "
                "anomaly mask; at least one of --out, --png and --mask-out.")
    score.add_argument("model", help="fitted model written by 'sksvdd fit'")
    score.add_argument("--allow-pickle", action="store_true",
                       help="also read joblib (pickle) model files. WARNING: loading a pickle "
                            "runs code stored in it; use only files from sources you trust")
    score.add_argument("scene", help="scene file with the bands the model was fitted on")
    score.add_argument("--out", metavar="NPY",
                       help="scores as a NumPy array, a name ending in .npy, e.g. scores.npy")
    score.add_argument("--png", metavar="PNG", help="write a score heat map")
    score.add_argument("--mask-out", metavar="PNG",
                       help="write the predicted anomaly mask (white = anomaly), each pixel "
                            "enlarged to a block of pixels so that the image is viewable")

    evaluate = add("evaluate", _cmd_evaluate, "Print AUROC, AP, IoU, precision and recall "
                   "of a model on a scene with ground truth, beside global RX fitted on "
                   "the scene as a baseline.")
    evaluate.add_argument("model", help="fitted model written by 'sksvdd fit'")
    evaluate.add_argument("--allow-pickle", action="store_true",
                          help="also read joblib (pickle) model files. WARNING: loading a "
                               "pickle runs code stored in it; use only trusted files")
    evaluate.add_argument("scene", help="scene file with an anomaly mask")

    info = add("info", _cmd_info, "Show a scene's size, bands, wavelengths, ground truth "
               "and NaN / inf values.")
    info.add_argument("scene", help="scene file")
    return parser


def _int_at_least(minimum):
    def convert(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return convert


_seed = _int_at_least(0)


def _wavelength(text):
    if text.strip().lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a wavelength in nm or 'none', got {text!r}") from None


def _exit_status(exc):
    code = exc.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 1
