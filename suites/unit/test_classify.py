"""Tests of routelet.classify: the `routelet classify` command."""

import json
import os
from pathlib import Path

import pytest

from routelet.cli import main

pytestmark = pytest.mark.shipped

PREDICTION_KEYS = {"intent", "confidence", "deferred", "distribution", "tier"}


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("routelet classify: error:") and "\n" not in err, err
    return err


def test_arguments_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Each argument gives one JSON line: its text and one prediction object."""
    assert main(["classify", "--json", "pause the music", "how far is the moon"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in lines] == ["pause the music", "how far is the moon"]
    assert all(set(row) == {"text", "prediction"} for row in lines)
    assert all(set(row["prediction"]) == PREDICTION_KEYS for row in lines)


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the answers print as a table."""
    assert main(["classify", "scroll down to the comments"]) == 0
    assert "intent" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_file_streaming(tmp_path: Path, suffix: str) -> None:
    """--input/--output classify every row in order and skip blank lines."""
    src = tmp_path / f"in{suffix}"
    if suffix == ".txt":
        src.write_text("pause\n\nhow tall is everest\n")
    else:
        src.write_text('{"text": "pause"}\n\n{"text": "how tall is everest"}\n')
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--input", str(src), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["pause", "how tall is everest"]


def test_every_input_field_is_kept_unchanged(tmp_path: Path) -> None:
    """Gold labels and other fields named like prediction keys come out exactly as they went in."""
    row = {"text": "pause", "intent": "chat", "confidence": "high", "deferred": 7, "id": [1]}
    src = tmp_path / "gold.jsonl"
    src.write_text(json.dumps(row) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--input", str(src), "--output", str(out)]) == 0
    (result,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert {k: result[k] for k in row} == row
    assert set(result) == {*row, "prediction"} and set(result["prediction"]) == PREDICTION_KEYS


def test_existing_prediction_field_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row that already has a `prediction` field stops the run instead of being overwritten."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "pause"}\n{"text": "stop", "prediction": "mine"}\n')
    assert main(["classify", "--input", str(src)]) == 2
    assert ":2:" in _one_line_error(capsys)


def test_bad_input_row_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad JSONL row exits 2 naming the line, and leaves nothing in the output directory."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "pause"}\n{"nope": 1}\n')
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert main(["classify", "--input", str(src), "--output", str(out_dir / "o.jsonl")]) == 2
    assert ":2:" in _one_line_error(capsys)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    "row", [pytest.param('{"text": ""}', id="empty"), pytest.param('{"text": " \\t"}', id="spaces")]
)
def test_empty_row_is_refused(tmp_path: Path, row: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A .jsonl row with an empty text exits 2 naming its line, as POST /route answers 422."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "pause"}\n' + row + "\n")
    assert main(["classify", "--input", str(src)]) == 2
    assert ":2: 'text' is empty" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["classify", ""], id="empty"),
        pytest.param(["classify", "pause", "   "], id="whitespace-second"),
    ],
)
def test_empty_argument_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """An empty argument exits 2 naming its position, instead of being routed to `none`."""
    assert main(argv) == 2
    assert "empty" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("missing/out.jsonl", id="missing-directory"),
        pytest.param("existing-dir", id="existing-directory"),
        pytest.param("x" * 250 + ".jsonl", id="name-too-long"),
    ],
)
def test_unwritable_output_is_one_line_error(
    tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output that cannot be written exits 2 with one line and leaves no file behind."""
    src = tmp_path / "in.txt"
    src.write_text("pause\n")
    (tmp_path / "existing-dir").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["classify", "--input", str(src), "--output", str(tmp_path / target)]) == 2
    _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "existing-dir").iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only directory")
def test_read_only_directory_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An output in a directory without write permission exits 2 with one line."""
    src = tmp_path / "in.txt"
    src.write_text("pause\n")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["classify", "--input", str(src), "--output", str(locked / "o.jsonl")]) == 2
    finally:
        locked.chmod(0o700)
    assert "cannot write" in _one_line_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["classify"], id="nothing"),
        pytest.param(["classify", "--output", "x.jsonl", "hi"], id="output-without-input"),
        pytest.param(["classify", "--model", "/nonexistent", "hi"], id="missing-model"),
        pytest.param(["classify", "--input", "notes.csv"], id="wrong-suffix"),
        pytest.param(["classify", "--threshold", "2", "hi"], id="threshold-above-1"),
        pytest.param(["classify", "--threshold", "nan", "hi"], id="threshold-nan"),
        pytest.param(["classify", "--threads", "0", "hi"], id="zero-threads"),
        pytest.param(["classify", "--threads", "two", "hi"], id="threads-not-a-number"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Usage and model errors print one line to stderr and exit 2."""
    assert _exit_code(argv) == 2
    _one_line_error(capsys)


def _exit_code(argv: list[str]) -> int:
    """``main``'s exit code, whether it returns it or argparse raises SystemExit with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
