"""`routelet teacher label` end to end over recorded HTTP, and the one-line missing-key error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import httpx2
import pytest

from routelet.cli import build_parser, main
from routelet.config import Paths
from routelet.teacher import run_cli, select_commands
from suites.teacher.fakes import ROOT, FakeAPI, answer, command_of, http_client

#: One input row per path through the command: (raw text, what the fake model answers).
INPUT = [
    ("Play some JAZZ on Spotify!", None),  # equals a training row after preprocess
    ("remember that my locker code is 9912", None),  # equals an eval row: leakage
    ("what's the tallest mountain", ("chat", "high")),
    ("read my newest mail from jo@example.com and reply i'm late", ("agent", "high")),
    ("what's the tallest mountain", None),  # repeated in the input
    ("!!!", None),  # empty after preprocess
    ("flarbo venti", ("chat", "low")),
    ("tap the skip button", ("weather", "high")),  # outside the label set, twice
]
SENT = {
    "what's the tallest mountain",
    "read my newest mail from <EMAIL> and reply i'm late",
    "flarbo venti",
    "tap the skip button",
}


def _fake_model(request: httpx2.Request) -> httpx2.Response:
    replies = {"read my newest mail from <EMAIL> and reply i'm late": ("agent", "high")}
    replies.update({text: reply for text, reply in INPUT if reply})
    intent, confidence = replies[command_of(request)]
    return answer(intent, confidence)


def _label(tmp_path: Path, api: FakeAPI, *extra: str) -> int:
    source = tmp_path / "logs.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t, _ in INPUT))
    argv = ["teacher", "label", str(source), str(tmp_path / "out.jsonl"), *extra]
    return run_cli(build_parser().parse_args(argv), http_client=http_client(api))


def _rows(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class Run(NamedTuple):
    api: FakeAPI
    stdout: str


@pytest.fixture
def labelled(
    project: Paths, api_key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Run:
    """The label command run once over INPUT against the fake model, with what it printed."""
    api = FakeAPI(default=_fake_model)
    assert _label(tmp_path, api, "--cache-dir", str(tmp_path / "cache")) == 0
    return Run(api, capsys.readouterr().out)


def test_only_new_commands_are_sent(labelled: Run) -> None:
    """Training duplicates, eval near-duplicates, repeats and empty rows never reach the API."""
    assert set(labelled.api.commands()) == SENT


def test_output_holds_confident_valid_labels(labelled: Run, tmp_path: Path) -> None:
    """The output file gets the confident answers, with redacted text and teacher provenance."""
    rows = _rows(tmp_path / "out.jsonl")
    assert [(r["text"], r["intent"]) for r in rows] == [
        ("what's the tallest mountain", "chat"),
        ("read my newest mail from <EMAIL> and reply i'm late", "agent"),
    ]
    assert all(r["source"] == "teacher" and r["model"] == "claude-haiku-5-5" for r in rows)


def test_review_holds_low_confidence_and_invalid(labelled: Run, tmp_path: Path) -> None:
    """Low-confidence and invalid answers go to OUTPUT.review.jsonl, the invalid one unmapped."""
    review = {r["text"]: r for r in _rows(tmp_path / "out.review.jsonl")}
    assert review.keys() == {"flarbo venti", "tap the skip button"}
    assert review["flarbo venti"]["problem"] == "low confidence"
    assert review["tap the skip button"]["answer"] == "weather"


def test_invalid_answer_was_asked_twice(labelled: Run) -> None:
    """The answer outside the label set was retried exactly once."""
    assert labelled.api.commands().count("tap the skip button") == 2


def test_summary_reports_counts_cost_and_time(labelled: Run) -> None:
    """The printed summary gives per-label counts, every drop reason, leakage, cost and time."""
    for line in (
        "labelled: 2",
        "  chat: 1",
        "  agent: 1",
        "review: 2 (1 low confidence, 1 invalid)",
        "dropped (duplicate of a training row): 1",
        "dropped (repeated in the input): 1",
        "dropped (empty after preprocess): 1",
        "refused (near-duplicate of an eval row, leakage): 1",
        "api: 5 calls, 0 cache hits",
        "cost $",
        "time: ",
    ):
        assert line in labelled.stdout


def test_rerun_is_answered_from_cache(labelled: Run, tmp_path: Path) -> None:
    """A second run over the same input sends only the invalid command again."""
    again = FakeAPI(default=_fake_model)
    assert _label(tmp_path, again, "--cache-dir", str(tmp_path / "cache")) == 0
    assert again.commands() == ["tap the skip button", "tap the skip button"]


def test_review_path_option(project: Paths, api_key: str, tmp_path: Path) -> None:
    """--review writes the review rows where asked."""
    api = FakeAPI(default=_fake_model)
    _label(tmp_path, api, "--review", str(tmp_path / "r.jsonl"), "--cache-dir", str(tmp_path / "c"))
    assert len(_rows(tmp_path / "r.jsonl")) == 2


def test_default_cache_is_under_project_root(project: Paths, api_key: str, tmp_path: Path) -> None:
    """Without --cache-dir, answers are cached in .cache/teacher of the project root."""
    _label(tmp_path, FakeAPI(default=_fake_model))
    assert list((project.root / ".cache" / "teacher").rglob("*.json"))


def test_select_refuses_near_duplicate_of_eval(project: Paths) -> None:
    """A near-duplicate of an eval row (one word changed) is refused, naming the eval file."""
    sel = select_commands(["remember that my locker code was 4471"], project)
    assert sel.send == [] and sel.leaks == [
        ("remember that my locker code was <NUM>", "holdout.jsonl")
    ]


def test_select_drops_near_duplicate_of_training(project: Paths) -> None:
    """A near-duplicate of a training row is dropped before it costs a request."""
    sel = select_commands(["turn off the kitchen light", "set a timer for ten minutes"], project)
    assert sel.send == ["set a timer for ten minutes"]
    assert sel.dropped["duplicate of a training row"] == 1


def test_txt_input_is_one_command_per_line(project: Paths, api_key: str, tmp_path: Path) -> None:
    """A .txt input is read one command a line, blank lines skipped."""
    source = tmp_path / "logs.txt"
    source.write_text("tell me a joke\n\nwhat can you do\n")
    api = FakeAPI(default=lambda r: answer("chat"))
    argv = [
        "teacher",
        "label",
        str(source),
        str(tmp_path / "o.jsonl"),
        "--cache-dir",
        str(tmp_path),
    ]
    assert run_cli(build_parser().parse_args(argv), http_client=http_client(api)) == 0
    assert sorted(api.commands()) == ["tell me a joke", "what can you do"]


def test_missing_key_is_one_line_exit_2(
    project: Paths, no_key: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without ANTHROPIC_API_KEY, `teacher label` prints one error line and exits 2."""
    source = tmp_path / "in.txt"
    source.write_text("tell me a joke\n")
    assert main(["teacher", "label", str(source), str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ANTHROPIC_API_KEY" in err and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_eval_claude_missing_key_is_one_line_exit_2(
    project: Paths, no_key: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`routelet eval --router claude` without a key prints one error line and exits 2."""
    data = str(project.evals / "holdout.jsonl")
    assert main(["eval", "--router", "claude", "--data", data]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ANTHROPIC_API_KEY" in err


def test_console_missing_key_has_no_traceback(project: Paths, tmp_path: Path) -> None:
    """The real console entry point exits 2 with one stderr line, no traceback."""
    source = tmp_path / "in.txt"
    source.write_text("tell me a joke\n")
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "routelet.cli",
            "teacher",
            "label",
            str(source),
            str(tmp_path / "o.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
