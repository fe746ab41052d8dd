"""External benchmarks: people-written intent templates from installed skill packages.

The Open Voice OS / Neon skill packages pinned in pyproject's ``external`` extra ship the
English intent templates their authors wrote (``locale/en-us/*.intent``: one template a
line, ``(a|b|)`` alternations, ``[optional]`` parts, ``{slot}`` placeholders) and example
commands (``skill.json``). ``expand`` reads them from the *installed* distributions
(``importlib.metadata``), expands every mapped file reproducibly (seeded choice of
alternations and slot values, at most ``per_template`` rows a template line and
``per_intent`` rows a file) and labels each row through the one mapping table,
``routelet/external_map.toml``. ``load`` also drops rows that duplicate a training row.

It does not import the skills' code (they are installed without their dependencies),
read ``.dialog`` files (the assistant's own answers, not commands), write rows to disk,
or feed training: these rows are for evaluation only. Invariant: the same installed
packages, mapping and seed give the same rows in the same order.
"""

from __future__ import annotations

import importlib.metadata as metadata
import itertools
import json
import random
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from routelet.checkdata import NEAR_DUP_THRESHOLD, find_leaks
from routelet.data import MAX_TEXT_CHARS, Example
from routelet.errors import DataError
from routelet.intents import Intent, parse_intent
from routelet.preprocess import preprocess

#: Key of a package's English example list in the mapping table.
EXAMPLES = "skill.json"
_SLOT = re.compile(r"\{\{?\s*([A-Za-z_]\w*)\s*\}?\}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?.!,])")


@dataclass(frozen=True)
class MappedIntent:
    """One row of the mapping table: a package's file and the label its rows get."""

    skill: str
    intent: str
    label: Intent
    why: str
    values: dict[str, str] = field(default_factory=dict)
    skip: tuple[str, ...] = ()


@dataclass(frozen=True)
class Excluded:
    """A file of a pinned package deliberately left out, and why."""

    skill: str
    intent: str
    why: str


@dataclass(frozen=True)
class Mapping:
    """The parsed ``external_map.toml``."""

    intents: tuple[MappedIntent, ...]
    excluded: tuple[Excluded, ...]
    values: dict[str, list[Any]]
    seed: int
    per_template: int
    per_intent: int
    max_alternatives: int

    @property
    def skills(self) -> tuple[str, ...]:
        """Every package the table names, mapped or excluded, sorted."""
        return tuple(sorted({m.skill for m in self.intents} | {e.skill for e in self.excluded}))


@dataclass
class ExternalSet:
    """Expanded, labelled rows plus what was left out on the way."""

    rows: list[Example]
    leaks: list[Example] = field(default_factory=list)  # dropped: near-duplicate of training
    versions: dict[str, str] = field(default_factory=dict)  # package -> installed version

    def sources(self) -> list[str]:
        """Source packages in row order, each once."""
        return list(dict.fromkeys(r.meta["source"] for r in self.rows))


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def load_mapping(path: Path | None = None) -> Mapping:
    """Parse and validate the mapping table; raise ``DataError`` naming the first problem."""
    source = resources.files("routelet") / "external_map.toml" if path is None else path
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{source}: cannot read the mapping table ({exc})") from None
    values = raw.get("values", {})
    seen: set[tuple[str, str]] = set()
    intents: list[MappedIntent] = []
    for i, row in enumerate(raw.get("intent", [])):
        where = f"{source}: [[intent]] #{i + 1}"
        skill, intent = _text(row.get("skill"), where), _text(row.get("intent"), where)
        try:
            label = parse_intent(row.get("label"))
        except ValueError as exc:
            raise DataError(f"{where} ({skill} {intent}): {exc}") from None
        slot_lists = dict(row.get("values", {}))
        missing = sorted(set(slot_lists.values()) - set(values))
        if missing:
            raise DataError(f"{where} ({skill} {intent}): no value list {missing[0]!r}")
        skip = tuple(row.get("skip", ()))
        for pattern in skip:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise DataError(
                    f"{where} ({skill} {intent}): bad skip {pattern!r} ({exc})"
                ) from None
        intents.append(
            MappedIntent(skill, intent, label, _text(row.get("why"), where), slot_lists, skip)
        )
        if (skill, intent) in seen:
            raise DataError(f"{where}: {skill} {intent} is listed twice")
        seen.add((skill, intent))
    excluded: list[Excluded] = []
    for i, row in enumerate(raw.get("excluded", [])):
        where = f"{source}: [[excluded]] #{i + 1}"
        skill, intent = _text(row.get("skill"), where), _text(row.get("intent"), where)
        if (skill, intent) in seen:
            raise DataError(f"{where}: {skill} {intent} is listed twice")
        seen.add((skill, intent))
        excluded.append(Excluded(skill, intent, _text(row.get("why"), where)))
    exp = raw.get("expansion", {})
    return Mapping(
        tuple(intents),
        tuple(excluded),
        values,
        seed=int(exp.get("seed", 0)),
        per_template=int(exp.get("per_template", 1)),
        per_intent=int(exp.get("per_intent", 1)),
        max_alternatives=int(exp.get("max_alternatives", 64)),
    )


# --- installed packages ----------------------------------------------------------------


def package_files(skill: str) -> dict[str, metadata.PackagePath]:
    """The mappable files of an installed package: ``{key: path}``.

    Keys are an ``.intent`` file's path after its ``en-us/`` folder, and ``skill.json``
    for the English example list (``locale/en-us/skill.json``, else the one at the top of
    the package). Raise ``DataError`` if the package is not installed.
    """
    try:
        files = metadata.distribution(skill).files or []
    except metadata.PackageNotFoundError:
        raise DataError(
            f"{skill} is not installed: install the `external` extra (make install-dev)"
        ) from None
    found: dict[str, metadata.PackagePath] = {}
    top_examples = None
    for f in files:
        parts = f.parts
        if "en-us" in parts and f.name.endswith(".intent"):
            found["/".join(parts[parts.index("en-us") + 1 :])] = f
        elif f.name == EXAMPLES and parts[-2:-1] == ("en-us",):
            found[EXAMPLES] = f
        elif f.name == EXAMPLES and len(parts) == 2:
            top_examples = f
    if EXAMPLES not in found and top_examples is not None:
        found[EXAMPLES] = top_examples
    return found


def _read(path: metadata.PackagePath) -> str:
    return path.read_text(encoding="utf-8")


def _entity_values(entities: dict[str, metadata.PackagePath], slot: str) -> list[str] | None:
    """A package's own ``<slot>.entity`` values, unless they are '#' digit patterns."""
    for key, path in entities.items():
        if key.rsplit("/", 1)[-1] == f"{slot}.entity":
            lines = _lines(_read(path))
            if lines and not any("#" in line for line in lines):
                return lines
    return None


def package_entities(skill: str) -> dict[str, metadata.PackagePath]:
    """The ``en-us`` ``.entity`` files of an installed package, keyed like ``package_files``."""
    files = metadata.distribution(skill).files or []
    return {
        "/".join(f.parts[f.parts.index("en-us") + 1 :]): f
        for f in files
        if "en-us" in f.parts and f.name.endswith(".entity")
    }


# --- templates ---------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    """Template lines: stripped, without blanks, comments and padatious ``:0`` wildcards."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":0" not in line:
            out.append(line)
    return out


def _parse(template: str, pos: int = 0, closer: str = "") -> tuple[list[list[str]], int]:
    """Parse ``template[pos:]`` into alternatives, each a list of parts to concatenate.

    A part is a literal string or ``("(", [alternatives...])`` encoded as a nested list.
    """
    alternatives: list[list[Any]] = [[]]
    buf = ""
    while pos < len(template):
        ch = template[pos]
        if ch in "([":
            if buf:
                alternatives[-1].append(buf)
                buf = ""
            inner, pos = _parse(template, pos + 1, ")" if ch == "(" else "]")
            if ch == "[":
                inner.append([])  # [optional] == (optional|)
            alternatives[-1].append(inner)
            continue
        if closer and ch == closer:
            if buf:
                alternatives[-1].append(buf)
            return alternatives, pos + 1
        if ch == "|" and closer:
            if buf:
                alternatives[-1].append(buf)
                buf = ""
            alternatives.append([])
        else:
            buf += ch
        pos += 1
    if closer:
        raise DataError(f"unbalanced {closer!r} in template {template!r}")
    if buf:
        alternatives[-1].append(buf)
    return alternatives, pos


def _render(alternatives: list[list[Any]], limit: int) -> Iterator[str]:
    """Every string the alternatives produce, in template order, at most ``limit``."""

    def seq(parts: list[Any]) -> Iterator[str]:
        options = [[p] if isinstance(p, str) else list(group(p)) for p in parts]
        for combo in itertools.product(*options):
            yield "".join(combo)

    def group(alts: list[list[Any]]) -> Iterator[str]:
        for alt in alts:
            yield from itertools.islice(seq(alt), limit)

    yield from itertools.islice(group(alternatives), limit)


def expand_alternations(template: str, limit: int = 256) -> list[str]:
    """All spellings of a template line (slots kept as ``{slot}``), deduplicated, in order.

    ``(a|b|)`` and nested groups choose one alternative, ``[x]`` is optional, whitespace is
    collapsed. At most ``limit`` spellings are produced.
    """
    alternatives, _ = _parse(template)
    out: dict[str, None] = {}
    for text in _render(alternatives, limit):
        text = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))
        if text:
            out[text] = None
    return list(out)


def _fill(text: str, pick: dict[str, Any], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        slot = match.group(1)
        if slot not in pick:
            raise DataError(f"{where}: no values for slot {{{slot}}}")
        return str(pick[slot])

    return " ".join(_SLOT.sub(value, text).split())


def _slot_values(
    m: MappedIntent, slots: set[str], mapping: Mapping
) -> dict[str, tuple[str, list[Any]]]:
    """For each slot: the name of the list it draws from and the list (row > package > ours)."""
    entities = package_entities(m.skill)
    chosen: dict[str, tuple[str, list[Any]]] = {}
    for slot in sorted(slots):
        if slot in m.values:
            name = m.values[slot]
            chosen[slot] = (name, mapping.values[name])
        elif (own := _entity_values(entities, slot)) is not None:
            chosen[slot] = (f"{m.skill}:{slot}.entity", own)
        elif slot in mapping.values:
            chosen[slot] = (slot, mapping.values[slot])
        else:
            raise DataError(f"{m.skill} {m.intent}: no values for slot {{{slot}}}")
    return chosen


def _templates(m: MappedIntent, files: dict[str, metadata.PackagePath]) -> list[str]:
    if m.intent not in files:
        raise DataError(f"{m.skill} has no file {m.intent!r} (mapping table out of date?)")
    text = _read(files[m.intent])
    if m.intent != EXAMPLES:
        return _lines(text)
    try:
        examples = json.loads(text).get("examples", [])
    except (json.JSONDecodeError, AttributeError):
        raise DataError(f"{m.skill} {EXAMPLES}: not a JSON object with 'examples'") from None
    # Placeholders ("{name}", "____", "...") are not commands; examples are literal text,
    # so parentheses in them are not alternations.
    return [
        e.strip()
        for e in examples
        if isinstance(e, str) and e.strip() and not re.search(r"[{}_\[\]()]|\.\.\.", e)
    ]


def expand_intent(
    m: MappedIntent, mapping: Mapping, files: dict[str, metadata.PackagePath], version: str
) -> list[Example]:
    """The rows of one mapped file: deterministic, at most ``per_intent``, each distinct.

    Template lines are shuffled (seeded by skill and file); rows are taken round-robin,
    one spelling per line per pass, for ``per_template`` passes, so a file with many lines
    yields many different lines before any line yields two rows.
    """
    rng = random.Random(f"{mapping.seed}:{m.skill}:{m.intent}")
    lines = _templates(m, files)
    literal = m.intent == EXAMPLES
    spellings = [
        [line] if literal else expand_alternations(line, mapping.max_alternatives) for line in lines
    ]
    slots = {s for group in spellings for text in group for s in _SLOT.findall(text)}
    lists = _slot_values(m, slots, mapping)
    order = list(range(len(lines)))
    rng.shuffle(order)
    for group in spellings:
        rng.shuffle(group)
    skip = [re.compile(p, re.IGNORECASE) for p in m.skip]
    rows: list[Example] = []
    seen: set[str] = set()
    for turn in range(mapping.per_template):
        for i in order:
            if len(rows) >= mapping.per_intent:
                return rows
            if turn >= len(spellings[i]):
                continue
            draws: dict[str, Any] = {}
            pick: dict[str, Any] = {}
            for slot in _SLOT.findall(spellings[i][turn]):
                name, values = lists[slot]
                if name not in draws:
                    draws[name] = rng.choice(values)
                v = draws[name]
                pick[slot] = v[slot] if isinstance(v, dict) else v
            text = _fill(spellings[i][turn], pick, f"{m.skill} {m.intent}")
            key = preprocess(text)
            if not key or key in seen or len(text) > MAX_TEXT_CHARS:
                continue
            if "{" in text or "}" in text:  # a broken placeholder in the package's template
                continue
            if any(p.search(text) for p in skip):
                continue
            seen.add(key)
            meta = {
                "source": m.skill,
                "version": version,
                "skill_intent": m.intent,
                "template": lines[i],
            }
            rows.append(Example(text=text, intent=m.label, meta=meta))
    return rows


def expand(mapping: Mapping | None = None) -> ExternalSet:
    """Every mapped file of every installed package, expanded; rows distinct after preprocess.

    Packages and files come in mapping-table order; a row that repeats an earlier one
    (from another file or package) is kept only the first time.
    """
    mapping = mapping or load_mapping()
    rows: list[Example] = []
    seen: set[str] = set()
    versions: dict[str, str] = {}
    files_of: dict[str, dict[str, metadata.PackagePath]] = {}
    for m in mapping.intents:
        if m.skill not in files_of:
            files_of[m.skill] = package_files(m.skill)
            versions[m.skill] = metadata.version(m.skill)
        for ex in expand_intent(m, mapping, files_of[m.skill], versions[m.skill]):
            key = preprocess(ex.text)
            if key not in seen:
                seen.add(key)
                rows.append(ex)
    return ExternalSet(rows=rows, versions=versions)


def drop_training_leaks(
    external: ExternalSet, train_texts: Sequence[str], threshold: float = NEAR_DUP_THRESHOLD
) -> ExternalSet:
    """A copy without rows that are exact or near-duplicates of a training row.

    Uses the project's leakage rule (``routelet.checkdata.find_leaks``); dropped rows are
    kept in ``leaks`` so their share can be reported and bounded.
    """
    pairs = find_leaks(
        [("train", t) for t in train_texts],
        [("external", r.text) for r in external.rows],
        threshold,
    )
    leaked = {p.eval_text for p in pairs}
    return ExternalSet(
        rows=[r for r in external.rows if r.text not in leaked],
        leaks=external.leaks + [r for r in external.rows if r.text in leaked],
        versions=dict(external.versions),
    )


def training_texts(paths: Any, config: Any) -> list[str]:
    """Every text training reads: ``data/*.jsonl``, the augmented variants that
    ``routelet.dataset`` builds from them and the unlabelled pool of a distilling config
    (the same set ``check-data`` checks)."""
    from routelet.data import load_jsonl
    from routelet.dataset import split_and_augment
    from routelet.soft_labels import pool_texts

    written = [ex for path in paths.training_files() for ex in load_jsonl(path)]
    augmented = [ex for ex in split_and_augment(written, config)[0] if "augment_of" in ex.meta]
    return [ex.text for ex in written] + [ex.text for ex in augmented] + pool_texts(paths, config)


def load(paths: Any, config: Any) -> ExternalSet:
    """The external evaluation set: expanded, then without near-duplicates of training rows."""
    return drop_training_leaks(expand(), training_texts(paths, config))


#: Resamples and seed of ``accuracy_interval``: 2,000 keeps the 95 % bounds steady to
#: about 0.002 on the 150 intent files; the seed makes the report reproducible.
INTERVAL_RESAMPLES = 2000
INTERVAL_SEED = 0


def accuracy_interval(
    rows: Sequence[Example],
    hits: Sequence[bool],
    level: float = 0.95,
    resamples: int = INTERVAL_RESAMPLES,
    seed: int = INTERVAL_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval of accuracy that resamples intent files, not rows.

    The rows of one mapped file (a skill's intent) were expanded from one author's templates
    and share their wording, so they are not independent draws: resampling whole files says
    how far the accuracy would move on another set of skill intents like these. It does not
    say how far another training run of the same config moves it (a seed moves it about as
    much: docs/experiments.md #15). ``(0.0, 0.0)`` for no rows.
    """
    import numpy as np

    if len(rows) != len(hits):
        raise ValueError(f"{len(hits)} hits for {len(rows)} rows")
    if not rows:
        return 0.0, 0.0
    keys = [(r.meta["source"], r.meta["skill_intent"]) for r in rows]
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    cluster = np.array([index[key] for key in keys])
    n = np.bincount(cluster, minlength=len(index))  # rows per file
    k = np.bincount(cluster, weights=np.asarray(hits, dtype=float), minlength=len(index))
    draws = np.random.default_rng(seed).integers(0, len(index), size=(resamples, len(index)))
    accuracy = k[draws].sum(axis=1) / n[draws].sum(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(accuracy, [tail, 100 - tail])
    return round(float(low), 4), round(float(high), 4)


def summarize(rows: Sequence[Example], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy overall (with its ``accuracy_interval``) and per source package, recall per
    label, of ``predicted`` labels.

    ``{"n", "accuracy", "accuracy_interval": [low, high], "source": {package: {"n",
    "accuracy"}}, "label": {label: {"n", "recall"}}}``; sources in row order, labels in
    ``Intent`` order, values rounded to 4.
    """
    hits: dict[str, dict[str, list[bool]]] = {"source": {}, "label": {}}
    correct: list[bool] = []
    for row, label in zip(rows, predicted, strict=True):
        ok = label == row.intent.value
        correct.append(ok)
        hits["source"].setdefault(row.meta["source"], []).append(ok)
        hits["label"].setdefault(row.intent.value, []).append(ok)

    def share(xs: list[bool]) -> float:
        return round(sum(xs) / len(xs), 4) if xs else 0.0

    return {
        "n": len(correct),
        "accuracy": share(correct),
        "accuracy_interval": list(accuracy_interval(rows, correct)),
        "source": {s: {"n": len(xs), "accuracy": share(xs)} for s, xs in hits["source"].items()},
        "label": {
            i.value: {"n": len(hits["label"][i.value]), "recall": share(hits["label"][i.value])}
            for i in Intent
            if i.value in hits["label"]
        },
    }


def mapping_markdown(mapping: Mapping | None = None) -> str:
    """The mapping and exclusion tables as Markdown (docs/external.md embeds this text)."""
    mapping = mapping or load_mapping()

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| skill | intent | label | why |", "|---|---|---|---|"]
    out += [
        f"| {m.skill} | `{m.intent}` | {m.label.value} | {cell(m.why)} |" for m in mapping.intents
    ]
    out += ["", "Excluded:", "", "| skill | intent | why |", "|---|---|---|"]
    out += [f"| {e.skill} | `{e.intent}` | {cell(e.why)} |" for e in mapping.excluded]
    return "\n".join(out) + "\n"


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m routelet.external [--list | --markdown]``: print the rows or the tables."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m routelet.external", description=_main.__doc__)
    parser.add_argument("--markdown", action="store_true", help="print the mapping tables")
    args = parser.parse_args(argv)
    try:
        if args.markdown:
            print(mapping_markdown(), end="")
        else:
            for row in expand().rows:
                print(row.to_json())
    except DataError as exc:
        print(f"routelet.external: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
