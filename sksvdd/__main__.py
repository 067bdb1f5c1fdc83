"""Run the ``sksvdd`` command line as ``python -m sksvdd``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
