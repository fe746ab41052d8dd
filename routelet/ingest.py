"""``routelet ingest``: turn logged traffic into reviewed training rows.

``routelet ingest INPUT... --output REVIEW`` reads sample logs (``routelet serve
--log-samples``), ``.jsonl`` and ``.txt`` files (``routelet.samplelog``) and keeps each
command once, in its redacted ``preprocess`` form. It drops what must not or need not
be labelled by the teacher's own rule (``routelet.teacher.select_commands``: empty,
repeated, a duplicate or near-duplicate of a training row, a near-duplicate of any eval
row, by ``routelet.checkdata.find_leaks``), and texts longer than a data row may be.
A user's correction (a ``feedback`` line) is the label where there is one; the LLM
teacher labels the rest (``ANTHROPIC_API_KEY``; ``ANTHROPIC_BASE_URL`` honoured) and
the student (the shipped model, or ``--model``) routes every row. The review file lists
rows where the label and the student disagree first, then rows without a usable label
(invalid or low-confidence answers), then agreements; the more often a command was
seen, the earlier it comes within its group.

``routelet ingest --accept REVIEWED --into data/collected.jsonl`` merges the reviewed
rows that have an ``intent`` into the data file with their provenance (``source``,
``label_source``, ``origin`` file, ``teacher_model``, ``date``), checking duplicates and
eval leakage again. Training reads every ``data/*.jsonl``, so the next ``routelet
train`` uses them.

It never sends or writes raw text (only ``preprocess(text)``), never writes a row that
leaks into the evals, and never maps an invalid teacher answer to a label.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routelet.config import Paths
from routelet.data import (
    MAX_TEXT_CHARS,
    Example,
    atomic_write,
    is_blank,
    load_jsonl,
    parse_command,
    save_jsonl,
)
from routelet.errors import ConfigError, DataError, RouteletError
from routelet.intents import LABELS, parse_intent
from routelet.preprocess import preprocess
from routelet.samplelog import input_files, iter_traffic
from routelet.teacher import Selection, select_commands

#: ``label_source`` values: who gave a row its label.
CORRECTION, TEACHER, REVIEWER = "correction", "teacher", "reviewer"
#: Bad input lines quoted in the summary (all are counted).
SHOWN_PROBLEMS = 5


@dataclass
class Traffic:
    """What the input files hold: commands in order, corrections, and unreadable lines."""

    texts: list[str] = field(default_factory=list)  # redacted, with repeats, in input order
    seen: Counter[str] = field(default_factory=Counter)  # redacted text -> times seen
    origin: dict[str, str] = field(default_factory=dict)  # redacted text -> first file
    corrections: dict[str, str] = field(default_factory=dict)  # redacted text -> intent
    problems: list[str] = field(default_factory=list)
    lines: int = 0


def read_traffic(files: Sequence[Path]) -> Traffic:
    """Commands and corrections of ``files``; a bad line is recorded, never fatal.

    A correction names its request by ``id`` and carries its redacted text; the last
    correction of a text wins. A correction is a command too (its request may not have
    been sampled).
    """
    traffic = Traffic()
    by_id: dict[str, str] = {}
    pending: list[tuple[str, dict[str, Any]]] = []  # corrections, resolved after reading
    for line in iter_traffic(files):
        traffic.lines += 1
        if line.row is None:
            traffic.problems.append(str(line.problem))
        elif line.is_feedback:
            pending.append((line.where, line.row))
        else:
            text = preprocess(str(line.row["text"]))
            if isinstance(line.row.get("id"), str):
                by_id[line.row["id"]] = text
            _add(traffic, text, line.where)
    for where, row in pending:
        given = row.get("text")
        text = preprocess(given) if isinstance(given, str) else by_id.get(row["id"], "")
        try:
            intent = parse_intent(row["intent"]).value
        except ValueError as exc:
            traffic.problems.append(f"{where}: {exc}")
            continue
        if not text:
            traffic.problems.append(f"{where}: correction of an unknown request")
            continue
        if text not in traffic.seen:
            _add(traffic, text, where)
        traffic.corrections[text] = intent
    return traffic


def _add(traffic: Traffic, text: str, where: str) -> None:
    traffic.texts.append(text)
    traffic.seen[text] += 1
    traffic.origin.setdefault(text, where.rsplit(":", 1)[0])


@dataclass
class Collected:
    """The outcome of one ``ingest`` run."""

    traffic: Traffic
    selection: Selection
    rows: list[dict[str, Any]]
    teacher_model: str | None = None
    usage: str = ""


def _teacher(args: argparse.Namespace, http_client: Any) -> Any:
    from routelet.extras import require
    from routelet.teacher import ClaudeRouter

    require("llm", "the teacher")
    return ClaudeRouter.from_env(
        args.teacher_model,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        concurrency=args.concurrency,
        http_client=http_client,
    )


def review_row(
    text: str, traffic: Traffic, student: Any, answer: Any, teacher_model: str | None
) -> dict[str, Any]:
    """One row of the review file; ``intent`` is what ``--accept`` merges (None: nothing)."""
    row: dict[str, Any] = {"text": text, "intent": None, "proposed": None, "label_source": None}
    row |= {"student": student.intent.value, "student_confidence": round(student.confidence, 4)}
    suggested = None
    if text in traffic.corrections:
        row |= {"proposed": traffic.corrections[text], "label_source": CORRECTION}
    elif not answer.valid:
        row["problem"] = f"invalid teacher answer: {answer.problem}"
    else:
        suggested = answer.label
        row |= {"teacher": answer.label, "teacher_confidence": answer.confidence}
        row |= {"teacher_reason": answer.reason, "teacher_model": teacher_model}
        if answer.confidence == "low":
            row["problem"] = "low confidence: give it a label or delete the line"
        else:
            row |= {"proposed": answer.label, "label_source": TEACHER}
    row["intent"] = row["proposed"]
    label = row["proposed"] or suggested
    row["disagree"] = label is not None and label != row["student"]
    return row | {"seen": traffic.seen[text], "origin": traffic.origin[text]}


def order_review(rows: list[dict[str, Any]], traffic: Traffic) -> list[dict[str, Any]]:
    """Disagreements first, then rows without a label, then agreements; most seen first."""
    position = {text: i for i, text in enumerate(dict.fromkeys(traffic.texts))}

    def key(row: dict[str, Any]) -> tuple[int, int, int]:
        group = 0 if row["disagree"] else 1 if row["intent"] is None else 2
        return group, -row["seen"], position[row["text"]]

    return sorted(rows, key=key)


def _threads(args: argparse.Namespace) -> int:
    return int(args.threads) if args.threads is not None else os.cpu_count() or 1


def collect(
    files: Sequence[Path], args: argparse.Namespace, paths: Paths, http_client: Any = None
) -> Collected:
    """Read, filter, label (corrections, then the teacher) and route every new command."""
    traffic = read_traffic(files)
    selection = select_commands(traffic.texts, paths)
    keep = [t for t in selection.send if len(t) <= MAX_TEXT_CHARS and not is_blank(t)]
    if too_long := len(selection.send) - len(keep):
        selection.dropped[f"longer than {MAX_TEXT_CHARS} characters"] += too_long
    ask = [t for t in keep if t not in traffic.corrections]
    teacher = _teacher(args, http_client) if ask else None  # a missing key fails first
    from routelet.runtime import Router

    student = Router.load(args.model)
    # The student (onnxruntime, off the GIL) routes while the teacher's requests are out.
    with ThreadPoolExecutor(1, thread_name_prefix="student") as pool:
        routed = pool.submit(student.classify_batch, keep, workers=_threads(args))
        labelled = teacher.label(ask) if teacher else []
        predictions = routed.result()
    answers = dict(zip(ask, labelled, strict=True))
    teacher_model, usage = None, ""
    if teacher:
        teacher_model, u = teacher.model, teacher.client.usage
        usage = (
            f"{u.calls} calls, {u.cache_hits} cache hits, {u.retries} retries, {u.invalid} invalid"
        )
    rows = [
        review_row(text, traffic, pred, answers.get(text), teacher_model)
        for text, pred in zip(keep, predictions, strict=True)
    ]
    return Collected(traffic, selection, order_review(rows, traffic), teacher_model, usage)


def write_review(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _summary(c: Collected, seconds: float) -> str:
    t, sel = c.traffic, c.selection
    disagree = sum(r["disagree"] for r in c.rows)
    unlabelled = sum(r["intent"] is None for r in c.rows)
    by_source = Counter(r["label_source"] for r in c.rows if r["label_source"])
    lines = [
        f"read {t.lines} lines: {len(t.texts)} commands, {len(t.corrections)} corrected",
        *(f"dropped ({why}): {n}" for why, n in sorted(sel.dropped.items())),
        f"refused (near-duplicate of an eval row, leakage): {len(sel.leaks)}",
        f"unreadable lines skipped: {len(t.problems)}",
        *(f"  {p}" for p in t.problems[:SHOWN_PROBLEMS]),
        f"review rows: {len(c.rows)} ({disagree} disagree with the student first, "
        f"{unlabelled} without a label)",
        *(f"  labelled by {src}: {n}" for src, n in sorted(by_source.items())),
    ]
    if c.teacher_model:
        lines.append(f"teacher {c.teacher_model}: {c.usage}")
    return "\n".join([*lines, f"time: {seconds:.1f} s"])


# ------------------------------------------------------------------------------ accept


def read_review(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(file:line, row)`` of a reviewed file; a row that cannot be merged is a ``DataError``."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    rows = []
    with Path(path).open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            row = parse_command(line, where)
            if row.get("intent") is not None:
                try:
                    parse_intent(row["intent"])
                except ValueError as exc:
                    raise DataError(f"{where}: {exc}") from None
            rows.append((where, row))
    return rows


def _provenance(row: dict[str, Any], review_file: str, date: str) -> dict[str, str]:
    source = row.get("label_source") if row["intent"] == row.get("proposed") else REVIEWER
    meta = {
        "source": "ingest",
        "label_source": str(source or REVIEWER),
        "origin": str(row.get("origin") or ""),
        "teacher_model": str(row.get("teacher_model") or ""),
        "review_file": review_file,
        "date": date,
    }
    return {k: v for k, v in meta.items() if v}


def accept(reviewed: Path, into: Path, paths: Paths) -> tuple[list[Example], Selection, int]:
    """Merge the labelled rows of ``reviewed`` into ``into``: (new rows, selection, unlabelled)."""
    rows = read_review(reviewed)
    labelled = [row for _, row in rows if row.get("intent") is not None]
    existing = load_jsonl(into) if into.is_file() else []
    known = {preprocess(ex.text) for ex in existing}
    fresh = [r for r in labelled if preprocess(r["text"]) not in known]
    selection = select_commands([r["text"] for r in fresh], paths)
    selection.dropped["already in the target file"] += len(labelled) - len(fresh)
    allowed = {t for t in selection.send if len(t) <= MAX_TEXT_CHARS}
    if too_long := len(selection.send) - len(allowed):
        selection.dropped[f"longer than {MAX_TEXT_CHARS} characters"] += too_long
    date = datetime.now(UTC).date().isoformat()
    new: list[Example] = []
    for row in fresh:
        text = preprocess(row["text"])
        if text in allowed:
            allowed.discard(text)
            meta = _provenance(row, Path(reviewed).name, date)
            new.append(Example(text, parse_intent(row["intent"]), meta))
    save_jsonl(into, [*existing, *new])
    return new, selection, len(rows) - len(labelled)


def _accept_cli(args: argparse.Namespace, paths: Paths) -> int:
    into = Path(args.into) if args.into else paths.data / "collected.jsonl"
    new, sel, unlabelled = accept(Path(args.accept), into, paths)
    per_label = Counter(ex.intent.value for ex in new)
    print(f"merged {len(new)} rows into {into}")
    print(*(f"  {label}: {per_label[label]}" for label in LABELS if per_label[label]), sep="\n")
    print(f"skipped (no intent): {unlabelled}")
    for why, n in sorted(sel.dropped.items()):
        print(f"dropped ({why}): {n}")
    print(f"refused (near-duplicate of an eval row, leakage): {len(sel.leaks)}")
    return 0


def run_cli(args: argparse.Namespace, http_client: Any = None) -> int:
    """``routelet ingest``; ``http_client`` (an ``httpx2.Client``) is the teacher's, for tests."""
    paths = Paths.discover()
    if args.accept:
        if args.inputs or args.output:
            raise RouteletError("--accept takes the reviewed file only: no INPUT or --output")
        return _accept_cli(args, paths)
    if args.into:
        raise RouteletError("--into goes with --accept")
    if not args.inputs or not args.output:
        raise RouteletError("give INPUT... and --output REVIEW, or --accept REVIEWED")
    if args.concurrency < 1 or _threads(args) < 1:
        raise ConfigError("--concurrency and --threads must be at least 1")
    files = input_files(args.inputs)
    output = Path(args.output)
    if output.resolve() in {f.resolve() for f in files}:
        raise RouteletError(f"{output}: the review file would overwrite an input")
    start = time.perf_counter()
    collected = collect(files, args, paths, http_client)
    write_review(output, collected.rows)
    print(_summary(collected, time.perf_counter() - start))
    print(f"wrote {output}: edit `intent` (or delete a line), then `routelet ingest --accept`")
    return 0
