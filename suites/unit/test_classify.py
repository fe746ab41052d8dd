"""Tests of routelet.classify: the `routelet classify` command."""

import json
from pathlib import Path

import pytest

from routelet.cli import main

pytestmark = pytest.mark.shipped


def test_arguments_json(capsys: pytest.CaptureFixture[str]) -> None:
    """Each argument gives one JSON line with the intent and distribution."""
    assert main(["classify", "--json", "pause the music", "how far is the moon"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in lines] == ["pause the music", "how far is the moon"]
    assert all(set(row) >= {"intent", "confidence", "distribution", "deferred"} for row in lines)


def test_table_output(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json the answers print as a table."""
    assert main(["classify", "scroll down to the comments"]) == 0
    assert "intent" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", [".txt", ".jsonl"])
def test_file_streaming(tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--input/--output classify every row, keep extra fields and skip blank .txt lines."""
    src = tmp_path / f"in{suffix}"
    if suffix == ".txt":
        src.write_text("pause\n\nhow tall is everest\n")
    else:
        src.write_text('{"text": "pause", "id": 1}\n{"text": "how tall is everest", "id": 2}\n')
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--input", str(src), "--output", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["text"] for r in rows] == ["pause", "how tall is everest"]
    if suffix == ".jsonl":
        assert [r["id"] for r in rows] == [1, 2]


def test_bad_input_row_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad JSONL row exits 2 naming the line, and leaves no output file."""
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "pause"}\n{"nope": 1}\n')
    out = tmp_path / "out.jsonl"
    assert main(["classify", "--input", str(src), "--output", str(out)]) == 2
    assert ":2:" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.jsonl.tmp").exists()


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["classify"], id="nothing"),
        pytest.param(["classify", "--output", "x.jsonl", "hi"], id="output-without-input"),
        pytest.param(["classify", "--model", "/nonexistent", "hi"], id="missing-model"),
        pytest.param(["classify", "--input", "notes.csv"], id="wrong-suffix"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Usage and model errors print one line to stderr and exit 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("routelet classify: error:") and "\n" not in err
