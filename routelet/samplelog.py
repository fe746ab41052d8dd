"""The opt-in sample log of ``routelet serve --log-samples DIR``, and reading traffic back.

Writing: ``SampleLog`` appends one JSON line per sampled ``/route`` request
(``route_record``: time, request id, the redacted ``preprocess`` text, intent,
confidence, deferred, model, tier) and one per user correction (``feedback_record``:
the same id and redacted text, and the corrected intent) to ``DIR/samples-*.jsonl``.
A file is closed at ``max_bytes`` and the oldest files beyond ``max_files`` are
deleted, so the log never holds more than about ``max_bytes * max_files`` bytes.
Each line is one ``os.write`` on a file opened for appending: a crash loses at most
the line being written, which readers skip. A full disk or an unwritable directory is
logged once and drops samples; it never fails a request.

Reading: ``input_files`` expands files, directories and globs; ``iter_traffic``
yields every line of sample logs, ``.jsonl`` and ``.txt`` command files as a
``Line`` (``file:line``, the row or the problem), so a caller can report a bad line
and go on. It does not decide what a row is worth (``routelet.ingest``) or route it.

Invariant: the raw text of a request is never written; only ``preprocess(text)``.
Over-redaction is acceptable; leaking is not.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import random
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routelet.data import parse_command
from routelet.errors import DataError
from routelet.preprocess import preprocess

#: Defaults of ``routelet serve --log-max-mb / --log-max-files``: at most ~100 MiB kept.
MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 10
#: ``kind`` of a correction line; a line without ``kind`` (or ``"route"``) is a command.
FEEDBACK = "feedback"
PREFIX, SUFFIX = "samples-", ".jsonl"
#: Unlabelled traffic ``iter_traffic`` reads, by suffix.
TRAFFIC_SUFFIXES = (".jsonl", ".txt")

log = logging.getLogger("routelet.samplelog")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def route_record(request_id: str, text: str, prediction: dict[str, Any], model: str) -> str:
    """The log line (JSON, no newline) of one routed request; ``text`` is redacted here."""
    row = {
        "kind": "route",
        "id": request_id,
        "time": _now(),
        "text": preprocess(text),
        "intent": prediction["intent"],
        "confidence": prediction["confidence"],
        "deferred": prediction["deferred"],
        "model": model,
    }
    if "tier" in prediction:
        row["tier"] = prediction["tier"]
    return json.dumps(row, ensure_ascii=False)


def feedback_record(request_id: str, redacted_text: str, intent: str) -> str:
    """The log line of a user's correction of request ``request_id``."""
    row = {"kind": FEEDBACK, "id": request_id, "time": _now(), "text": redacted_text}
    return json.dumps({**row, "intent": intent}, ensure_ascii=False)


class SampleLog:
    """Rotating JSONL files under ``directory``; ``write`` never raises."""

    def __init__(
        self,
        directory: Path,
        rate: float = 1.0,
        max_bytes: int = MAX_BYTES,
        max_files: int = MAX_FILES,
        rng: random.Random | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise DataError(f"sample rate must be between 0 and 1, got {rate}")
        if max_bytes < 1 or max_files < 1:
            raise DataError("the sample log needs max_bytes and max_files of at least 1")
        self.directory, self.rate = Path(directory), rate
        self.max_bytes, self.max_files = max_bytes, max_files
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._size = 0
        self._seq = 0
        self._failed = False  # the first failure is logged, later ones are not

    def sampled(self) -> bool:
        """Whether to log the next request (``rate`` of them, at random)."""
        return self.rate >= 1.0 or self._rng.random() < self.rate

    def write(self, line: str) -> bool:
        """Append ``line``; False when it could not be written (logged once)."""
        data = (line + "\n").encode("utf-8")
        with self._lock:
            try:
                if self._fd is None or (self._size and self._size + len(data) > self.max_bytes):
                    self._rotate()
                assert self._fd is not None
                os.write(self._fd, data)  # one write: a crash tears at most this line
                self._size += len(data)
            except OSError as exc:
                self._close()
                if not self._failed:
                    log.error("sample log %s: %s; samples are dropped", self.directory, exc)
                self._failed = True
                return False
        return True

    def files(self) -> list[Path]:
        """The log's files, oldest first."""
        return sorted(self.directory.glob(f"{PREFIX}*{SUFFIX}"))

    def _rotate(self) -> None:
        self._close()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = self.directory / f"{PREFIX}{stamp}-{os.getpid()}-{self._seq:04d}{SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = 0
        for old in self.files()[: -self.max_files]:
            old.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            # Nothing is lost if close fails: every line was written whole or not at all.
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._close()


# ----------------------------------------------------------------------------- reading


def input_files(specs: Sequence[str], suffixes: Sequence[str] = TRAFFIC_SUFFIXES) -> list[Path]:
    """Files named by ``specs``: a file, a directory (its files with ``suffixes``) or a glob.

    Raises ``DataError`` for a spec that names nothing or a file of another kind.
    """
    found: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            matches = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
        elif path.is_file():
            matches = [path]
        else:
            matches = sorted(Path(p) for p in glob.glob(spec) if Path(p).is_file())
        if not matches:
            raise DataError(f"{spec}: no such file, or no {'/'.join(suffixes)} files there")
        for match in matches:
            if match.suffix not in suffixes:
                raise DataError(f"{match}: expected a {' or '.join(suffixes)} file")
        found.extend(m for m in matches if m not in found)
    return found


@dataclass(frozen=True)
class Line:
    """One non-blank line of a traffic file: the parsed row, or why it could not be read."""

    where: str  # file:line
    row: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def is_feedback(self) -> bool:
        return self.row is not None and self.row.get("kind") == FEEDBACK


def parse_line(raw: str, where: str, jsonl: bool = True) -> Line:
    """A line as a ``Line``: a command row (``data.parse_command``'s rules) or a correction."""
    try:
        if jsonl and '"kind"' in raw:
            row = json.loads(raw)
            if isinstance(row, dict) and row.get("kind") == FEEDBACK:
                if not isinstance(row.get("id"), str) or not isinstance(row.get("intent"), str):
                    return Line(where, problem=f"{where}: a feedback line needs 'id' and 'intent'")
                return Line(where, row)
        return Line(where, dict(parse_command(raw, where, jsonl)))
    except (DataError, json.JSONDecodeError) as exc:
        message = str(exc) if isinstance(exc, DataError) else f"{where}: invalid JSON"
        return Line(where, problem=message)


def iter_traffic(files: Iterable[Path]) -> Iterator[Line]:
    """Every non-blank line of ``files`` (sample logs, ``.jsonl``, ``.txt``), in order."""
    for path in files:
        try:
            with Path(path).open(encoding="utf-8", errors="replace") as handle:
                for lineno, raw in enumerate(handle, start=1):
                    if raw.strip():
                        yield parse_line(raw, f"{path}:{lineno}", Path(path).suffix == ".jsonl")
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror})") from None
