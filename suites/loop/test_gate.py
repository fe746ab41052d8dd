"""`routelet gate` on the shipped model: an identical candidate passes, a broken one fails.

The broken candidate is the shipped model with the chat and memory rows of its head
swapped (conftest ``swapped_model``): it loads, checksums and all, and routes every chat
command to memory. Every eval file and the external skill-package set are scored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import pytest

from routelet.cli import main

pytestmark = [pytest.mark.shipped, pytest.mark.slow]


class Gate(NamedTuple):
    code: int
    out: str


def _gate(capsys: pytest.CaptureFixture[str], *argv: str) -> Gate:
    code = main(["gate", *argv])
    return Gate(code, capsys.readouterr().out)


def test_identical_model_passes(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped model against itself exits 0 with no flip, external set included."""
    gate = _gate(capsys, "--candidate", str(model_dir), "--baseline", str(model_dir), "--json")
    doc = json.loads(gate.out)
    assert gate.code == 0 and doc["passed"] and doc["flips"] == []
    assert "external" in [s["set"] for s in doc["sets"]]


def test_swapped_head_fails_and_names_the_flips(
    swapped_model: Path, model_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two swapped head rows exit 1; the report leads with right -> wrong chat -> memory flips."""
    traffic = tmp_path / "logs.txt"
    traffic.write_text("how far away is the moon\nremember that my locker code is 4471\n")
    gate = _gate(capsys, "--candidate", str(swapped_model), "--input", str(traffic))
    assert gate.code == 1
    flips = gate.out.split("flips: ", 1)[1]
    first_group = flips.splitlines()[1].strip()
    assert first_group.startswith("right -> wrong: ") and "chat" in first_group
    assert "memory" in first_group
    assert "traffic: 2 of 2 rows changed label" in gate.out
    assert "gate: FAIL" in gate.out and "chat: recall" in gate.out
