"""Quiet Ctrl-C and SIGTERM while the ``sksvdd`` command starts (imported first).

Importing this module calls :func:`begin`.

Before :func:`sksvdd.cli.main` runs, the command spends seconds importing
torch and scikit-learn; a Ctrl-C then would print a Python traceback and end
the process by SIGINT (status -2), and SIGTERM would kill it silently. When,
and only when, this process is the ``sksvdd`` command (``python -m sksvdd``
or the ``sksvdd`` script), handlers print one line and exit with status 130
(SIGINT) or 143 (SIGTERM); nothing has been written yet. :func:`end` hands
SIGINT back to Python (KeyboardInterrupt) once ``main`` runs; the SIGTERM
handler stays for the parts of ``main`` outside a command, whose run installs
its own (:func:`sksvdd.cli._commands.terminate_as_interrupt`). Importing
sksvdd as a library changes no signal handling.
"""

import os
import signal
import sys
import threading

_previous = None


def begin():
    """Install the quiet SIGINT and SIGTERM handlers if this process is the command."""
    global _previous
    if _previous is not None or not _is_command():
        return
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        _previous = signal.signal(signal.SIGINT, _exit_quietly)
        signal.signal(signal.SIGTERM, _exit_quietly)
    except (ValueError, OSError):  # no signal handling here (embedded interpreter)
        _previous = None


def end():
    """Give SIGINT back to Python's default handler (KeyboardInterrupt)."""
    global _previous
    if _previous is None:
        return
    signal.signal(signal.SIGINT, _previous)
    _previous = None


def _exit_quietly(signum, frame):
    word = b"terminated" if signum == signal.SIGTERM else b"interrupted"
    try:
        os.write(2, b"sksvdd: " + word + b"\n")
    finally:
        os._exit(128 + signum)


def _is_command():
    # "python -m sksvdd": while the package is imported, sys.argv[0] is "-m" and
    # sys.orig_argv names the module. The script: sys.argv[0] is the script.
    argv = getattr(sys, "orig_argv", [])
    if sys.argv[:1] == ["-m"] and "-m" in argv:
        position = argv.index("-m")
        return argv[position + 1:position + 2] == ["sksvdd"]
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    return script in ("sksvdd", "sksvdd.exe", "sksvdd-script.py")


begin()
