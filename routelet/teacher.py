"""The LLM teacher and baseline: ``ClaudeRouter``, recorded runs, and ``routelet teacher label``.

``ClaudeRouter`` puts Claude behind the same ``predict_proba`` as every router, so
``routelet eval --router claude`` scores it as the baseline routelet must beat on cost
and latency; ``record_run`` appends the numbers of one such run to
``report/llm_runs.jsonl`` and ``latest_llm_run`` reads the newest back for the report.
``routelet teacher label IN OUT`` labels unlabelled commands (e.g. logs) to grow the
training data. The HTTP work (redaction, retries, cache, cost) is ``routelet.claude``.

It records only numbers measured on real responses; without ``ANTHROPIC_API_KEY`` it
stops with a one-line ``MissingKeyError`` and produces nothing.

Invariants: every text is ``preprocess``-redacted before it leaves the machine, and the
labelled output holds only redacted text. A command that could not be labelled validly
is visible, never silently mapped: ``predict_proba`` puts it in the ``none`` column and
counts it in ``invalid``; ``label`` writes it to the review file. ``label`` never
writes a row that duplicates a training row or near-duplicates an eval row.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.checkdata import NEAR_DUP_THRESHOLD, find_leaks
from routelet.claude import (
    DEFAULT_MODEL,
    Answer,
    AnswerCache,
    ClaudeClient,
    MissingKeyError,
    TeacherError,
    build_system_prompt,
    load_taxonomy,
)
from routelet.config import Paths
from routelet.data import Example, iter_commands, load_jsonl, save_jsonl
from routelet.errors import ConfigError
from routelet.intents import LABELS, Intent, parse_intent
from routelet.preprocess import preprocess

__all__ = ["ClaudeRouter", "MissingKeyError", "TeacherError", "latest_llm_run", "run_cli"]

RUNS_FILE = "llm_runs.jsonl"


class ClaudeRouter:
    """Claude as a router: one-hot ``predict_proba`` on the label it gives each command."""

    def __init__(self, client: ClaudeClient) -> None:
        self.client = client

    @classmethod
    def from_env(
        cls,
        model: str | None = None,
        *,
        cache_dir: Path | None = None,
        concurrency: int = 4,
        http_client: Any = None,
        paths: Paths | None = None,
    ) -> ClaudeRouter:
        """Build from ``ANTHROPIC_API_KEY`` (and ``ANTHROPIC_BASE_URL`` when set, via the SDK).

        ``http_client`` is an ``httpx2.Client`` (the HTTP library of anthropic>=2), for tests
        or proxies. The default cache is ``.cache/teacher`` under the project root.
        """
        key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
        if not key:
            raise MissingKeyError(
                "ANTHROPIC_API_KEY is not set; the Claude teacher and baseline need an API key "
                "(see docs/teacher.md)"
            )
        try:
            import anthropic
        except ImportError:
            raise ConfigError(
                "the Claude teacher needs the llm extra (pip install routelet[llm])"
            ) from None
        paths = paths or Paths.discover()
        # The SDK's own retries are off: ClaudeClient retries with backoff and counts them.
        sdk = anthropic.Anthropic(api_key=key, http_client=http_client, max_retries=0, timeout=30.0)
        cache = AnswerCache(cache_dir or paths.root / ".cache" / "teacher")
        prompt = build_system_prompt(load_taxonomy(paths))
        client = ClaudeClient(
            sdk, model or DEFAULT_MODEL, system_prompt=prompt, cache=cache, concurrency=concurrency
        )
        return cls(client)

    @property
    def model(self) -> str:
        return self.client.model

    @property
    def invalid(self) -> int:
        """Commands without a valid label after the retry (predicted as ``none``)."""
        return self.client.usage.invalid

    def label(self, texts: Sequence[str]) -> list[Answer]:
        """The teacher's answer for each text (redacted before sending)."""
        return self.client.classify(texts)

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        """(n, 6) one-hot rows in ``LABELS`` order; an invalid answer is a ``none`` row."""
        probs = np.zeros((len(texts), len(LABELS)))  # (n, 6)
        none_col = LABELS.index(Intent.NONE.value)
        for i, answer in enumerate(self.label(texts)):
            probs[i, LABELS.index(answer.label) if answer.valid else none_col] = 1.0
        return probs

    def latency_summary(self) -> dict[str, Any]:
        """Per-request latency of answered API calls (cache hits and backoff waits excluded)."""
        usage = self.client.usage
        lat = np.asarray(usage.latencies_ms)  # (calls,)
        p50, p95 = np.percentile(lat, [50, 95]).round(1).tolist() if lat.size else (None, None)
        return {"calls": usage.calls, "cache_hits": usage.cache_hits, "p50_ms": p50, "p95_ms": p95}

    def record_run(
        self, metrics: dict[str, Any], data_path: str, report_dir: Path | None = None
    ) -> Path:
        """Append this run (date, model, data, scores, latency, tokens, cost) to the runs file."""
        usage, lat = self.client.usage, self.latency_summary()
        row = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": self.model,
            "data": str(data_path),
            "n": metrics.get("n"),
            "accuracy": metrics.get("accuracy"),
            "macro_f1": metrics.get("macro_f1"),
            "latency_p50_ms": lat["p50_ms"],
            "latency_p95_ms": lat["p95_ms"],
            "calls": usage.calls,
            "cache_hits": usage.cache_hits,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_usd": None if usage.cost_usd is None else round(usage.cost_usd, 6),
            "invalid": usage.invalid,
        }
        path = (report_dir or Paths.discover().report) / RUNS_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        return path


def latest_llm_run(report_dir: Path) -> dict[str, Any] | None:
    """The newest recorded run in ``report_dir/llm_runs.jsonl``, or None if there is none."""
    path = Path(report_dir) / RUNS_FILE
    if not path.is_file():
        return None
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line (interrupted write) does not hide older runs
        if isinstance(row, dict):
            return row
    return None


def read_commands(path: Path) -> list[str]:
    """Commands from ``.jsonl`` (``text`` field per line) or any other file (one per line)."""
    return [str(row["text"]) for _, row in iter_commands(Path(path))]


@dataclass
class Selection:
    """Which redacted commands go to the teacher, and why the others do not."""

    send: list[str] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    leaks: list[tuple[str, str]] = field(default_factory=list)  # (command, eval file)


def select_commands(
    texts: Sequence[str], paths: Paths, threshold: float = NEAR_DUP_THRESHOLD
) -> Selection:
    """Drop empty, repeated and training-duplicate commands; refuse eval near-duplicates."""
    sel = Selection()
    candidates: dict[str, None] = {}  # redacted text -> None, in input order
    for text in texts:
        red = preprocess(text)
        if not red:
            sel.dropped["empty after preprocess"] += 1
        elif red in candidates:
            sel.dropped["repeated in the input"] += 1
        else:
            candidates[red] = None
    evals = [(p.name, ex.text) for p in paths.eval_files() for ex in load_jsonl(p)]
    leaked: dict[str, str] = {}  # command -> first eval file it near-duplicates
    for pair in find_leaks([("input", t) for t in candidates], evals, threshold):
        leaked.setdefault(pair.train_text, pair.eval_file)
    train = [(p.name, ex.text) for p in paths.training_files() for ex in load_jsonl(p)]
    known = {
        pair.eval_text for pair in find_leaks(train, [("input", t) for t in candidates], threshold)
    }
    for text in candidates:
        if text in leaked:
            sel.leaks.append((text, leaked[text]))
        elif text in known:
            sel.dropped["duplicate of a training row"] += 1
        else:
            sel.send.append(text)
    return sel


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    tmp.replace(path)


def split_answers(
    answers: Sequence[Answer], model: str
) -> tuple[list[Example], list[dict[str, Any]]]:
    """Confident valid answers become training rows; low-confidence and invalid go to review."""
    keep: list[Example] = []
    review: list[dict[str, Any]] = []
    for a in answers:
        if not a.valid:
            review.append({"text": a.text, "answer": a.raw, "problem": a.problem})
        elif a.confidence == "low":
            review.append(
                {
                    "text": a.text,
                    "suggested": a.label,
                    "reason": a.reason,
                    "problem": "low confidence",
                }
            )
        else:
            meta = {
                "source": "teacher",
                "model": model,
                "confidence": str(a.confidence),
                "reason": a.reason,
            }
            keep.append(Example(a.text, parse_intent(a.label), meta))
    return keep, review


def _label(args: argparse.Namespace, http_client: Any) -> int:
    paths = Paths.discover()
    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    router = ClaudeRouter.from_env(
        args.model,
        cache_dir=cache_dir,
        concurrency=args.concurrency,
        http_client=http_client,
        paths=paths,
    )
    start = time.perf_counter()
    texts = read_commands(Path(args.input))
    sel = select_commands(texts, paths)
    keep, review = split_answers(router.label(sel.send), router.model)
    output = Path(args.output)
    review_path = Path(args.review) if args.review else output.with_suffix(".review.jsonl")
    save_jsonl(output, keep)
    _write_jsonl(review_path, review)
    seconds = time.perf_counter() - start
    print(f"teacher {router.model}: {len(texts)} input rows, {len(sel.send)} sent for labelling")
    print(_summary(router, sel, keep, review, seconds))
    print(f"wrote {output} and {review_path}")
    return 0


def _summary(
    router: ClaudeRouter,
    sel: Selection,
    keep: Sequence[Example],
    review: Sequence[dict[str, Any]],
    seconds: float,
) -> str:
    usage, lat = router.client.usage, router.latency_summary()
    per_label = Counter(ex.intent.value for ex in keep)
    n_low = sum(r["problem"] == "low confidence" for r in review)
    cost = (
        "unknown (no price for this model)" if usage.cost_usd is None else f"${usage.cost_usd:.4f}"
    )
    latency = (
        "-" if lat["p50_ms"] is None else f"p50 {lat['p50_ms']:.0f} ms, p95 {lat['p95_ms']:.0f} ms"
    )
    return "\n".join(
        [
            f"labelled: {len(keep)}",
            *(f"  {label}: {per_label[label]}" for label in LABELS if label != Intent.NONE.value),
            f"review: {len(review)} ({n_low} low confidence, {len(review) - n_low} invalid)",
            *(f"dropped ({why}): {count}" for why, count in sorted(sel.dropped.items())),
            f"refused (near-duplicate of an eval row, leakage): {len(sel.leaks)}",
            *(f"  {text[:60]!r} ~ {src}" for text, src in sel.leaks[:10]),
            f"api: {usage.calls} calls, {usage.cache_hits} cache hits, {usage.retries} retries; "
            f"tokens {usage.input_tokens} in / {usage.output_tokens} out; cost {cost}",
            f"time: {seconds:.1f} s; latency {latency}",
        ]
    )


def run_cli(args: argparse.Namespace, http_client: Any = None) -> int:
    """``routelet teacher SUBCOMMAND``; ``http_client`` (an ``httpx2.Client``) is for tests."""
    if args.teacher_command == "label":
        if args.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        return _label(args, http_client)
    raise ConfigError(f"unknown teacher subcommand {args.teacher_command!r}")
