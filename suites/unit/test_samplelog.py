"""Tests of routelet.samplelog: the rotating sample log and reading traffic back."""

from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

import pytest

from routelet.errors import DataError
from routelet.preprocess import preprocess
from routelet.samplelog import (
    SampleLog,
    feedback_record,
    input_files,
    iter_traffic,
    parse_line,
    route_record,
)

PREDICTION = {"intent": "memory", "confidence": 0.9, "deferred": False, "tier": "encoder"}


def _line(i: int) -> str:
    return route_record(f"id{i}", f"remember item number {i}", PREDICTION, "m")


def test_route_record_holds_redacted_text_only() -> None:
    """A route line holds the preprocess form: an email and a secret never reach the file."""
    raw = "Email BOB@example.com, password hunter2"
    row = json.loads(route_record("r1", raw, PREDICTION, "m"))
    assert "example.com" not in json.dumps(row) and "hunter2" not in json.dumps(row)
    assert row["text"] == preprocess(raw) and "<EMAIL>" in row["text"]


def test_route_record_fields() -> None:
    """A route line has the documented fields, the tier included when the answer has one."""
    row = json.loads(_line(1))
    assert set(row) == {"kind", "id", "time", "text", "intent", "confidence", "deferred"} | {
        "model",
        "tier",
    }


def test_lines_are_appended_whole(tmp_path: Path) -> None:
    """Every written line reads back as its own JSON object, in order."""
    log = SampleLog(tmp_path)
    for i in range(5):
        assert log.write(_line(i))
    log.close()
    rows = [json.loads(x) for f in log.files() for x in f.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"id{i}" for i in range(5)]


def test_size_cap_rotates_files(tmp_path: Path) -> None:
    """No file grows past max_bytes (a line bigger than the cap gets a file of its own)."""
    size = len(_line(0)) + 1
    log = SampleLog(tmp_path, max_bytes=3 * size, max_files=100)
    for i in range(10):
        log.write(_line(i))
    log.close()
    assert len(log.files()) == 4
    assert all(f.stat().st_size <= 3 * size for f in log.files())


def test_file_cap_deletes_oldest(tmp_path: Path) -> None:
    """At most max_files files are kept, and they are the newest."""
    size = len(_line(0)) + 1
    log = SampleLog(tmp_path, max_bytes=size, max_files=3)
    for i in range(10):
        log.write(_line(i))
    log.close()
    kept = [json.loads(f.read_text())["id"] for f in log.files()]
    assert kept == ["id7", "id8", "id9"]


def test_unwritable_dir_never_raises_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A directory that cannot be created drops samples with one error line, never an exception."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    log = SampleLog(blocker / "logs")
    with caplog.at_level(logging.ERROR, logger="routelet.samplelog"):
        assert [log.write(_line(i)) for i in range(3)] == [False, False, False]
    assert len(caplog.records) == 1


def test_write_failure_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (os.write failing) drops the sample and the log carries on afterwards."""
    log = SampleLog(tmp_path)
    real = os.write

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    assert log.write(_line(1)) is False
    monkeypatch.setattr(os, "write", real)
    assert log.write(_line(2)) is True


def test_sample_rate_keeps_about_that_share() -> None:
    """rate=0.25 samples about a quarter of the requests; 0 none, 1 all."""
    log = SampleLog(Path("unused"), rate=0.25, rng=random.Random(0))
    share = sum(log.sampled() for _ in range(4000)) / 4000
    assert 0.22 < share < 0.28
    assert not any(SampleLog(Path("x"), rate=0.0).sampled() for _ in range(100))


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_bad_rate_is_refused(rate: float) -> None:
    """A rate outside [0, 1] is a DataError."""
    with pytest.raises(DataError):
        SampleLog(Path("x"), rate=rate)


def test_torn_last_line_is_reported_not_fatal(tmp_path: Path) -> None:
    """A line cut short by a crash is one problem; the lines around it are read."""
    path = tmp_path / "samples-1.jsonl"
    path.write_text(_line(1) + "\n" + _line(2)[:20] + "\n" + _line(3) + "\n")
    lines = list(iter_traffic([path]))
    assert [ln.row["id"] if ln.row else None for ln in lines] == ["id1", None, "id3"]
    assert lines[1].problem is not None and lines[1].problem.startswith(f"{path}:2:")


def test_feedback_line_is_recognised() -> None:
    """A feedback line parses as a correction, not as a command."""
    line = parse_line(feedback_record("r1", "pause", "integration"), "f:1")
    assert line.is_feedback and line.row is not None and line.row["intent"] == "integration"


def test_txt_lines_are_commands(tmp_path: Path) -> None:
    """A .txt file is one command a line; blank lines are skipped."""
    path = tmp_path / "a.txt"
    path.write_text("pause\n\n  next song \n")
    assert [ln.row for ln in iter_traffic([path])] == [{"text": "pause"}, {"text": "next song"}]


def test_input_files_expands_dirs_and_globs(tmp_path: Path) -> None:
    """A directory gives its traffic files, sorted; a glob its matches; other suffixes not."""
    for name in ("b.jsonl", "a.txt", "c.csv"):
        (tmp_path / name).write_text("x\n")
    assert input_files([str(tmp_path)]) == [tmp_path / "a.txt", tmp_path / "b.jsonl"]
    assert input_files([str(tmp_path / "*.jsonl")]) == [tmp_path / "b.jsonl"]


def test_input_files_refuses_nothing(tmp_path: Path) -> None:
    """A spec naming no file is a one-line DataError naming it."""
    with pytest.raises(DataError, match=r"nothing\.jsonl"):
        input_files([str(tmp_path / "nothing.jsonl")])
