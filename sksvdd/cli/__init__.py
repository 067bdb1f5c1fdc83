"""The ``sksvdd`` command: demo, fit, score, evaluate and info.

Run ``sksvdd --help`` (or ``python -m sksvdd --help``) for the commands and
``sksvdd COMMAND --help`` for their options. Results go to stdout; training
progress goes to stderr, so that ``sksvdd evaluate ... > report.txt`` keeps
only the report.

Exit status: 0 on success, 2 for a usage error (bad option, unknown
``--param`` name, invalid parameter value), 1 for any other failure, which is
reported as one line ``sksvdd: error: ...`` on stderr (add ``--debug`` for
the traceback), 130 when interrupted (Ctrl-C) and 143 when terminated
(SIGTERM). Output files are written atomically (see
:func:`sksvdd._atomic.atomic_path`), so an interrupted or failed run leaves
any previous file in place and never a half-written one.

Model files are written in sksvdd's safe format (:func:`sksvdd.save`:
loading one cannot run code) unless the output name ends in ``.joblib``,
``.pkl`` or ``.pickle``. ``score`` and ``evaluate`` read joblib (pickle) files
only with ``--allow-pickle``: loading a pickle runs code stored in it, so use
it only for models from sources you trust.
"""

from ._main import main

__all__ = ["main"]
