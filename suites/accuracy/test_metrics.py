"""The metric code itself: known inputs give known numbers (so the accuracy suite can fail)."""

import numpy as np
import pytest

from routelet.evaluate import compute_metrics
from routelet.intents import LABELS


def _onehot(labels: list[str], confidence: float = 0.9) -> np.ndarray:
    probs = np.full((len(labels), len(LABELS)), (1 - confidence) / (len(LABELS) - 1))
    for i, label in enumerate(labels):
        probs[i, LABELS.index(label)] = confidence
    return probs


def test_perfect_predictions() -> None:
    """Predicting the gold labels gives accuracy 1 and recall 1 for present intents."""
    gold = ["chat", "memory", "none", "agent"]
    m = compute_metrics(gold, gold, _onehot(gold))
    assert m.accuracy == 1.0 and m.per_intent["memory"]["recall"] == 1.0 and m.wrong == []


def test_wrong_rows_and_confusion() -> None:
    """A wrong row is counted in the confusion matrix and listed with its text."""
    gold = ["chat", "memory"]
    m = compute_metrics(["a", "b"], gold, _onehot(["chat", "chat"]))
    assert m.accuracy == 0.5
    assert m.confusion[LABELS.index("memory")][LABELS.index("chat")] == 1
    assert m.wrong == [{"text": "b", "gold": "memory", "predicted": "chat", "confidence": 0.9}]


def test_deferral_counts_low_confidence_routable_rows() -> None:
    """Routable rows under the threshold count as deferred; `none` rows do not."""
    gold = ["chat", "chat", "none"]
    probs = np.vstack([_onehot(["chat"], 0.9), _onehot(["chat"], 0.3), _onehot(["none"], 0.9)])
    m = compute_metrics(gold, gold, probs, threshold=0.5)
    assert m.deferral_rate == pytest.approx(0.5)


def test_ece_of_overconfident_model() -> None:
    """Always 90 % confident but right half the time gives ECE 0.4."""
    gold = ["chat", "memory"] * 5
    m = compute_metrics(gold, gold, _onehot(["chat"] * 10, 0.9))
    assert m.ece == pytest.approx(0.4, abs=1e-6)
