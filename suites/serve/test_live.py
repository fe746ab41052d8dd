"""The service behind a real uvicorn server on an ephemeral loopback port (fake router)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from routelet.serve import MAX_BODY_BYTES, create_app
from suites.serve.fakes import FakeRouter, serving

pytestmark = pytest.mark.serve


def _raw_exchange(url: str, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection; return everything the server sends back."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    """A JSON body of ``total`` bytes sent in pieces, so no Content-Length is declared."""
    yield b'{"text": "'
    sent = 10
    while sent < total - 2:
        piece = min(size, total - 2 - sent)
        yield b"a" * piece
        sent += piece
    yield b'"}'


def test_route_over_http(live_url: str) -> None:
    """POST /route over a real socket returns the router's intent."""
    response = httpx.post(f"{live_url}/route", json={"text": "remember the milk"})
    assert response.status_code == 200 and response.json()["intent"] == "memory"


def test_batch_over_http(live_url: str) -> None:
    """POST /route/batch over a real socket returns one result per text."""
    response = httpx.post(f"{live_url}/route/batch", json={"texts": ["play jazz", "hi"]})
    assert [r["intent"] for r in response.json()["results"]] == ["integration", "none"]


def test_keep_alive_connection_serves_many(live_url: str) -> None:
    """One keep-alive connection serves many requests in a row."""
    with httpx.Client(base_url=live_url) as client:
        codes = {
            client.post("/route", json={"text": f"play song {i}"}).status_code for i in range(50)
        }
    assert codes == {200}


def test_concurrent_clients_all_succeed(live_url: str) -> None:
    """Twenty clients at once all get 200s."""

    def call(i: int) -> int:
        return httpx.post(f"{live_url}/route", json={"text": f"click button {i}"}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        assert set(pool.map(call, range(60))) == {200}


def test_declared_oversized_body_is_413(live_url: str) -> None:
    """A Content-Length over the limit is refused with a JSON 413."""
    body = b'{"text": "' + b"a" * MAX_BODY_BYTES["/route"] + b'"}'
    response = httpx.post(f"{live_url}/route", content=body)
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


def test_chunked_oversized_body_is_413(live_url: str) -> None:
    """A chunked body that grows past the limit is refused with a 413."""
    body = _chunks(MAX_BODY_BYTES["/route"] * 2)
    assert httpx.post(f"{live_url}/route", content=body).status_code == 413


def test_chunked_small_body_is_routed(live_url: str) -> None:
    """A chunked body within the limits is read whole and routed."""
    assert httpx.post(f"{live_url}/route", content=_chunks(200, size=16)).status_code == 200


def test_invalid_utf8_over_http_is_400(live_url: str) -> None:
    """Invalid UTF-8 sent over a real socket is a JSON 400."""
    response = httpx.post(f"{live_url}/route", content=b'{"text": "\xc3\x28"}')
    assert response.status_code == 400 and response.json()["error"] == "invalid_utf8"


_POST = b"POST /route HTTP/1.1\r\nHost: x\r\n"


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="not-http"),
        pytest.param(_POST + b"Content-Length: zz\r\n\r\n", id="bad-length"),
        pytest.param(_POST + b"Content-Length: 50\r\n\r\n{", id="cut-off-body"),
        pytest.param(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", id="tls-hello"),
    ],
)
def test_malformed_http_leaves_server_up(live_url: str, request_bytes: bytes) -> None:
    """Malformed or truncated HTTP does not take the server down."""
    _raw_exchange(live_url, request_bytes)
    assert httpx.get(f"{live_url}/healthz").status_code == 200


def test_malformed_http_is_not_5xx(live_url: str) -> None:
    """A request line that is not HTTP gets a 4xx answer, not a 5xx."""
    status_line = _raw_exchange(live_url, b"GARBAGE\r\n\r\n").split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 4")


def test_server_logs_hold_no_raw_text(caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG, a real server's logs hold no raw secret from any request."""
    secret = "zq7secretvalue"
    bodies = [
        {"text": f"my password is {secret}"},
        {"text": f"{secret} " * 200},
        {"texts": [f"token {secret}"]},
    ]
    with caplog.at_level(logging.DEBUG), serving(create_app(FakeRouter())) as url:
        for body in bodies:
            httpx.post(f"{url}/route", json=body)
        httpx.post(f"{url}/route", content=f'{{"text": "{secret}'.encode())
        _raw_exchange(url, f"POST /{secret} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert "<SECRET>" in caplog.text  # the capture works: the redacted form was logged
    assert secret not in caplog.text


def test_client_disconnect_mid_body_is_not_a_server_error(caplog: pytest.LogCaptureFixture) -> None:
    """A client that goes away mid-body is one log line and a 499 in /metrics, not a 500."""
    cut_off = _POST + b"Content-Length: 50\r\n\r\n{"
    with caplog.at_level(logging.INFO), serving(create_app(FakeRouter())) as url:
        _raw_exchange(url, cut_off)
        metrics = httpx.get(f"{url}/metrics").text
    assert 'routelet_requests_total{path="/route",status="499"} 1' in metrics
    assert 'status="500"' not in metrics
    assert 'routelet_errors_total{error="client_disconnected",path="/route"} 1' in metrics
    assert "Traceback" not in caplog.text and "Exception in ASGI application" not in caplog.text
