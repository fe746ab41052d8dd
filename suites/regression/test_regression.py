"""Regression suite: the shipped model's known mistakes, and snapshots of everything else.

``evals/regression.jsonl`` holds mistakes found by probing, each with its correct label.
Each row is one test that the row is routed to that label; the rows today's model still
gets wrong are ``xfail(strict=True)`` (``KNOWN_MISSES``), so fixing one fails the run
until it is taken off the list, and breaking a fixed one fails it too. Those rows are
never snapshotted: a snapshot would pin the wrong labels.

For the other eval files, syrupy JSON snapshots pin the rounded metrics and every row's
prediction: any change fails until it is accepted with
``pytest suites/regression --snapshot-update`` in a commit that says why the numbers
moved. A failing predictions snapshot prints a flip report: the rows whose label changed.
"""

from __future__ import annotations

import numpy as np
import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from routelet.config import Paths
from routelet.data import load_jsonl
from routelet.intents import LABELS
from routelet.runtime import Router
from suites.regression.flips import flip_report, format_flips, recorded_predictions

pytestmark = pytest.mark.shipped

#: Eval files pinned by snapshots (regression.jsonl is scored row by row against gold).
EVAL_STEMS = [
    "holdout",
    "holdout_v2",
    "holdout_v3",
    "holdout_v4",
    "holdout_v5",
    "boundary",
    "short_commands",
    "ood",
]

#: Rows of evals/regression.jsonl that the shipped model (models/routelet-v6) still routes
#: wrong. When a new model fixes one, its test XPASSes and fails the run: take it off here.
#: (routelet-v2 fixed "www dot example dot com slash login", a v1 miss; routelet-v3 fixed
#: "breaking news tonight a fire at the old mill downtown"; routelet-v4 fixed "stir until
#: the sugar dissolves completely" and "what is the temperature in lisbon"; routelet-v5
#: fixed "should i take an umbrella today", "what's up" and "mhm yeah no totally", and
#: broke "what was that you just said", now sent to `none`; routelet-v6 fixed "what's the
#: exchange rate from dollars to yen" and broke "what's up" again, now sent to integration.)
KNOWN_MISSES = frozenset(
    {
        "404 not found",
        "ok google hey siri alexa",
        "what happened on this day in 1969",
        "hiya",
        "what was that you just said",
        "what's up",
    }
)
REGRESSION_ROWS = load_jsonl(Paths.discover().evals / "regression.jsonl")


def _row_id(text: str) -> str:
    return "-".join(text.split()[:5])


REGRESSION_CASES = [
    pytest.param(
        ex.text,
        ex.intent.value,
        id=_row_id(ex.text),
        marks=[pytest.mark.xfail(strict=True, reason="known mistake of the shipped model")]
        if ex.text in KNOWN_MISSES
        else [],
    )
    for ex in REGRESSION_ROWS
]


@pytest.fixture
def snapshot_json(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(JSONSnapshotExtension)


def predictions(router: Router, texts: list[str]) -> dict[str, str]:
    """``{text: predicted label}`` for every text."""
    labels = np.array(LABELS)[router.predict_proba(texts).argmax(axis=1)]
    return dict(zip(texts, labels.tolist(), strict=True))


def rounded_metrics(metrics) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The pinned part of ``Metrics.summary``, rounded to 3 places."""
    s = metrics.summary()
    return {
        "n": s["n"],
        **{k: round(s[k], 3) for k in ("accuracy", "macro_f1", "ece")},
        "none_recall": None if s["none_recall"] is None else round(s["none_recall"], 3),
        "recall": {k: round(v, 3) for k, v in s["recall"].items()},
    }


@pytest.mark.parametrize(("text", "gold"), REGRESSION_CASES)
def test_regression_row_routed_to_gold(shipped_router, text: str, gold: str) -> None:  # type: ignore[no-untyped-def]
    """A once-misrouted command is routed to its correct label (known misses: strict xfail)."""
    assert shipped_router.classify(text).intent.value == gold


def test_known_misses_are_regression_rows() -> None:
    """Every known miss is a row of evals/regression.jsonl (no stale entries)."""
    assert KNOWN_MISSES.issubset(ex.text for ex in REGRESSION_ROWS)


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
