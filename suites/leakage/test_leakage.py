"""Leakage suite: no evaluation row, or its near-duplicate, is used for training."""

import pytest

from routelet.checkdata import NEAR_DUP_THRESHOLD, check, find_leaks
from routelet.config import Paths, TrainConfig


@pytest.fixture(scope="module")
def report(paths: Paths, train_config: TrainConfig):  # type: ignore[no-untyped-def]
    return check(paths, train_config)


def test_no_train_eval_leaks(report) -> None:  # type: ignore[no-untyped-def]
    """Training rows (written, generated, augmented) share no exact or near-duplicate with evals."""
    assert report.leaks == []


def test_files_valid_and_without_duplicates(report) -> None:  # type: ignore[no-untyped-def]
    """Every data and eval file passes the schema and has no duplicate rows."""
    assert report.errors == [] and report.duplicates == []


@pytest.mark.parametrize(
    ("train", "evaluation"),
    [
        pytest.param(
            "remember my locker code is 4471",
            "Remember my locker code is 9912!",
            id="exact-after-preprocess",
        ),
        pytest.param(
            "turn off the kitchen lights please",
            "turn off the kitchen light please",
            id="one-letter",
        ),
        pytest.param(
            "um play some jazz on spotify", "play some jazz on spotify", id="filler-added"
        ),
    ],
)
def test_planted_near_duplicate_is_caught(train: str, evaluation: str) -> None:
    """The documented threshold flags planted near-duplicates."""
    assert find_leaks([("t", train)], [("e", evaluation)], NEAR_DUP_THRESHOLD)


def test_different_commands_are_not_flagged() -> None:
    """Two commands on the same topic with different wording are not flagged."""
    assert not find_leaks([("t", "play some jazz on spotify")], [("e", "put on a jazz playlist")])


def test_minimum_counts(report) -> None:  # type: ignore[no-untyped-def]
    """Each file meets the counts promised in docs/data.md."""
    totals = {path.rsplit("/", 1)[-1]: counts for path, counts in report.counts.items()}
    for label in ("find_action", "integration", "chat", "memory", "agent"):
        assert totals[f"{label}.jsonl"][label] >= 350
    assert totals["none.jsonl"]["none"] >= 400
    assert all(totals["holdout.jsonl"][label] >= 75 for label in totals["holdout.jsonl"])
    assert sum(totals["boundary.jsonl"].values()) >= 120
    assert sum(totals["short_commands.jsonl"].values()) >= 40
    assert sum(totals["ood.jsonl"].values()) >= 100
