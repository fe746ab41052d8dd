"""Request ids, the opt-in sample log and POST /feedback, in process around the fake router."""

from __future__ import annotations

import json
import logging
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from routelet import serve
from routelet.cli import main
from routelet.samplelog import SampleLog
from routelet.serve import create_app
from suites.budgets import BUDGETS
from suites.serve.fakes import FakeRouter

pytestmark = pytest.mark.serve

SECRET_TEXT = "remember jo@example.com and my password is hunter2x"


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "samples"


@pytest.fixture
def logged(log_dir: Path) -> Iterator[TestClient]:
    """A client of the app logging every request to ``log_dir``."""
    with TestClient(create_app(FakeRouter(), samples=SampleLog(log_dir))) as client:
        yield client


def _lines(log_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(x) for f in sorted(log_dir.glob("*.jsonl")) for x in f.read_text().splitlines()
    ]


def test_route_answers_carry_distinct_ids(client: TestClient) -> None:
    """Every /route answer and batch result carries its own request id."""
    ids = [client.post("/route", json={"text": "hi"}).json()["id"] for _ in range(3)]
    ids += [
        r["id"] for r in client.post("/route/batch", json={"texts": ["a", "b"]}).json()["results"]
    ]
    assert len(set(ids)) == 5 and all(ids)


def test_nothing_is_logged_by_default(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a sample log, routing and feedback write no file under the working directory."""
    monkeypatch.chdir(tmp_path)
    rid = client.post("/route", json={"text": "hi"}).json()["id"]
    client.post("/feedback", json={"id": rid, "intent": "chat"})
    assert list(tmp_path.rglob("*")) == []


def test_sampled_request_is_logged_redacted(logged: TestClient, log_dir: Path) -> None:
    """A logged request holds the redacted text, the answer, the model and the tier."""
    answer = logged.post("/route", json={"text": SECRET_TEXT}).json()
    (line,) = _lines(log_dir)
    assert "example.com" not in json.dumps(line) and "hunter2x" not in json.dumps(line)
    assert "<EMAIL>" in line["text"]
    assert {k: line[k] for k in ("id", "intent", "confidence", "deferred", "tier")} == {
        k: answer[k] for k in ("id", "intent", "confidence", "deferred", "tier")
    }
    assert line["model"] == FakeRouter.name and line["kind"] == "route"


def test_sample_rate_zero_logs_no_request(log_dir: Path) -> None:
    """At rate 0 no request is logged."""
    with TestClient(create_app(FakeRouter(), samples=SampleLog(log_dir, rate=0.0))) as client:
        client.post("/route", json={"text": "hi"})
    assert _lines(log_dir) == []


def test_feedback_records_the_correction(logged: TestClient, log_dir: Path) -> None:
    """POST /feedback appends the correction, with the request's id and redacted text."""
    rid = logged.post("/route", json={"text": SECRET_TEXT}).json()["id"]
    response = logged.post("/feedback", json={"id": rid, "intent": "agent"})
    assert response.status_code == 200 and response.json()["logged"] is True
    correction = _lines(log_dir)[-1]
    assert (correction["kind"], correction["id"], correction["intent"]) == (
        "feedback",
        rid,
        "agent",
    )
    assert "<EMAIL>" in correction["text"] and "hunter2x" not in correction["text"]


def test_feedback_for_unsampled_request(log_dir: Path) -> None:
    """A correction of a request that was not sampled is still recorded."""
    with TestClient(create_app(FakeRouter(), samples=SampleLog(log_dir, rate=0.0))) as client:
        rid = client.post("/route", json={"text": "play jazz"}).json()["id"]
        assert client.post("/feedback", json={"id": rid, "intent": "chat"}).status_code == 200
    assert [(x["kind"], x["text"]) for x in _lines(log_dir)] == [("feedback", "play jazz")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"id": "0" * 32, "intent": "chat"}, 404, "unknown_id", id="unknown-id"),
        pytest.param({"id": "x", "intent": "weather"}, 422, "bad_intent", id="bad-label"),
        pytest.param({"intent": "chat"}, 422, "missing_field", id="no-id"),
        pytest.param({"id": 3, "intent": "chat"}, 422, "wrong_type", id="id-number"),
        pytest.param({"id": "x", "intent": "chat", "n": 1}, 422, "unknown_field", id="extra"),
    ],
)
def test_bad_feedback_is_4xx(
    logged: TestClient, log_dir: Path, body: dict[str, Any], status: int, code: str
) -> None:
    """An unknown id, a label outside the Intent set or a malformed body is a 4xx, not logged."""
    response = logged.post("/feedback", json=body)
    assert (response.status_code, response.json()["error"]) == (status, code)
    assert _lines(log_dir) == []


def test_feedback_without_sample_log_is_409(client: TestClient) -> None:
    """A server that keeps no sample log refuses feedback with 409 and says why."""
    rid = client.post("/route", json={"text": "hi"}).json()["id"]
    response = client.post("/feedback", json={"id": rid, "intent": "chat"})
    assert response.status_code == 409 and "--log-samples" in response.json()["message"]


def test_unwritable_log_never_fails_a_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With a log directory that cannot be created, requests succeed and one error is logged."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.ERROR, logger="routelet"):
        app = create_app(FakeRouter(), samples=SampleLog(blocker / "logs"))
        with TestClient(app) as client:
            codes = [client.post("/route", json={"text": "hi"}).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert len([r for r in caplog.records if r.name == "routelet.samplelog"]) == 1


def test_cli_passes_the_sample_log(
    monkeypatch: pytest.MonkeyPatch, log_dir: Path, uvicorn_apps: list[Any]
) -> None:
    """`routelet serve --log-samples DIR --sample-rate R` serves an app that logs to DIR."""
    assert main(["serve", "--log-samples", str(log_dir), "--sample-rate", "1"]) == 0
    with TestClient(uvicorn_apps[0]) as client:
        client.post("/route", json={"text": "hi"})
    assert len(_lines(log_dir)) == 1


@pytest.mark.parametrize("rate", ["1.5", "-0.1"])
def test_cli_rejects_a_bad_rate(
    rate: str, log_dir: Path, uvicorn_apps: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A sample rate outside [0, 1] exits 2 with one line, before serving."""
    assert main(["serve", "--log-samples", str(log_dir), "--sample-rate", rate]) == 2
    assert uvicorn_apps == [] and "sample rate" in capsys.readouterr().err


@pytest.fixture
def uvicorn_apps(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record the apps handed to uvicorn (nothing listens); the model is the fake router."""
    import uvicorn

    apps: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    monkeypatch.setattr(serve, "load_router", lambda *a, **kw: FakeRouter())
    return apps


def test_sample_logging_overhead_benchmark(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Logging every request adds at most the [loop] budget to /route's p50: the same run
    alternates blocks of requests with logging on and off, straight into the ASGI app (no
    socket, so the client's own cost does not drown the difference)."""
    import asyncio

    import httpx

    apps = {
        "on": create_app(FakeRouter(), samples=SampleLog(tmp_path / "on")),
        "off": create_app(FakeRouter()),
    }
    times: dict[str, list[float]] = {"on": [], "off": []}
    rng = random.Random(0)

    async def block() -> None:
        for name in rng.sample(list(apps), 2):
            transport = httpx.ASGITransport(app=apps[name])
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                for _ in range(50):
                    start = time.perf_counter()
                    await client.post("/route", json={"text": "remember my locker code is 4471"})
                    times[name].append(time.perf_counter() - start)

    benchmark.pedantic(lambda: asyncio.run(block()), iterations=1, rounds=40, warmup_rounds=2)
    p50 = {name: statistics.median(t) * 1000 for name, t in times.items()}
    overhead = p50["on"] - p50["off"]
    benchmark.extra_info.update(p50_on_ms=p50["on"], p50_off_ms=p50["off"], overhead_ms=overhead)
    assert len(list((tmp_path / "on").glob("*.jsonl"))) == 1  # logging really was on
    assert overhead <= BUDGETS["loop"]["sample_log_max_overhead_ms"]
