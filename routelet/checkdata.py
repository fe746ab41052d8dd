"""Data health checks: schema, per-label counts, duplicates, and train/eval leakage.

Training side: every ``data/*.jsonl`` file plus the augmented rows that training
derives from them with the config's seed. Evaluation side: every ``evals/*.jsonl``.

Leakage method (documented in ``docs/data.md``): texts are compared after
``preprocess``; a pair leaks when the texts are equal, or when the Jaccard
similarity of their sets of character 3-grams (each text padded with one space at
both ends) is at least ``NEAR_DUP_THRESHOLD``. Candidates come from an inverted
index of 3-grams, so no pair is skipped.

It reports problems; it never edits or drops rows.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from routelet.augment import augment
from routelet.config import Paths, TrainConfig
from routelet.data import Example, load_jsonl
from routelet.errors import DataError
from routelet.intents import LABELS
from routelet.preprocess import preprocess

#: Char-3-gram Jaccard at or above which two texts count as near-duplicates.
NEAR_DUP_THRESHOLD = 0.8


def char_ngrams(text: str, n: int = 3) -> frozenset[str]:
    """Set of character n-grams of `` text `` (padded, so short words still have grams)."""
    padded = f" {text} "
    if len(padded) < n:
        return frozenset({padded})
    return frozenset(padded[i : i + n] for i in range(len(padded) - n + 1))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 1.0


@dataclass(frozen=True)
class LeakPair:
    train_file: str
    train_text: str
    eval_file: str
    eval_text: str
    similarity: float


def find_leaks(
    train: Sequence[tuple[str, str]],
    evals: Sequence[tuple[str, str]],
    threshold: float = NEAR_DUP_THRESHOLD,
) -> list[LeakPair]:
    """Pairs ``(train_row, eval_row)`` that are exact or near-duplicates after preprocess.

    Each side is a sequence of ``(source_name, raw_text)``.
    """
    train_norm = [(src, text, preprocess(text)) for src, text in train]
    grams = [char_ngrams(norm) for _, _, norm in train_norm]
    index: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            index[gram].append(i)
    leaks: list[LeakPair] = []
    for eval_src, eval_text in evals:
        norm = preprocess(eval_text)
        eg = char_ngrams(norm)
        shared: Counter[int] = Counter()
        for gram in eg:
            shared.update(index.get(gram, ()))
        for i, n_shared in shared.items():
            sim = n_shared / (len(eg) + len(grams[i]) - n_shared)
            if sim >= threshold or train_norm[i][2] == norm:
                src, text, _ = train_norm[i]
                leaks.append(LeakPair(src, text, eval_src, eval_text, round(sim, 3)))
    return sorted(leaks, key=lambda p: (-p.similarity, p.eval_file, p.eval_text))


@dataclass
class DataReport:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    leaks: list[LeakPair] = field(default_factory=list)
    augmented_rows: int = 0

    @property
    def ok(self) -> bool:
        return not (self.errors or self.duplicates or self.leaks)


def _load_checked(path: Path, report: DataReport) -> list[Example]:
    try:
        rows = load_jsonl(path)
    except DataError as exc:
        report.errors.append(str(exc))
        return []
    report.counts[str(path)] = Counter(ex.intent.value for ex in rows)
    seen: set[str] = set()
    for ex in rows:
        key = preprocess(ex.text)
        if key in seen:
            report.duplicates.append((str(path), ex.text))
        seen.add(key)
    return rows


def check(paths: Paths, config: TrainConfig, threshold: float = NEAR_DUP_THRESHOLD) -> DataReport:
    """Run every check over ``paths``; the report lists every problem found."""
    report = DataReport()
    if not paths.training_files():
        report.errors.append(f"{paths.data}: no training files (*.jsonl)")
    if not paths.eval_files():
        report.errors.append(f"{paths.evals}: no evaluation files (*.jsonl)")
    train: list[tuple[str, str]] = []
    written: list[Example] = []
    for path in paths.training_files():
        rows = _load_checked(path, report)
        written.extend(rows)
        train.extend((path.name, ex.text) for ex in rows)
    augmented = augment(written, copies=config.augment_copies, seed=config.augment_seed)
    report.augmented_rows = len(augmented)
    train.extend((f"augmented ({ex.meta['augment_of'][:30]})", ex.text) for ex in augmented)
    evals: list[tuple[str, str]] = []
    for path in paths.eval_files():
        evals.extend((path.name, ex.text) for ex in _load_checked(path, report))
    report.leaks = find_leaks(train, evals, threshold)
    return report


def format_report(report: DataReport, root: Path) -> str:
    def rel(p: str) -> str:
        try:
            return str(Path(p).relative_to(root))
        except ValueError:
            return p

    rows = [
        [rel(p), *(c.get(label, 0) for label in LABELS), sum(c.values())]
        for p, c in report.counts.items()
    ]
    lines = [tabulate(rows, headers=["file", *LABELS, "total"], tablefmt="github")]
    lines.append(f"\naugmentation adds {report.augmented_rows} training rows")
    for err in report.errors:
        lines.append(f"ERROR {err}")
    if report.duplicates:
        lines.append(f"\n{len(report.duplicates)} duplicate rows within a file (after preprocess):")
        lines.append(
            tabulate([[rel(f), t] for f, t in report.duplicates], headers=["file", "text"])
        )
    if report.leaks:
        lines.append(f"\n{len(report.leaks)} train/eval leaks:")
        table = [
            [p.similarity, p.train_file, p.train_text[:60], p.eval_file, p.eval_text[:60]]
            for p in report.leaks
        ]
        lines.append(tabulate(table, headers=["sim", "train file", "train", "eval file", "eval"]))
    lines.append("\nOK: no problems found" if report.ok else "\nFAILED")
    return "\n".join(lines)


def run_cli(args: argparse.Namespace) -> int:
    paths = Paths(Path(args.root)) if args.root else Paths.discover()
    config = TrainConfig.from_toml(paths.configs / "default.toml")
    threshold = NEAR_DUP_THRESHOLD if args.threshold is None else args.threshold
    report = check(paths, config, threshold)
    print(format_report(report, paths.root))
    return 0 if report.ok else 1
