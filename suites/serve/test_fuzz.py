"""Fuzzing request bodies: whatever a client sends, the answer is never a 5xx.

Bodies are arbitrary bytes, arbitrary JSON, well-shaped objects holding arbitrary JSON
values, and valid bodies with a byte mutated. Every 4xx must be a JSON error object.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from routelet.data import MAX_TEXT_CHARS
from routelet.intents import LABELS
from routelet.serve import create_app
from suites.serve.fakes import FakeRouter
from suites.strategies import any_text

pytestmark = pytest.mark.serve

# These strategies serve this module only; suites/strategies.py holds the shared ones.
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
_texts = any_text | st.text(max_size=MAX_TEXT_CHARS + 20) | json_values


def _dump(value: object, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def _mutated(draw: st.DrawFn, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid body with one byte replaced, deleted or inserted."""
    body = draw(valid)
    at = draw(st.integers(0, max(len(body) - 1, 0)))
    byte = bytes([draw(st.integers(0, 255))])
    how = draw(st.sampled_from(["replace", "delete", "insert"]))
    if how == "replace":
        return body[:at] + byte + body[at + 1 :]
    if how == "delete":
        return body[:at] + body[at + 1 :]
    return body[:at] + byte + body[at:]


_route_objects = st.fixed_dictionaries({"text": _texts}, optional={"extra": json_values})
_batch_objects = st.fixed_dictionaries(
    {"texts": st.lists(_texts, max_size=8) | json_values}, optional={"text": json_values}
)
_ascii = st.booleans()
route_bodies = st.one_of(
    st.binary(max_size=600),
    st.builds(_dump, json_values, _ascii),
    st.builds(_dump, _route_objects, _ascii),
    _mutated(st.builds(_dump, st.fixed_dictionaries({"text": any_text}), _ascii)),
)
batch_bodies = st.one_of(
    st.binary(max_size=600),
    st.builds(_dump, json_values, _ascii),
    st.builds(_dump, _batch_objects, _ascii),
    _mutated(st.builds(_dump, st.fixed_dictionaries({"texts": st.lists(any_text)}), _ascii)),
)

#: Counterexamples and near-misses found while writing the parser, pinned.
_PINNED = [
    b"[" * 50_000,  # RecursionError inside json.loads
    b'{"text": ' + b"9" * 5_000 + b"}",  # int digit limit raises a plain ValueError
    b'{"text": NaN}',  # Python's json accepts NaN
    b'{"text": "\\ud800"}',  # a lone surrogate is valid JSON but not UTF-8 encodable
    b'\xef\xbb\xbf{"text": "hi"}',  # UTF-8 byte order mark
    b'{"text": "\x00\x1b"}',  # control characters only
    b'{"text": "hi", "text": ""}',  # duplicate keys: the last one counts
]


@pytest.fixture(scope="module")
def fuzz_client() -> Iterator[TestClient]:
    """One in-process client for every example (hypothesis re-runs the test body)."""
    with TestClient(create_app(FakeRouter()), raise_server_exceptions=False) as client:
        yield client


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body["error"], str) and isinstance(body["message"], str)
    else:
        results = body.get("results", [body])
        assert all(r["intent"] in LABELS for r in results)


def _pin(test):  # type: ignore[no-untyped-def]
    for body in _PINNED:
        test = example(body=body)(test)
    return test


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=route_bodies)
@_pin
def test_route_never_5xx(fuzz_client: TestClient, body: bytes) -> None:
    """Any body sent to POST /route gets a 200 or a JSON 4xx, never a 5xx."""
    _check(fuzz_client.post("/route", content=body))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=batch_bodies)
@_pin
def test_batch_never_5xx(fuzz_client: TestClient, body: bytes) -> None:
    """Any body sent to POST /route/batch gets a 200 or a JSON 4xx, never a 5xx."""
    _check(fuzz_client.post("/route/batch", content=body))


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=MAX_TEXT_CHARS).filter(str.strip))
@example(text="\U0001f600" * MAX_TEXT_CHARS)
@example(text="\x00")
def test_any_nonblank_text_is_routed(fuzz_client: TestClient, text: str) -> None:
    """Every string of 1 to 500 characters that is not all whitespace is routed (200)."""
    assert fuzz_client.post("/route", json={"text": text}).status_code == 200


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=route_bodies)
@_pin
def test_live_server_never_5xx(live_url: str, body: bytes) -> None:
    """Over a real socket too, any body gets a 200 or a JSON 4xx."""
    _check(httpx.post(f"{live_url}/route", content=body))
