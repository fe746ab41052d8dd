"""Labelled JSONL files: one ``{"text": ..., "intent": ...}`` object per line.

Loading validates every row and raises ``DataError`` naming the file and line of the
first bad row; nothing is silently dropped or repaired. Extra string fields (``rule``,
``date``, ``source``) are kept in ``Example.meta`` and written back unchanged.

It also holds the two rules every reader and writer of commands shares: what counts as
an empty text (``is_blank``: refused on every path, never routed) and how a result file
is written (``atomic_write``: all or nothing). This module does not normalise text:
that is ``routelet.preprocess``.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from routelet.errors import DataError
from routelet.intents import Intent, parse_intent

#: Longest raw text accepted in a data file, in characters.
MAX_TEXT_CHARS = 500


def is_blank(text: str) -> bool:
    """The one rule for empty input: empty or whitespace only. Every path refuses such a text
    (a data row, a ``routelet classify`` argument or row, ``Router.classify``, ``POST /route``)."""
    return not text.strip()


@dataclass(frozen=True)
class Example:
    """One labelled utterance."""

    text: str
    intent: Intent
    meta: dict[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> str:
        row: dict[str, str] = {"text": self.text, "intent": self.intent.value, **self.meta}
        return json.dumps(row, ensure_ascii=False)


def _parse_row(line: str, where: str) -> Example:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: invalid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("text", "intent"):
        if key not in row:
            raise DataError(f"{where}: missing field {key!r}")
    text, label = row["text"], row["intent"]
    if not isinstance(text, str):
        raise DataError(f"{where}: 'text' must be a string, got {type(text).__name__}")
    if is_blank(text):
        raise DataError(f"{where}: 'text' is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise DataError(f"{where}: 'text' has {len(text)} characters (max {MAX_TEXT_CHARS})")
    try:
        intent = parse_intent(label)
    except ValueError as exc:
        raise DataError(f"{where}: {exc}") from None
    meta = {k: v for k, v in row.items() if k not in ("text", "intent")}
    bad = [k for k, v in meta.items() if not isinstance(v, str)]
    if bad:
        raise DataError(f"{where}: extra field {bad[0]!r} must be a string")
    return Example(text=text, intent=intent, meta=meta)


def iter_jsonl(path: Path) -> Iterator[Example]:
    """Yield validated examples from ``path``; blank lines are an error too."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open(encoding="utf-8", errors="strict") as handle:
        lineno = 0
        try:
            for lineno, line in enumerate(handle, start=1):
                yield _parse_row(line, f"{path}:{lineno}")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}:{lineno + 1}: not valid UTF-8 ({exc.reason})") from None


def load_jsonl(path: Path) -> list[Example]:
    """Read every row of ``path``; raise ``DataError`` on the first bad one."""
    return list(iter_jsonl(path))


def parse_command(line: str, where: str, jsonl: bool = True) -> dict[str, object]:
    """One non-blank line of an unlabelled command file as a row with a string ``text``.

    ``jsonl``: the line is a JSON object with a non-blank string ``text`` (other fields
    kept); otherwise the stripped line is the text. A bad line raises ``DataError``
    starting with ``where`` (``file:line``).
    """
    if not jsonl:
        return {"text": line.strip()}
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: invalid JSON ({exc.msg})") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise DataError(f"{where}: expected an object with a string 'text'")
    if is_blank(row["text"]):
        raise DataError(f"{where}: 'text' is empty")
    return row


def iter_commands(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """Unlabelled commands: ``(line number, row)`` from a ``.jsonl`` file (objects with a
    non-blank string ``text``; other fields kept) or any other file (one command a line,
    stripped).

    Blank lines are skipped; a bad row (or a blank ``text``) raises ``DataError`` naming
    the file and line (``parse_command``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open(encoding="utf-8") as handle:
        lineno = 0
        try:
            for lineno, line in enumerate(handle, start=1):
                if line.strip():
                    yield lineno, parse_command(line, f"{path}:{lineno}", path.suffix == ".jsonl")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}:{lineno + 1}: not valid UTF-8 ({exc.reason})") from None


@contextmanager
def atomic_write(path: Path) -> Iterator[TextIO]:
    """Write the text file ``path`` all or nothing: into a uniquely named temporary file
    beside it, renamed over ``path`` only when the ``with`` block succeeds.

    On any failure the temporary file is removed and ``path`` is left as it was. A path
    that cannot be written (missing directory, a directory, no permission) raises a
    one-line ``DataError`` before the block runs.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        if path.is_dir():
            raise DataError(f"{path}: is a directory; give a file path")
        if not path.parent.is_dir():
            raise DataError(f"{path.parent}: no such directory")
        handle = tmp.open("x", encoding="utf-8")
    except OSError as exc:  # no permission, name too long, read-only file system, ...
        raise DataError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with handle:
            yield handle
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise DataError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)  # after a successful rename there is nothing left


def save_jsonl(path: Path, examples: Iterable[Example]) -> int:
    """Write ``examples`` to ``path`` atomically, creating its directory; return the row count."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{path.parent}: cannot create directory ({exc.strerror})") from None
    count = 0
    with atomic_write(path) as handle:
        for ex in examples:
            handle.write(ex.to_json() + "\n")
            count += 1
    return count
