"""Expansion of the skill-package templates: reproducible, bounded, complete and valid."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import pytest

from routelet import external
from routelet.data import load_jsonl, save_jsonl
from routelet.errors import DataError
from routelet.intents import Intent

ROOT = Path(__file__).resolve().parents[2]
PINS = dict(
    pin.split("==")
    for pin in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["external"]
)


@pytest.mark.parametrize(
    ("template", "spellings"),
    [
        pytest.param("(a|b) c", ["a c", "b c"], id="group"),
        pytest.param("stop( that|)", ["stop that", "stop"], id="empty-alternative"),
        pytest.param("[please] stop", ["please stop", "stop"], id="optional"),
        pytest.param("(x|(y |)z) w", ["x w", "y z w", "z w"], id="nested"),
        pytest.param(
            "(open | show ) (| my) usb",
            ["open usb", "open my usb", "show usb", "show my usb"],
            id="spaces",
        ),
        pytest.param("call {{contact}}", ["call {{contact}}"], id="slot-kept"),
        pytest.param("is it raining ?", ["is it raining?"], id="space-before-punctuation"),
    ],
)
def test_alternations(template: str, spellings: list[str]) -> None:
    """Every spelling of a template line, in template order, without duplicates."""
    assert external.expand_alternations(template) == spellings


def test_alternations_bounded() -> None:
    """A template with many combinations yields at most `limit` spellings."""
    assert len(external.expand_alternations("(a|b|c) (d|e|f) (g|h|i)", limit=5)) == 5


def test_unbalanced_template_is_an_error() -> None:
    """A template with an unclosed group is refused with a DataError."""
    with pytest.raises(DataError, match="unbalanced"):
        external.expand_alternations("(a|b c")


def test_deterministic(mapping: external.Mapping, expanded: external.ExternalSet) -> None:
    """Expanding twice gives the same rows, labels and order."""
    again = external.expand(mapping)
    assert [(r.text, r.intent, r.meta) for r in again.rows] == [
        (r.text, r.intent, r.meta) for r in expanded.rows
    ]


def test_seed_changes_rows(mapping: external.Mapping, expanded: external.ExternalSet) -> None:
    """The seed in the mapping table drives the sampling (another seed, other rows)."""
    from dataclasses import replace

    other = external.expand(replace(mapping, seed=mapping.seed + 1))
    assert [r.text for r in other.rows] != [r.text for r in expanded.rows]


def test_bounded_per_intent(mapping: external.Mapping, expanded: external.ExternalSet) -> None:
    """No intent file yields more than `per_intent` rows."""
    counts = Counter((r.meta["source"], r.meta["skill_intent"]) for r in expanded.rows)
    assert max(counts.values()) <= mapping.per_intent


def test_bounded_per_template(mapping: external.Mapping, expanded: external.ExternalSet) -> None:
    """No template line yields more than `per_template` rows."""
    counts = Counter(
        (r.meta["source"], r.meta["skill_intent"], r.meta["template"]) for r in expanded.rows
    )
    assert max(counts.values()) <= mapping.per_template


def test_every_mapped_file_yields_rows(
    mapping: external.Mapping, expanded: external.ExternalSet
) -> None:
    """Each mapped intent file contributes at least one row (before cross-file dedup)."""
    empty = []
    for m in mapping.intents:
        files = external.package_files(m.skill)
        rows = external.expand_intent(m, mapping, files, "test")
        if not rows:
            empty.append(f"{m.skill} {m.intent}")
    assert empty == []


def test_rows_distinct_filled_and_valid(expanded: external.ExternalSet, tmp_path: Path) -> None:
    """Rows are non-empty, slot-free, distinct, and load back through the data validator."""
    texts = [r.text for r in expanded.rows]
    assert all(t.strip() and "{" not in t and "}" not in t for t in texts)
    assert len(set(texts)) == len(texts)
    path = tmp_path / "external.jsonl"
    save_jsonl(path, expanded.rows)
    assert load_jsonl(path) == expanded.rows


def test_skip_patterns_applied(expanded: external.ExternalSet) -> None:
    """Rows matching a mapping row's skip pattern (e.g. 'did i miss a alarm') are dropped."""
    alerts = [
        r.text for r in expanded.rows if r.meta["skill_intent"] == "intent/missed_alerts.intent"
    ]
    assert alerts and not any(" a alarm" in t or " an reminder" in t for t in alerts)


@pytest.mark.parametrize("label", [Intent.INTEGRATION, Intent.CHAT, Intent.MEMORY])
def test_labels_covered(expanded: external.ExternalSet, label: Intent) -> None:
    """The external rows cover the integration, chat and memory labels."""
    assert any(r.intent is label for r in expanded.rows)


def test_pins_match_mapping(mapping: external.Mapping) -> None:
    """The packages pinned in the `external` extra are exactly those the mapping names."""
    assert set(PINS) == set(mapping.skills)


@pytest.mark.parametrize("skill", sorted(PINS))
def test_installed_version_is_pinned(skill: str) -> None:
    """Each skill package is installed at its pinned version (rows depend on it)."""
    from importlib.metadata import version

    assert version(skill) == PINS[skill]


@pytest.mark.parametrize("skill", sorted(PINS))
def test_mapping_complete_for_package(mapping: external.Mapping, skill: str) -> None:
    """Every .intent file and skill.json of the package is mapped or excluded, and every
    mapped or excluded file exists in the installed package."""
    listed = {m.intent for m in mapping.intents if m.skill == skill} | {
        e.intent for e in mapping.excluded if e.skill == skill
    }
    assert listed == set(external.package_files(skill))


@pytest.mark.parametrize("skill", sorted(PINS))
def test_every_package_contributes(expanded: external.ExternalSet, skill: str) -> None:
    """Each pinned package gives at least one row that no earlier package gave."""
    assert any(r.meta["source"] == skill for r in expanded.rows)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        pytest.param('label = "weather"\nwhy = "w"', "unknown intent", id="unknown-label"),
        pytest.param('label = "chat"', "non-empty string", id="no-why"),
        pytest.param(
            'label = "chat"\nwhy = "w"\nvalues = { x = "nope" }', "no value list", id="bad-values"
        ),
        pytest.param('label = "chat"\nwhy = "w"\nskip = ["("]', "bad skip", id="bad-skip"),
    ],
)
def test_bad_mapping_refused(tmp_path: Path, row: str, message: str) -> None:
    """A mapping row with an unknown label, no reason or a bad option is a DataError."""
    path = tmp_path / "map.toml"
    path.write_text(f'[[intent]]\nskill = "s"\nintent = "i.intent"\n{row}\n')
    with pytest.raises(DataError, match=message):
        external.load_mapping(path)


def test_file_listed_twice_refused(tmp_path: Path) -> None:
    """A file both mapped and excluded is a DataError."""
    path = tmp_path / "map.toml"
    path.write_text(
        '[[intent]]\nskill = "s"\nintent = "i.intent"\nlabel = "chat"\nwhy = "w"\n'
        '[[excluded]]\nskill = "s"\nintent = "i.intent"\nwhy = "w"\n'
    )
    with pytest.raises(DataError, match="twice"):
        external.load_mapping(path)


def test_missing_package_named(mapping: external.Mapping) -> None:
    """A package that is not installed is named in a one-line DataError."""
    with pytest.raises(DataError, match="ovos-skill-not-a-package is not installed"):
        external.package_files("ovos-skill-not-a-package")


def test_imports_without_torch() -> None:
    """routelet.external imports in a fresh interpreter without importing torch."""
    code = "import sys, routelet.external; sys.exit(1 if 'torch' in sys.modules else 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr or "torch was imported"
