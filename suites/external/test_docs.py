"""docs/external.md states the mapping and sources the code uses (one source of truth)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from routelet import external

DOC = Path(__file__).resolve().parents[2] / "docs" / "external.md"
PYPROJECT = DOC.parents[1] / "pyproject.toml"


def test_mapping_section_is_generated(mapping: external.Mapping) -> None:
    """The mapping section equals `python -m routelet.external --markdown`."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- mapping:start -->\n", 1)[1].split("<!-- mapping:end -->", 1)[0]
    assert block == external.mapping_markdown(mapping)


def test_every_pinned_source_listed_with_its_version() -> None:
    """The sources table names every pinned package at its pinned version."""
    pins = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["external"]
    text = DOC.read_text(encoding="utf-8")
    missing = [p for p in pins if "| {} | {} |".format(*p.split("==")) not in text]
    assert missing == []
