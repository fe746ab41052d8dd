"""Fixtures of the server suites: a fake router, its app, an in-process client, a live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from routelet.serve import create_app
from suites.serve.fakes import FakeRouter, serving


@pytest.fixture
def fake_router() -> FakeRouter:
    """A fresh deterministic keyword router (records its calls)."""
    return FakeRouter()


@pytest.fixture
def app(fake_router: FakeRouter) -> Any:
    """The service around the fake router."""
    return create_app(fake_router)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    """An in-process client (no socket)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    """Base URL of a real uvicorn server on an ephemeral loopback port, one per module."""
    with serving(create_app(FakeRouter())) as url:
        yield url
