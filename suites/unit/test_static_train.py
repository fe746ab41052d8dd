"""Tests of routelet.static_train: fine-tuning the static tier's token rows (torch)."""

import numpy as np
import pytest

from routelet.static_train import RowTraining, finetune_rows

pytestmark = pytest.mark.train


def _problem() -> tuple[np.ndarray, list[list[int]], np.ndarray, np.ndarray]:
    """Six tokens in 4 dims; texts of tokens 0-1 are class 0, of tokens 2-3 class 1.
    The starting rows point every token the same way, so the head cannot tell them apart;
    tokens 4 and 5 occur in no text."""
    rng = np.random.default_rng(0)
    rows = np.tile(np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32), (6, 1))  # (6, 4)
    rows += rng.normal(scale=0.01, size=rows.shape).astype(np.float32)
    texts = [[0, 1], [1, 0, 0], [0], [1], [2, 3], [3, 2, 2], [2], [3]] * 8
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1] * 8)
    return rows, texts, np.eye(2)[labels], labels


def _start(
    rows: np.ndarray, texts: list[list[int]], targets: np.ndarray
) -> tuple[np.ndarray, list[list[int]], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``finetune_rows``' arguments before ``training``: equal weights and a zero head."""
    return rows, texts, targets, np.ones(len(texts)), np.zeros((2, 4)), np.zeros(2)


def _class_cosine(rows: np.ndarray, texts: list[list[int]], labels: np.ndarray) -> float:
    """Cosine between the two classes' mean normalised text embeddings (1: inseparable)."""
    pooled = np.stack([rows[ids].sum(axis=0) for ids in texts])
    unit = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    a, b = (unit[labels == c].mean(axis=0) for c in (0, 1))
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_training_separates_the_classes() -> None:
    """Rows that start indistinguishable end up separating the two classes."""
    rows, texts, targets, labels = _problem()
    trained = finetune_rows(
        *_start(rows, texts, targets),
        RowTraining(epochs=20, rows_learning_rate=0.05, batch_size=8),
    )
    assert _class_cosine(rows, texts, labels) > 0.99
    assert _class_cosine(trained, texts, labels) < 0.5


def test_rows_of_unseen_tokens_do_not_move() -> None:
    """A token in no training text keeps its row exactly; seen ones change."""
    rows, texts, targets, _ = _problem()
    trained = finetune_rows(
        *_start(rows, texts, targets),
        RowTraining(batch_size=8),  # several steps: the first one only moves the zero head
    )
    np.testing.assert_array_equal(trained[4:], rows[4:])
    assert not np.allclose(trained[:4], rows[:4])


def test_same_seed_same_rows() -> None:
    """Training is deterministic for a seed (a distilled tier can be rebuilt bit for bit)."""
    rows, texts, targets, _ = _problem()
    args = _start(rows, texts, targets)
    np.testing.assert_array_equal(
        finetune_rows(*args, RowTraining(epochs=2, batch_size=8)),
        finetune_rows(*args, RowTraining(epochs=2, batch_size=8)),
    )


def test_mismatched_lengths_are_refused() -> None:
    """Texts, targets and weights of different lengths are a ValueError, not a silent cut."""
    rows, texts, targets, _ = _problem()
    with pytest.raises(ValueError, match="texts"):
        rows, _, targets, weights, coef, intercept = _start(rows, texts, targets)
        finetune_rows(rows, texts[:-1], targets, weights, coef, intercept, RowTraining())
