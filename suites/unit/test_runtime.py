"""Tests of routelet.runtime: loading, verification, classification, deferral."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from routelet.errors import ModelError
from routelet.intents import LABELS, Intent
from routelet.runtime import Router

pytestmark = pytest.mark.shipped


@pytest.fixture
def model_copy(paths, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    dst = tmp_path / "model"
    shutil.copytree(paths.default_model, dst)
    return dst


def test_classify_returns_a_full_distribution(shipped_router: Router) -> None:
    """classify gives an Intent, its confidence and a distribution over every label."""
    pred = shipped_router.classify("turn off the kitchen lights")
    assert isinstance(pred.intent, Intent)
    assert list(pred.distribution) == list(LABELS)
    assert pred.confidence == pytest.approx(max(pred.distribution.values()))
    assert sum(pred.distribution.values()) == pytest.approx(1.0)


def test_default_predict_proba_equals_classify(shipped_router: Router) -> None:
    """predict_proba's default gives each text exactly the distribution classify gives it."""
    texts = ["pause", "take a screenshot", "whats 17 times 23", "x" * 600]
    probs = shipped_router.predict_proba(texts)
    for text, row in zip(texts, probs, strict=True):
        assert list(row) == list(shipped_router.classify(text).distribution.values())


def test_batch_keeps_input_order(shipped_router: Router) -> None:
    """classify_batch answers in input order (rows are sorted by length internally)."""
    texts = ["remember my locker code is 4471", "x" * 600, "what is the capital of peru", ""]
    batch = shipped_router.classify_batch(texts)
    assert [p.intent for p in batch] == [shipped_router.classify(t).intent for t in texts]


def test_batch_close_to_single_on_holdout(shipped_router: Router, paths) -> None:  # type: ignore[no-untyped-def]
    """Batched and one-by-one probabilities agree closely (int8 activations scale per batch)."""
    from routelet.data import load_jsonl

    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]
    batch = shipped_router.predict_proba(texts, batch_size=16)
    single = np.vstack([shipped_router.predict_proba([t]) for t in texts])
    assert (batch.argmax(axis=1) == single.argmax(axis=1)).mean() >= 0.99
    assert np.abs(batch - single).mean() <= 0.01


def test_threshold_controls_deferral(paths) -> None:  # type: ignore[no-untyped-def]
    """With threshold 1.0 everything defers; with 0.0 only `none` predictions defer."""
    strict = Router.load(paths.default_model, threshold=1.0)
    lax = Router.load(paths.default_model, threshold=0.0)
    assert strict.classify("pause the music").deferred
    pred = lax.classify("pause the music")
    assert pred.deferred is (pred.intent is Intent.NONE)


def test_missing_directory(tmp_path: Path) -> None:
    """A missing model directory is a clear ModelError."""
    with pytest.raises(ModelError, match="not found"):
        Router.load(tmp_path / "nope")


@pytest.mark.parametrize("name", ["model.onnx", "tokenizer.json", "head.json"])
def test_corrupt_artifact_is_rejected(model_copy: Path, name: str) -> None:
    """A changed byte in any artifact fails checksum verification."""
    path = model_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        Router.load(model_copy)


def test_missing_artifact_is_rejected(model_copy: Path) -> None:
    """A deleted artifact is named in the error."""
    (model_copy / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="missing model file"):
        Router.load(model_copy)


def test_corrupt_manifest_is_rejected(model_copy: Path) -> None:
    """An unreadable manifest is a ModelError, not a JSON traceback."""
    (model_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="corrupt manifest"):
        Router.load(model_copy)


def test_predict_proba_columns_follow_intent(shipped_router: Router) -> None:
    """predict_proba is (n, 6) in Intent order and predict maps argmax to labels."""
    probs = shipped_router.predict_proba(["hello there", "scroll down"])
    assert probs.shape == (2, 6)
    assert list(shipped_router.predict(["hello there"])) == [LABELS[int(np.argmax(probs[0]))]]


def test_head_labels_checked(model_copy: Path) -> None:
    """A head whose labels are not in Intent order is refused even with valid checksums."""
    from routelet.manifest import write_manifest

    head = json.loads((model_copy / "head.json").read_text())
    head["labels"] = list(reversed(head["labels"]))
    (model_copy / "head.json").write_text(json.dumps(head))
    manifest = json.loads((model_copy / "manifest.json").read_text())
    write_manifest(model_copy, {k: v for k, v in manifest.items() if k != "artifacts"})
    with pytest.raises(ModelError, match="differ from Intent order"):
        Router.load(model_copy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"threads": 0}, "threads must be >= 1", id="zero-threads"),
        pytest.param({"threshold": 1.5}, "between 0 and 1", id="threshold-above-1"),
        pytest.param({"threshold": -0.1}, "between 0 and 1", id="negative-threshold"),
    ],
)
def test_bad_load_options_are_config_errors(paths, kwargs: dict, message: str) -> None:  # type: ignore[no-untyped-def]
    """Invalid thread counts and thresholds are rejected with a clear ConfigError."""
    from routelet.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        Router.load(paths.default_model, **kwargs)
