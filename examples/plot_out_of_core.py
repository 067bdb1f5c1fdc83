"""
=================================================
Scoring a cube larger than memory, block by block
=================================================

:func:`sksvdd.parallel.score_cube` scores a ``(rows, cols, bands)`` cube in
spatial blocks and returns a lazy Dask array: the cube can be a NumPy array, a
``np.memmap``, an HDF5 dataset, a zarr array or a Dask array, and memory is
bounded by the block size. An image detector with spatial context is handled
block by block, each block read with a halo of its neighbours, so the result
equals scoring the whole cube in memory. Needs Dask (``pip install ".[dask]"`` from a clone); see
:doc:`/scaling` for clusters and measured throughput.

Here a memory-mapped cube stands in for a flight line on disk: the built-in
scene tiled 2 x 3 times into a 200 x 300-pixel file.
"""

# %%
import importlib.util
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from sksvdd import make_default_detector
from sksvdd.datasets import make_hyperspectral_scene

HAVE_DASK = importlib.util.find_spec("dask") is not None
if not HAVE_DASK:
    print("Skipping the out-of-core part of this example: it needs Dask, "
          'pip install ".[dask]" (from a clone of sksvdd).')

# %%
# A cube on disk
# --------------
scene = make_hyperspectral_scene(random_state=0)
tiles = np.tile(scene.cube, (2, 3, 1))                      # (200, 300, 180)
workdir = tempfile.TemporaryDirectory()                     # removed at the end
path = Path(workdir.name) / "flightline.npy"
cube = np.lib.format.open_memmap(path, mode="w+",
                                 dtype=np.float32, shape=tiles.shape)
cube[:] = tiles
cube.flush()
cube = np.load(path, mmap_mode="r")     # read-only memory map
print(f"{type(cube).__name__} {cube.shape}, {cube.nbytes / 2**20:.0f} MiB on disk")

# %%
# Fit on one scene, score the whole file lazily
# ---------------------------------------------
# The model is fitted once, on the built-in scene (in memory); ``score_cube``
# reads each block with the detector's ``halo`` (2 pixels for the 5/1 window).
model = make_default_detector(random_state=0).fit(scene.cube)

if HAVE_DASK:
    from sksvdd.parallel import predict_cube, score_cube

    scores = score_cube(model, cube, chunks=(100, 100))     # lazy: nothing computed yet
    print(scores)
    score_image = scores.compute()                         # or scores.to_zarr(...), da.store(...)
    labels = predict_cube(model, cube, chunks=(100, 100)).compute()
    print(f"{(labels == -1).sum()} of {labels.size} pixels flagged")

# %%
# Same scores as in memory
# ------------------------
# Scoring the whole cube at once gives the same scores, bit for bit.
if HAVE_DASK:
    reference = model.score_samples(np.asarray(cube))
    print("identical to in-memory scoring:", np.array_equal(score_image, reference))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    image = ax.imshow(-score_image, cmap="inferno",
                      vmax=np.percentile(-score_image, 99.5))
    for edge in (100, 200):
        ax.axvline(edge - 0.5, color="w", lw=0.5, ls=":")
    ax.axhline(99.5, color="w", lw=0.5, ls=":")
    ax.set(title="anomaly score, scored in 100 x 100 blocks", xticks=[], yticks=[])
    fig.colorbar(image, ax=ax)
    plt.show()

workdir.cleanup()
