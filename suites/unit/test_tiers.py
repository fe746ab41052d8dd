"""Tests of routelet.tiers: the report's per-tier accuracy, share and latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from routelet.config import Paths
from routelet.data import load_jsonl
from routelet.runtime import Router
from routelet.tiers import measure_tiers, render_tiers

pytestmark = pytest.mark.shipped


@pytest.fixture(scope="module")
def measured(static_model_dir: Path, paths: Paths) -> dict[str, Any]:
    texts = [ex.text for ex in load_jsonl(paths.evals / "short_commands.jsonl")]
    return measure_tiers(static_model_dir, [paths.evals / "short_commands.jsonl"], texts, 60)


def test_share_is_the_cascade_answers_from_the_static_tier(
    measured: dict[str, Any], static_model_dir: Path, paths: Paths
) -> None:
    """The static share of a file is the share of cascade answers whose tier is static."""
    texts = [ex.text for ex in load_jsonl(paths.evals / "short_commands.jsonl")]
    answers = Router.load(static_model_dir, tier="cascade").classify_batch(texts)
    share = sum(p.tier == "static" for p in answers) / len(answers)
    assert measured["files"]["short_commands"]["static_share"] == pytest.approx(share, abs=1e-4)


def test_every_tier_mode_is_scored_and_timed(measured: dict[str, Any]) -> None:
    """Each tier mode has an accuracy per file and p50/p99; the cascade is split by tier."""
    entry = measured["files"]["short_commands"]
    assert {"static", "encoder", "cascade"} <= set(entry)
    assert {"static", "encoder", "cascade"} <= set(measured["latency"])
    split = [k for k in measured["latency"] if k.startswith("cascade, answered by")]
    assert sum(measured["latency"][k]["share"] for k in split) == pytest.approx(1.0)


def test_render_shows_each_file_and_tau(measured: dict[str, Any]) -> None:
    """The report section names tau and has a row per eval file."""
    text = "\n".join(render_tiers(measured))
    assert f"{measured['tau']:.4f}" in text and "| short_commands" in text
