"""A versioned model directory: each version a folder with the model and its metadata.

Layout under ``root``::

    root/<name>/v1/model.skops       the fitted estimator, in skops format (zip, compressed)
    root/<name>/v1/model.onnx        optional: the same model as an ONNX graph (what the service runs)
    root/<name>/v1/metadata.json     version, time, metrics, input schema, library versions, sha256
    root/<name>/LATEST               the number of the version to serve (replaced atomically)

A pointer file rather than a ``latest`` symlink: it is replaced with one atomic rename, works
on every file system and object store, and rolling back is writing an older number into it.
The serialization page builds this step by step; the serving page and the container load it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from mlbook_utils._validate import check_bool, check_fraction, check_name, check_strings, check_version
from mlbook_utils.envreport import library_versions

#: Types outside skops' default trust list that the book's churn pipeline needs. Loading
#: refuses any other type, so a tampered file cannot make the loader build arbitrary objects.
TRUSTED_TYPES: tuple[str, ...] = ("mlbook_utils.churn.ChurnFeatures", "numpy.dtype")
MODEL_FILE = "model.skops"
ONNX_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
LATEST_FILE = "LATEST"
#: The distributions a saved model depends on: their versions are stored in its metadata
#: (``library_versions(MODEL_LIBRARIES)``), and loading compares the first three.
MODEL_LIBRARIES: tuple[str, ...] = ("scikit-learn", "numpy", "pandas", "skops", "mlbook-utils")
_CHECKED_LIBRARIES = ("scikit-learn", "numpy", "pandas")
_METADATA_KEYS = ("version", "sha256", "threshold", "input_schema", "libraries")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def list_versions(root: str | os.PathLike[str], name: str) -> list[int]:
    """Version numbers saved under ``root/name``, in numeric order (v10 after v9).

    Returns an empty list when nothing has been saved under that name yet.
    """
    folder = Path(root) / check_name(name)
    if not folder.is_dir():
        return []
    return sorted(int(p.name[1:]) for p in folder.iterdir()
                  if p.is_dir() and re.fullmatch(r"v\d+", p.name))


def set_latest(root: str | os.PathLike[str], name: str, version: int) -> None:
    """Point ``LATEST`` at ``version`` (an existing one): how a release or a rollback is made."""
    if check_version(version) == "latest" or version not in list_versions(root, name):
        raise ValueError(f"{name} has no version {version!r}; saved: {list_versions(root, name)}")
    folder = Path(root) / name
    tmp = folder / f".{LATEST_FILE}.tmp"
    tmp.write_text(f"{version}\n")
    os.replace(tmp, folder / LATEST_FILE)  # atomic: a reader sees the old or the new number


def save_model_version(
    model: Any,
    root: str | os.PathLike[str],
    name: str,
    *,
    input_example: pd.DataFrame,
    metrics: Mapping[str, float],
    params: Mapping[str, Any] | None = None,
    threshold: float = 0.5,
    make_latest: bool = True,
    onnx_model: bytes | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Save a fitted estimator as the next version of ``name`` and return its number.

    Parameters
    ----------
    model:
        A fitted scikit-learn estimator with ``predict_proba``.
    root, name:
        The model store folder (created if needed) and the model's name.
    input_example:
        A few rows of what the model takes: their columns and dtypes become the input schema,
        and the loader checks the reloaded model against them.
    metrics, params:
        Held-out scores and training settings, stored as JSON.
    threshold:
        The probability above which the service answers "churn".
    make_latest:
        Also point ``LATEST`` at the new version.
    onnx_model:
        The same model as a serialized ONNX graph (:func:`mlbook_utils.onnxchurn.churn_to_onnx`),
        saved beside it as ``model.onnx``; its digest is ``metadata["onnx_sha256"]``.
    extra:
        More JSON-serializable metadata (``export_model`` stores the training data's dates).

    Examples
    --------
    >>> import tempfile
    >>> from mlbook_utils import build_churn_pipeline, make_churn
    >>> from mlbook_utils.churn import RAW_COLUMNS
    >>> df = make_churn(300, seed=0)
    >>> X, y = df[list(RAW_COLUMNS)], df["churned"]
    >>> model = build_churn_pipeline().fit(X, y)
    >>> with tempfile.TemporaryDirectory() as root:
    ...     save_model_version(model, root, "churn", input_example=X.head(3), metrics={"auc": 0.8})
    ...     save_model_version(model, root, "churn", input_example=X.head(3), metrics={"auc": 0.9})
    ...     list_versions(root, "churn")
    1
    2
    [1, 2]
    """
    import skops.io as sio

    check_name(name)
    if not hasattr(model, "predict_proba"):
        raise TypeError(f"model must be a fitted classifier with predict_proba, got {type(model).__name__}")
    if not isinstance(input_example, pd.DataFrame) or input_example.empty:
        raise TypeError("input_example must be a non-empty DataFrame")
    threshold = check_fraction("threshold", threshold)
    check_bool("make_latest", make_latest)
    if onnx_model is not None and not isinstance(onnx_model, bytes):
        raise TypeError(f"onnx_model must be bytes or None, got {type(onnx_model).__name__}")
    metrics = {str(k): float(v) for k, v in metrics.items()}
    folder = Path(root) / name
    number = max(list_versions(root, name), default=0) + 1
    target = folder / f"v{number}"
    target.mkdir(parents=True, exist_ok=False)
    sio.dump(model, target / MODEL_FILE, compression=zipfile.ZIP_DEFLATED)
    if onnx_model is not None:
        (target / ONNX_FILE).write_bytes(onnx_model)
    example = input_example.head(5)
    metadata = {
        "name": name,
        "version": number,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "format": "skops",
        "sha256": _sha256(target / MODEL_FILE),
        "threshold": threshold,
        "metrics": metrics,
        "params": dict(params or {}),
        "input_schema": {str(c): str(t) for c, t in example.dtypes.items()},
        "input_example": json.loads(example.to_json(orient="records", date_format="iso")),
        "libraries": library_versions(MODEL_LIBRARIES),
        "onnx_sha256": None if onnx_model is None else hashlib.sha256(onnx_model).hexdigest(),
        **dict(extra or {}),
    }
    (target / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str) + "\n")
    if make_latest:
        set_latest(root, name, number)
    return number


def load_model_version(
    root: str | os.PathLike[str],
    name: str,
    version: int | str = "latest",
    *,
    trusted: Sequence[str] = TRUSTED_TYPES,
    check_libraries: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Load one version of ``name``: ``(model, metadata)``.

    Checks, each with an error that says what is wrong: the version exists; the file's
    sha256 matches the metadata (the file was not changed or truncated); the file holds no
    type outside skops' defaults and ``trusted``; the ONNX graph, if one was saved, matches its
    sha256 too (:func:`load_onnx_model` reads it); and, with ``check_libraries``, that
    scikit-learn, numpy and pandas have the versions the model was saved with (a pickle-like
    format is only guaranteed to load in the same versions).
    """
    import skops.io as sio

    check_name(name)
    version = check_version(version)
    trusted = check_strings("trusted", trusted)
    check_bool("check_libraries", check_libraries)
    folder = Path(root) / name
    if version == "latest":
        pointer = folder / LATEST_FILE
        if not pointer.is_file():
            raise FileNotFoundError(f"no {LATEST_FILE} in {folder}: nothing saved under {name!r}")
        text = pointer.read_text().strip()
        if not text.isdecimal():
            raise ValueError(f"{pointer} must hold a version number, holds {text[:40]!r}")
        version = int(text)
    target = folder / f"v{version}"
    if not target.is_dir():
        raise FileNotFoundError(f"{name} has no version {version}; saved: {list_versions(root, name)}")
    path = target / MODEL_FILE
    for needed in (path, target / METADATA_FILE):
        if not needed.is_file():
            raise FileNotFoundError(f"{name} v{version} is incomplete: {needed.name} is missing")
    try:
        metadata = json.loads((target / METADATA_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{target / METADATA_FILE} is not valid JSON: {exc}") from None
    missing = [k for k in _METADATA_KEYS if not isinstance(metadata, dict) or k not in metadata]
    if missing:
        raise ValueError(f"{target / METADATA_FILE} lacks {missing}: not written by save_model_version")
    if _sha256(path) != metadata["sha256"]:
        raise ValueError(f"{path} does not match the sha256 in its metadata: changed or corrupt")
    if check_libraries:
        now = library_versions(_CHECKED_LIBRARIES)
        differ = {lib: (metadata["libraries"].get(lib), now[lib])
                  for lib in _CHECKED_LIBRARIES
                  if metadata["libraries"].get(lib) != now[lib]}
        if differ:
            detail = ", ".join(f"{lib} saved with {a}, running {b}" for lib, (a, b) in differ.items())
            raise RuntimeError(f"{name} v{version} was saved with other library versions ({detail}); "
                               "retrain, or pass check_libraries=False after validating it")
    untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in set(trusted)]
    if untrusted:
        raise ValueError(f"{path} contains types that are not trusted: {untrusted}")
    if metadata.get("onnx_sha256") is not None:
        _read_onnx(target, metadata)
    model = sio.load(path, trusted=trusted)
    return model, metadata


def _read_onnx(target: Path, metadata: Mapping[str, Any]) -> bytes:
    path = target / ONNX_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{metadata['name']} v{metadata['version']} is incomplete: "
                                f"{ONNX_FILE} is missing")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != metadata["onnx_sha256"]:
        raise ValueError(f"{path} does not match the onnx_sha256 in its metadata: changed or corrupt")
    return data


def load_onnx_model(root: str | os.PathLike[str], name: str, version: int) -> bytes:
    """The ONNX graph saved with version ``version`` of ``name``, checked against its sha256.

    Raises ``ValueError`` when that version was saved without one (``onnx_model=None``).
    A number, not ``"latest"``: call it with ``load_model_version(...)[1]["version"]``, so that
    both artefacts come from the same version even if ``LATEST`` moves in between.
    """
    check_name(name)
    if check_version(version) == "latest":
        raise ValueError("version must be a number here, the one load_model_version returned")
    target = Path(root) / name / f"v{version}"
    try:
        metadata = json.loads((target / METADATA_FILE).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{name} has no version {version}; saved: {list_versions(root, name)}") from None
    if metadata.get("onnx_sha256") is None:
        raise ValueError(f"{name} v{version} was saved without an ONNX graph")
    return _read_onnx(target, metadata)
