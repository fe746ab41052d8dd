"""The HTTP router service: ``create_app(router)`` builds a FastAPI app around a loaded router.

Endpoints: ``POST /route`` and ``POST /route/batch`` classify (each answer carries a
request ``id``), ``POST /feedback`` records a user's correction of an answer, ``GET
/healthz`` says the model is up, ``GET /metrics`` is Prometheus and ``GET /`` is the
playground page (one HTML file inside the package, no CDN). ``run_cli`` loads the model
once, before uvicorn starts, so a missing or corrupt model fails the command with a
one-line ``ModelError``.

Bodies are read under a size limit, decoded as strict JSON whatever the Content-Type
and validated by pydantic models (``routelet.serve_body``); metrics are
``prometheus_client`` counters in a registry per app (``routelet.serve_metrics``). One
exception handler turns every refusal (a bad body, an unknown path or method, a client
gone mid-body) into the same JSON error ``{"error": code, "message": ...}``, which says
what is wrong without echoing the input back.

With a ``routelet.samplelog.SampleLog`` (``--log-samples DIR``), sampled requests and
every correction are appended to its rotating files, redacted; a write that fails never
fails a request. It does not authenticate, rate-limit or terminate TLS: it is meant for
loopback or a trusted LAN. Invariants: bad input never gets a 5xx; raw input text never
reaches a log line or the sample log (at DEBUG the redacted ``preprocess`` form is
logged, otherwise nothing). Over-redaction is acceptable; leaking is not.
"""

# No `from __future__ import annotations`: FastAPI resolves the handlers' annotations at
# definition time, and they name classes imported inside `create_app`.
import argparse
import asyncio
import ipaddress
import json
import logging
import os
import time
import traceback
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from routelet.errors import ModelError, RouteletError
from routelet.preprocess import preprocess

# The service's limits are declared with the bodies they bound; MAX_BATCH is re-exported.
from routelet.serve_body import MAX_BATCH as MAX_BATCH
from routelet.serve_body import (
    MAX_BODY_BYTES,
    BadRequest,
    openapi_body,
    parse,
    read_body,
    request_models,
)
from routelet.serve_metrics import CONTENT_TYPE, Metrics, TimingMiddleware, metrics_path

#: Status recorded for a request whose client went away before it was answered.
CLIENT_CLOSED = 499
#: Request ids remembered for ``POST /feedback`` (with their text, in memory only).
RECENT_IDS = 10_000
_JSON = "application/json"
#: Error code and message of the HTTP errors raised by routing and by the model call.
_HTTP_ERRORS = {
    404: ("not_found", "no such endpoint; the API is in GET /openapi.json"),
    405: ("method_not_allowed", ""),
    500: ("internal", "the router failed on this request"),
}
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


# ----------------------------------------------------------------------------------- app


def create_app(router: RouterLike, workers: int | None = None, samples: Any = None) -> Any:
    """Build the FastAPI app around an already loaded router; loads nothing itself.

    Model calls run on ``workers`` threads (default: one per CPU), shut down with the app.
    ``samples`` is a ``routelet.samplelog.SampleLog`` (None: nothing is logged, and
    ``POST /feedback`` answers 409).
    """
    from fastapi import FastAPI, Request
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    from routelet.samplelog import feedback_record, route_record

    metrics = Metrics(router.name)
    # Workers take the next call from the pool's queue themselves (no round trip through
    # the event loop per call), so no core idles while requests wait.
    pool = ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="routelet")
    recent: OrderedDict[str, str] = OrderedDict()  # request id -> raw text, memory only

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        pool.shutdown(wait=False, cancel_futures=True)
        if samples is not None:
            samples.close()

    playground = resources.files("routelet").joinpath("static/playground.html").read_bytes()
    # docs_url/redoc_url off: Swagger UI and ReDoc load from a CDN; the service works offline.
    app = FastAPI(title="routelet", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.router, app.state.metrics = router, metrics

    def json_response(payload: dict[str, Any], status: int = 200) -> Response:
        body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
        return Response(body, status_code=status, media_type=_JSON)

    async def error_response(request: Request, exc: Exception) -> Response:
        """The one exception handler: every refused request as ``{"error", "message"}``."""
        path, headers = request.url.path, {}
        if isinstance(exc, BadRequest):
            status, code, message = exc.status, exc.code, exc.message
        elif isinstance(exc, ClientDisconnect):  # nobody reads this; it counts the request
            status, code, message = CLIENT_CLOSED, "client_disconnected", "client went away"
        else:
            assert isinstance(exc, HTTPException)
            status, headers = exc.status_code, dict(exc.headers or {})
            code, message = _HTTP_ERRORS.get(status, ("http_error", str(exc.detail)))
            if status == 405:  # the path is input too: only known paths get here
                message = f"{path} accepts {headers.get('Allow', '')} only"
        metrics.errors.labels(metrics_path(path), code).inc()
        log.info("%s %d %s", metrics_path(path), status, code)
        response = json_response({"error": code, "message": message}, status)
        response.headers.update(headers)
        return response

    for kind in (BadRequest, HTTPException, ClientDisconnect):
        app.add_exception_handler(kind, error_response)

    async def body_of(request: Request) -> Any:
        path = request.url.path
        limit = MAX_BODY_BYTES[path]
        body = await read_body(request.stream(), request.headers.get("content-length"), limit)
        return parse(path, body)

    def predict(texts: list[str]) -> list[Any]:
        # One text at a time, batch or not, so an answer never depends on its batch-mates
        # (the int8 encoder quantises activations per batch; see Router.predict_proba).
        return [router.classify(text) for text in texts]

    async def classify(texts: list[str], path: str) -> list[dict[str, Any]]:
        try:  # onnxruntime releases the GIL: the workers run while the loop parses requests
            predictions = await asyncio.get_running_loop().run_in_executor(pool, predict, texts)
        except Exception as exc:
            # The message may quote the input, so only the type and the frames are logged.
            tb = "".join(traceback.format_tb(exc.__traceback__))
            log.error("router failed: %s (message withheld)\n%s", type(exc).__name__, tb)
            raise HTTPException(500) from None
        rows = []
        for text, prediction in zip(texts, predictions, strict=True):
            row = {**prediction.to_dict(), "id": uuid.uuid4().hex}
            metrics.predictions.labels(row["intent"]).inc()
            if row["deferred"]:
                metrics.deferred.inc()
            if "tier" in row:
                metrics.tiers.labels(row["tier"]).inc()
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %r -> %s", path, preprocess(text), row["intent"])
            if samples is not None:
                recent[row["id"]] = text
                if len(recent) > RECENT_IDS:
                    recent.popitem(last=False)
                if samples.sampled():
                    samples.write(route_record(row["id"], text, row, router.name))
            rows.append(row)
        return rows

    models = request_models()

    @app.post("/route", openapi_extra=openapi_body(models["/route"]))
    async def route(request: Request) -> Response:
        """Classify one command; the answer's ``id`` names it in ``POST /feedback``."""
        start = time.perf_counter()
        row = (await classify([(await body_of(request)).text], "/route"))[0]
        latency_ms = round((time.perf_counter() - start) * 1000, 3)
        return json_response({**row, "latency_ms": latency_ms, "model": router.name})

    @app.post("/route/batch", openapi_extra=openapi_body(models["/route/batch"]))
    async def route_batch(request: Request) -> Response:
        """Classify up to 256 commands in one call; results keep the input order."""
        start = time.perf_counter()
        rows = await classify((await body_of(request)).texts, "/route/batch")
        latency_ms = round((time.perf_counter() - start) * 1000, 3)
        return json_response({"results": rows, "latency_ms": latency_ms, "model": router.name})

    @app.post("/feedback", openapi_extra=openapi_body(models["/feedback"]))
    async def feedback(request: Request) -> Response:
        """Record the user's correction of a recent answer (needs ``--log-samples``)."""
        body = await body_of(request)
        if samples is None:
            raise BadRequest(409, "not_logging", "this server keeps no sample log (--log-samples)")
        if body.id not in recent:
            raise BadRequest(404, "unknown_id", "no recent request has this id")
        logged = samples.write(feedback_record(body.id, preprocess(recent[body.id]), body.intent))
        return json_response({"id": body.id, "intent": body.intent, "logged": logged})

    @app.get("/healthz")
    async def healthz() -> Response:
        """The model is loaded and the server answers."""
        return json_response({"status": "ok", "model": router.name, "threshold": router.threshold})

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Counters and the latency histogram in the Prometheus text format."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def playground_page() -> Response:
        headers = {"Content-Security-Policy": _PLAYGROUND_CSP, "X-Content-Type-Options": "nosniff"}
        return Response(playground, media_type="text/html; charset=utf-8", headers=headers)

    app.add_middleware(TimingMiddleware, metrics=metrics)
    return app


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
    """``routelet serve``: check the options, load the model, then serve until interrupted."""
    import uvicorn

    from routelet.runtime import check_threshold
    from routelet.samplelog import SampleLog

    if not 1 <= args.port <= 65535:
        raise RouteletError(f"--port must be between 1 and 65535, got {args.port}")
    if args.threads < 1:
        raise RouteletError(f"--threads must be at least 1, got {args.threads}")
    if args.threshold is not None:
        check_threshold(args.threshold)
    samples = None
    if args.log_samples:
        max_bytes = int(args.log_max_mb * 1024 * 1024)
        samples = SampleLog(Path(args.log_samples), args.sample_rate, max_bytes, args.log_max_files)
    router = load_router(args.model, args.threshold, args.threads, args.tier)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s %(message)s")
    log.info("model %s loaded (threshold %.2f)", router.name, router.threshold)
    if samples is not None:
        log.info(
            "logging %.0f%% of requests, redacted, to %s", 100 * samples.rate, args.log_samples
        )
    if not _is_loopback(args.host):
        log.warning("listening on %s with no authentication: trusted networks only", args.host)
    uvicorn.run(
        create_app(router, samples=samples),
        host=args.host,
        port=args.port,
        access_log=False,  # the /metrics counters replace it, at a fraction of the cost
        server_header=False,
    )
    return 0
