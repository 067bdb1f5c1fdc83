"""
=========================================
Saving and loading a model for deployment
=========================================

:func:`sksvdd.save` writes a fitted estimator or pipeline as a zip of JSON and
safetensors: loading it with :func:`sksvdd.load` cannot run code, and the
loaded model's scores are bit-identical. ``joblib`` stores anything, but
loading a joblib file runs whatever code it contains: load those only from
sources you trust. See :doc:`/deployment`.
"""

# %%
import tempfile
import warnings
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np

import sksvdd
from sksvdd.datasets import cube_to_pixels, make_hyperspectral_scene, pixels_to_image
from sksvdd.plotting import ScoreMapDisplay

scene = make_hyperspectral_scene(random_state=0)
X = cube_to_pixels(scene.cube)
pipe = sksvdd.make_default_pipeline(image_shape=scene.cube.shape[:2], random_state=0).fit(X)

workdir = tempfile.TemporaryDirectory()    # removed at the end
folder = Path(workdir.name)

# %%
# The safe format
# ---------------
path = sksvdd.save(pipe, folder / "model.sksvdd")
loaded = sksvdd.load(path)
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB, steps {[n for n, _ in loaded.steps]}")
print("identical scores:", np.array_equal(loaded.score_samples(X), pipe.score_samples(X)))
print("identical labels:", np.array_equal(loaded.predict(X), pipe.predict(X)))

# %%
# Training-only parameters
# ------------------------
# skorch callbacks (and ``RandomState`` instances) only affect training and are
# not stored: :func:`~sksvdd.save` warns and stores ``None``. The scores are
# unaffected.
from sksvdd.monitoring import progress_bar

pipe.set_params(detector__callbacks=[progress_bar()])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    sksvdd.save(pipe, folder / "with-callbacks.sksvdd")
print("warning:", caught[0].message if caught else None)
print("callbacks after loading:",
      sksvdd.load(folder / "with-callbacks.sksvdd").named_steps["detector"].callbacks)
pipe.set_params(detector__callbacks=None)

# %%
# joblib files
# ------------
# ``joblib.dump`` / ``joblib.load`` give identical scores too, but a joblib
# file is a pickle: **loading one runs code stored in it.** :func:`sksvdd.load`
# refuses such files instead of opening them.
joblib.dump(pipe, folder / "model.joblib")
try:
    sksvdd.load(folder / "model.joblib")
except ValueError as exc:
    print("sksvdd.load refused it:", str(exc)[:120], "...")

# %%
# Scoring another image with the loaded model
# -------------------------------------------
# The spatial step needs the shape of each image it scores.
other = make_hyperspectral_scene(n_rows=80, n_cols=120, random_state=1)
loaded.set_params(spatial__image_shape=other.cube.shape[:2])
other_map = pixels_to_image(-loaded.score_samples(cube_to_pixels(other.cube)),
                            other.cube.shape[:2])
ScoreMapDisplay.from_predictions(other_map, mask=other.mask, name="loaded model, new scene")
plt.show()
workdir.cleanup()
