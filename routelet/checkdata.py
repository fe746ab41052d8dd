"""Data health checks: schema, per-label counts, duplicates, and train/eval leakage.

Training side: every ``data/*.jsonl`` file plus the augmented rows that training
derives from them, built by the one builder training uses (``routelet.dataset``: the
calibration split is never augmented), plus the unlabelled pool a distilled model trains
on (``[soft_labels] pool``, ``routelet.soft_labels``). Evaluation side: every ``evals/*.jsonl``.

Leakage method (documented in ``docs/data.md``): texts are compared by their
``leakage_key`` (``preprocess``, then apostrophes unified and contractions and
informal forms expanded, so "what's" = "whats" = "what is"). A pair leaks when the
keys are equal with spaces removed ("flowerpot" = "flower pot"), or when the Jaccard
similarity of their sets of character 3-grams (each text padded with one space at
both ends) is at least ``NEAR_DUP_THRESHOLD``, taken on the keys and on the keys
with spaces removed, whichever is higher. Candidates come from an inverted index
over each text's rarest 3-grams (prefix filtering): a pair is skipped only when it
cannot reach the threshold, so no leaking pair is missed.

It reports problems; it never edits or drops rows.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from routelet.config import Paths, TrainConfig
from routelet.data import Example, iter_commands, load_jsonl
from routelet.dataset import split_and_augment
from routelet.errors import DataError
from routelet.intents import LABELS
from routelet.preprocess import preprocess
from routelet.soft_labels import pool_files

#: Char-3-gram Jaccard at or above which two texts count as near-duplicates.
NEAR_DUP_THRESHOLD = 0.8

# Apostrophe look-alikes, mapped to "'" before contractions are expanded. NFKC (in
# preprocess) turns the acute accent "´" into a space plus a combining accent.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u2032\u0060\u00b4", "'"))
_SPACED_ACUTE = " \u0301"
# Contractions and informal forms, each expanded to its spelled-out words. The form
# without apostrophes is expanded too ("whats"), except where it is an ordinary word.
_CONTRACTIONS = {
    **{f"{w}'s": f"{w} is" for w in ("what", "that", "there", "here", "where", "when", "who")},
    **{f"{w}'s": f"{w} is" for w in ("how", "why", "it", "he", "she")},
    "let's": "let us",
    **{f"{w}'re": f"{w} are" for w in ("you", "we", "they", "what")},
    **{f"{w}'ve": f"{w} have" for w in ("i", "you", "we", "they", "would", "could", "should")},
    **{f"{w}'ll": f"{w} will" for w in ("i", "you", "we", "they", "he", "she", "it", "that")},
    **{f"{w}'d": f"{w} would" for w in ("i", "you", "we", "they", "he", "she")},
    "i'm": "i am",
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    **{
        f"{w}n't": f"{w} not"
        for w in ("do", "does", "did", "is", "are", "was", "were", "has", "have", "had")
    },
    **{f"{w}n't": f"{w} not" for w in ("would", "could", "should", "must", "need")},
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "got to",
    "hafta": "have to",
    "kinda": "kind of",
    "sorta": "sort of",
    "lemme": "let me",
    "gimme": "give me",
    "dunno": "do not know",
}
# Apostrophe-free forms that are ordinary words, so not expanded.
_ORDINARY_WORDS = frozenset({"were", "well", "ill", "id", "hell", "shell", "wed", "shed", "hed"})
_CONTRACTIONS |= {
    bare: full
    for form, full in list(_CONTRACTIONS.items())
    if (bare := form.replace("'", "")) not in _ORDINARY_WORDS and bare not in _CONTRACTIONS
}
_WORD_RE = re.compile(r"\w+(?:'\w+)*")


def _expand(match: re.Match[str]) -> str:
    return _CONTRACTIONS.get(match.group(), match.group())


def leakage_key(text: str) -> str:
    """The form two texts are compared in for leakage (linear in ``len(text)``).

    ``preprocess``; apostrophe look-alikes (’ ‘ ` ´ ʼ ′) become "'"; contractions and
    informal forms are expanded ("what's", "whats" -> "what is"; "can't", "cannot" ->
    "can not"; "gonna" -> "going to"); remaining apostrophes are dropped ("mom's" ->
    "moms"). Other punctuation and symbols are kept. ``find_leaks`` also compares
    keys with their spaces removed, so word joins match ("flower pot", "flowerpot").
    """
    key = preprocess(text).replace(_SPACED_ACUTE, "'").translate(_APOSTROPHES)
    key = _WORD_RE.sub(_expand, key)
    return " ".join(key.replace("'", "").split())


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


def _prefix_len(size: int, threshold: float) -> int:
    """How many of a set's rarest grams to index so every pair at ``threshold`` shares one.

    If J(A, B) >= t then |A & B| >= ceil(t * |A|), so A's first |A| - ceil(t * |A|) + 1
    grams (in one global order) meet B's. ``int`` rounds down: one gram more, never fewer.
    """
    return max(0, min(size, size - int(threshold * size) + 1))


def _near_pairs(
    left: Sequence[frozenset[str]], right: Sequence[frozenset[str]], threshold: float
) -> dict[tuple[int, int], float]:
    """Jaccard of every pair ``(i, j)`` of ``left[i]``, ``right[j]`` at or above ``threshold``."""
    freq = Counter(g for grams in (*left, *right) for g in grams)
    rank = {g: r for r, g in enumerate(sorted(freq, key=lambda g: (freq[g], g)))}  # rarest first

    def prefix(grams: frozenset[str]) -> list[str]:
        return sorted(grams, key=rank.__getitem__)[: _prefix_len(len(grams), threshold)]

    index: dict[str, list[int]] = defaultdict(list)
    for i, grams in enumerate(left):
        for gram in prefix(grams):
            index[gram].append(i)
    sims: dict[tuple[int, int], float] = {}
    for j, rg in enumerate(right):
        n_right = len(rg)
        lo = threshold * n_right - 1e-9  # float slack: never skip a pair that qualifies
        hi = n_right / threshold + 1e-9 if threshold > 0 else float("inf")
        for i in {i for gram in prefix(rg) for i in index.get(gram, ())}:
            n_left = len(left[i])
            if not lo <= n_left <= hi:  # J <= min/max size: cannot reach the threshold
                continue
            n_shared = len(left[i] & rg)
            sim = n_shared / (n_left + n_right - n_shared)
            if sim >= threshold:
                sims[i, j] = sim
    return sims


def find_leaks(
    train: Sequence[tuple[str, str]],
    evals: Sequence[tuple[str, str]],
    threshold: float = NEAR_DUP_THRESHOLD,
) -> list[LeakPair]:
    """Pairs ``(train_row, eval_row)`` whose ``leakage_key`` are equal or near-duplicates.

    Each side is a sequence of ``(source_name, raw_text)``. Every pair at or above
    ``threshold`` is returned, with its similarity (see the module docstring).
    """
    train_keys = [leakage_key(text) for _, text in train]
    eval_keys = [leakage_key(text) for _, text in evals]
    sims = _near_pairs(
        [char_ngrams(k) for k in train_keys], [char_ngrams(k) for k in eval_keys], threshold
    )
    train_joined = [k.replace(" ", "") for k in train_keys]
    eval_joined = [k.replace(" ", "") for k in eval_keys]
    joined_sims = _near_pairs(
        [char_ngrams(k) for k in train_joined], [char_ngrams(k) for k in eval_joined], threshold
    )
    for pair, sim in joined_sims.items():
        sims[pair] = max(sim, sims.get(pair, 0.0))
    by_joined: dict[str, list[int]] = defaultdict(list)  # equal keys leak at any threshold
    for i, key in enumerate(train_joined):
        by_joined[key].append(i)
    for j, key in enumerate(eval_joined):
        for i in by_joined.get(key, ()):
            sims.setdefault((i, j), 1.0)
    leaks = [
        LeakPair(train[i][0], train[i][1], evals[j][0], evals[j][1], round(sim, 3))
        for (i, j), sim in sims.items()
    ]
    return sorted(leaks, key=lambda p: (-p.similarity, p.eval_file, p.eval_text, p.train_text))


def leaking_rows(
    candidates: Sequence[str], eval_texts: Sequence[str], threshold: float = NEAR_DUP_THRESHOLD
) -> list[str]:
    """The candidate training texts that leak against any of ``eval_texts``, in input order.

    Filter new training rows with it before adding them: keep the candidates not returned.
    ``eval_texts`` is usually every row of ``evals/*.jsonl``:
    ``[ex.text for p in paths.eval_files() for ex in load_jsonl(p)]``.
    """
    pairs = find_leaks(
        [("candidate", t) for t in candidates], [("eval", t) for t in eval_texts], threshold
    )
    leaked = {p.train_text for p in pairs}
    return [t for t in candidates if t in leaked]


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
    # The augmented rows training builds (routelet.dataset): calibration rows are not augmented.
    augmented = [ex for ex in split_and_augment(written, config)[0] if "augment_of" in ex.meta]
    report.augmented_rows = len(augmented)
    train.extend((f"augmented ({ex.meta['augment_of'][:30]})", ex.text) for ex in augmented)
    # The unlabelled pool a distilled model trains on (routelet.soft_labels).
    for path in pool_files(paths, config):
        try:
            train.extend((f"pool ({path.name})", str(r["text"])) for _, r in iter_commands(path))
        except DataError as exc:
            report.errors.append(str(exc))
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
