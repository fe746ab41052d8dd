"""Tests of routelet.runtime: loading, verification, classification, deferral.

That every multi-text path answers exactly as ``classify`` on every eval file is proven
in ``suites/parity/test_entry_points.py``.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routelet.errors import ConfigError, DataError, ModelError
from routelet.intents import LABELS, Intent
from routelet.manifest import write_manifest
from routelet.runtime import Router, check_threshold, deferred_mask, defers

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


@pytest.mark.parametrize(
    "workers", [pytest.param(1, id="one-worker"), pytest.param(3, id="3-workers")]
)
def test_classify_batch_keeps_input_order(shipped_router: Router, workers: int) -> None:
    """classify_batch answers in input order, each text exactly as classify answers it."""
    texts = ["remember my locker code is 4471", "x" * 600, "what is the capital of peru", "hi"]
    batch = shipped_router.classify_batch(texts, workers=workers)
    assert batch == [shipped_router.classify(t) for t in texts]


def test_batch_mates_do_not_change_an_answer(shipped_router: Router) -> None:
    """A text gets the same answer alone and among batch-mates (padding once moved `next`)."""
    among = shipped_router.classify_batch(["next", "pause", "stop", "skip", "louder", "hey"])
    assert among[0] == shipped_router.classify("next")


@pytest.mark.parametrize(
    "text", [pytest.param("", id="empty"), pytest.param(" \t\n", id="whitespace")]
)
def test_empty_text_is_refused(shipped_router: Router, text: str) -> None:
    """An empty or whitespace-only text is a DataError, as in data files and POST /route."""
    with pytest.raises(DataError, match="empty"):
        shipped_router.classify(text)


def test_empty_text_in_a_batch_is_refused(shipped_router: Router) -> None:
    """A multi-text call with one empty text is refused, not answered with a made-up row."""
    with pytest.raises(DataError, match="empty"):
        shipped_router.predict_proba(["pause", ""], workers=2)


def test_zero_workers_is_a_config_error(shipped_router: Router) -> None:
    """workers below 1 is refused."""
    with pytest.raises(ConfigError, match="workers"):
        shipped_router.predict_proba(["pause"], workers=0)


@pytest.mark.parametrize(
    ("probs", "deferred"),
    [
        pytest.param([0.9, 0.02, 0.02, 0.02, 0.02, 0.02], False, id="confident"),
        pytest.param([0.4, 0.3, 0.1, 0.1, 0.05, 0.05], True, id="below-threshold"),
        pytest.param([0.0, 0.0, 0.0, 0.0, 0.0, 1.0], True, id="none-is-deferred"),
        pytest.param([0.5, 0.1, 0.1, 0.1, 0.1, 0.1], False, id="at-threshold"),
    ],
)
def test_deferral_rule(probs: list[float], deferred: bool) -> None:
    """Deferred: predicted `none`, or a top probability below the threshold (0.5 here);
    the rule for one text and for many rows at once agree."""
    assert deferred_mask(np.array([probs]), 0.5).tolist() == [deferred]
    best = int(np.argmax(probs))
    assert defers(best, probs[best], 0.5) is deferred


@pytest.mark.parametrize(
    "value",
    [pytest.param(2.0, id="2"), pytest.param(-5.0, id="-5"), pytest.param(float("nan"), id="nan")],
)
def test_threshold_outside_unit_interval_is_refused(value: float) -> None:
    """A threshold that is not a probability is a ConfigError."""
    with pytest.raises(ConfigError, match="between 0 and 1"):
        check_threshold(value)


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


def _rewrite(model_dir: Path, head: Any = None, **manifest_fields: Any) -> None:
    """Replace head.json and/or manifest fields, then re-checksum so only the content is bad."""
    if head is not None:
        (model_dir / "head.json").write_text(json.dumps(head))
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest.update(manifest_fields)
    write_manifest(model_dir, {k: v for k, v in manifest.items() if k != "artifacts"})


def test_head_labels_checked(model_copy: Path) -> None:
    """A head whose labels are not in Intent order is refused even with valid checksums."""
    head = json.loads((model_copy / "head.json").read_text())
    head["labels"] = list(reversed(head["labels"]))
    _rewrite(model_copy, head)
    with pytest.raises(ModelError, match="differ from Intent order"):
        Router.load(model_copy)


def _narrow(head: dict[str, Any]) -> None:
    head["coef"] = [row[:-1] for row in head["coef"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda h: h.update(temperature=0), "temperature", id="temperature-0"),
        pytest.param(
            lambda h: h.update(temperature=-1.5), "temperature", id="temperature-negative"
        ),
        pytest.param(
            lambda h: h.update(temperature=float("nan")), "temperature", id="temperature-nan"
        ),
        pytest.param(
            lambda h: h.update(temperature="hot"), "malformed head", id="temperature-text"
        ),
        pytest.param(_narrow, "383-wide", id="wrong-width"),
        pytest.param(lambda h: h.update(intercept=[0.0] * 5), "shapes", id="short-intercept"),
        pytest.param(
            lambda h: h["coef"][0].__setitem__(0, float("inf")), "finite", id="inf-weight"
        ),
        pytest.param(lambda h: h.pop("max_length"), "malformed head", id="no-max-length"),
        pytest.param(lambda h: h.update(max_length=0), "max_length", id="max-length-0"),
        pytest.param(lambda h: h.update(coef="abc"), "malformed head", id="coef-text"),
    ],
)
def test_malformed_head_is_a_model_error(model_copy: Path, change: Any, message: str) -> None:
    """A checksum-valid head that cannot give a distribution is refused at load time."""
    head = json.loads((model_copy / "head.json").read_text())
    change(head)
    _rewrite(model_copy, head)
    with pytest.raises(ModelError, match=message):
        Router.load(model_copy)


def test_head_that_is_not_an_object_is_a_model_error(model_copy: Path) -> None:
    """A head.json holding a JSON array is refused with a ModelError."""
    _rewrite(model_copy, [1, 2, 3])
    with pytest.raises(ModelError, match="malformed head"):
        Router.load(model_copy)


@pytest.mark.parametrize("artifacts", [pytest.param([], id="list"), pytest.param("x", id="string")])
def test_manifest_artifacts_not_a_table(model_copy: Path, artifacts: Any) -> None:
    """A manifest whose 'artifacts' is not a table is a ModelError, not a traceback."""
    manifest = json.loads((model_copy / "manifest.json").read_text())
    manifest["artifacts"] = artifacts
    (model_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="artifacts"):
        Router.load(model_copy)


@pytest.mark.parametrize("value", [pytest.param(7, id="seven"), pytest.param("high", id="text")])
def test_manifest_threshold_outside_unit_interval(model_copy: Path, value: Any) -> None:
    """A manifest defer_threshold that is not a probability is a ModelError."""
    _rewrite(model_copy, defer_threshold=value)
    with pytest.raises(ModelError, match="defer_threshold"):
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


@given(
    st.lists(st.sampled_from([0.0, 0.05, 0.2, 0.3, 0.5, 0.7]), min_size=6, max_size=6),
    st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
)
def test_prediction_follows_argmax_and_the_deferral_rule(
    shipped_router: Router, values: list[float], threshold: float
) -> None:
    """A Prediction's intent is the first maximum (ties as numpy's argmax breaks them) and
    its ``deferred`` is ``deferred_mask``'s, on distributions full of ties."""
    probs = np.asarray(values, dtype=np.float64)
    router = Router(
        shipped_router._session,
        shipped_router._tokenizer,
        shipped_router._coef_t.T,
        shipped_router._intercept,
        shipped_router.temperature,
        threshold=threshold,
    )
    prediction = router._prediction(probs, "encoder")
    assert prediction.intent == Intent(LABELS[int(probs.argmax())])
    assert prediction.confidence == probs.max()
    assert prediction.deferred == bool(deferred_mask(probs[None, :], threshold)[0])
