"""Tests of routelet.gate on made-up labels: budgets, verdicts, flip grouping, traffic counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelet.errors import ConfigError
from routelet.gate import (
    KINDS,
    Budget,
    LabelledSet,
    compare,
    flip_groups,
    format_result,
    result_json,
    traffic_flips_local,
)
from routelet.intents import LABELS
from suites.budgets import BUDGETS_PATH

BUDGET = Budget(max_accuracy_drop=0.1, max_recall_drop=0.2)
#: Ten rows: five chat, five memory.
SET = LabelledSet("s", [f"t{i}" for i in range(10)], ["chat"] * 5 + ["memory"] * 5)


def test_budget_reads_the_gate_table() -> None:
    """The real budgets file has a [gate] table that parses."""
    budget = Budget.from_toml(BUDGETS_PATH)
    assert budget.max_accuracy_drop >= 0 and budget.max_recall_drop >= 0


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("[accuracy]\nx = 1\n", id="no-gate-table"),
        pytest.param("[gate]\nmax_accuracy_drop = 0.1\n", id="missing-key"),
        pytest.param('[gate]\nmax_accuracy_drop = "a"\nmax_recall_drop = 0.1\n', id="string"),
        pytest.param("[gate]\nmax_accuracy_drop = -1\nmax_recall_drop = 0.1\n", id="negative"),
    ],
)
def test_bad_budget_is_a_config_error(tmp_path: Path, text: str) -> None:
    """A budgets file without a usable [gate] table is a one-line ConfigError."""
    path = tmp_path / "b.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"b\.toml"):
        Budget.from_toml(path)


def test_identical_labels_pass_without_flips() -> None:
    """The same labels on both sides pass, with no flips."""
    result = compare([SET], [SET.gold], [SET.gold], BUDGET)
    assert result.passed and result.flips == []


def test_loss_within_budget_passes() -> None:
    """Losing exactly the budget (one row of ten at 0.1) passes."""
    new = ["memory", *SET.gold[1:]]
    assert compare([SET], [SET.gold], [new], Budget(0.1, 0.2)).passed


def test_loss_over_budget_fails_naming_the_set() -> None:
    """Losing two rows of ten against a 0.1 budget fails, and the failure names the set."""
    new = ["memory", "memory", *SET.gold[2:]]
    result = compare([SET], [SET.gold], [new], Budget(0.1, 1.0))
    assert not result.passed and result.failures[0].startswith("s: accuracy 1.0000 -> 0.8000")


def test_recall_loss_fails_even_when_accuracy_holds() -> None:
    """Trading one intent's recall for another's fails on the intent, not on accuracy."""
    gold = ["chat"] * 5 + ["memory"] * 5
    old = ["chat"] * 4 + ["memory"] * 6  # one chat row wrong
    new = ["chat"] * 3 + ["memory"] * 7  # two chat rows wrong, none gained
    s = LabelledSet("s", SET.texts, gold)
    result = compare([s], [old], [new], Budget(max_accuracy_drop=0.5, max_recall_drop=0.1))
    assert [f.split(":")[0] for f in result.failures] == ["chat"]


def test_flips_are_grouped_right_to_wrong_first() -> None:
    """Flip groups come in KINDS order: right -> wrong, wrong -> right, wrong -> wrong."""
    s = LabelledSet("s", ["a", "b", "c", "d"], ["chat", "chat", "chat", "memory"])
    old = ["memory", "agent", "chat", "memory"]
    new = ["chat", "memory", "agent", "chat"]
    groups = flip_groups(compare([s], [old], [new], BUDGET).flips)
    assert [(k, o, n) for k, o, n, _ in groups] == [
        (KINDS[0], "chat", "agent"),
        (KINDS[0], "memory", "chat"),
        (KINDS[1], "memory", "chat"),
        (KINDS[2], "agent", "memory"),
    ]


def test_report_names_the_flips_and_the_verdict() -> None:
    """The text report lists each flip group with its rows and ends with the verdict."""
    new = ["memory", "memory", *SET.gold[2:]]
    text = format_result(compare([SET], [SET.gold], [new], Budget(0.1, 1.0)), "old", "new")
    assert "right -> wrong: chat -> memory (2)" in text and "[s] t0" in text
    assert text.rstrip().splitlines()[-2] == "gate: FAIL"


def test_json_lists_every_flipped_row() -> None:
    """--json holds every flipped row with its set and gold label."""
    new = ["memory", "memory", *SET.gold[2:]]
    doc = result_json(compare([SET], [SET.gold], [new], BUDGET), "old", "new")
    assert doc["passed"] is False
    assert doc["flips"][0]["rows"] == [
        {"set": "s", "text": "t0", "gold": "chat"},
        {"set": "s", "text": "t1", "gold": "chat"},
    ]


class _KeywordRouter:
    """Labels a text ``label`` if it contains ``word``, else chat."""

    def __init__(self, word: str, label: str) -> None:
        self.word, self.label = word, label

    def predict_proba(self, texts: list[str], workers: int = 1) -> np.ndarray:
        probs = np.zeros((len(texts), len(LABELS)))
        for i, text in enumerate(texts):
            probs[i, LABELS.index(self.label if self.word in text else "chat")] = 1.0
        return probs


def test_traffic_counts_label_changes(tmp_path: Path) -> None:
    """Traffic flips count each old -> new pair; feedback lines and bad lines are not routed."""
    log = tmp_path / "samples-1.jsonl"
    log.write_text(
        '{"text": "remember milk"}\n{"text": "hello"}\n{"text": "remember eggs"}\n'
        '{"kind": "feedback", "id": "x", "intent": "chat", "text": "hello"}\n{"oops"\n'
    )
    flips = traffic_flips_local(
        [log], _KeywordRouter("zzz", "memory"), _KeywordRouter("remember", "memory"), chunk=2
    )
    assert (flips.rows, dict(flips.changed), flips.n_problems) == (3, {("chat", "memory"): 2}, 1)


def test_ray_engine_needs_input(capsys: pytest.CaptureFixture[str]) -> None:
    """`gate --engine ray` without --input exits 2 with one line, before loading a model."""
    from routelet.cli import main

    assert main(["gate", "--candidate", "nowhere", "--engine", "ray"]) == 2
    assert "--input" in capsys.readouterr().err


def test_ray_engine_needs_the_scale_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ray installed, `gate --engine ray` names the scale extra (exit 2)."""
    import sys

    from routelet.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)
    argv = ["gate", "--candidate", "nowhere", "--engine", "ray", "--input", str(tmp_path)]
    assert main(argv) == 2
    assert "scale extra" in capsys.readouterr().err
