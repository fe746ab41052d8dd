"""Prometheus metrics of ``routelet serve``, and the ASGI middleware that times requests.

``Metrics`` holds the app's counters and latency histogram in a ``prometheus_client``
registry of its own, so two apps in one process never share counts; ``render`` is the
text exposition format. ``TimingMiddleware`` counts and times every HTTP request by path
and status. Paths are input too: any path but the service's own is counted as ``other``,
so the label set stays bounded. It counts; it never logs or sees request bodies.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from routelet.intents import LABELS

#: Tiers that can answer a text (``Prediction.tier``), counted by ``/metrics``.
ANSWER_TIERS = ("static", "encoder")
#: Upper bounds (seconds) of the latency histogram's buckets; ``+Inf`` is implicit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
KNOWN_PATHS = ("/", "/route", "/route/batch", "/feedback", "/healthz", "/metrics")
#: The exposition format's media type.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (so apps never share counts)."""

    def __init__(self, model: str = "routelet") -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # no `*_created` series: start times add nothing here
        self.registry = r = CollectorRegistry()
        Gauge("routelet_model_info", "The loaded model.", ["model"], registry=r).labels(model).set(
            1
        )
        self.requests = Counter(
            "routelet_requests", "HTTP requests by path and status code.", ["path", "status"],
            registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "routelet_errors", "Error responses by path and error code.", ["path", "error"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "routelet_request_duration_seconds", "Time to handle a request, by path.", ["path"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.predictions = Counter(
            "routelet_predictions", "Routed texts by predicted intent.", ["intent"], registry=r
        )
        self.deferred = Counter(
            "routelet_deferred", "Routed texts whose prediction was a deferral.", registry=r
        )
        self.tiers = Counter(
            "routelet_answers", "Routed texts by the tier that answered.", ["tier"], registry=r
        )
        for label in LABELS:  # every intent and tier from 0, not missing until first seen
            self.predictions.labels(label)
        for tier in ANSWER_TIERS:
            self.tiers.labels(tier)

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(seconds)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


def metrics_path(path: str) -> str:
    return path if path in KNOWN_PATHS else "other"  # the path is input: bounded labels


class TimingMiddleware:
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
        start, status = time.perf_counter(), 500  # 500 if the app dies before answering

        async def send_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(metrics_path(scope["path"]), status, time.perf_counter() - start)
