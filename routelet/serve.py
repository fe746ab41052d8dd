"""The HTTP router service: ``create_app(router)`` builds a FastAPI app around a loaded router.

Endpoints: ``POST /route`` and ``POST /route/batch`` classify, ``GET /healthz`` says the
model is up, ``GET /metrics`` speaks the Prometheus text format and ``GET /`` is the
playground page (one HTML file inside the package, no CDN). ``run_cli`` loads the model
once, before uvicorn starts, so a missing or corrupt model fails the command with a
one-line ``ModelError`` instead of a server that answers 500s.

Request bodies are read and validated here, by hand, rather than by pydantic: every
way a body can be wrong (too big, not UTF-8, not JSON, wrong shape, empty or too long
text, too many items) maps to one 4xx JSON error ``{"error": code, "message": ...}``
that says what is wrong without echoing the input back. Empty means what it means on
every path (``routelet.data.is_blank``). A client that disconnects before its body is
read is a client error too: one log line, counted as status 499, not a 500.

It does not authenticate, rate-limit or terminate TLS: it is meant for loopback or a
trusted LAN. Invariants: bad input never gets a 5xx; raw input text never reaches a
log line (at DEBUG the redacted ``preprocess`` form is logged, otherwise nothing).
Over-redaction is acceptable; leaking is not.
"""

# No `from __future__ import annotations`: FastAPI resolves the handlers' annotations at
# definition time, and they name classes imported inside `create_app`.
import argparse
import asyncio
import ipaddress
import json
import logging
import math
import os
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from routelet.data import MAX_TEXT_CHARS, is_blank
from routelet.errors import ModelError, RouteletError
from routelet.intents import LABELS
from routelet.preprocess import preprocess

#: Tiers that can answer a text (``Prediction.tier``), counted by ``/metrics``.
ANSWER_TIERS = ("static", "encoder")
#: Most texts in one ``POST /route/batch``.
MAX_BATCH = 256
#: Largest request body per endpoint, in bytes. The batch limit is sized so that any batch
#: within the text and item limits fits even with every character JSON-escaped
#: (an astral character escapes to 12 bytes: 256 * 500 * 12 < 2 MiB).
MAX_BODY_BYTES = {"/route": 64 * 1024, "/route/batch": 2 * 1024 * 1024}
#: Upper bounds (seconds) of the latency histogram's buckets; ``+Inf`` is implicit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
#: Status recorded for a request whose client went away before it was answered
#: (nginx's "client closed request"; never sent, since nobody is listening).
CLIENT_CLOSED = 499
#: Paths that get their own metrics label; anything else is counted as ``other``.
_KNOWN_PATHS = ("/", "/route", "/route/batch", "/healthz", "/metrics")
_JSON = "application/json"
_PLAYGROUND_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

log = logging.getLogger("routelet.serve")


class RouterLike(Protocol):
    """What the app needs from a router (``routelet.runtime.Router`` or a test double)."""

    threshold: float

    @property
    def name(self) -> str: ...

    def classify(self, text: str) -> Any: ...  # a Prediction: .to_dict(), .intent, .deferred


class _BadRequest(Exception):
    """A request the client must fix; becomes a 4xx JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------- validation


async def _read_body(receive_chunks: Any, declared: str | None, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes before reading it if declared."""
    too_big = _BadRequest(413, "body_too_large", f"request body is larger than {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    async for chunk in receive_chunks:
        size += len(chunk)
        if size > limit:  # chunked uploads declare no length: count as they arrive
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_object(body: bytes, allowed: str) -> dict[str, Any]:
    """Decode a UTF-8 JSON object holding exactly the field ``allowed``."""
    try:
        doc = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadRequest(
            400, "invalid_utf8", f"body is not valid UTF-8 (byte {exc.start})"
        ) from None
    why = None
    try:
        obj = json.loads(doc, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        why = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        why = "nested too deeply"
    except ValueError:  # NaN, Infinity, or an integer longer than Python's digit limit
        why = "unparsable number"
    if why is not None:
        raise _BadRequest(400, "invalid_json", f"body is not valid JSON ({why})")
    if not isinstance(obj, dict):
        raise _BadRequest(422, "not_an_object", f"body must be a JSON object, got {_kind(obj)}")
    unknown = sorted(k for k in obj if k != allowed)
    if unknown:
        shown = json.dumps(unknown[0][:40])  # a key is input too: shown short, never logged
        raise _BadRequest(422, "unknown_field", f"unknown field {shown}; expected only {allowed!r}")
    if allowed not in obj:
        raise _BadRequest(422, "missing_field", f"missing field {allowed!r}")
    return obj


def _not_json(name: str) -> None:
    # Python's json accepts NaN and Infinity; RFC 8259 does not.
    raise ValueError(f"{name} is not JSON")


def _kind(value: object) -> str:
    """The JSON name of a parsed value's type."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _check_text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _BadRequest(422, "wrong_type", f"{where!r} must be a string, got {_kind(value)}")
    if is_blank(value):
        raise _BadRequest(422, "empty_text", f"{where!r} is empty or only whitespace")
    if len(value) > MAX_TEXT_CHARS:
        msg = f"{where!r} has {len(value)} characters (max {MAX_TEXT_CHARS})"
        raise _BadRequest(422, "text_too_long", msg)
    return value


def parse_route(body: bytes) -> str:
    """The text of a ``POST /route`` body; raises ``_BadRequest`` saying what is wrong."""
    return _check_text(_parse_object(body, "text")["text"], "text")


def parse_batch(body: bytes) -> list[str]:
    """The texts of a ``POST /route/batch`` body; raises ``_BadRequest`` saying what is wrong."""
    texts = _parse_object(body, "texts")["texts"]
    if not isinstance(texts, list):
        raise _BadRequest(422, "wrong_type", f"'texts' must be an array, got {_kind(texts)}")
    if not texts:
        raise _BadRequest(422, "empty_batch", "'texts' is empty; send 1 to 256 texts")
    if len(texts) > MAX_BATCH:
        msg = f"'texts' has {len(texts)} items (max {MAX_BATCH}); split the batch"
        raise _BadRequest(422, "too_many_texts", msg)
    return [_check_text(t, f"texts[{i}]") for i, t in enumerate(texts)]


# ------------------------------------------------------------------------------- metrics


@dataclass
class Metrics:
    """Counters and the latency histogram; updated on the event loop thread only."""

    requests: Counter[tuple[str, int]] = field(default_factory=Counter)  # (path, status)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (path, code)
    predictions: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(LABELS, 0)))
    deferred: int = 0
    # answers by the tier that gave them (routelet.cascade)
    tiers: Counter[str] = field(default_factory=lambda: Counter(dict.fromkeys(ANSWER_TIERS, 0)))
    # path -> per-bucket counts (len(LATENCY_BUCKETS) + 1, last is +Inf), sum, count
    buckets: dict[str, list[int]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests[(path, status)] += 1
        counts = self.buckets.setdefault(path, [0] * (len(LATENCY_BUCKETS) + 1))
        for i, bound in enumerate(LATENCY_BUCKETS):
            if seconds <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        self.seconds[path] = self.seconds.get(path, 0.0) + seconds

    def render(self, model: str) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        out = [
            "# HELP routelet_model_info The loaded model.",
            "# TYPE routelet_model_info gauge",
            f'routelet_model_info{{model="{_label(model)}"}} 1',
            "# HELP routelet_requests_total HTTP requests by path and status code.",
            "# TYPE routelet_requests_total counter",
        ]
        out += [
            f'routelet_requests_total{{path="{p}",status="{s}"}} {n}'
            for (p, s), n in sorted(self.requests.items())
        ]
        out += [
            "# HELP routelet_errors_total Error responses by path and error code.",
            "# TYPE routelet_errors_total counter",
        ]
        out += [
            f'routelet_errors_total{{path="{p}",error="{c}"}} {n}'
            for (p, c), n in sorted(self.errors.items())
        ]
        out += [
            "# HELP routelet_request_duration_seconds Time to handle a request, by path.",
            "# TYPE routelet_request_duration_seconds histogram",
        ]
        histogram = "routelet_request_duration_seconds"
        for path, counts in sorted(self.buckets.items()):
            running = 0
            for bound, n in zip((*LATENCY_BUCKETS, math.inf), counts, strict=True):
                running += n
                le = "+Inf" if bound == math.inf else repr(bound)
                out.append(f'{histogram}_bucket{{path="{path}",le="{le}"}} {running}')
            out.append(f'{histogram}_sum{{path="{path}"}} {self.seconds[path]:.6f}')
            out.append(f'{histogram}_count{{path="{path}"}} {running}')
        out += [
            "# HELP routelet_predictions_total Routed texts by predicted intent.",
            "# TYPE routelet_predictions_total counter",
        ]
        out += [
            f'routelet_predictions_total{{intent="{i}"}} {n}' for i, n in self.predictions.items()
        ]
        out += [
            "# HELP routelet_deferred_total Routed texts whose prediction was a deferral.",
            "# TYPE routelet_deferred_total counter",
            f"routelet_deferred_total {self.deferred}",
            "# HELP routelet_answers_total Routed texts by the tier that answered.",
            "# TYPE routelet_answers_total counter",
        ]
        out += [f'routelet_answers_total{{tier="{t}"}} {n}' for t, n in sorted(self.tiers.items())]
        return "\n".join(out) + "\n"


def _label(value: str) -> str:
    """Escape a Prometheus label value."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _TimingMiddleware:
    """Pure ASGI middleware: counts every HTTP request and times it, by path and status."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # if the app dies before starting a response

        async def send_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = scope["path"] if scope["path"] in _KNOWN_PATHS else "other"
            self.metrics.observe(path, status, time.perf_counter() - start)


# ----------------------------------------------------------------------------------- app


def _playground_html() -> bytes:
    return resources.files("routelet").joinpath("static/playground.html").read_bytes()


def create_app(router: RouterLike, workers: int | None = None) -> Any:
    """Build the FastAPI app around an already loaded router; loads nothing itself.

    Model calls run on ``workers`` threads (default: one per CPU), shut down with the app.
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    metrics = Metrics()
    # Workers take the next call from the pool's queue themselves, without a round trip
    # through the event loop, so no core idles while requests wait (anyio's to_thread
    # with a limiter left a quarter of 2 cores idle at 10 clients).
    pool = ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="routelet")

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    playground = _playground_html()
    app = FastAPI(
        title="routelet",
        summary="Route a spoken voice-assistant command to an intent.",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the service works offline
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.router, app.state.metrics = router, metrics

    def json_response(payload: dict[str, Any], status: int = 200) -> Response:
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        return Response(body, status_code=status, media_type=_JSON)

    def error(status: int, code: str, message: str, path: str) -> Response:
        metrics.errors[(path if path in _KNOWN_PATHS else "other", code)] += 1
        log.info("%s %d %s", path if path in _KNOWN_PATHS else "other", status, code)
        return json_response({"error": code, "message": message}, status)

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _BadRequest)
        return error(exc.status, exc.code, exc.message, request.url.path)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        # The path is input too: known paths are named, unknown ones are not echoed.
        path = request.url.path
        if exc.status_code == 404:
            code, message = "not_found", "no such endpoint; the API is in GET /openapi.json"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            code, message = "method_not_allowed", f"{path} accepts {allowed} only"
        else:
            code, message = "http_error", str(exc.detail)
        response = error(exc.status_code, code, message, path)
        response.headers.update(exc.headers or {})
        return response

    async def client_gone(request: Request, exc: Exception) -> Response:
        # Nobody reads this response; it records the request as the client's doing.
        return error(CLIENT_CLOSED, "client_disconnected", "client went away", request.url.path)

    app.add_exception_handler(_BadRequest, bad_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, client_gone)

    def record(predictions: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for prediction in predictions:
            row = prediction.to_dict()
            metrics.predictions[row["intent"]] += 1
            metrics.deferred += bool(row["deferred"])
            if "tier" in row:
                metrics.tiers[row["tier"]] += 1
            rows.append(row)
        return rows

    def predict(texts: list[str]) -> list[Any]:
        # One text at a time, batch or not, so an answer never depends on its batch-mates:
        # the int8 encoder quantises activations per batch (see Router.predict_proba).
        # Padded batches would save ~30% of model time on a large batch, none on 10 texts.
        return [router.classify(text) for text in texts]

    async def classify(texts: list[str], path: str) -> list[dict[str, Any]] | Response:
        try:
            # onnxruntime releases the GIL: worker threads keep every core busy while the
            # event loop goes on parsing requests.
            predictions = await asyncio.get_running_loop().run_in_executor(pool, predict, texts)
        except Exception as exc:
            # The message may quote the input, so only the type and the frames are logged.
            tb = "".join(traceback.format_tb(exc.__traceback__))
            log.error("router failed: %s (message withheld)\n%s", type(exc).__name__, tb)
            return error(500, "internal", "the router failed on this request", path)
        if log.isEnabledFor(logging.DEBUG):
            for text, prediction in zip(texts, predictions, strict=True):
                log.debug("%s %r -> %s", path, preprocess(text), prediction.intent)
        return record(predictions)

    async def body_of(request: Request) -> bytes:
        limit = MAX_BODY_BYTES[request.url.path]
        return await _read_body(request.stream(), request.headers.get("content-length"), limit)

    @app.post("/route", openapi_extra=_openapi_body("text", {"type": "string"}))
    async def route(request: Request) -> Response:
        """Classify one command."""
        start = time.perf_counter()
        text = parse_route(await body_of(request))
        rows = await classify([text], "/route")
        if isinstance(rows, Response):
            return rows
        latency_ms = round((time.perf_counter() - start) * 1000, 3)
        return json_response({**rows[0], "latency_ms": latency_ms, "model": router.name})

    texts_schema = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_BATCH}

    @app.post("/route/batch", openapi_extra=_openapi_body("texts", texts_schema))
    async def route_batch(request: Request) -> Response:
        """Classify up to 256 commands in one call; results keep the input order."""
        start = time.perf_counter()
        texts = parse_batch(await body_of(request))
        rows = await classify(texts, "/route/batch")
        if isinstance(rows, Response):
            return rows
        latency_ms = round((time.perf_counter() - start) * 1000, 3)
        return json_response({"results": rows, "latency_ms": latency_ms, "model": router.name})

    @app.get("/healthz")
    async def healthz() -> Response:
        """The model is loaded and the server answers."""
        return json_response({"status": "ok", "model": router.name, "threshold": router.threshold})

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Counters and the latency histogram in the Prometheus text format."""
        text = metrics.render(router.name)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def playground_page() -> Response:
        headers = {"Content-Security-Policy": _PLAYGROUND_CSP, "X-Content-Type-Options": "nosniff"}
        return Response(playground, media_type="text/html; charset=utf-8", headers=headers)

    app.add_middleware(_TimingMiddleware, metrics=metrics)
    return app


def _openapi_body(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The documented request body: a JSON object with one required field."""
    body: dict[str, Any] = {"type": "object", "properties": {name: schema}, "required": [name]}
    body["additionalProperties"] = False
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": body}}}}


# ----------------------------------------------------------------------------------- CLI


def load_router(
    model: str | Path | None, threshold: float | None, threads: int = 1, tier: str | None = None
) -> Any:
    """Load the model and route one text, so a model that loads but cannot run fails here."""
    from routelet.runtime import Router

    router = Router.load(model, threads=threads, threshold=threshold, tier=tier)
    try:
        router.classify("hello")  # also warms up onnxruntime before the first request
    except Exception as exc:
        raise ModelError(f"{router.path}: model loaded but cannot classify ({exc})") from None
    return router


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        return False


def run_cli(args: argparse.Namespace) -> int:
    """``routelet serve``: check the options, load the model, then serve until interrupted.

    The CLI has checked that the serve extra is installed (``routelet.extras``).
    """
    import uvicorn

    from routelet.runtime import check_threshold

    if not 1 <= args.port <= 65535:
        raise RouteletError(f"--port must be between 1 and 65535, got {args.port}")
    if args.threads < 1:
        raise RouteletError(f"--threads must be at least 1, got {args.threads}")
    if args.threshold is not None:
        check_threshold(args.threshold)
    router = load_router(args.model, args.threshold, args.threads, args.tier)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
    log.info("model %s loaded (threshold %.2f)", router.name, router.threshold)
    if not _is_loopback(args.host):
        log.warning("listening on %s with no authentication: trusted networks only", args.host)
    uvicorn.run(
        create_app(router),
        host=args.host,
        port=args.port,
        access_log=False,  # the /metrics counters replace it, at a fraction of the cost
        server_header=False,
    )
    return 0
