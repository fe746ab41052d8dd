"""Tests of routelet.data: validated JSONL loading and saving."""

from pathlib import Path

import pytest

from routelet.data import (
    MAX_TEXT_CHARS,
    Example,
    atomic_write,
    is_blank,
    iter_commands,
    load_jsonl,
    save_jsonl,
)
from routelet.errors import DataError
from routelet.intents import Intent


def _write(tmp_path: Path, *lines: str | bytes) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(
        b"".join((ln if isinstance(ln, bytes) else ln.encode()) + b"\n" for ln in lines)
    )
    return path


GOOD = '{"text": "pause", "intent": "integration"}'


def test_round_trip_keeps_extra_fields(tmp_path: Path) -> None:
    """Saved rows load back equal, with extra string fields kept."""
    rows = [Example("pause", Intent.INTEGRATION), Example("hi", Intent.CHAT, {"rule": "source"})]
    path = tmp_path / "out.jsonl"
    assert save_jsonl(path, rows) == 2
    loaded = load_jsonl(path)
    assert loaded == rows and loaded[1].meta == {"rule": "source"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param("{not json", "invalid JSON", id="invalid-json"),
        pytest.param('["a"]', "expected a JSON object", id="not-object"),
        pytest.param('{"intent": "chat"}', "missing field 'text'", id="missing-text"),
        pytest.param('{"text": "hi"}', "missing field 'intent'", id="missing-intent"),
        pytest.param('{"text": "hi", "intent": "smalltalk"}', "unknown intent", id="bad-label"),
        pytest.param('{"text": "  ", "intent": "chat"}', "empty", id="empty-text"),
        pytest.param('{"text": 5, "intent": "chat"}', "must be a string", id="wrong-type"),
        pytest.param(
            '{"text": "' + "a" * (MAX_TEXT_CHARS + 1) + '", "intent": "chat"}',
            "max 500",
            id="too-long",
        ),
        pytest.param("", "invalid JSON", id="blank-line"),
        pytest.param('{"text": "hi", "intent": "chat", "rule": 3}', "extra field", id="bad-extra"),
    ],
)
def test_bad_row_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    """A bad row raises DataError with the file, the line number and the reason."""
    path = _write(tmp_path, GOOD, line)
    with pytest.raises(DataError, match=message) as info:
        load_jsonl(path)
    assert f"{path}:2:" in str(info.value)


def test_invalid_utf8_is_an_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 raise DataError, not UnicodeDecodeError."""
    path = _write(tmp_path, GOOD, b'{"text": "\xff\xfe", "intent": "chat"}')
    with pytest.raises(DataError, match="UTF-8"):
        load_jsonl(path)


def test_missing_file(tmp_path: Path) -> None:
    """A missing file is a DataError naming the path."""
    with pytest.raises(DataError, match="no such file"):
        load_jsonl(tmp_path / "nope.jsonl")


def test_iter_commands_reads_txt_and_jsonl(tmp_path: Path) -> None:
    """Unlabelled commands come stripped from text lines and with their fields from JSONL."""
    (tmp_path / "a.txt").write_text("  pause \n\nnext\n")
    (tmp_path / "b.jsonl").write_text('{"text": "hi", "id": 7}\n\n{"text": "yo"}\n')
    assert list(iter_commands(tmp_path / "a.txt")) == [
        (1, {"text": "pause"}),
        (3, {"text": "next"}),
    ]
    assert list(iter_commands(tmp_path / "b.jsonl")) == [
        (1, {"text": "hi", "id": 7}),
        (3, {"text": "yo"}),
    ]


def test_iter_commands_bad_row_names_line(tmp_path: Path) -> None:
    """A JSONL row without a string text is a DataError naming its line."""
    (tmp_path / "b.jsonl").write_text('{"text": "hi"}\n{"text": 3}\n')
    with pytest.raises(DataError, match=r"b\.jsonl:2"):
        list(iter_commands(tmp_path / "b.jsonl"))


@pytest.mark.parametrize(
    ("text", "blank"),
    [
        pytest.param("", True, id="empty"),
        pytest.param(" \t\n\u3000", True, id="unicode-whitespace"),
        pytest.param("?", False, id="punctuation"),
        pytest.param("\x00", False, id="control-char"),
    ],
)
def test_is_blank(text: str, blank: bool) -> None:
    """Empty means empty or whitespace only; anything else is a text to route."""
    assert is_blank(text) is blank


def test_iter_commands_refuses_blank_jsonl_text(tmp_path: Path) -> None:
    """A .jsonl command row whose text is blank is an error naming its line."""
    path = tmp_path / "cmds.jsonl"
    path.write_text('{"text": "pause"}\n{"text": "  "}\n')
    with pytest.raises(DataError, match=r"cmds\.jsonl:2: 'text' is empty"):
        list(iter_commands(path))


def test_atomic_write_replaces_only_on_success(tmp_path: Path) -> None:
    """A failing block leaves the old file as it was and no temporary file behind."""
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write("half")
        raise RuntimeError("boom")
    assert path.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_write(path) as handle:
        handle.write("new\n")
    assert path.read_text() == "new\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        pytest.param("nodir/out.txt", "no such directory", id="missing-directory"),
        pytest.param("adir", "is a directory", id="directory"),
        pytest.param("x" * 300, "cannot write", id="name-too-long"),
    ],
)
def test_atomic_write_unwritable_path(tmp_path: Path, target: str, message: str) -> None:
    """A path that cannot be written is a one-line DataError raised before the block runs."""
    (tmp_path / "adir").mkdir()
    ran = []
    with pytest.raises(DataError, match=message), atomic_write(tmp_path / target):
        ran.append(True)
    assert ran == [] and sorted(p.name for p in tmp_path.iterdir()) == ["adir"]


def test_save_jsonl_creates_its_directory(tmp_path: Path) -> None:
    """save_jsonl writes into a directory it creates."""
    path = tmp_path / "new" / "rows.jsonl"
    assert save_jsonl(path, [Example("pause", Intent.INTEGRATION)]) == 1
    assert load_jsonl(path) == [Example("pause", Intent.INTEGRATION)]
