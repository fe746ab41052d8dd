"""Routing time does not grow with the input: 1,000,000 characters route in well under a second.

Wall-clock, but not a latency budget: preprocessing reads a bounded prefix (see
``test_properties.test_reads_a_bounded_prefix``), so each case below takes milliseconds;
before that bound a quadratic pattern took about 35 s for 100,000 characters. The one
second allows for a loaded machine and still fails any super-linear step.
"""

from __future__ import annotations

import time

import pytest

from routelet.preprocess import preprocess

pytestmark = pytest.mark.shipped

MILLION = 1_000_000
LIMIT_S = 1.0

HUGE_INPUTS = [
    pytest.param("a" * MILLION, id="one-long-word"),
    pytest.param("a@" * (MILLION // 2), id="at-signs"),
    pytest.param("a@b" + "." * (MILLION - 3), id="endless-domain"),
    pytest.param("1" * MILLION, id="one-digit-run"),
    pytest.param("1 " * (MILLION // 2), id="spaced-digits"),
    pytest.param("pin" + " " * (MILLION - 3), id="keyword-then-spaces"),
    pytest.param("my password is " * (MILLION // 15), id="repeated-keywords"),
    pytest.param("\ufdfa" * MILLION, id="nfkc-expanding"),
    pytest.param("play some jazz " * (MILLION // 15), id="a-command-repeated"),
]


@pytest.mark.parametrize("text", HUGE_INPUTS)
def test_preprocess_million_chars_fast(text: str) -> None:
    """preprocess of a 1,000,000-character text takes under a second."""
    start = time.perf_counter()
    preprocess(text)
    assert time.perf_counter() - start < LIMIT_S


@pytest.mark.parametrize("text", HUGE_INPUTS)
def test_classify_million_chars_fast(shipped_router, text: str) -> None:  # type: ignore[no-untyped-def]
    """Router.classify of a 1,000,000-character text, end to end, takes under a second."""
    start = time.perf_counter()
    shipped_router.classify(text)
    assert time.perf_counter() - start < LIMIT_S
