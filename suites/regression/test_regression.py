"""Regression suite: syrupy JSON snapshots of the shipped model's metrics and predictions.

Any change fails until it is accepted with ``pytest suites/regression --snapshot-update``
in a commit that says why the numbers moved. A failing predictions snapshot prints a
flip report: the rows whose label changed.
"""

from __future__ import annotations

import numpy as np
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from routelet.data import load_jsonl
from routelet.intents import LABELS
from routelet.runtime import Router
from suites.regression.flips import flip_report, format_flips, recorded_predictions

pytestmark = pytest.mark.shipped

EVAL_STEMS = ["holdout", "boundary", "short_commands", "ood", "regression"]


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


def predictions(router: Router, texts: list[str]) -> dict[str, str]:
    """``{text: predicted label}`` for every text."""
    labels = np.array(LABELS)[router.predict_proba(texts).argmax(axis=1)]
    return dict(zip(texts, labels.tolist(), strict=True))


def rounded_metrics(metrics) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "n": metrics.n,
        "accuracy": round(metrics.accuracy, 3),
        "macro_f1": round(metrics.macro_f1, 3),
        "ece": round(metrics.ece, 3),
        "none_recall": None if metrics.none_recall is None else round(metrics.none_recall, 3),
        "recall": {k: round(v["recall"], 3) for k, v in metrics.per_intent.items() if v["support"]},
    }


@pytest.mark.parametrize("stem", EVAL_STEMS)
def test_metrics(scores, snapshot_json, stem: str) -> None:  # type: ignore[no-untyped-def]
    """Each eval file's rounded metrics equal the committed snapshot."""
    assert rounded_metrics(scores("onnx", stem)) == snapshot_json


@pytest.mark.parametrize("stem", EVAL_STEMS)
def test_predictions(shipped_router, paths, snapshot_json, stem: str) -> None:  # type: ignore[no-untyped-def]
    """Every eval row's predicted label equals the committed snapshot (flips are listed)."""
    texts = [ex.text for ex in load_jsonl(paths.evals / f"{stem}.jsonl")]
    current = predictions(shipped_router, texts)
    recorded = recorded_predictions(stem)
    message = (
        format_flips(flip_report(recorded, current)) if recorded is not None else "no snapshot"
    )
    assert current == snapshot_json, message


def test_flip_report_catches_a_perturbed_head(shipped_router, paths) -> None:  # type: ignore[no-untyped-def]
    """Swapping two label rows of a copy of the shipped head produces flips against the snapshot."""
    recorded = recorded_predictions("holdout")
    assert recorded is not None, "holdout predictions snapshot missing"
    coef_t = shipped_router._coef_t.copy()  # (384, 6)
    intercept = shipped_router._intercept.copy()
    a, b = LABELS.index("memory"), LABELS.index("chat")
    coef_t[:, [a, b]] = coef_t[:, [b, a]]
    intercept[[a, b]] = intercept[[b, a]]
    broken = Router(
        shipped_router._session,
        shipped_router._tokenizer,
        coef_t.T,
        intercept,
        shipped_router.temperature,
    )
    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]
    flips = flip_report(recorded, predictions(broken, texts))
    assert len(flips) >= 50
    assert {(old, new) for _, old, new in flips} >= {("memory", "chat"), ("chat", "memory")}


def test_flip_report_lists_changed_new_and_removed_rows() -> None:
    """The comparison names changed, new and removed rows."""
    flips = flip_report({"a": "chat", "b": "memory"}, {"a": "agent", "c": "none"})
    assert flips == [
        ("a", "chat", "agent"),
        ("b", "memory", "<row removed>"),
        ("c", "<new row>", "none"),
    ]
