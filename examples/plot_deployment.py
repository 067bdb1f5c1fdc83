"""
=========================================
Saving and loading a model for deployment
=========================================

:func:`sksvdd.save` writes a fitted estimator, pipeline or image detector as a zip of JSON and
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
from sksvdd.datasets import make_hyperspectral_scene
from sksvdd.plotting import ScoreMapDisplay

scene = make_hyperspectral_scene(random_state=0)
X = scene.cube                                  # the detector takes whole images
model = sksvdd.make_default_detector(random_state=0).fit(X)

workdir = tempfile.TemporaryDirectory()    # removed at the end
folder = Path(workdir.name)

# %%
# The safe format
# ---------------
path = sksvdd.save(model, folder / "model.sksvdd")
loaded = sksvdd.load(path)
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB, {type(loaded).__name__} of branches "
      f"{[name for name, _ in loaded.detectors_]}")
print("identical scores:", np.array_equal(loaded.score_samples(X), model.score_samples(X)))
print("identical labels:", np.array_equal(loaded.predict(X), model.predict(X)))

# %%
# Training-only parameters
# ------------------------
# skorch callbacks (and ``RandomState`` instances) only affect training and are
# not stored: :func:`~sksvdd.save` warns and stores ``None``. The scores are
# unaffected.
from sksvdd.monitoring import progress_bar

model.set_params(residual__detector__callbacks=[progress_bar()])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    sksvdd.save(model, folder / "with-callbacks.sksvdd")
print("warning:", caught[0].message if caught else None)
print("callbacks after loading:",
      sksvdd.load(folder / "with-callbacks.sksvdd").get_params()["residual__detector__callbacks"])
model.set_params(residual__detector__callbacks=None)

# %%
# joblib files
# ------------
# ``joblib.dump`` / ``joblib.load`` give identical scores too, but a joblib
# file is a pickle: **loading one runs code stored in it.** :func:`sksvdd.load`
# refuses such files instead of opening them.
joblib.dump(model, folder / "model.joblib")
try:
    sksvdd.load(folder / "model.joblib")
except ValueError as exc:
    print("sksvdd.load refused it:", str(exc)[:120], "...")

# %%
# Scoring another image with the loaded model
# -------------------------------------------
# An image of any size: the detector scores it into a map of its own shape,
# at the threshold fitted on the training image.
other = make_hyperspectral_scene(n_rows=80, n_cols=120, random_state=1)
other_map = -loaded.score_samples(other.cube)
print("new scene:", other_map.shape, f"{(loaded.predict(other.cube) == -1).mean():.2%} flagged")
ScoreMapDisplay.from_predictions(other_map, mask=other.mask, name="loaded model, new scene")
plt.show()
workdir.cleanup()
