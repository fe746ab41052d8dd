"""Fixtures of the teacher suites: a throwaway project root and an API key that opens nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from routelet.config import Paths
from suites.teacher.fakes import make_project

TRAIN_ROWS = {
    "integration.jsonl": ["play some jazz on spotify", "turn off the kitchen lights"],
    "chat.jsonl": ["how far away is the moon"],
}
EVAL_ROWS = {"holdout.jsonl": ["remember that my locker code is 4471"]}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A project root with tiny data/ and evals/ and the real taxonomy, as ROUTELET_ROOT."""
    paths = make_project(tmp_path / "project", TRAIN_ROWS, EVAL_ROWS)
    monkeypatch.setenv("ROUTELET_ROOT", str(paths.root))
    return paths


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key in ANTHROPIC_API_KEY; requests only ever reach a MockTransport."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    return "test-key"


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """ANTHROPIC_API_KEY unset, as on this machine."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
