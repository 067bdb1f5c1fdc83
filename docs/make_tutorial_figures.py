"""Run every Python block of docs/tutorial.md and collect the figures it saves.

The tutorial's code is the single source: its ```python blocks are executed in
order, in one namespace, in a scratch working directory, and the PNG files they
save there are copied to ``--out`` (by default ``docs/images/``). What the
blocks print (the numbers the tutorial quotes) goes to stdout.

A block preceded by an HTML comment line

    <!-- tutorial: requires-file NAME -->      runs only when NAME is found in --data
    <!-- tutorial: requires-module NAME -->    runs only when NAME can be imported

is skipped otherwise, with a note. Usage (about 20 s on 2 CPU cores)::

    OMP_NUM_THREADS=1 python docs/make_tutorial_figures.py [--out DIR] [--data DIR]
"""

import argparse
import contextlib
import importlib.util
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
TUTORIAL = DOCS / "tutorial.md"
DEFAULT_DATA = DOCS.parent.parent / "shared" / "data" / "hsi"

_FENCE = re.compile(
    r"^(?:<!-- tutorial: (?P<kind>requires-file|requires-module) (?P<what>\S+) -->\n)?"
    r"```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


def tutorial_blocks(text):
    """``[(line_number, requirement or None, code), ...]`` for each python block."""
    return [
        (text.count("\n", 0, m.start("code")) + 1,
         (m["kind"], m["what"]) if m["kind"] else None,
         m["code"])
        for m in _FENCE.finditer(text)
    ]


def missing_requirement(requirement, data_dir):
    """Why a block cannot run here, or None when it can."""
    if requirement is None:
        return None
    kind, what = requirement
    if kind == "requires-file":
        if (data_dir / what).is_file():
            return None
        return (f"{what} not found in {data_dir}; sksvdd.datasets.fetch_scene("
                f"'{Path(what).stem}', data_home='{data_dir}') downloads it there")
    return None if importlib.util.find_spec(what) is not None else f"module {what} not installed"


def run_tutorial(out, data_dir, tutorial=TUTORIAL):
    """Execute the tutorial's blocks; copy the PNGs they write to ``out``. Returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    namespace = {"__name__": "__tutorial__"}
    with tempfile.TemporaryDirectory(prefix="sksvdd-tutorial-") as work:
        work = Path(work)
        if data_dir.is_dir():
            for path in data_dir.iterdir():
                if path.is_file():
                    (work / path.name).symlink_to(path.resolve())
        with contextlib.chdir(work):
            for line, requirement, code in tutorial_blocks(tutorial.read_text(encoding="utf-8")):
                why = missing_requirement(requirement, data_dir)
                if why:
                    print(f"--- tutorial.md:{line}: skipped ({why})", flush=True)
                    continue
                print(f"--- tutorial.md:{line}", flush=True)
                tic = time.perf_counter()
                # Running the tutorial's own code is the point of this script.
                exec(compile(code, f"{tutorial}:{line}", "exec"), namespace)  # noqa: S102
                plt.close("all")
                print(f"    ({time.perf_counter() - tic:.1f} s)", flush=True)
        written = []
        for png in sorted(work.glob("*.png")):
            target = out / png.name
            shutil.copyfile(png, target)
            written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DOCS / "images",
                        help="where to write the PNGs (default: docs/images)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with the optional real scenes (default: ../shared/data/hsi)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torch threads thrash on small shared machines
    tic = time.perf_counter()
    written = run_tutorial(args.out.resolve(), args.data.resolve())
    for path in written:
        print(f"Wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
    print(f"Done in {time.perf_counter() - tic:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
