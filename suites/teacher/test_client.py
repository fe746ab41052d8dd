"""The Claude client over recorded HTTP: answers, retries, cache, concurrency, accounting."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx2
import numpy as np
import pytest

from routelet.claude import PRICES_PER_MTOK, TeacherError
from routelet.config import Paths
from routelet.intents import LABELS
from routelet.teacher import ClaudeRouter, latest_llm_run
from suites.teacher.fakes import (
    TIMEOUT,
    FakeAPI,
    answer,
    body_of,
    command_of,
    error,
    http_client,
    make_router,
    message,
)


def test_normal_answer_is_one_hot_in_label_order() -> None:
    """A valid answer becomes a one-hot row on its label's column of LABELS."""
    router = make_router(FakeAPI(answer("memory")))
    probs = router.predict_proba(["remember my bike is blue"])
    assert probs.shape == (1, len(LABELS))
    assert probs[0].tolist() == [1.0 if label == "memory" else 0.0 for label in LABELS]


def test_answer_carries_confidence_and_reason() -> None:
    """The label, confidence and reason of the tool call are returned as given."""
    router = make_router(FakeAPI(answer("agent", "medium", "two chained steps")))
    [got] = router.label(["find a hotel and book it"])
    assert (got.label, got.confidence, got.reason) == ("agent", "medium", "two chained steps")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(answer("none"), id="label-none"),
        pytest.param(answer("weather"), id="label-outside-set"),
        pytest.param(answer("Chat"), id="label-wrong-case"),
        pytest.param(answer("chat", "certain"), id="confidence-outside-set"),
        pytest.param(
            message([{"type": "text", "text": "It is chat."}], stop_reason="end_turn"),
            id="text-not-tool",
        ),
        pytest.param(message([], stop_reason="refusal"), id="refusal"),
    ],
)
def test_malformed_answer_is_retried_once(bad: httpx2.Response) -> None:
    """A malformed first answer is asked again once, and the second, valid answer is used."""
    api = FakeAPI(bad, answer("integration"))
    [got] = make_router(api).label(["check my inbox"])
    assert got.label == "integration" and len(api.requests) == 2


def test_second_bad_answer_is_reported_not_mapped() -> None:
    """Two answers outside the label set give an invalid answer with the raw label, unmapped."""
    api = FakeAPI(answer("weather"), answer("weather"), answer("chat"))
    router = make_router(api)
    [got] = router.label(["what's the weather"])
    assert (got.valid, got.label, got.raw) == (False, None, "weather")
    assert "weather" in str(got.problem) and len(api.requests) == 2


def test_invalid_answer_is_a_counted_none_row() -> None:
    """predict_proba puts an invalid answer in the none column and counts it in `invalid`."""
    router = make_router(FakeAPI(answer("none"), answer("none"), default=lambda r: answer("chat")))
    probs = router.predict_proba(["uh the the hmm", "tell me a joke"])
    assert probs.argmax(axis=1).tolist() == [LABELS.index("none"), LABELS.index("chat")]
    assert router.invalid == 1


def test_429_then_success_waits_the_retry_after() -> None:
    """A 429 is retried after the server's retry-after, and the answer is used."""
    waits: list[float] = []
    api = FakeAPI(error(429, "rate_limit_error", {"retry-after": "7"}), answer("chat"))
    router = make_router(api, sleep=waits.append)
    assert router.label(["tell me a joke"])[0].label == "chat"
    assert waits == [7.0] and router.client.usage.retries == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(error(529, "overloaded_error"), id="overloaded-529"),
        pytest.param(error(500, "api_error"), id="server-500"),
        pytest.param(error(503, "api_error"), id="unavailable-503"),
        pytest.param(TIMEOUT, id="read-timeout"),
    ],
)
def test_transient_failure_then_success(failure: httpx2.Response | str) -> None:
    """Overload, 5xx and timeouts are retried with backoff until an answer arrives."""
    waits: list[float] = []
    api = FakeAPI(failure, failure, answer("agent"))
    router = make_router(api, sleep=waits.append, max_attempts=3)
    assert router.label(["book a table and text jo"])[0].label == "agent"
    assert len(api.requests) == 3 and len(waits) == 2 and waits[1] > waits[0] > 0


def test_5xx_exhaustion_is_one_line_error() -> None:
    """When every attempt fails with 5xx, a one-line TeacherError names the attempts and status."""
    api = FakeAPI(default=lambda r: error(500, "api_error"))
    with pytest.raises(TeacherError) as info:
        make_router(api, max_attempts=4).label(["pause"])
    assert len(api.requests) == 4
    assert (
        "4 attempts" in str(info.value) and "500" in str(info.value) and "\n" not in str(info.value)
    )


def test_timeout_exhaustion_is_one_line_error() -> None:
    """When every attempt times out, the error says so and stops after max_attempts."""
    api = FakeAPI(TIMEOUT, TIMEOUT)
    with pytest.raises(TeacherError, match="Timeout"):
        make_router(api, max_attempts=2).label(["pause"])
    assert len(api.requests) == 2


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        pytest.param(400, "invalid_request_error", id="bad-request-400"),
        pytest.param(401, "authentication_error", id="bad-key-401"),
        pytest.param(404, "not_found_error", id="unknown-model-404"),
    ],
)
def test_client_errors_are_not_retried(status: int, kind: str) -> None:
    """A 4xx other than 408/409/429 fails at once with the status in one line."""
    api = FakeAPI(error(status, kind), answer("chat"))
    with pytest.raises(TeacherError, match=f"{status}: {kind}"):
        make_router(api).label(["pause"])
    assert len(api.requests) == 1


def test_cache_hit_sends_no_second_request(tmp_path: Path) -> None:
    """A rerun with the same model, prompt and text is answered from disk without a request."""
    make_router(FakeAPI(answer("find_action")), cache_dir=tmp_path).label(["press the blue button"])
    api = FakeAPI()
    router = make_router(api, cache_dir=tmp_path)
    [got] = router.label(["press the blue button"])
    assert api.requests == [] and got.label == "find_action" and got.cached
    assert router.client.usage.cache_hits == 1 and router.client.usage.cost_usd == 0.0


def test_cache_is_keyed_by_model(tmp_path: Path) -> None:
    """Another model does not reuse a cached answer."""
    make_router(FakeAPI(answer("chat")), cache_dir=tmp_path).label(["tell me a joke"])
    api = FakeAPI(answer("chat"))
    make_router(api, model="claude-haiku-4-5", cache_dir=tmp_path).label(["tell me a joke"])
    assert len(api.requests) == 1


def test_invalid_answers_are_not_cached(tmp_path: Path) -> None:
    """An invalid answer is asked again on the next run instead of being replayed from disk."""
    make_router(FakeAPI(answer("none"), answer("none")), cache_dir=tmp_path).label(["hmm"])
    api = FakeAPI(answer("chat"))
    assert make_router(api, cache_dir=tmp_path).label(["hmm"])[0].label == "chat"
    assert len(api.requests) == 1


def test_repeated_texts_are_asked_once() -> None:
    """Texts equal after preprocess share one request."""
    api = FakeAPI(answer("integration"))
    got = make_router(api).label(["Pause!", "pause", " PAUSE "])
    assert len(api.requests) == 1 and [a.label for a in got] == ["integration"] * 3


def test_concurrency_is_used_and_bounded() -> None:
    """With concurrency 2, two requests are in flight together and never more than two."""
    barrier, lock = threading.Barrier(2, timeout=10), threading.Lock()
    in_flight, peak = [0], [0]

    def handler(request: httpx2.Request) -> httpx2.Response:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        barrier.wait()  # raises BrokenBarrierError unless a second request is in flight
        with lock:
            in_flight[0] -= 1
        return answer("chat")

    router = make_router(FakeAPI(default=handler), concurrency=2)
    got = router.label([f"tell me joke number {w}" for w in ("one", "two", "three", "four")])
    assert [a.label for a in got] == ["chat"] * 4 and peak[0] == 2


def test_request_shape() -> None:
    """The request forces the route tool, turns thinking off and sets no sampling parameters."""
    api = FakeAPI(answer("chat"))
    make_router(api).label(["tell me a joke"])
    body = body_of(api.requests[0])
    assert body["tool_choice"] == {"type": "tool", "name": "route_command"}
    assert body["thinking"] == {"type": "disabled"}
    enum = body["tools"][0]["input_schema"]["properties"]["intent"]["enum"]
    assert enum == [label for label in LABELS if label != "none"]
    assert not {"temperature", "top_p", "top_k"} & body.keys()


def test_request_body_is_redacted() -> None:
    """The command in the request is the preprocess-redacted text, not the raw one."""
    api = FakeAPI(answer("memory"))
    make_router(api).label(["Remember my PIN is 8390 and call 555 123 9876 or jo@example.com"])
    sent = api.requests[0].content.decode()  # the whole body, system prompt included
    assert command_of(api.requests[0]) == "remember my pin is <SECRET> and call <NUM> or <EMAIL>"
    assert [v for v in ("8390", "9876", "jo@example.com") if v in sent] == []


def test_usage_tokens_and_cost_are_summed() -> None:
    """Tokens add up over calls and cost follows the price table, cache reads included."""
    api = FakeAPI(
        answer("chat", input_tokens=100, output_tokens=20),
        answer("agent", input_tokens=50, output_tokens=10, cache_read_input_tokens=1000),
    )
    router = make_router(api)
    router.label(["tell me a joke", "find a hotel and book it"])
    usage = router.client.usage
    price_in, price_out = PRICES_PER_MTOK["claude-haiku-5-5"]
    expected = ((150 + 0.1 * 1000) * price_in + 30 * price_out) / 1e6
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (2, 150, 30)
    assert usage.cost_usd == pytest.approx(expected)


def test_unknown_model_cost_is_none() -> None:
    """A model missing from the price table reports no cost rather than a guess."""
    router = make_router(FakeAPI(answer("chat")), model="claude-unpriced-9")
    router.label(["tell me a joke"])
    assert router.client.usage.cost_usd is None


def test_latency_summary_from_per_call_timings() -> None:
    """p50/p95 come from the measured duration of each answered request."""
    ticks = iter(np.arange(0.0, 100.0, 0.1).tolist())  # each call spans 0.1 s of fake clock
    router = make_router(FakeAPI(default=lambda r: answer("chat")), clock=lambda: next(ticks))
    router.label([f"joke {w}" for w in ("one", "two", "three")])
    summary = router.latency_summary()
    assert summary["calls"] == 3
    assert summary["p50_ms"] == pytest.approx(100.0) and summary["p95_ms"] == pytest.approx(100.0)


def test_latency_summary_without_calls_is_empty() -> None:
    """Before any request, the percentiles are None rather than zero."""
    assert make_router(FakeAPI()).latency_summary()["p50_ms"] is None


def test_record_run_appends_a_readable_line(tmp_path: Path) -> None:
    """record_run writes date, model, data, scores, latency, tokens, cost and invalid count."""
    router = make_router(FakeAPI(answer("chat"), answer("none"), answer("none")))
    router.label(["tell me a joke", "hmm"])
    metrics = {"n": 2, "accuracy": 0.5, "macro_f1": 0.33}
    path = router.record_run(metrics, "evals/holdout.jsonl", report_dir=tmp_path)
    run = latest_llm_run(tmp_path)
    assert path == tmp_path / "llm_runs.jsonl" and run is not None
    assert (run["model"], run["data"], run["n"], run["accuracy"]) == (
        "claude-haiku-5-5",
        "evals/holdout.jsonl",
        2,
        0.5,
    )
    assert run["invalid"] == 1 and run["calls"] == 3 and run["input_tokens"] == 3000
    assert {"date", "latency_p50_ms", "latency_p95_ms", "cost_usd", "macro_f1"} <= run.keys()


def test_record_run_defaults_to_project_report_dir(project: Paths) -> None:
    """Without a directory, the run is appended under Paths.discover().report."""
    path = make_router(FakeAPI()).record_run({"n": 0}, "evals/x.jsonl")
    assert path == project.report / "llm_runs.jsonl" and path.is_file()


def test_from_env_honours_base_url(
    api_key: str, project: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """ANTHROPIC_BASE_URL redirects requests, so a compatible local endpoint can stand in."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://localhost:8765/anthropic")
    api = FakeAPI(answer("chat"))
    router = ClaudeRouter.from_env(http_client=http_client(api), cache_dir=tmp_path / "cache")
    router.label(["tell me a joke"])
    assert str(api.requests[0].url) == "http://localhost:8765/anthropic/v1/messages"
    assert api.requests[0].headers["authorization"] == f"Bearer {api_key}"
