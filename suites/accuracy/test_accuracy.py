"""Accuracy suite: every router on every eval file, held to the floors in budgets.toml.

Ids name the router, the intent and the file, e.g. ``test_recall[onnx-memory-holdout]``.
"""

from __future__ import annotations

import pytest

from routelet.intents import LABELS, ROUTABLE
from suites.budgets import BUDGETS, GATED_EVALS, SCORED_ROUTERS

pytestmark = pytest.mark.shipped

ACCURACY_CASES = [
    pytest.param(router, stem, BUDGETS["accuracy"][router][stem], id=f"{router}-{stem}")
    for router in SCORED_ROUTERS
    for stem in GATED_EVALS
]
RECALL_CASES = [
    pytest.param(router, intent.value, id=f"{router}-{intent.value}-holdout")
    for router in SCORED_ROUTERS
    for intent in ROUTABLE
]
MUST_NOT = [
    pytest.param(pair.split("->")[0], pair.split("->")[1], limit, id=pair.replace("->", "-to-"))
    for pair, limit in BUDGETS["must_not_route"].items()
]


@pytest.mark.parametrize(("router", "stem", "floor"), ACCURACY_CASES)
def test_accuracy(scores, router: str, stem: str, floor: float) -> None:  # type: ignore[no-untyped-def]
    """Accuracy on the file is at least the router's floor for it."""
    assert scores(router, stem).accuracy >= floor


@pytest.mark.parametrize(("router", "intent"), RECALL_CASES)
def test_recall(scores, router: str, intent: str) -> None:  # type: ignore[no-untyped-def]
    """Each routable intent's holdout recall is at least the router's per-intent floor."""
    assert (
        scores(router, "holdout").per_intent[intent]["recall"]
        >= BUDGETS["recall"][router]["min_recall"]
    )


@pytest.mark.parametrize("router", SCORED_ROUTERS)
def test_none_recall(scores, router: str) -> None:  # type: ignore[no-untyped-def]
    """Junk is refused: holdout `none` recall meets the router's floor (ood: see test_accuracy)."""
    assert scores(router, "holdout").none_recall >= BUDGETS["recall"][router]["none_recall"]


def test_calibration_error(scores) -> None:  # type: ignore[no-untyped-def]
    """The shipped model's confidences are calibrated on holdout (ECE within budget)."""
    assert scores("onnx", "holdout").ece <= BUDGETS["calibration"]["max_ece"]


def test_deferral_rate(scores) -> None:  # type: ignore[no-untyped-def]
    """At the model's threshold, few routable holdout rows are handed to the fallback."""
    assert scores("onnx", "holdout").deferral_rate <= BUDGETS["calibration"]["max_deferral_rate"]


def test_accuracy_after_deferral(scores) -> None:  # type: ignore[no-untyped-def]
    """Rows the router keeps (does not defer) are routed more accurately than all rows."""
    m = scores("onnx", "holdout")
    assert m.accuracy_after_deferral >= BUDGETS["calibration"]["min_accuracy_after_deferral"]


@pytest.mark.parametrize(("gold", "predicted", "limit"), MUST_NOT)
def test_must_not_route(scores, gold: str, predicted: str, limit: float) -> None:  # type: ignore[no-untyped-def]
    """Costly confusions stay under their own stricter limits (holdout + boundary pooled)."""
    g, p = LABELS.index(gold), LABELS.index(predicted)
    wrong = total = 0
    for stem in ("holdout", "boundary", "ood"):
        matrix = scores("onnx", stem).confusion
        wrong += matrix[g][p]
        total += sum(matrix[g])
    assert total > 0, f"no {gold} rows to score"
    assert wrong / total <= limit
