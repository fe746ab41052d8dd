"""Fixtures of the teacher suites: a throwaway project root and an API key that opens nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from routelet.config import Paths
from suites.teacher.fakes import ROOT

TRAIN_ROWS = {
    "integration.jsonl": ["play some jazz on spotify", "turn off the kitchen lights"],
    "chat.jsonl": ["how far away is the moon"],
}
EVAL_ROWS = {"holdout.jsonl": ["remember that my locker code is 4471"]}


def _write_rows(path: Path, texts: list[str], intent: str) -> None:
    path.write_text("".join(f'{{"text": "{t}", "intent": "{intent}"}}\n' for t in texts))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A project root with tiny data/ and evals/ and the real taxonomy, as ROUTELET_ROOT."""
    root = tmp_path / "project"
    for folder in ("data", "evals", "docs"):
        (root / folder).mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "taxonomy.md", root / "docs" / "taxonomy.md")
    for name, texts in TRAIN_ROWS.items():
        _write_rows(root / "data" / name, texts, name.removesuffix(".jsonl"))
    for name, texts in EVAL_ROWS.items():
        _write_rows(root / "evals" / name, texts, "memory")
    monkeypatch.setenv("ROUTELET_ROOT", str(root))
    return Paths(root)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in ANTHROPIC_API_KEY; requests only ever reach a MockTransport."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    return "test-key"


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """ANTHROPIC_API_KEY unset, as on this machine."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
