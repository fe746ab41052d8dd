"""Tests of routelet.calibrate: softmax, temperature fitting, ECE."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from routelet.calibrate import expected_calibration_error, fit_temperature, nll, softmax


def test_softmax_rows_sum_to_one_and_are_stable() -> None:
    """Rows sum to 1 even for huge logits (no overflow)."""
    probs = softmax(np.array([[1000.0, 0.0, -1000.0], [1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.isfinite(probs).all()


@given(
    arrays(np.float64, (3, 6), elements=st.floats(-50, 50)),
    st.floats(0.05, 20),
)
def test_softmax_of_one_row_equals_that_row_of_a_batch(logits, temperature: float) -> None:  # type: ignore[no-untyped-def]
    """The 1-D path (the runtime's one text) gives bit-identical numbers to the 2-D path."""
    batch = softmax(logits, temperature)
    for row, expected in zip(logits, batch, strict=True):
        assert softmax(row, temperature).tobytes() == expected.tobytes()


def test_temperature_flattens() -> None:
    """A higher temperature lowers the top probability."""
    logits = np.array([3.0, 1.0, 0.0])
    assert softmax(logits, 2.0).max() < softmax(logits, 1.0).max()


def test_rejects_non_positive_temperature() -> None:
    """Temperature must be positive."""
    with pytest.raises(ValueError):
        softmax(np.zeros(3), 0.0)


def test_fit_recovers_known_temperature() -> None:
    """Labels sampled from softmax(logits / 2.5) give a fitted temperature near 2.5."""
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=4.0, size=(4000, 6))
    probs = softmax(logits, 2.5)
    targets = np.array([rng.choice(6, p=p) for p in probs])
    fitted = fit_temperature(logits, targets)
    assert fitted == pytest.approx(2.5, rel=0.1)
    assert nll(logits, targets, fitted) <= nll(logits, targets, 1.0)


def test_ece_zero_when_confidence_matches_accuracy() -> None:
    """Confidence 1.0 on always-correct rows gives ECE 0."""
    probs = np.eye(6)[[0, 1, 2, 3]]
    assert expected_calibration_error(probs, np.array([0, 1, 2, 3])) == 0.0
