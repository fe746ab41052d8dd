"""Test doubles for the server suites: a deterministic keyword router and a real uvicorn
server on an ephemeral loopback port, running in a thread of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from routelet.config import DEFAULT_THRESHOLD
from routelet.intents import LABELS, Intent
from routelet.runtime import Prediction

#: (keyword, intent) in priority order; the first keyword found in the text wins.
_RULES = (
    ("remember", Intent.MEMORY),
    (" and ", Intent.AGENT),
    ("click", Intent.FIND_ACTION),
    ("spotify", Intent.INTEGRATION),
    ("play", Intent.INTEGRATION),
    ("?", Intent.CHAT),
    ("how ", Intent.CHAT),
)

#: Texts containing this word make the fake router raise (with the text in the message).
EXPLODE = "explode"


class FakeRouter:
    """Routes by keyword: 0.9 on the matched intent, 0.02 on each other; ``none`` at 0.6."""

    name = "fake-router"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self.calls: list[list[str]] = []  # the texts of each classify / classify_batch call

    def _predict(self, text: str) -> Prediction:
        if EXPLODE in text:
            raise ValueError(f"cannot route {text!r}")
        lowered = text.lower()
        intent = next((i for word, i in _RULES if word in lowered), Intent.NONE)
        top = 0.6 if intent is Intent.NONE else 0.9
        rest = (1.0 - top) / (len(LABELS) - 1)
        distribution = {label: top if label == intent else rest for label in LABELS}
        deferred = intent is Intent.NONE or top < self.threshold
        return Prediction(
            intent=intent, confidence=top, distribution=distribution, deferred=deferred
        )

    def classify(self, text: str) -> Prediction:
        self.calls.append([text])
        return self._predict(text)

    def classify_batch(self, texts: list[str], workers: int = 1) -> list[Prediction]:
        self.calls.append(list(texts))
        return [self._predict(t) for t in texts]


@contextmanager
def serving(app: Any, start_timeout_s: float = 15.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 at a free port; yield the base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # log_config=None: leave logging alone, so caplog sees uvicorn's records too.
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:  # bounded server-start polling
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout_s)
        sock.close()


if __name__ == "__main__":  # `python -m suites.serve.fakes PORT`: the fake router on loopback
    import sys

    import uvicorn

    from routelet.serve import create_app

    uvicorn.run(
        create_app(FakeRouter()),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=False,
        log_level="warning",
    )
