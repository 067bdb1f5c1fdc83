"""The robustness benchmark's machinery (benchmarks/robustness.py) on a small synthetic background.

No real scenes needed: the background is the built-in scene without anomalies.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
robustness = pytest.importorskip("robustness")

from sksvdd.datasets import load_endmembers, make_hyperspectral_scene  # noqa: E402


@pytest.fixture(scope="module")
def background():
    scene = make_hyperspectral_scene(n_rows=40, n_cols=40, n_bands=30, anomaly_fraction=0.0,
                                     random_state=0)
    lib = load_endmembers()
    targets = np.array([np.interp(scene.wavelengths, lib.wavelengths, t)
                        for t in lib.spectra[lib.roles == "target"]])
    return robustness.Background("synthetic", scene.cube, np.zeros((40, 40), bool), targets,
                                 "endmembers")


def test_one_pixel_target_replaces_exactly_that_pixel(background):
    cube = background.cube
    a = robustness.disc_fractions(cube.shape[:2], (10.5, 20.5), 1)
    assert a.sum() == 1.0 and a[10, 20] == 1.0
    target = np.linspace(0.1, 0.9, cube.shape[-1]).astype(np.float32)
    out = robustness.implant(cube, [1.0 * a], [target])
    np.testing.assert_array_equal(out[10, 20], target)
    untouched = np.ones(cube.shape[:2], bool)
    untouched[10, 20] = False
    np.testing.assert_array_equal(out[untouched], cube[untouched])


def test_partial_pixels_are_linear_mixtures(background):
    cube = background.cube
    a = robustness.disc_fractions(cube.shape[:2], (20.0, 20.0), 5)
    target = np.full(cube.shape[-1], 2.0)
    out = robustness.implant(cube, [0.6 * a], [target])
    edge = (a > 0) & (a < 1)
    assert edge.any()
    f = 0.6 * a[edge][:, None]
    np.testing.assert_allclose(out[edge], (1 - f) * cube[edge] + f * target, rtol=1e-5)


@pytest.mark.parametrize("center", [(20.0, 20.0), (20.3, 19.7), (17.5, 22.5)])
def test_disc_area(center):
    a = robustness.disc_fractions((40, 40), center, 8)
    assert abs(a.sum() - np.pi * 16) / (np.pi * 16) < 0.02
    assert a.max() == 1.0 and a.min() == 0.0


def test_ground_truth_rule():
    fraction = np.array([[0.0, 0.2, 0.49], [0.5, 0.7, 1.0]])
    exclude = np.array([[True, False, False], [False, False, True]])
    positive, valid = robustness.ground_truth(fraction, exclude)
    np.testing.assert_array_equal(positive, fraction >= 0.5)
    np.testing.assert_array_equal(valid, [[False, False, False], [True, True, False]])


def test_placement_avoids_borders_overlap_and_excluded(background):
    rng = np.random.RandomState(0)
    exclude = np.zeros((40, 40), bool)
    exclude[:, :10] = True
    centers = robustness.place_discs(rng, (40, 40), 8, 3, exclude=exclude)
    maps = [robustness.disc_fractions((40, 40), c, 8) for c in centers]
    covered = sum((m > 0).astype(int) for m in maps)
    assert covered.max() == 1 and not (covered.astype(bool) & exclude).any()
    for cy, cx in centers:
        assert 4 <= cy <= 36 and 4 <= cx <= 36


def test_quick_machinery_with_rx(background):
    records = robustness.run_implant([background], ["RX"], seeds=[0], sizes=[1, 3, 8],
                                     abundances=[1.0], placements=1, blobs_per_abundance=3,
                                     verbose=False)
    summary = robustness.summarise(records)
    assert sorted(summary["RX"]) == [1, 3, 8]
    for size in (1, 3, 8):
        assert 0.0 <= summary["RX"][size]["mean"] <= 1.0
    assert "| RX |" in robustness.implant_tables(records)


def test_local_rx_flags_a_one_pixel_target(background):
    a = robustness.disc_fractions((40, 40), (20.5, 20.5), 1)
    cube = robustness.implant(background.cube, [a], background.targets[:1] * 3)
    scores = -robustness.LocalRX(n_components=10).fit(cube).score_samples(cube)
    assert np.unravel_index(np.argmax(scores), scores.shape) == (20, 20)


def test_tables_and_plot_from_json(background, tmp_path):
    import json

    records = robustness.run_implant([background], ["RX", "local-RX"], seeds=[0, 1], sizes=[1, 3],
                                     abundances=[0.7, 1.0], blobs_per_abundance=2, verbose=False)
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"config": {"seeds": [0, 1]}, "records": records}))
    md, png = tmp_path / "r.md", tmp_path / "r.png"
    robustness.main(["--from-json", str(path), "--markdown", str(md), "--plot", str(png)])
    assert "| local-RX |" in md.read_text() and png.stat().st_size > 0
