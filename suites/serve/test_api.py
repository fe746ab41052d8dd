"""The HTTP API in process (Starlette's TestClient, no socket), around the fake router."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from routelet.config import DEFAULT_THRESHOLD
from routelet.data import MAX_TEXT_CHARS
from routelet.intents import LABELS
from routelet.serve import MAX_BATCH, MAX_BODY_BYTES
from suites.serve.fakes import EXPLODE, FakeRouter

pytestmark = pytest.mark.serve

ROUTE_FIELDS = {"intent", "confidence", "distribution", "deferred", "tier", "latency_ms", "model"}
ROUTE_FIELDS |= {"id"}  # the request id, for POST /feedback


def _metric(client: TestClient, line_prefix: str) -> float:
    """The value of the one /metrics sample whose line starts with ``line_prefix``."""
    lines = [ln for ln in client.get("/metrics").text.splitlines() if ln.startswith(line_prefix)]
    assert len(lines) == 1, lines
    return float(lines[0].rsplit(" ", 1)[1])


# ----------------------------------------------------------------------------- happy path


def test_route_returns_documented_fields(client: TestClient) -> None:
    """POST /route answers 200 with exactly the documented fields."""
    response = client.post("/route", json={"text": "play some jazz"})
    assert response.status_code == 200 and set(response.json()) == ROUTE_FIELDS


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        pytest.param("remember my locker code", "memory", id="memory"),
        pytest.param("play some jazz on spotify", "integration", id="integration"),
        pytest.param("click the blue button", "find_action", id="find-action"),
        pytest.param("book a hotel and email me", "agent", id="agent"),
        pytest.param("how far is the moon", "chat", id="chat"),
        pytest.param("flarbo venti quix", "none", id="none"),
    ],
)
def test_route_returns_router_intent(client: TestClient, text: str, intent: str) -> None:
    """The response's intent is the router's prediction for the text."""
    assert client.post("/route", json={"text": text}).json()["intent"] == intent


def test_route_matches_prediction_to_dict(client: TestClient, fake_router: FakeRouter) -> None:
    """Intent, confidence, distribution and deferral are the router's ``to_dict()`` verbatim."""
    body = client.post("/route", json={"text": "play jazz"}).json()
    expected = fake_router.classify("play jazz").to_dict()
    assert {k: body[k] for k in expected} == expected


def test_route_distribution_follows_intent_order(client: TestClient) -> None:
    """The distribution's keys are the Intent labels in canonical order."""
    assert list(client.post("/route", json={"text": "hi"}).json()["distribution"]) == list(LABELS)


def test_route_reports_model_name(client: TestClient) -> None:
    """The response names the model that answered."""
    assert client.post("/route", json={"text": "hi"}).json()["model"] == FakeRouter.name


def test_route_marks_deferral(client: TestClient) -> None:
    """A `none` prediction comes back deferred."""
    assert client.post("/route", json={"text": "flarbo"}).json()["deferred"] is True


def test_route_accepts_text_at_the_limit(client: TestClient) -> None:
    """A text of exactly the documented maximum length is routed."""
    response = client.post("/route", json={"text": "a" * MAX_TEXT_CHARS})
    assert response.status_code == 200


def test_route_passes_raw_text_to_router(client: TestClient, fake_router: FakeRouter) -> None:
    """The server hands the router the text as sent (the router preprocesses it)."""
    client.post("/route", json={"text": "  Play  Jazz!  "})
    assert fake_router.calls == [["  Play  Jazz!  "]]


def test_batch_keeps_input_order(client: TestClient) -> None:
    """POST /route/batch returns one result per text, in input order."""
    texts = ["play jazz", "remember milk", "flarbo", "click ok"]
    body = client.post("/route/batch", json={"texts": texts}).json()
    assert [r["intent"] for r in body["results"]] == [
        "integration",
        "memory",
        "none",
        "find_action",
    ]


def test_batch_routes_each_text_alone(client: TestClient, fake_router: FakeRouter) -> None:
    """POST /route/batch classifies text by text, so batch-mates cannot change an answer."""
    client.post("/route/batch", json={"texts": ["play jazz", "hi", "click ok"]})
    assert fake_router.calls == [["play jazz"], ["hi"], ["click ok"]]


def test_batch_accepts_the_maximum(client: TestClient) -> None:
    """A batch of exactly MAX_BATCH texts is routed."""
    response = client.post("/route/batch", json={"texts": ["play jazz"] * MAX_BATCH})
    assert response.status_code == 200 and len(response.json()["results"]) == MAX_BATCH


def test_batch_of_escaped_maximum_fits_body_limit(client: TestClient) -> None:
    """The largest valid batch, every character JSON-escaped, is within the body limit."""
    texts = ["\U0001f600" * MAX_TEXT_CHARS] * MAX_BATCH  # astral: 12 bytes escaped
    body = json.dumps({"texts": texts}, ensure_ascii=True).encode()
    headers = {"content-type": "application/json"}
    assert client.post("/route/batch", content=body, headers=headers).status_code == 200


def test_healthz(client: TestClient) -> None:
    """GET /healthz reports ok, the model name and the threshold."""
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "model": FakeRouter.name, "threshold": DEFAULT_THRESHOLD}


def test_openapi_documents_the_routes(client: TestClient) -> None:
    """GET /openapi.json lists both routing endpoints with a request body."""
    paths = client.get("/openapi.json").json()["paths"]
    assert all("requestBody" in paths[p]["post"] for p in ("/route", "/route/batch"))


# --------------------------------------------------------------------------------- metrics


def test_metrics_content_type(client: TestClient) -> None:
    """GET /metrics is served as Prometheus text format 0.0.4."""
    assert client.get("/metrics").headers["content-type"].startswith("text/plain; version=0.0.4")


def test_metrics_count_requests(client: TestClient) -> None:
    """Each request increments the counter of its path and status."""
    for _ in range(3):
        client.post("/route", json={"text": "hi"})
    assert _metric(client, 'routelet_requests_total{path="/route",status="200"}') == 3


def test_metrics_count_errors_by_code(client: TestClient) -> None:
    """A rejected request increments the error counter of its code."""
    client.post("/route", json={"text": ""})
    assert _metric(client, 'routelet_errors_total{error="empty_text",path="/route"}') == 1


def test_metrics_count_predictions_per_intent(client: TestClient) -> None:
    """Every routed text, batched or not, counts once under its predicted intent."""
    client.post("/route", json={"text": "remember this"})
    client.post("/route/batch", json={"texts": ["remember that", "play jazz"]})
    assert _metric(client, 'routelet_predictions_total{intent="memory"}') == 2


def test_metrics_histogram_count_matches_requests(client: TestClient) -> None:
    """The latency histogram's +Inf bucket and count equal the number of requests."""
    for _ in range(4):
        client.post("/route", json={"text": "hi"})
    inf = _metric(client, 'routelet_request_duration_seconds_bucket{le="+Inf",path="/route"}')
    count = _metric(client, 'routelet_request_duration_seconds_count{path="/route"}')
    assert inf == count == 4


def test_metrics_unknown_paths_share_one_label(client: TestClient) -> None:
    """Requests to unknown paths are counted under `other`, so labels stay bounded."""
    client.get("/a")
    client.get("/b")
    assert _metric(client, 'routelet_requests_total{path="other",status="404"}') == 2


# ------------------------------------------------------------------------------ bad input

_BATCH = "/route/batch"
_BAD = [
    # (path, body bytes, status, error code, a word the message must contain)
    pytest.param("/route", b'{"text": ""}', 422, "empty_text", "empty", id="empty-text"),
    pytest.param("/route", b'{"text": " \\t\\n\\u3000"}', 422, "empty_text", "whitespace",
                 id="whitespace-text"),
    pytest.param("/route", json.dumps({"text": "a" * (MAX_TEXT_CHARS + 1)}).encode(), 422,
                 "text_too_long", str(MAX_TEXT_CHARS), id="text-too-long"),
    pytest.param("/route", b'{"text": 42}', 422, "wrong_type", "string", id="text-number"),
    pytest.param("/route", b'{"text": null}', 422, "wrong_type", "null", id="text-null"),
    pytest.param("/route", b'{"text": ["hi"]}', 422, "wrong_type", "array", id="text-array"),
    pytest.param("/route", b'{"text": true}', 422, "wrong_type", "boolean", id="text-bool"),
    pytest.param("/route", b"{}", 422, "missing_field", "text", id="missing-text"),
    pytest.param("/route", b'{"text": "hi", "lang": "en"}', 422, "unknown_field", "lang",
                 id="unknown-field"),
    pytest.param("/route", b'["hi"]', 422, "not_an_object", "object", id="array-body"),
    pytest.param("/route", b'"hi"', 422, "not_an_object", "string", id="string-body"),
    pytest.param("/route", b"", 400, "invalid_json", "JSON", id="empty-body"),
    pytest.param("/route", b"text=hi", 400, "invalid_json", "JSON", id="form-body"),
    pytest.param("/route", b'{"text": "hi"', 400, "invalid_json", "JSON", id="truncated-json"),
    pytest.param("/route", b'{"text": NaN}', 400, "invalid_json", "number", id="nan"),
    pytest.param("/route", b"[" * 50_000, 400, "invalid_json", "deeply", id="deep-nesting"),
    pytest.param("/route", b'{"text": ' + b"9" * 5_000 + b"}", 400, "invalid_json", "number",
                 id="huge-integer"),
    pytest.param("/route", b'{"text": "caf\xe9"}', 400, "invalid_utf8", "UTF-8", id="latin-1"),
    pytest.param("/route", b'\xff\xfe{"text": "hi"}', 400, "invalid_utf8", "UTF-8",
                 id="utf16-bom"),
    pytest.param("/route", b'{"text": "' + b"a" * MAX_BODY_BYTES["/route"] + b'"}', 413,
                 "body_too_large", str(MAX_BODY_BYTES["/route"]), id="oversized-body"),
    pytest.param(_BATCH, b'{"texts": "hi"}', 422, "wrong_type", "array", id="batch-not-array"),
    pytest.param(_BATCH, b'{"texts": []}', 422, "empty_batch", "empty", id="batch-empty"),
    pytest.param(_BATCH, json.dumps({"texts": ["hi"] * (MAX_BATCH + 1)}).encode(), 422,
                 "too_many_texts", str(MAX_BATCH), id="batch-too-many"),
    pytest.param(_BATCH, b'{"texts": ["hi", 3]}', 422, "wrong_type", "texts[1]",
                 id="batch-item-number"),
    pytest.param(_BATCH, b'{"texts": ["hi", " "]}', 422, "empty_text", "texts[1]",
                 id="batch-item-blank"),
    pytest.param(_BATCH, json.dumps({"texts": ["hi", "a" * 501]}).encode(), 422,
                 "text_too_long", "texts[1]", id="batch-item-too-long"),
    pytest.param(_BATCH, b'{"text": "hi"}', 422, "unknown_field", "texts", id="batch-wrong-field"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "status", "code", "word"), _BAD)
def test_bad_input_gets_its_status(
    client: TestClient, path: str, body: bytes, status: int, code: str, word: str
) -> None:
    """Each kind of bad body gets its documented 4xx status."""
    assert client.post(path, content=body).status_code == status


@pytest.mark.parametrize(("path", "body", "status", "code", "word"), _BAD)
def test_bad_input_error_says_what_is_wrong(
    client: TestClient, path: str, body: bytes, status: int, code: str, word: str
) -> None:
    """The JSON error names its code and a message pointing at the problem."""
    error = client.post(path, content=body).json()
    assert error["error"] == code and word in error["message"]


@pytest.mark.parametrize(("path", "body", "status", "code", "word"), _BAD)
def test_bad_input_never_reaches_router(
    client: TestClient,
    fake_router: FakeRouter,
    path: str,
    body: bytes,
    status: int,
    code: str,
    word: str,
) -> None:
    """A rejected request does not call the model."""
    client.post(path, content=body)
    assert fake_router.calls == []


def test_error_does_not_echo_input(client: TestClient) -> None:
    """An error message never quotes the rejected text back."""
    text = "my pin is 8812 " + "x" * MAX_TEXT_CHARS
    assert "8812" not in client.post("/route", json={"text": text}).text


def test_unknown_path_is_json_404(client: TestClient) -> None:
    """An unknown path gets a JSON `not_found` error."""
    response = client.get("/nope")
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_wrong_method_is_json_405(client: TestClient) -> None:
    """GET on a POST endpoint gets a JSON 405 naming the allowed method."""
    response = client.get("/route")
    assert response.status_code == 405 and response.headers["allow"] == "POST"


def test_router_failure_is_json_500(client: TestClient) -> None:
    """A router that raises gives a JSON `internal` error, not a dropped connection."""
    response = client.post("/route", json={"text": f"please {EXPLODE}"})
    assert response.status_code == 500 and response.json()["error"] == "internal"


# --------------------------------------------------------------------------------- logging

_SECRET_TEXT = "email me at jo@example.com, my password is hunter2x and my pin is 4471"
_SECRETS = ("jo@example.com", "hunter2x", "4471")


def test_debug_log_holds_redacted_text(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG the routed text is logged in its redacted form."""
    with caplog.at_level(logging.DEBUG, logger="routelet"):
        client.post("/route", json={"text": _SECRET_TEXT})
    assert "<EMAIL>" in caplog.text and "<SECRET>" in caplog.text


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"text": _SECRET_TEXT}, id="routed"),
        pytest.param({"texts": [_SECRET_TEXT, "hi"]}, id="batch-wrong-endpoint"),
        pytest.param({"text": _SECRET_TEXT * 10}, id="too-long"),
        pytest.param({"text": f"{_SECRET_TEXT} {EXPLODE}"}, id="router-failure"),
    ],
)
def test_logs_never_hold_raw_secrets(
    client: TestClient, caplog: pytest.LogCaptureFixture, body: dict[str, object]
) -> None:
    """No log record, at any level, contains a raw email, secret or long number."""
    with caplog.at_level(logging.DEBUG):
        client.post("/route", json=body)
    assert not [s for s in _SECRETS if s in caplog.text]


def test_router_failure_is_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    """A router failure is logged as an error naming the exception type."""
    with caplog.at_level(logging.ERROR, logger="routelet"):
        client.post("/route", json={"text": EXPLODE})
    assert "ValueError" in caplog.text


# ------------------------------------------------------------------------------ playground


def test_playground_is_html(client: TestClient) -> None:
    """GET / serves the playground page."""
    response = client.get("/")
    assert response.headers["content-type"].startswith("text/html") and "routelet" in response.text


def test_playground_loads_nothing_external(client: TestClient) -> None:
    """The page references no other origin: no CDN, works offline."""
    assert "://" not in client.get("/").text


def test_playground_csp_allows_only_self(client: TestClient) -> None:
    """The page's Content-Security-Policy lets it connect to its own origin only."""
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
