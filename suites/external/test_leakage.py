"""External rows are for evaluation only: none of them is (nearly) a training row."""

from __future__ import annotations

from routelet import external
from routelet.checkdata import find_leaks
from routelet.data import Example
from routelet.intents import Intent
from suites.budgets import BUDGETS


def test_scored_rows_share_nothing_with_training(
    external_set: external.ExternalSet, train_texts: list[str]
) -> None:
    """No scored external row is an exact or near-duplicate of a training row."""
    pairs = find_leaks(
        [("train", t) for t in train_texts], [("external", r.text) for r in external_set.rows]
    )
    assert pairs == []


def test_training_overlap_is_small(
    expanded: external.ExternalSet, external_set: external.ExternalSet
) -> None:
    """Few expanded rows duplicate training rows; more means external rows went into data/."""
    share = len(external_set.leaks) / len(expanded.rows)
    assert share <= BUDGETS["external"]["max_training_overlap"]


def test_planted_training_duplicate_is_dropped() -> None:
    """A row that near-duplicates a training text is moved to `leaks`, others are kept."""
    rows = [
        Example("what's the weather like in Lisbon", Intent.INTEGRATION, {"source": "s"}),
        Example("tell me a joke about space", Intent.CHAT, {"source": "s"}),
    ]
    out = external.drop_training_leaks(
        external.ExternalSet(rows=rows), ["whats the weather like in lisbon?"]
    )
    assert [r.text for r in out.rows] == ["tell me a joke about space"]
    assert [r.text for r in out.leaks] == ["what's the weather like in Lisbon"]
