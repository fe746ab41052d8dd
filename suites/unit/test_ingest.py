"""Tests of routelet.ingest's pure parts: reading traffic, ordering the review, CLI checks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from routelet.cli import main
from routelet.ingest import order_review, read_traffic, review_row
from routelet.intents import Intent
from routelet.preprocess import preprocess
from routelet.samplelog import feedback_record, route_record

PRED = {"intent": "chat", "confidence": 0.9, "deferred": False}


def _log(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "samples-1.jsonl"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_last_correction_wins(tmp_path: Path) -> None:
    """Two corrections of one command: the later one is its label."""
    log = _log(
        tmp_path,
        route_record("a", "pause", PRED, "m"),
        feedback_record("a", "pause", "chat"),
        feedback_record("a", "pause", "integration"),
    )
    assert read_traffic([log]).corrections == {"pause": "integration"}


def test_correction_without_text_uses_the_request(tmp_path: Path) -> None:
    """A correction that carries only the id gets its text from the logged request."""
    log = _log(
        tmp_path,
        route_record("a", "Pause!", PRED, "m"),
        '{"kind": "feedback", "id": "a", "intent": "integration"}',
    )
    assert read_traffic([log]).corrections == {preprocess("Pause!"): "integration"}


def test_bad_correction_label_is_a_problem(tmp_path: Path) -> None:
    """A correction with a label outside the Intent set is reported with its line, not used."""
    log = _log(tmp_path, route_record("a", "pause", PRED, "m"), feedback_record("a", "pause", "x"))
    traffic = read_traffic([log])
    assert traffic.corrections == {} and traffic.problems[0].startswith(f"{log}:2:")


def _answer(label: str | None, confidence: str = "high") -> SimpleNamespace:
    return SimpleNamespace(valid=label is not None, label=label, confidence=confidence,
                           reason="r", problem=None if label else "bad")  # fmt: skip


def test_review_order_groups_then_seen(tmp_path: Path) -> None:
    """Disagreements first, then rows without a label, then agreements; most seen first."""
    texts = ["agree", "disagree once", "no label", "disagree twice", "disagree twice"]
    traffic = read_traffic(
        [_log(tmp_path, *(route_record(str(i), t, PRED, "m") for i, t in enumerate(texts)))]
    )
    student = SimpleNamespace(intent=Intent.CHAT, confidence=0.9)
    answers = {"agree": _answer("chat"), "disagree once": _answer("memory"),
               "no label": _answer(None), "disagree twice": _answer("agent")}  # fmt: skip
    rows = [review_row(t, traffic, student, answers[t], "m") for t in dict.fromkeys(texts)]
    ordered = [r["text"] for r in order_review(rows, traffic)]
    assert ordered == ["disagree twice", "disagree once", "no label", "agree"]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["in.txt"], id="no-output"),
        pytest.param(["--accept", "r.jsonl", "in.txt"], id="accept-with-input"),
        pytest.param(["in.txt", "--output", "o.jsonl", "--into", "d.jsonl"], id="into-alone"),
        pytest.param(["in.txt", "--output", "o.jsonl", "--threads", "0"], id="zero-threads"),
    ],
)
def test_bad_arguments_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Conflicting or missing arguments exit 2 with one line, before anything is read."""
    assert main(["ingest", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("routelet ingest: error:") and err.count("\n") == 1
