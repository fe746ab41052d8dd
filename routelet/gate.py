"""``routelet gate``: promote a candidate model only if it does not lose to the current one.

``routelet gate --candidate MODEL_DIR [--baseline MODEL_DIR]`` routes every eval file
(``evals/*.jsonl``) and the external skill-package set (``routelet.external``) with both
models, prints one table row per set (accuracy of each, the change, rows lost and
gained) and one per intent (recall pooled over every scored row), then a flip report:
the rows whose label changed, grouped ``old -> new``, right -> wrong first, then
wrong -> right, then wrong -> wrong. It exits 1 when the candidate loses more than the
``[gate]`` budget of ``suites/budgets.toml`` on any set's accuracy or any intent's
recall, else 0. ``--json`` prints the same as one JSON object.

``--input FILES_OR_DIR`` adds unlabelled traffic (sample logs, ``.jsonl``, ``.txt``):
the report then also counts label changes on it, ``old -> new`` (no right or wrong,
and no verdict). ``--engine ray`` computes that traffic report on Ray Data
(``routelet.scale``), the labelled sets stay local.

It scores labels (the argmax), not deferral. It never trains, writes or promotes a
model: copying the candidate into ``models/`` is the release step's job.
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from routelet.config import Paths, TrainConfig
from routelet.data import load_jsonl
from routelet.errors import ConfigError, DataError, RouteletError
from routelet.intents import LABELS

#: Flip kinds, in report order; ``None`` is traffic without a gold label.
KINDS = ("right -> wrong", "wrong -> right", "wrong -> wrong")
EXTERNAL = "external"
#: Example rows shown per flip group in the text report (``--json`` has every row).
SHOWN = 5
BUDGET_KEYS = ("max_accuracy_drop", "max_recall_drop")
#: Where the budgets live, under the project root (``--budgets`` overrides it).
BUDGETS_FILE = Path("suites") / "budgets.toml"


@dataclass(frozen=True)
class Budget:
    """``[gate]`` of ``suites/budgets.toml``: the most the candidate may lose."""

    max_accuracy_drop: float  # per eval set, share of its rows
    max_recall_drop: float  # per intent, pooled over every scored row

    @classmethod
    def from_toml(cls, path: Path) -> Budget:
        try:
            table = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("gate")
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such budgets file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: no [gate] table")
        values = {}
        for key in BUDGET_KEYS:
            value = table.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{path}: [gate] {key} must be a number >= 0, got {value!r}")
            values[key] = float(value)
        return cls(**values)


@dataclass(frozen=True)
class LabelledSet:
    name: str
    texts: list[str]
    gold: list[str]


def labelled_sets(paths: Paths, external: bool = True) -> list[LabelledSet]:
    """Every eval file, then the external set (which needs its skill packages installed)."""
    sets = []
    for path in paths.eval_files():
        rows = load_jsonl(path)
        sets.append(LabelledSet(path.stem, [r.text for r in rows], [r.intent.value for r in rows]))
    if external:
        from routelet import external as ext

        try:
            rows = ext.load(paths, TrainConfig.from_toml(paths.configs / "default.toml")).rows
        except DataError as exc:
            raise DataError(
                f"the external set cannot be built ({exc}); install it (make install-dev) "
                "or pass --no-external"
            ) from None
        sets.append(LabelledSet(EXTERNAL, [r.text for r in rows], [r.intent.value for r in rows]))
    if not sets:
        raise DataError(f"{paths.evals}: no eval files to gate on")
    return sets


def labels_of(router: Any, texts: list[str], workers: int = 1) -> list[str]:
    """The argmax label of each text."""
    if not texts:
        return []
    probs = router.predict_proba(texts, workers=workers)  # (n, 6)
    return [LABELS[i] for i in probs.argmax(axis=1)]


@dataclass(frozen=True)
class Flip:
    where: str  # set name or traffic file:line
    text: str
    old: str
    new: str
    gold: str | None = None

    @property
    def kind(self) -> str | None:
        if self.gold is None:
            return None
        if self.old == self.gold:
            return KINDS[0]
        return KINDS[1] if self.new == self.gold else KINDS[2]


@dataclass
class TrafficFlips:
    """Label changes on unlabelled traffic; memory bounded by the label pairs, not the rows."""

    rows: int = 0
    changed: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    problems: list[str] = field(default_factory=list)  # the first few unreadable lines
    n_problems: int = 0

    def add(self, text: str, old: str, new: str) -> None:
        self.rows += 1
        if old != new:
            self.changed[old, new] += 1
            if len(self.examples[old, new]) < SHOWN:
                self.examples[old, new].append(text)

    def problem(self, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < SHOWN:
            self.problems.append(message)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "changed": sum(self.changed.values()),
            "unreadable_lines": self.n_problems,
            "flips": [
                {"old": o, "new": n, "count": c, "examples": self.examples[o, n]}
                for (o, n), c in self.changed.most_common()
            ],
        }


def traffic_flips_local(
    files: Iterable[Path], baseline: Any, candidate: Any, workers: int = 1, chunk: int = 256
) -> TrafficFlips:
    """Route every command line of ``files`` with both models, a chunk at a time."""
    from routelet.samplelog import iter_traffic

    out = TrafficFlips()
    texts: list[str] = []

    def flush() -> None:
        olds, news = labels_of(baseline, texts, workers), labels_of(candidate, texts, workers)
        for text, old, new in zip(texts, olds, news, strict=True):
            out.add(text, old, new)
        texts.clear()

    for line in iter_traffic(files):
        if line.row is None:
            out.problem(str(line.problem))
        elif not line.is_feedback:
            texts.append(str(line.row["text"]))
            if len(texts) == chunk:
                flush()
    flush()
    return out


@dataclass
class GateResult:
    budget: Budget
    sets: list[dict[str, Any]]
    intents: list[dict[str, Any]]
    flips: list[Flip]
    failures: list[str]
    traffic: TrafficFlips | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def _accuracy(pred: Sequence[str], gold: Sequence[str]) -> float:
    return float(np.mean([p == g for p, g in zip(pred, gold, strict=True)])) if gold else 0.0


def compare(
    sets: Sequence[LabelledSet],
    old: Sequence[Sequence[str]],
    new: Sequence[Sequence[str]],
    budget: Budget,
) -> GateResult:
    """The verdict from each set's labels under the baseline (``old``) and candidate (``new``)."""
    rows, flips, failures = [], [], []
    hits: dict[str, list[tuple[bool, bool]]] = defaultdict(list)  # gold -> (old ok, new ok)
    for s, o, n in zip(sets, old, new, strict=True):
        base, cand = _accuracy(o, s.gold), _accuracy(n, s.gold)
        set_flips = [
            Flip(s.name, t, a, b, g)
            for t, a, b, g in zip(s.texts, o, n, s.gold, strict=True)
            if a != b
        ]
        flips += set_flips
        for g, a, b in zip(s.gold, o, n, strict=True):
            hits[g].append((a == g, b == g))
        ok = base - cand <= budget.max_accuracy_drop + 1e-12
        if not ok:
            failures.append(
                f"{s.name}: accuracy {base:.4f} -> {cand:.4f} "
                f"(budget: at most {budget.max_accuracy_drop} lower)"
            )
        kinds = Counter(f.kind for f in set_flips)
        rows.append(
            {
                "set": s.name,
                "rows": len(s.gold),
                "baseline": round(base, 4),
                "candidate": round(cand, 4),
                "change": round(cand - base, 4),
                "lost": kinds[KINDS[0]],
                "gained": kinds[KINDS[1]],
                "ok": ok,
            }
        )
    intents = []
    for label in LABELS:
        if not hits[label]:
            continue
        base = float(np.mean([a for a, _ in hits[label]]))
        cand = float(np.mean([b for _, b in hits[label]]))
        ok = base - cand <= budget.max_recall_drop + 1e-12
        if not ok:
            failures.append(
                f"{label}: recall {base:.4f} -> {cand:.4f} "
                f"(budget: at most {budget.max_recall_drop} lower)"
            )
        intents.append(
            {
                "intent": label,
                "rows": len(hits[label]),
                "baseline": round(base, 4),
                "candidate": round(cand, 4),
                "change": round(cand - base, 4),
                "ok": ok,
            }
        )
    return GateResult(budget, rows, intents, flips, failures)


def flip_groups(flips: Sequence[Flip]) -> list[tuple[str, str, str, list[Flip]]]:
    """``(kind, old, new, flips)``: kinds in ``KINDS`` order, then the largest group first."""
    groups: dict[tuple[str, str, str], list[Flip]] = defaultdict(list)
    for f in flips:
        groups[str(f.kind), f.old, f.new].append(f)
    return [
        (kind, old, new, rows)
        for (kind, old, new), rows in sorted(
            groups.items(), key=lambda kv: (KINDS.index(kv[0][0]), -len(kv[1]), kv[0][1:])
        )
    ]


def format_result(result: GateResult, baseline: str, candidate: str) -> str:
    def verdict(ok: bool) -> str:
        return "ok" if ok else "FAIL"

    sets = [[*list(r.values())[:-1], verdict(r["ok"])] for r in result.sets]
    intents = [[*list(r.values())[:-1], verdict(r["ok"])] for r in result.intents]
    b = result.budget
    out = [
        f"gate: candidate {candidate} against baseline {baseline}",
        f"budget: accuracy per set at most {b.max_accuracy_drop} lower, "
        f"recall per intent at most {b.max_recall_drop} lower (suites/budgets.toml [gate])",
        "",
        tabulate(
            sets,
            headers=["set", "rows", "baseline", "candidate", "change", "lost", "gained", ""],
            tablefmt="github",
        ),
        "",
        tabulate(
            intents,
            headers=["intent", "rows", "baseline recall", "candidate recall", "change", ""],
            tablefmt="github",
        ),
        "",
        f"flips: {len(result.flips)} labelled rows changed label",
    ]
    for kind, old, new, rows in flip_groups(result.flips):
        out.append(f"  {kind}: {old} -> {new} ({len(rows)})")
        out += [f"      [{f.where}] {f.text}" for f in rows[:SHOWN]]
        if len(rows) > SHOWN:
            out.append(f"      ... and {len(rows) - SHOWN} more (--json lists every row)")
    if result.traffic is not None:
        t = result.traffic
        out += ["", f"traffic: {sum(t.changed.values())} of {t.rows} rows changed label"]
        for (old, new), count in t.changed.most_common():
            out.append(f"  {old} -> {new} ({count})")
            out += [f"      {text}" for text in t.examples[old, new]]
        if t.n_problems:
            out.append(f"  unreadable lines skipped: {t.n_problems}")
            out += [f"      {p}" for p in t.problems]
    out.append("")
    if result.passed:
        out.append("gate: PASS")
    else:
        out += ["gate: FAIL", *(f"  {f}" for f in result.failures)]
    return "\n".join(out)


def result_json(result: GateResult, baseline: str, candidate: str) -> dict[str, Any]:
    return {
        "passed": result.passed,
        "baseline": baseline,
        "candidate": candidate,
        "budget": vars(result.budget),
        "sets": result.sets,
        "intents": result.intents,
        "failures": result.failures,
        "flips": [
            {"kind": kind, "old": old, "new": new, "count": len(rows)}
            | {"rows": [{"set": f.where, "text": f.text, "gold": f.gold} for f in rows]}
            for kind, old, new, rows in flip_groups(result.flips)
        ],
        "traffic": None if result.traffic is None else result.traffic.to_json(),
    }


def run_cli(args: argparse.Namespace) -> int:
    from routelet.runtime import Router
    from routelet.samplelog import input_files

    paths = Paths.discover()
    if args.threads < 1:
        raise RouteletError(f"--threads must be at least 1, got {args.threads}")
    if args.engine == "ray":
        from routelet.extras import require

        if not args.input:
            raise RouteletError(
                "--engine ray routes the --input traffic; give --input FILES_OR_DIR"
            )
        require("scale", "routelet gate --engine ray")
    budget = Budget.from_toml(Path(args.budgets) if args.budgets else paths.root / BUDGETS_FILE)
    files = input_files(args.input) if args.input else []
    base_dir = Path(args.baseline) if args.baseline else paths.default_model
    baseline, candidate = Router.load(base_dir), Router.load(args.candidate)
    sets = labelled_sets(paths, external=not args.no_external)
    old = [labels_of(baseline, s.texts, args.threads) for s in sets]
    new = [labels_of(candidate, s.texts, args.threads) for s in sets]
    result = compare(sets, old, new, budget)
    if files and args.engine == "ray":
        from routelet.scale import traffic_flips

        result.traffic = traffic_flips(
            files, base_dir, Path(args.candidate), address=args.address, actors=args.actors
        )
    elif files:
        result.traffic = traffic_flips_local(files, baseline, candidate, args.threads)
    names = str(base_dir), str(args.candidate)
    if args.json:
        print(json.dumps(result_json(result, *names), indent=2, ensure_ascii=False))
    else:
        print(format_result(result, *names))
    return 0 if result.passed else 1
