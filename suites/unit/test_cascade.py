"""Tests of routelet.cascade: the tier rule, the tier option and the choice of tau."""

from __future__ import annotations

import numpy as np
import pytest

from routelet.cascade import answer, cascade_correct, choose_tau, resolve_tier
from routelet.errors import ConfigError, DataError

STATIC_P = np.array([0.1, 0.7, 0.05, 0.05, 0.05, 0.05])  # confidence 0.7
ENCODER_P = np.array([0.9, 0.02, 0.02, 0.02, 0.02, 0.02])


class FakeStatic:
    """A static tier that answers STATIC_P for every text and records its calls."""

    def __init__(self, tau: float) -> None:
        self.tau = tau
        self.calls: list[str] = []

    def proba_one(self, text: str) -> np.ndarray:
        self.calls.append(text)
        return STATIC_P


class FakeEncoder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str) -> np.ndarray:
        self.calls.append(text)
        return ENCODER_P


@pytest.mark.parametrize(
    ("tau", "tier"),
    [
        pytest.param(0.7, "static", id="confidence-equals-tau"),
        pytest.param(0.5, "static", id="confidence-above-tau"),
        pytest.param(0.71, "encoder", id="confidence-below-tau"),
    ],
)
def test_cascade_answers_from_static_at_or_above_tau(tau: float, tier: str) -> None:
    """The cascade keeps the static answer when its confidence >= tau, else asks the encoder."""
    encoder = FakeEncoder()
    probs, answered_by = answer("play jazz", "cascade", FakeStatic(tau), encoder)
    assert answered_by == tier
    assert np.array_equal(probs, STATIC_P if tier == "static" else ENCODER_P)
    assert encoder.calls == ([] if tier == "static" else ["play jazz"])


def test_static_mode_never_runs_the_encoder() -> None:
    """Tier static answers from the static tier even below tau, without the encoder."""
    encoder = FakeEncoder()
    probs, tier = answer("play jazz", "static", FakeStatic(tau=0.99), encoder)
    assert tier == "static" and np.array_equal(probs, STATIC_P) and encoder.calls == []


def test_encoder_mode_never_runs_the_static_tier() -> None:
    """Tier encoder answers from the encoder without computing the static answer."""
    static = FakeStatic(tau=0.0)
    probs, tier = answer("play jazz", "encoder", static, FakeEncoder())
    assert tier == "encoder" and np.array_equal(probs, ENCODER_P) and static.calls == []


@pytest.mark.parametrize("mode", ["static", "encoder", "cascade"])
def test_blank_text_is_refused_in_every_mode(mode: str) -> None:
    """An empty text is a DataError whatever the tier mode."""
    with pytest.raises(DataError, match="empty"):
        answer("  ", mode, FakeStatic(0.5), FakeEncoder())


@pytest.mark.parametrize(
    ("has_static", "expected"),
    [pytest.param(True, "cascade", id="with-static"), pytest.param(False, "encoder", id="none")],
)
def test_default_tier(has_static: bool, expected: str) -> None:
    """Without a tier option the cascade answers when there is a static tier, else the encoder."""
    assert resolve_tier(None, FakeStatic(0.5) if has_static else None) == expected


@pytest.mark.parametrize(
    ("tier", "message"),
    [
        pytest.param("fast", "must be one of", id="unknown"),
        pytest.param("static", "has none", id="static-without-static-tier"),
        pytest.param("cascade", "has none", id="cascade-without-static-tier"),
    ],
)
def test_bad_tier_is_a_config_error(tier: str, message: str) -> None:
    """An unknown tier, or a static/cascade tier on a model without one, is a ConfigError."""
    with pytest.raises(ConfigError, match=message):
        resolve_tier(tier, None)


def _probs(labels: list[int], confidence: list[float]) -> np.ndarray:
    """(n, 6) distributions with ``confidence`` on ``labels``, the rest spread evenly."""
    rows = np.tile((1 - np.array(confidence))[:, None] / 5, (1, 6))
    rows[np.arange(len(labels)), labels] = confidence
    return rows


def test_choose_tau_is_the_smallest_tau_within_tolerance() -> None:
    """Tau is the lowest static confidence at which the cascade still matches the encoder."""
    targets = np.array([0, 0, 0, 0])
    encoder = _probs([0, 0, 0, 0], [0.9] * 4)  # always right
    # Static is right at 0.95 and 0.8, wrong at 0.7 and 0.6: tau must exclude the wrong ones.
    static = _probs([0, 0, 1, 1], [0.95, 0.8, 0.7, 0.6])
    tau = choose_tau(static, encoder, targets, tolerance=0.0, confidence_z=0.0)
    assert tau == pytest.approx(0.8)
    assert cascade_correct(static, encoder, targets, tau).all()


def test_choose_tau_ignores_a_lucky_dip() -> None:
    """A low tau that passes only because a wrong row above it is offset is not chosen."""
    targets = np.array([0, 0, 0, 0, 0])
    encoder = _probs([0, 0, 0, 0, 1], [0.9] * 5)  # 4 of 5 right
    # At tau 0.7 the static tier is wrong once (row 1): below the encoder; at 0.5 it also
    # fixes the encoder's mistake (row 4) and ties it. Tau must stay above 0.7.
    static = _probs([0, 1, 0, 0, 0], [0.95, 0.7, 0.6, 0.55, 0.5])
    tau = choose_tau(static, encoder, targets, tolerance=0.0, confidence_z=0.0)
    assert tau == pytest.approx(0.95)


def test_choose_tau_allows_the_tolerance() -> None:
    """With a tolerance of one row in four, one static mistake is accepted."""
    targets = np.array([0, 0, 0, 0])
    encoder = _probs([0, 0, 0, 0], [0.9] * 4)
    static = _probs([0, 0, 1, 1], [0.95, 0.8, 0.7, 0.6])
    assert choose_tau(static, encoder, targets, 0.25, confidence_z=0.0) == pytest.approx(0.7)


def _one_wrong_in(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` rows the encoder gets right; the static tier is right at 0.95 on all but one,
    wrong at 0.7 on that one (a 1/n loss once tau reaches 0.7)."""
    targets = np.zeros(n, dtype=int)
    encoder = _probs([0] * n, [0.9] * n)
    static = _probs([0] * (n - 1) + [1], [0.95] * (n - 1) + [0.7])
    return static, encoder, targets


def test_choose_tau_bound_refuses_a_loss_within_tolerance_only_on_average() -> None:
    """One mistake in 100 rows is within a 2-point tolerance on average, but not with 95 %
    confidence: the bound keeps tau above the mistake, the point estimate does not."""
    static, encoder, targets = _one_wrong_in(100)
    assert choose_tau(static, encoder, targets, 0.02, confidence_z=0.0) == pytest.approx(0.7)
    assert choose_tau(static, encoder, targets, 0.02) == pytest.approx(0.95)


def test_choose_tau_bound_tightens_with_more_rows() -> None:
    """The same 1 % loss over 1,000 rows is within the tolerance with confidence."""
    static, encoder, targets = _one_wrong_in(100)
    many = (np.tile(static, (10, 1)), np.tile(encoder, (10, 1)), np.tile(targets, 10))
    assert choose_tau(*many, 0.02) == pytest.approx(0.7)


def test_choose_tau_refuses_a_negative_z() -> None:
    static, encoder, targets = _one_wrong_in(10)
    with pytest.raises(ValueError, match="confidence_z"):
        choose_tau(static, encoder, targets, confidence_z=-1.0)
