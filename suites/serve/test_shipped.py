"""The service around the shipped model (models/, the default): answers equal the runtime's."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from routelet.serve import create_app

pytestmark = [pytest.mark.serve, pytest.mark.shipped]

COMMANDS = [
    pytest.param("hey um play some jazz on spotify", id="integration"),
    pytest.param("remember my locker code is 4471", id="memory"),
    pytest.param("click the blue submit button", id="find-action"),
    pytest.param("find a cheap hotel in lisbon for friday and book it", id="agent"),
    pytest.param("how far away is the moon", id="chat"),
    pytest.param("flarbo venti quix", id="gibberish"),
]


@pytest.fixture(scope="module")
def shipped_client(shipped_router: Any) -> Iterator[TestClient]:
    """An in-process client of the app around the shipped router."""
    with TestClient(create_app(shipped_router)) as client:
        yield client


@pytest.mark.parametrize("text", COMMANDS)
def test_route_equals_runtime(shipped_client: TestClient, shipped_router: Any, text: str) -> None:
    """POST /route answers exactly what ``Router.classify(text).to_dict()`` says."""
    body = shipped_client.post("/route", json={"text": text}).json()
    expected = shipped_router.classify(text).to_dict()
    assert {k: body[k] for k in expected} == expected


def test_batch_equals_single_answers(shipped_client: TestClient, shipped_router: Any) -> None:
    """Each text in POST /route/batch gets exactly its ``Router.classify`` answer, in order.

    Batch-mates must not change an answer (a padded int8 batch would: see ``predict``).
    """
    texts = [p.values[0] for p in COMMANDS]
    body = shipped_client.post("/route/batch", json={"texts": texts}).json()
    results = [{k: v for k, v in r.items() if k != "id"} for r in body["results"]]
    assert results == [shipped_router.classify(t).to_dict() for t in texts]


def test_healthz_names_shipped_model(shipped_client: TestClient, shipped_router: Any) -> None:
    """GET /healthz names the shipped model and its deferral threshold."""
    body = shipped_client.get("/healthz").json()
    assert (body["model"], body["threshold"]) == (shipped_router.name, shipped_router.threshold)


def test_cli_serves_shipped_model(paths: Any, shipped_router: Any, tmp_path: Path) -> None:
    """`routelet serve` in a subprocess loads the model and answers on its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "routelet.cli", "serve", "--port", str(port),
               "--model", str(paths.default_model)]  # fmt: skip
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)  # bounded server-start polling
            text = "remember my locker code is 4471"
            body = httpx.post(f"{url}/route", json={"text": text}).json()
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    assert body["intent"] == shipped_router.classify(text).intent.value
