"""Tests of routelet.baseline: the TF-IDF floor follows the estimator contract."""

import numpy as np
import pytest

from routelet.baseline import TfidfRouter
from routelet.data import load_jsonl
from routelet.intents import LABELS


@pytest.fixture(scope="module")
def fitted(paths) -> TfidfRouter:  # type: ignore[no-untyped-def]
    rows = load_jsonl(paths.root / "fixtures" / "tiny_train.jsonl")
    return TfidfRouter().fit([r.text for r in rows], [r.intent.value for r in rows])


def test_fit_returns_self_and_sets_classes(paths) -> None:  # type: ignore[no-untyped-def]
    """fit returns the estimator; classes_ follow Intent order."""
    rows = load_jsonl(paths.root / "fixtures" / "tiny_train.jsonl")
    router = TfidfRouter()
    assert router.fit([r.text for r in rows], [r.intent.value for r in rows]) is router
    assert list(router.classes_) == list(LABELS)


def test_predict_proba_shape(fitted: TfidfRouter) -> None:
    """predict_proba returns (n, 6) rows summing to 1; empty input gives (0, 6)."""
    probs = fitted.predict_proba(["play jazz", "hello"])
    assert probs.shape == (2, 6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert fitted.predict_proba([]).shape == (0, 6)


def test_missing_label_is_an_error() -> None:
    """Training without every label is refused."""
    with pytest.raises(ValueError):
        TfidfRouter().fit(["play jazz", "hello"], ["integration", "chat"])
