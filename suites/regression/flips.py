"""Flip reports: which eval rows changed their predicted label between two runs."""

from __future__ import annotations

import json
from pathlib import Path

SNAPSHOT_DIR = Path(__file__).with_name("__snapshots__")


def flip_report(recorded: dict[str, str], current: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(text, recorded label, current label)`` for every row whose label changed or is new."""
    flips = [
        (text, recorded.get(text, "<new row>"), label)
        for text, label in current.items()
        if recorded.get(text) != label
    ]
    flips += [
        (text, label, "<row removed>") for text, label in recorded.items() if text not in current
    ]
    return sorted(flips)


def format_flips(flips: list[tuple[str, str, str]]) -> str:
    lines = [f"{len(flips)} prediction flips versus the snapshot:"]
    lines += [f"  {old:>12} -> {new:<12} {text}" for text, old, new in flips[:50]]
    if len(flips) > 50:
        lines.append(f"  ... and {len(flips) - 50} more")
    return "\n".join(lines)


def recorded_predictions(stem: str) -> dict[str, str] | None:
    """The predictions snapshot for ``evals/<stem>.jsonl`` as committed, if there is one."""
    matches = sorted(SNAPSHOT_DIR.glob(f"**/test_predictions[[]{stem}[]].json"))
    if not matches:
        return None
    data = json.loads(matches[0].read_text(encoding="utf-8"))
    return dict(data)
