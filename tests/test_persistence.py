"""sksvdd.save / sksvdd.load: safe model files (zip of JSON + safetensors, no pickle)."""

import io
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, Normalizer, StandardScaler
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sksvdd import (
    BandpassByWavelength,
    DeepSVDDDetector,
    PerPixelUnitNorm,
    RXDetector,
)
from sksvdd._persistence._file import FORMAT_VERSION, load, save

pytest.importorskip("safetensors")

FAST = dict(max_epochs=3, random_state=0)
WL = np.linspace(400.0, 1000.0, 12)


def _estimators():
    return {
        "svdd": DeepSVDDDetector(**FAST),
        "rx": RXDetector(contamination=0.01),
        "bandpass": BandpassByWavelength(wavelengths=WL, min_wavelength_nm=450.0),
        "unitnorm": PerPixelUnitNorm(center=False),
        "scaler-pca-svdd": make_pipeline(StandardScaler(), PCA(n_components=6),
                                         DeepSVDDDetector(rep_dim=8, **FAST)),
        "default-pipeline": Pipeline([
            ("bandpass", BandpassByWavelength(wavelengths=WL, max_wavelength_nm=900.0)),
            ("unitnorm", PerPixelUnitNorm()),
            ("detector", DeepSVDDDetector(freeze_encoder=True, **FAST)),
        ]),
        "minmax-normalizer-rx": make_pipeline(MinMaxScaler(feature_range=(-1, 1)),
                                              Normalizer(), "passthrough", RXDetector()),
        "pca-float-whiten": make_pipeline(PCA(n_components=0.9, whiten=True), RXDetector()),
        "scaler-no-mean": make_pipeline(StandardScaler(with_mean=False, with_std=False),
                                        RXDetector()),
    }


def _outputs(est, X):
    if hasattr(est, "score_samples"):
        return [est.score_samples(X), est.decision_function(X), est.predict(X)]
    return [est.transform(X)]


def _assert_same_params(a, b):
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    assert pa.keys() == pb.keys()
    for key in pa:
        if key == "steps":
            for (na, ea), (nb, eb) in zip(pa[key], pb[key]):
                assert na == nb
                if isinstance(ea, str):
                    assert ea == eb
                else:
                    _assert_same_params(ea, eb)
        elif isinstance(pa[key], np.ndarray):
            np.testing.assert_array_equal(pa[key], pb[key])
        else:
            assert pa[key] == pb[key] and type(pa[key]) is type(pb[key]), key


def _assert_same_fitted(a, b):
    if isinstance(a, Pipeline):
        for (_, ea), (_, eb) in zip(a.steps, b.steps):
            if not isinstance(ea, str):
                _assert_same_fitted(ea, eb)
        return
    attrs = {k for k in vars(a) if k.endswith("_") and k != "net_"}
    assert attrs == {k for k in vars(b) if k.endswith("_") and k != "net_"}
    for key in attrs:
        va, vb = getattr(a, key), getattr(b, key)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, key
            np.testing.assert_array_equal(va, vb)
        else:
            assert va == vb and type(va) is type(vb), key


@pytest.mark.parametrize("name", list(_estimators()))
def test_round_trip_is_exact(blobs, tmp_path, name):
    X, _ = blobs
    est = _estimators()[name].fit(X)
    loaded = load(save(est, tmp_path / "model.sksvdd"))
    assert type(loaded) is type(est)
    _assert_same_params(est, loaded)
    _assert_same_fitted(est, loaded)
    for got, expected in zip(_outputs(loaded, X), _outputs(est, X)):
        np.testing.assert_array_equal(got, expected)


def test_deep_svdd_round_trip_restores_everything(blobs, tmp_path):
    X, _ = blobs
    df = pd.DataFrame(X, columns=[f"band_{i}" for i in range(X.shape[1])])
    det = DeepSVDDDetector(max_epochs=4, nu=0.2, objective="one-class", random_state=1).fit(df)
    loaded = load(save(det, tmp_path / "det.sksvdd"))
    assert loaded.history_ == det.history_ and loaded.n_iter_ == det.n_iter_ == 4
    np.testing.assert_array_equal(loaded.feature_names_in_, det.feature_names_in_)
    assert loaded.feature_names_in_.dtype == object
    assert (loaded.radius_, loaded.offset_) == (det.radius_, det.offset_)
    np.testing.assert_array_equal(loaded.center_, det.center_)
    for key, value in det.net_.module_.state_dict().items():
        assert torch.equal(loaded.net_.module_.state_dict()[key], value), key
    np.testing.assert_array_equal(loaded.score_samples(df), det.score_samples(df))
    with pytest.raises(ValueError, match="feature names"):
        loaded.score_samples(df.rename(columns={"band_0": "other"}))


def test_unfitted_estimators_round_trip(tmp_path):
    for est in [DeepSVDDDetector(rep_dim=3), make_pipeline(PerPixelUnitNorm(), RXDetector())]:
        loaded = load(save(est, tmp_path / "unfitted.sksvdd"))
        _assert_same_params(est, loaded)
        with pytest.raises(NotFittedError):
            check_is_fitted(loaded[-1] if isinstance(loaded, Pipeline) else loaded)


def test_saving_twice_gives_identical_bytes(blobs, tmp_path):
    det = DeepSVDDDetector(**FAST).fit(blobs[0])
    a = save(det, tmp_path / "a.sksvdd").read_bytes()
    assert a == save(det, tmp_path / "b.sksvdd").read_bytes()


@pytest.mark.parametrize("fmt", ["sksvdd", "joblib"])
def test_round_trip_in_a_new_process_is_bit_identical(blobs, tmp_path, fmt):
    X, _ = blobs
    pipe = make_pipeline(PerPixelUnitNorm(), DeepSVDDDetector(**FAST)).fit(X)
    np.save(tmp_path / "X.npy", X)
    model = tmp_path / f"model.{fmt}"
    if fmt == "sksvdd":
        save(pipe, model)
        loader = "from sksvdd._persistence import load"
    else:
        joblib.dump(pipe, model)
        loader = "from joblib import load"
    code = textwrap.dedent(f"""
        import numpy as np
        {loader}
        model = load({str(model)!r})
        X = np.load({str(tmp_path / 'X.npy')!r})
        np.save({str(tmp_path / 'scores.npy')!r}, model.score_samples(X))
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "scores.npy"), pipe.score_samples(X))


def test_cuda_fitted_model_loads_on_cpu_with_a_warning(blobs, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, _ = blobs
    det = DeepSVDDDetector(**FAST).fit(X)
    det.set_params(device="cuda")  # as if fitted with device="cuda"; the file stores it
    path = save(det, tmp_path / "cuda.sksvdd")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        loaded = load(path)
    assert str(loaded.net_.device) == "cpu" and loaded.device == "cuda"
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))


def test_loaded_detector_can_continue_training(blobs, tmp_path):
    X, _ = blobs
    det = DeepSVDDDetector(**FAST).fit(X)
    loaded = load(save(det, tmp_path / "det.sksvdd"))
    loaded.set_params(warm_start=True, max_epochs=2).fit(X)
    assert loaded.n_iter_ == 5 and [row["epoch"] for row in loaded.history_] == [1, 2, 3, 4, 5]
    assert np.all(np.isfinite(loaded.score_samples(X)))


# --- what cannot be saved ---------------------------------------------------------------


class _Custom(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


@pytest.mark.parametrize("step, name", [
    (FunctionTransformer(np.abs), "FunctionTransformer"),
    (_Custom(), "_Custom"),
])
def test_unsupported_step_is_refused_naming_it(blobs, tmp_path, step, name):
    pipe = Pipeline([("odd", step), ("rx", RXDetector())]).fit(blobs[0])
    path = tmp_path / "model.sksvdd"
    path.write_bytes(b"previous")
    with pytest.raises(TypeError, match=rf"step 'odd' \({name}\).*not supported"):
        save(pipe, path)
    assert path.read_bytes() == b"previous"  # atomic: the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.sksvdd"]


def test_unsupported_estimator_and_subclass_are_refused(blobs, tmp_path):
    with pytest.raises(TypeError, match="IsolationForest is not supported"):
        save(IsolationForest().fit(blobs[0]), tmp_path / "m.sksvdd")

    class MyRX(RXDetector):
        pass

    with pytest.raises(TypeError, match="MyRX is not supported"):
        save(MyRX().fit(blobs[0]), tmp_path / "m.sksvdd")


def test_unknown_fitted_attribute_is_refused(blobs, tmp_path):
    rx = RXDetector().fit(blobs[0])
    rx.extra_ = object()
    with pytest.raises(ValueError, match="extra_"):
        save(rx, tmp_path / "m.sksvdd")


class _Noop(Callback):
    pass


def test_callbacks_and_random_state_instances_are_stored_as_none(blobs, tmp_path):
    X, _ = blobs
    det = DeepSVDDDetector(max_epochs=1, callbacks=[_Noop()],
                           random_state=np.random.RandomState(0)).fit(X)
    with pytest.warns(UserWarning, match="saved as (callbacks|random_state)=None") as caught:
        path = save(det, tmp_path / "det.sksvdd")
    messages = [str(w.message) for w in caught]
    assert any("callbacks=[" in m and "callbacks=None" in m for m in messages)
    assert any("random_state=None" in m for m in messages)
    loaded = load(path)
    assert loaded.callbacks is None and loaded.random_state is None
    np.testing.assert_array_equal(loaded.score_samples(X), det.score_samples(X))


# --- hostile and broken files ----------------------------------------------------------


class _Payload:
    """Unpickling this writes a marker file: proof that the loader ran code from the file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture(scope="module")
def saved_detector(tmp_path_factory, blobs):
    path = tmp_path_factory.mktemp("saved") / "det.sksvdd"
    save(DeepSVDDDetector(**FAST).fit(blobs[0]), path)
    return path


@pytest.mark.parametrize("where", [
    "whole-file", "manifest", "weights", "arrays", "torch-save", "joblib", "extra-member",
])
def test_pickle_payloads_never_run(saved_detector, tmp_path, where):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    assert not marker.exists()
    good = _members(saved_detector)
    path = tmp_path / "evil.sksvdd"
    if where == "whole-file":
        path.write_bytes(payload)
    elif where == "torch-save":
        torch.save(_Payload(marker), path)
    elif where == "joblib":
        joblib.dump(_Payload(marker), path)
    elif where == "extra-member":
        path.write_bytes(_zip({**good, "data.pkl": payload}))
    else:
        member = {"manifest": "manifest.json", "weights": "weights.safetensors",
                  "arrays": "arrays.safetensors"}[where]
        path.write_bytes(_zip({**good, member: payload}))
    with pytest.raises(ValueError, match="evil.sksvdd"):
        load(path)
    assert not marker.exists()


def test_truncated_and_corrupted_files_raise_value_error(saved_detector, tmp_path):
    data = saved_detector.read_bytes()
    path = tmp_path / "broken.sksvdd"
    rng = np.random.RandomState(0)
    cuts = [0, 1, 10, 100, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1]
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="broken.sksvdd"):
            load(path)
    for position in rng.randint(0, len(data), size=40):
        corrupted = bytearray(data)
        corrupted[position] ^= 0xFF
        path.write_bytes(bytes(corrupted))
        try:
            load(path)  # a flip in an unused header byte may be harmless
        except ValueError as exc:
            assert "broken.sksvdd" in str(exc)


def test_missing_file_and_directory_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load(tmp_path / "absent.sksvdd")
    with pytest.raises(ValueError, match="not a file"):
        load(tmp_path)


def _tamper(source, target, edit_manifest=None, arrays=None, weights=None):
    import safetensors.numpy
    import safetensors.torch

    members = _members(source)
    manifest = json.loads(members["manifest.json"])
    if edit_manifest is not None:
        edit_manifest(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    if arrays is not None:
        loaded = safetensors.numpy.load(members["arrays.safetensors"])
        members["arrays.safetensors"] = safetensors.numpy.save(arrays(dict(loaded)))
    if weights is not None:
        loaded = safetensors.torch.load(members["weights.safetensors"])
        members["weights.safetensors"] = safetensors.torch.save(weights(dict(loaded)))
    target.write_bytes(_zip(members))
    return target


def _set(path, value):
    def edit(manifest):
        node = manifest
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def _replace_arrays(value):
    return lambda arrays: {k: value for k in arrays}


def _nan_weights(weights):
    weights = {k: v.clone() for k, v in weights.items()}
    key = next(k for k in weights if k.endswith("projection.0.weight"))
    weights[key][0, 0] = float("nan")
    return weights


@pytest.mark.parametrize("tamper, match", [
    (dict(edit_manifest=_set(["format_version"], FORMAT_VERSION + 1)), "Upgrade sksvdd"),
    (dict(edit_manifest=_set(["format_version"], "1")), "format_version"),
    (dict(edit_manifest=_set(["format"], "something-else")), "does not describe"),
    (dict(edit_manifest=_set(["estimator", "class"], "os.system")), "not one .* allows"),
    (dict(edit_manifest=_set(["estimator", "class"], "sklearn.ensemble.IsolationForest")),
     "not one .* allows"),
    (dict(edit_manifest=_set(["estimator", "params", "evil"], 1)), "unknown parameters"),
    (dict(edit_manifest=_set(["estimator", "params", "nu"], 5.0)), "invalid parameters"),
    (dict(edit_manifest=_set(["estimator", "params", "rep_dim"], 7)), "shape|do not fit"),
    (dict(edit_manifest=_set(["estimator", "fitted", "__class__"], 1)), "unknown attributes"),
    (dict(edit_manifest=_set(["estimator", "fitted", "offset_"], "x")), "invalid offset_"),
    (dict(edit_manifest=_set(["estimator", "fitted", "n_iter_"], 99)), "n_iter_"),
    (dict(edit_manifest=_set(["estimator", "fitted", "history_"],
                              [{"__dict__": {"eval": 1}}])), "invalid history_"),
    (dict(edit_manifest=_set(["estimator", "fitted", "history_"], [{"eval": 1}])),
     "attribute 'history_': unexpected value"),
    (dict(edit_manifest=_set(["estimator", "fitted", "radius_"], {"__reduce__": 1})),
     "unexpected value"),
    (dict(edit_manifest=_set(["estimator", "weights"], "nothing.")), "unused|refers|fit"),
    (dict(arrays=_replace_arrays(np.zeros(3))), "shape"),
    (dict(arrays=_replace_arrays(np.zeros(32, dtype=bool))), "invalid center_"),
    (dict(weights=_nan_weights), "not finite"),
    (dict(weights=lambda w: {**w, "extra": torch.zeros(2)}), "no estimator refers"),
])
def test_tampered_contents_are_rejected(saved_detector, tmp_path, tamper, match):
    path = _tamper(saved_detector, tmp_path / "tampered.sksvdd", **tamper)
    with pytest.raises(ValueError, match=match) as info:
        load(path)
    assert "tampered.sksvdd" in str(info.value)


def test_rx_with_inconsistent_shapes_is_rejected(blobs, tmp_path):
    path = save(RXDetector().fit(blobs[0]), tmp_path / "rx.sksvdd")

    def shrink(arrays):
        return {k: (v[:5, :5] if v.ndim == 2 else v) for k, v in arrays.items()}

    with pytest.raises(ValueError, match="precision_ has shape"):
        load(_tamper(path, tmp_path / "bad.sksvdd", arrays=shrink))


# --- Attacks from the review of the model format (declared sizes, history, values) -------


def test_declared_feature_count_cannot_make_load_allocate(saved_detector, tmp_path):
    # Only n_features_in_ is edited, to 25 million: the network it declares would need
    # gigabytes. The declared sizes are checked against the stored tensors on torch's meta
    # device, before anything is built; the load runs in a child with a 1 GiB address-space
    # margin over its start, so a regression fails here rather than taking the machine.
    import subprocess
    import sys
    import textwrap

    path = _tamper(saved_detector, tmp_path / "bomb.sksvdd",
                   edit_manifest=_set(["estimator", "fitted", "n_features_in_"], 25_000_000))
    code = textwrap.dedent(f"""
        import resource, sys
        import sksvdd
        used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        resource.setrlimit(resource.RLIMIT_AS, (used * 4 + 2**30, resource.RLIM_INFINITY))
        try:
            sksvdd.load({str(path)!r})
        except ValueError as exc:
            print("ValueError:", exc)
            sys.exit(0)
        sys.exit(3)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "do not fit the network declared by n_features_in_" in result.stdout


def test_long_history_loads_in_linear_time(blobs, tmp_path):
    # 100,000 history rows (n_iter_ to match): rebuilding skorch's History row by row through
    # History.record was quadratic (minutes); the rebuild is one extend.
    det = DeepSVDDDetector(**FAST).fit(blobs[0])
    row = dict(det.history_[-1])

    def long_history(manifest):
        fitted = manifest["estimator"]["fitted"]
        last = fitted["history_"][-1]["__dict__"]  # as the file stores it
        fitted["history_"] = [{"__dict__": {**last, "epoch": i + 1}} for i in range(100_000)]
        fitted["n_iter_"] = 100_000

    path = _tamper(save(det, tmp_path / "d.sksvdd"), tmp_path / "long.sksvdd",
                   edit_manifest=long_history)
    import time

    start = time.perf_counter()
    loaded = load(path)
    assert time.perf_counter() - start < 60  # quadratic: about 4 minutes on 2 cores
    assert loaded.n_iter_ == 100_000 and len(loaded.net_.history) == 100_000
    assert loaded.net_.history[-1, "train_loss"] == row["loss"]


def test_non_finite_fitted_arrays_are_rejected(blobs, tmp_path):
    # NaN or infinity in any array a fitted model reads would give NaN scores (and predict
    # would then flag nothing): refused at load.
    path = save(RXDetector().fit(blobs[0]), tmp_path / "rx.sksvdd")
    for value in (np.nan, np.inf):
        def poison(arrays):
            return {k: np.where(np.arange(v.size).reshape(v.shape) == 0, value, v)
                    if v.dtype.kind == "f" else v for k, v in arrays.items()}

        with pytest.raises(ValueError, match="invalid (location_|precision_)"):
            load(_tamper(path, tmp_path / "bad.sksvdd", arrays=poison))


def test_zero_encoder_scale_is_rejected(saved_detector, tmp_path):
    def zero_scale(weights):
        weights = {k: v.clone() for k, v in weights.items()}
        key = next(k for k in weights if k.endswith("encoder.scale0"))
        weights[key][0] = 0.0
        return weights

    with pytest.raises(ValueError, match="scale0 must be positive"):
        load(_tamper(saved_detector, tmp_path / "scale.sksvdd", weights=zero_scale))


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_DEFLATED])
def test_compressed_tensor_members_are_refused(saved_detector, tmp_path, method):
    # A 2 KB file with a BZIP2 member declared as 1000 bytes inflated to gigabytes: tensors
    # must be stored uncompressed (as save writes them), so they cannot expand.
    members = _members(saved_detector)
    path = tmp_path / "packed.sksvdd"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=(
                method if name.endswith(".safetensors") else zipfile.ZIP_DEFLATED))
    with pytest.raises(ValueError, match="compression method"):
        load(path)


def test_manifest_bomb_is_read_up_to_its_cap_only(saved_detector, tmp_path):
    # A deflated manifest of 200 MiB of spaces (a few hundred KB in the file) is refused
    # from its declared size; with the size in its header forged small, the chunked read
    # stops at the declared size instead of inflating everything.
    members = _members(saved_detector)
    members["manifest.json"] = members["manifest.json"] + b" " * (200 * 2**20)
    path = tmp_path / "bomb.sksvdd"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=(
                zipfile.ZIP_DEFLATED if name == "manifest.json" else zipfile.ZIP_STORED))
    assert path.stat().st_size < 2 * 2**20
    with pytest.raises(ValueError, match="implausibly large"):
        load(path)


def test_pipeline_cache_folders_are_not_stored_nor_loaded(blobs, tmp_path):
    # A Pipeline(memory=<folder>) loaded from a file would pickle to and unpickle from that
    # folder at the next fit: save stores memory=None (with a warning), load refuses a path.
    pipe = make_pipeline(StandardScaler(), RXDetector(), memory=str(tmp_path / "cache"))
    pipe.fit(blobs[0])
    with pytest.warns(UserWarning, match="memory="):
        path = save(pipe, tmp_path / "p.sksvdd")
    assert load(path).memory is None
    tampered = _tamper(path, tmp_path / "mem.sksvdd",
                       edit_manifest=_set(["estimator", "params", "memory"], str(tmp_path)))
    with pytest.raises(ValueError, match="memory="):
        load(tampered)


@pytest.mark.parametrize("name", ["memory", "steps", "verbose"])
def test_step_named_like_a_pipeline_parameter_is_refused(blobs, tmp_path, name):
    path = save(make_pipeline(StandardScaler(), RXDetector()).fit(blobs[0]),
                tmp_path / "p.sksvdd")

    def rename(manifest):
        manifest["estimator"]["steps"][0][0] = name

    with pytest.raises(ValueError, match=f"step named '{name}'"):
        load(_tamper(path, tmp_path / "named.sksvdd", edit_manifest=rename))


@pytest.mark.parametrize("value", [["x"], [1], [{"__dict__": {}}]])
def test_stored_callbacks_are_refused_with_a_clear_message(saved_detector, tmp_path, value):
    # save() stores callbacks=None; a list in the file was crafted, and is named as such
    # (not reported as a truncated or corrupt file).
    path = _tamper(saved_detector, tmp_path / "cb.sksvdd",
                   edit_manifest=_set(["estimator", "params", "callbacks"], value))
    with pytest.raises(ValueError, match="callbacks=.*model files store none"):
        load(path)


def _fused_rx(cube, **params):
    from sksvdd import AttributeResidual, DualWindowResidual, FusionDetector, ImageDetector

    return FusionDetector([
        ("spectral", ImageDetector(detector=RXDetector())),
        ("attribute", ImageDetector(spatial=AttributeResidual(n_components=2, areas=(6,)),
                                    detector=RXDetector())),
        ("residual", ImageDetector(spatial=DualWindowResidual(), detector=RXDetector())),
    ], fusion="mean", **params).fit(cube)


def test_fusion_detector_files_from_before_weights_still_load(tmp_path):
    # Files written before FusionDetector had `weights` hold neither weights nor weights_.
    cube = np.random.RandomState(0).normal(size=(20, 18, 5))
    det = _fused_rx(cube)
    save(det, tmp_path / "new.sksvdd")

    dropped = []

    def strip(manifest):
        manifest["estimator"]["params"].pop("weights")
        dropped.append(manifest["estimator"]["fitted"].pop("weights_")["__array__"])

    old = _tamper(tmp_path / "new.sksvdd", tmp_path / "old.sksvdd", edit_manifest=strip,
                  arrays=lambda arrays: {k: v for k, v in arrays.items() if k not in dropped})
    loaded = load(old)
    assert loaded.weights is None
    np.testing.assert_array_equal(loaded.weights_, np.ones(3))
    np.testing.assert_array_equal(loaded.score_samples(cube), det.score_samples(cube))


def test_fusion_detector_file_with_inconsistent_weights_is_refused(tmp_path):
    cube = np.random.RandomState(1).normal(size=(20, 18, 5))
    save(_fused_rx(cube, weights=[2, 1, 1]), tmp_path / "w.sksvdd")
    for edit, match in [
        (_set(["estimator", "params", "weights"], [1.0, 1.0, 1.0]), "inconsistent"),
        (_set(["estimator", "params", "weights"], [1.0, -1.0, 1.0]), "invalid weights"),
        (_set(["estimator", "params", "weights"], ["a", 1.0, 1.0]), "invalid weights"),
    ]:
        bad = _tamper(tmp_path / "w.sksvdd", tmp_path / "bad.sksvdd", edit_manifest=edit)
        with pytest.raises(ValueError, match=match):
            load(bad)
