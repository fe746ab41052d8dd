"""Tests of routelet.export that need no model: the probability cache export shares
between its parity check and its metrics."""

from __future__ import annotations

import numpy as np

from routelet.export import _ProbabilityCache
from routelet.intents import LABELS


class _CountingRouter:
    """predict_proba of a fixed distribution per text; records every text it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.asked += texts
        rows = [np.roll(np.eye(len(LABELS))[0], len(t) % len(LABELS)) for t in texts]
        return np.array(rows).reshape(len(texts), len(LABELS))


def test_cache_answers_like_the_router_and_asks_each_text_once() -> None:
    """Repeated and reordered texts get the router's own rows; each distinct text is
    computed once across calls."""
    router = _CountingRouter()
    cache = _ProbabilityCache(router)
    first = ["pause", "play jazz", "pause", "hi"]
    second = ["hi", "tell me a joke", "pause"]
    assert np.array_equal(cache(first), _CountingRouter().predict_proba(first))
    assert np.array_equal(cache(second), _CountingRouter().predict_proba(second))
    assert sorted(router.asked) == sorted({*first, *second})
    assert cache([]).shape == (0, len(LABELS))
