"""Model manifests: sha256 of every artifact, of the training data and of the config.

``write_manifest`` records; ``verify_artifacts`` checks a model directory against its
manifest and raises ``ModelError`` on a missing or altered file. It does not decide
whether a model is stale; that is a comparison of ``data_sha256`` with the repo's files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from routelet.errors import ModelError

MANIFEST = "manifest.json"
ARTIFACTS = ("model.onnx", "tokenizer.json", "head.json")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_files(paths: list[Path], root: Path) -> dict[str, str]:
    """``{relative posix path: sha256}`` for each file, relative to ``root``."""
    return {p.resolve().relative_to(root.resolve()).as_posix(): sha256_file(p) for p in paths}


def read_manifest(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / MANIFEST
    if not path.is_file():
        raise ModelError(f"{model_dir}: no {MANIFEST}; is this a routelet model directory?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: corrupt manifest ({exc.msg})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("artifacts"), dict):
        raise ModelError(f"{path}: manifest has no 'artifacts' table")
    return manifest


def verify_artifacts(model_dir: Path) -> dict[str, Any]:
    """Check every artifact's sha256 against the manifest; return the manifest."""
    manifest = read_manifest(model_dir)
    verify_files(model_dir, manifest, ARTIFACTS)
    return manifest


def verify_files(model_dir: Path, manifest: dict[str, Any], names: tuple[str, ...]) -> None:
    """Check the sha256 of each of ``names`` against ``manifest``; raise ``ModelError`` if not."""
    for name in names:
        expected = manifest["artifacts"].get(name)
        path = Path(model_dir) / name
        if expected is None:
            raise ModelError(f"{model_dir}: manifest lists no checksum for {name}")
        if not path.is_file():
            raise ModelError(f"{path}: missing model file")
        if sha256_file(path) != expected:
            raise ModelError(f"{path}: checksum mismatch (corrupt or replaced file)")


def add_artifacts(model_dir: Path, names: tuple[str, ...], extra: dict[str, Any]) -> dict[str, Any]:
    """Add ``names``' checksums and ``extra`` fields to an existing manifest; return it."""
    model_dir = Path(model_dir)
    manifest = read_manifest(model_dir)
    manifest["artifacts"].update({name: sha256_file(model_dir / name) for name in names})
    manifest.update(extra)
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def write_manifest(model_dir: Path, extra: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest.json`` with artifact checksums plus ``extra`` fields; return it."""
    model_dir = Path(model_dir)
    manifest = {"artifacts": {name: sha256_file(model_dir / name) for name in ARTIFACTS}, **extra}
    (model_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
