"""Regenerate ``sksvdd/datasets/data/endmembers.csv`` from the earthlib wheel.

The built-in scene (:func:`sksvdd.datasets.make_hyperspectral_scene`) mixes real,
measured reflectance spectra. They come from the spectral library shipped in the
``earthlib`` package (MIT licence, https://github.com/earth-chris/earthlib), which
is *not* a dependency of sksvdd: this script reads the library straight out of the
wheel file and writes a small CSV plus its attribution files.

Usage::

    pip download --no-deps -d /tmp/earthlib earthlib==1.1.0
    python tools/make_endmembers.py /tmp/earthlib/earthlib-1.1.0-py3-none-any.whl

The output is deterministic: the same wheel always gives byte-identical files.

Selection rule
--------------
For each material below, the candidates are the *measured* spectra (``LEVEL_4 ==
"measured"``; the simulated PROSAIL canopies are never used) matching the listed
metadata, restricted to physically clean spectra (every band in (0, 1]). Among
them the spectrum closest (Euclidean) to the candidates' per-band median is kept,
i.e. a typical member of the class rather than an outlier; ties go to the lowest
library row.
"""

import argparse
import csv
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parents[1] / "sksvdd" / "datasets" / "data"

# (column name, role, metadata filter). Background: the common surfaces of a
# peri-urban scene (soils, sand, gravel, pavement, dry vegetation). Targets: rare
# man-made materials that differ from the background in distinct ways (bright
# visible glass, flat metal, pigmented paint, red clay tile, dark roofing).
MATERIALS = [
    ("soil", "background", {"LEVEL_3": "soil", "SOURCE": "icraf-isric-soil-database"}),
    ("dirt", "background", {"LEVEL_3": "dirt"}),
    ("sand", "background", {"LEVEL_3": "sand"}),
    ("gravel", "background", {"LEVEL_2": "bare", "LEVEL_3": "gravel"}),
    ("road", "background", {"LEVEL_3": "road"}),
    ("sidewalk", "background", {"LEVEL_3": "sidewalk"}),
    ("litter", "background", {"LEVEL_3": "litter"}),
    ("npv", "background", {"LEVEL_3": "npv"}),
    ("paint", "target", {"LEVEL_3": "paint"}),
    ("metal", "target", {"LEVEL_3": "metal"}),
    ("tile", "target", {"LEVEL_3": "tile"}),
    ("glass", "target", {"LEVEL_3": "glass"}),
    ("comp_shingle", "target", {"LEVEL_3": "comp_shingle"}),
]


def parse_envi_header(text):
    """Return the ``key = value`` pairs of an ENVI header as a dict of strings."""
    fields = {}
    for match in re.finditer(r"^\s*([^=\n]+?)\s*=\s*(\{[^}]*\}|[^\n]*)", text, re.M):
        fields[match.group(1).strip().lower()] = match.group(2).strip()
    return fields


def read_library(wheel):
    """Read wavelengths (nm), spectra, metadata rows and licence from the wheel."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        header = parse_envi_header(zf.read("earthlib/data/spectra.sli.hdr").decode())
        raw = zf.read("earthlib/data/spectra.sli")
        table = zf.read("earthlib/data/spectra.csv").decode()
        licence = zf.read(next(n for n in names if n.endswith("/LICENSE"))).decode()
        metadata = zf.read(next(n for n in names if n.endswith("/METADATA"))).decode()
    version = re.search(r"^Version:\s*(\S+)", metadata, re.M).group(1)
    if header["data type"] != "4" or header.get("interleave", "bsq").lower() != "bsq":
        raise ValueError(f"unexpected library layout: {header}")
    order = ">" if header.get("byte order") == "1" else "<"
    n_spectra, n_bands = int(header["lines"]), int(header["samples"])
    offset = int(header.get("header offset", "0"))
    spectra = np.frombuffer(raw, dtype=order + "f4", count=n_spectra * n_bands, offset=offset)
    spectra = spectra.reshape(n_spectra, n_bands).astype(np.float64)
    wavelengths = np.array([float(v) for v in header["wavelength"].strip("{}").split(",")])
    if header.get("wavelength units", "").lower() in {"micrometers", "microns", "um"}:
        wavelengths = wavelengths * 1000.0
    rows = list(csv.DictReader(io.StringIO(table)))
    if len(rows) != n_spectra:
        raise ValueError(f"{len(rows)} metadata rows for {n_spectra} spectra")
    return np.round(wavelengths, 6), spectra, rows, licence, version


def select(spectra, rows, criteria):
    """Return the library row of the median-closest clean measured spectrum."""
    candidates = [
        i
        for i, row in enumerate(rows)
        if row["LEVEL_4"] == "measured"
        and all(row[key] == value for key, value in criteria.items())
        and np.all(spectra[i] > 0)
        and np.all(spectra[i] <= 1)
    ]
    if not candidates:
        raise ValueError(f"no clean measured spectrum matches {criteria}")
    block = spectra[candidates]
    distance = np.linalg.norm(block - np.median(block, axis=0), axis=1)
    return candidates[int(np.argmin(distance))], len(candidates)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to an earthlib wheel")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)

    wavelengths, spectra, rows, licence, version = read_library(args.wheel)
    digest = hashlib.sha256(args.wheel.read_bytes()).hexdigest()
    picks = [(name, role, crit, *select(spectra, rows, crit)) for name, role, crit in MATERIALS]

    args.out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# Reflectance (0-1) of measured spectra from earthlib {version} (MIT licence),",
        "# regenerated by tools/make_endmembers.py; see endmembers_README.md.",
        ",".join(["wavelength_nm"] + [f"{role}:{name}" for name, role, *_ in picks]),
    ]
    for b, wl in enumerate(wavelengths):
        values = [f"{spectra[index, b]:.6g}" for *_, index, _ in picks]
        lines.append(",".join([f"{wl:g}"] + values))
    (args.out / "endmembers.csv").write_text("\n".join(lines) + "\n")

    readme = [
        "# Built-in endmember spectra",
        "",
        "`endmembers.csv` holds the reflectance spectra that",
        "`sksvdd.datasets.make_hyperspectral_scene` mixes into its synthetic scene: one",
        "`wavelength_nm` column (180 bands, 400-2450 nm, with the library's water-vapour",
        "gaps) and one column per material, named `background:<name>` or `target:<name>`.",
        "",
        "Source: the spectral library `earthlib/data/spectra.sli` of the PyPI package",
        f"`earthlib` {version} by Christopher Anderson (https://github.com/earth-chris/earthlib),",
        "MIT licence (copied in `LICENSE-earthlib.txt`). The spectra are field and",
        "laboratory measurements compiled by earthlib from the sources listed below.",
        f"Wheel SHA-256: `{digest}`.",
        "",
        "Regenerate with:",
        "",
        "```",
        f"pip download --no-deps -d /tmp/earthlib earthlib=={version}",
        f"python tools/make_endmembers.py /tmp/earthlib/{args.wheel.name}",
        "```",
        "",
        "Selection: among the measured (never the simulated PROSAIL) spectra of each",
        "class with every band in (0, 1], the one closest to the class's per-band median.",
        "",
        "| column | role | library row | spectrum name | class (LEVEL_1/2/3) | source | notes "
        "| candidates |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, role, _, index, n_candidates in picks:
        row = rows[index]
        level = "/".join(row[k] for k in ("LEVEL_1", "LEVEL_2", "LEVEL_3"))
        readme.append(
            f"| {name} | {role} | {index} | {row['NAME']} | {level} | {row['SOURCE']} "
            f"| {row['NOTES']} | {n_candidates} |"
        )
    (args.out / "endmembers_README.md").write_text("\n".join(readme) + "\n")
    (args.out / "LICENSE-earthlib.txt").write_text(
        f"The spectra in endmembers.csv are taken from earthlib {version}, distributed\n"
        "under the following licence:\n\n" + licence
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
