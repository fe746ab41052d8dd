"""The Claude router as an evaluation baseline: scored like any router, its run recorded."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2

from routelet.evaluate import evaluate_file
from routelet.teacher import latest_llm_run
from suites.teacher.fakes import FakeAPI, answer, command_of, make_router

GOLD = [
    ("tell me a joke", "chat"),
    ("turn off the kitchen lights", "integration"),
    ("remember my bike is blue", "memory"),
    ("uh the the hmm", "none"),
]
#: The fake model gets the first two right, mislabels the third and cannot label the fourth.
ANSWERS = {
    "tell me a joke": "chat",
    "turn off the kitchen lights": "integration",
    "remember my bike is blue": "chat",
    "uh the the hmm": "none",
}


def _fake_model(request: httpx2.Request) -> httpx2.Response:
    return answer(ANSWERS[command_of(request)])


def _data(tmp_path: Path) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in GOLD))
    return path


def test_scored_through_evaluate_file(tmp_path: Path) -> None:
    """evaluate_file scores the Claude router; its invalid answer counts as a `none` prediction."""
    router = make_router(FakeAPI(default=_fake_model))
    metrics = evaluate_file(router, _data(tmp_path))
    assert metrics.n == 4 and metrics.accuracy == 0.75 and router.invalid == 1
    assert metrics.per_intent["none"]["recall"] == 1.0


def test_eval_run_is_recorded_for_the_report(tmp_path: Path) -> None:
    """After scoring, record_run stores the measured numbers and latest_llm_run returns them."""
    router = make_router(FakeAPI(default=_fake_model))
    data = _data(tmp_path)
    metrics = evaluate_file(router, data)
    router.record_run(metrics.to_json(), str(data), report_dir=tmp_path / "report")
    run = latest_llm_run(tmp_path / "report")
    assert run is not None
    assert (run["n"], run["accuracy"], run["invalid"], run["calls"]) == (4, 0.75, 1, 5)
    assert run["latency_p50_ms"] is not None and run["cost_usd"] > 0
