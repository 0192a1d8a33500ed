"""Save and load fitted kernelkit models without pickle.

A model file is a zip archive with two members:

* ``metadata.json`` — format name and version, the model's class, its constructor
  parameters and its fitted scalar attributes (kernels as ``{"kernel": name, "params":
  ...}``), and a SHA-256 checksum;
* ``arrays.npz`` — every fitted array, read back with ``numpy.load(allow_pickle=False)``.

Loading never runs code from the file: classes are looked up only among kernelkit's own
estimators and kernels, arrays cannot hold Python objects, and the checksum (over the
metadata and the arrays) rejects files that were edited or truncated.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from .exceptions import InputValueError, ParameterError

__all__ = ["save", "load", "FORMAT", "FORMAT_VERSION"]

FORMAT = "kernelkit-model"
#: Bumped whenever the layout changes; :func:`load` refuses other versions.
FORMAT_VERSION = 1

_MODULES = ("kernelkit.regression",)


def _checksum(meta: dict[str, Any], arrays: bytes) -> str:
    body = json.dumps({k: v for k, v in meta.items() if k != "sha256"}, sort_keys=True)
    return hashlib.sha256(body.encode() + arrays).hexdigest()


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def encode(self, value: Any, where: str) -> Any:
        from .kernels._base import Kernel

        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
            return value.item() if isinstance(value, np.generic) else value
        if isinstance(value, Kernel):
            import kernelkit.kernels as kernels

            name = type(value).__name__
            if getattr(kernels, name, None) is not type(value):
                raise ParameterError(f"{where}: only kernelkit.kernels classes can be saved, "
                                     f"got {type(value).__module__}.{name}.")
            params = value.get_params(deep=False)
            return {"kernel": name,
                    "params": {k: self.encode(v, f"{where}.{k}") for k, v in params.items()}}
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject and all(isinstance(v, str) for v in value.flat):
                value = value.astype(str)  # e.g. feature_names_in_, string class labels
            if value.dtype.hasobject:
                raise ParameterError(f"{where}: arrays of Python objects cannot be saved; "
                                     "use numeric or string labels.")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"array": key}
        if isinstance(value, (list, tuple)):
            return {"list" if isinstance(value, list) else "tuple":
                    [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        raise ParameterError(f"{where} of type {type(value).__name__} cannot be saved without "
                             "pickle; set it to None (or a number) before saving.")


def _decode(value: Any, arrays: Any, where: str) -> Any:
    if not isinstance(value, dict):
        return value
    if set(value) == {"array"}:
        return arrays[value["array"]]
    if set(value) == {"list"}:
        return [_decode(v, arrays, where) for v in value["list"]]
    if set(value) == {"tuple"}:
        return tuple(_decode(v, arrays, where) for v in value["tuple"])
    if set(value) == {"kernel", "params"}:
        import kernelkit.kernels as kernels

        from .kernels._base import Kernel

        cls = getattr(kernels, str(value["kernel"]), None)
        if not (isinstance(cls, type) and issubclass(cls, Kernel)):
            raise InputValueError(f"{where}: unknown kernel {value['kernel']!r} in the file.")
        params = {k: _decode(v, arrays, where) for k, v in value["params"].items()}
        return cls(**params)
    raise InputValueError(f"{where}: unreadable entry {value!r} in the file.")


def _public_module(cls: type) -> str:
    """``kernelkit.regression`` for ``kernelkit.regression._krr`` (private module dropped)."""
    parts = cls.__module__.split(".")
    return ".".join(parts[:-1] if parts[-1].startswith("_") else parts)


def save(model: Any, path: str | os.PathLike[str]) -> None:
    """Write a (fitted) kernelkit estimator to ``path``.

    Parameters
    ----------
    model : estimator
        A kernelkit regression estimator (KernelRidge, FalkonRegressor, FalkonClassifier,
        GaussianProcessRegressor, SpectralFilterRegressor).
    path : str or path-like
        File to write (conventionally ``*.kk``); overwritten if it exists.

    Raises
    ------
    ParameterError
        For another kind of object, or an attribute that cannot be stored without pickle.
        A ``callback`` parameter is not saved (it is stored as None, with a warning).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from kernelkit.regression import KernelRidge
    >>> from kernelkit.io import save, load
    >>> X = np.arange(10.0).reshape(5, 2); y = X.sum(axis=1)
    >>> model = KernelRidge(alpha=0.1).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.kk")
    >>> save(model, path)
    >>> bool(np.allclose(load(path).predict(X), model.predict(X)))
    True
    """
    from sklearn.base import BaseEstimator

    from . import __version__

    cls = type(model)
    if not (isinstance(model, BaseEstimator) and cls.__module__.startswith(_MODULES)):
        raise ParameterError(f"model must be a kernelkit estimator, got {cls.__name__}.")
    params = model.get_params(deep=False)
    if params.get("callback") is not None:
        warnings.warn("the callback is not saved; the loaded model has callback=None.",
                      UserWarning, stacklevel=2)
        params["callback"] = None
    enc = _Encoder()
    attrs = {k: v for k, v in vars(model).items() if k not in params and not k.startswith("__")}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kernelkit_version": __version__,
        "class": f"{_public_module(cls)}.{cls.__name__}",
        "params": {k: enc.encode(v, k) for k, v in params.items()},
        "attributes": {k: enc.encode(v, k) for k, v in attrs.items()},
    }
    buffer = io.BytesIO()
    np.savez(buffer, **enc.arrays)  # type: ignore[arg-type]
    arrays = buffer.getvalue()
    meta["sha256"] = _checksum(meta, arrays)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(meta, indent=1, sort_keys=True))
        zf.writestr("arrays.npz", arrays)


def load(path: str | os.PathLike[str]) -> Any:
    """Read a model written by :func:`save`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    model : estimator
        A new estimator with the saved parameters and fitted attributes.

    Raises
    ------
    InputValueError
        Not a kernelkit model file, another format version, a checksum mismatch
        (edited or truncated file) or an unknown class.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("metadata.json"))
            arrays_bytes = zf.read("arrays.npz")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputValueError(f"{os.fspath(path)!r} is not a kernelkit model file "
                              f"(written by kernelkit.io.save): {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InputValueError(f"{os.fspath(path)!r} is not a kernelkit model file.")
    if meta.get("format_version") != FORMAT_VERSION:
        raise InputValueError(
            f"{os.fspath(path)!r} has model format version {meta.get('format_version')!r} "
            f"(written by kernelkit {meta.get('kernelkit_version')}); this kernelkit reads "
            f"version {FORMAT_VERSION}. Re-fit and save the model with this version.")
    if meta.get("sha256") != _checksum(meta, arrays_bytes):
        raise InputValueError(f"{os.fspath(path)!r} failed its checksum: the file was "
                              "modified or damaged after it was saved.")
    module_name, _, class_name = str(meta.get("class", "")).rpartition(".")
    if module_name not in _MODULES:
        raise InputValueError(f"{os.fspath(path)!r} names class {meta.get('class')!r}, "
                              "which is not a kernelkit estimator.")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not isinstance(cls, type):
        raise InputValueError(f"unknown estimator {meta.get('class')!r} in {os.fspath(path)!r}.")
    with np.load(io.BytesIO(arrays_bytes), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    params = {k: _decode(v, arrays, k) for k, v in meta["params"].items()}
    model = cls(**params)
    for k, v in meta["attributes"].items():
        setattr(model, k, _decode(v, arrays, k))
    return model
