"""kernelkit.io: save/load round trips, versioning and tamper detection."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from kernelkit import io as kio
from kernelkit.exceptions import InputValueError, ParameterError
from kernelkit.kernels import Gaussian, Laplace, Matern
from kernelkit.regression import (
    FalkonClassifier,
    FalkonRegressor,
    GaussianProcessRegressor,
    KernelRidge,
    SpectralFilterRegressor,
)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.sin(X).sum(axis=1)
    return X, y, rng.normal(size=(10, 3))


@pytest.mark.parametrize("make", [
    lambda: KernelRidge(kernel=2.0 * Gaussian(bandwidth=[0.5, 1.0, 2.0]) + Laplace(),
                        alpha=0.1),
    lambda: FalkonRegressor(kernel=Matern(nu=2.5), alpha=0.1, n_centers=20, tol=1e-4,
                            random_state=0),
    lambda: GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=0.1),
    lambda: SpectralFilterRegressor(kernel=Gaussian(), n_iter=20),
])
def test_round_trip_regressors(tmp_path, data, make):
    X, y, Xq = data
    model = make().fit(X, y)
    path = tmp_path / "model.kk"
    kio.save(model, path)
    loaded = kio.load(path)
    assert type(loaded) is type(model)
    assert repr(loaded.get_params()["kernel"]) == repr(model.get_params()["kernel"])
    np.testing.assert_array_equal(loaded.predict(Xq), model.predict(Xq))
    if isinstance(model, GaussianProcessRegressor):
        np.testing.assert_array_equal(loaded.predict(Xq, return_std=True)[1],
                                      model.predict(Xq, return_std=True)[1])
        assert loaded.kernel_.bandwidth == model.kernel_.bandwidth


def test_round_trip_classifier_with_string_labels(tmp_path, data):
    X, y, Xq = data
    labels = np.array(["low", "high"], dtype=object)[(y > 0).astype(int)]
    model = FalkonClassifier(n_centers=20, alpha=0.1, tol=1e-4, random_state=0,
                             callback=lambda *a: None).fit(X, labels)
    with pytest.warns(UserWarning, match="callback"):
        kio.save(model, tmp_path / "c.kk")
    loaded = kio.load(tmp_path / "c.kk")
    assert loaded.callback is None
    np.testing.assert_array_equal(loaded.predict(Xq), model.predict(Xq))
    np.testing.assert_array_equal(loaded.predict_proba(Xq), model.predict_proba(Xq))


def test_file_is_json_plus_npz_without_pickle(tmp_path, data):
    X, y, _ = data
    kio.save(KernelRidge().fit(X, y), tmp_path / "m.kk")
    with zipfile.ZipFile(tmp_path / "m.kk") as zf:
        assert sorted(zf.namelist()) == ["arrays.npz", "metadata.json"]
        meta = json.loads(zf.read("metadata.json"))
    assert meta["format"] == "kernelkit-model" and meta["format_version"] == kio.FORMAT_VERSION
    assert meta["class"] == "kernelkit.regression.KernelRidge"


def _rewrite(path, edit_meta=None, edit_arrays=None):
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("metadata.json"))
        arrays = zf.read("arrays.npz")
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        arrays = edit_arrays(arrays)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps(meta))
        zf.writestr("arrays.npz", arrays)


def _set(key, value):
    return lambda meta: meta.__setitem__(key, value)


@pytest.mark.parametrize("edit, match", [
    (dict(edit_meta=_set("format_version", 99)), "version 99"),
    (dict(edit_meta=_set("class", "os.system")), "checksum"),
    (dict(edit_meta=lambda m: m["params"].__setitem__("alpha", 5.0)), "checksum"),
    (dict(edit_arrays=lambda b: b[:-10] + b"0123456789"), "checksum"),
    (dict(edit_meta=_set("format", "other")), "not a kernelkit model"),
])
def test_tampered_or_foreign_files(tmp_path, data, edit, match):
    X, y, _ = data
    path = tmp_path / "m.kk"
    kio.save(KernelRidge().fit(X, y), path)
    _rewrite(path, **edit)
    with pytest.raises(InputValueError, match=match):
        kio.load(path)


def test_class_outside_kernelkit_rejected_even_with_valid_checksum(tmp_path, data):
    X, y, _ = data
    path = tmp_path / "m.kk"
    kio.save(KernelRidge().fit(X, y), path)

    def edit(meta):
        meta["class"] = "subprocess.Popen"
        meta["sha256"] = kio._checksum(meta, arrays)

    with zipfile.ZipFile(path) as zf:
        arrays = zf.read("arrays.npz")
    _rewrite(path, edit_meta=edit)
    with pytest.raises(InputValueError, match="not a kernelkit estimator"):
        kio.load(path)


def test_not_a_zip_and_bad_models(tmp_path):
    bad = tmp_path / "x.kk"
    bad.write_bytes(b"hello")
    with pytest.raises(InputValueError, match="not a kernelkit model file"):
        kio.load(bad)
    with pytest.raises(ParameterError, match="kernelkit estimator"):
        kio.save(object(), tmp_path / "y.kk")
