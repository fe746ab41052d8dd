"""The confidence cascade: which tier answers a text, and how its threshold ``tau`` is chosen.

``answer`` is the one routing rule, used by ``Router`` on every path: in ``cascade`` mode
the static tier answers when its calibrated top probability is at least ``tau``, else the
encoder answers; ``static`` and ``encoder`` mode always use that one tier.
``choose_tau`` picks ``tau`` at distillation time from the calibration split of the
*training* data (never from evaluation files): the smallest tau from which on the
cascade's accuracy stays within ``tolerance`` of the encoder's alone, with one-sided 95 %
confidence over the split's rows (not just on average: a tau whose loss sits exactly at
the tolerance on one sample exceeds it on about half of all others).

numpy only. It neither loads nor trains a tier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.config import TIERS
from routelet.data import is_blank
from routelet.errors import ConfigError, DataError

#: Largest accuracy loss (absolute, on the calibration split) the cascade may cost.
TAU_TOLERANCE = 0.005
#: One-sided normal quantile of the confidence bound on that loss (95 %); 0 compares the
#: point estimate alone, as routelet-v2 to routelet-v5's static tiers were chosen.
TAU_CONFIDENCE_Z = 1.645


def resolve_tier(tier: str | None, static: Any) -> str:
    """The tier mode to run: ``tier``, or by default the cascade when the model has a
    static tier and the encoder when it has none.

    The cascade became the default once ``choose_tau`` held its loss within 0.5 points
    with 95 % confidence: chosen on the point estimate alone, routelet-v5's tau answered
    ~50 % of commands statically but cost 1.0-1.4 points on boundary and external
    (docs/cascade.md). Real-world accuracy comes first.
    """
    if tier is None:
        return "encoder" if static is None else "cascade"
    if tier not in TIERS:
        raise ConfigError(f"tier must be one of {', '.join(TIERS)}, got {tier!r}")
    if tier != "encoder" and static is None:
        raise ConfigError(
            f"tier {tier!r} needs a static tier, and this model has none "
            "(add one with `routelet distill`)"
        )
    return tier


def answer(
    text: str,
    tier: str,
    static: Any,
    encoder_proba: Callable[[str], NDArray[np.float64]],
) -> tuple[NDArray[np.float64], str]:
    """``(probabilities (6,), answering tier)`` of one raw text under ``tier`` mode."""
    if is_blank(text):
        raise DataError("empty text: nothing to route (empty or whitespace only)")
    if tier != "encoder":
        probs: NDArray[np.float64] = static.proba_one(text)
        if tier == "static" or probs.max() >= static.tau:
            return probs, "static"
    return encoder_proba(text), "encoder"


def answered_statically(static_probs: NDArray[np.float64], tau: float) -> NDArray[np.bool_]:
    """Per row (n,): does the static tier answer at ``tau``? (the rule of ``answer``)"""
    return np.asarray(static_probs.max(axis=1) >= tau)


def cascade_correct(
    static_probs: NDArray[np.float64],
    encoder_probs: NDArray[np.float64],
    targets: NDArray[np.integer],
    tau: float,
) -> NDArray[np.bool_]:
    """Per row (n,): is the cascade's label right at ``tau``? (the rule of ``answer``)."""
    use_static = answered_statically(static_probs, tau)
    labels = np.where(use_static, static_probs.argmax(axis=1), encoder_probs.argmax(axis=1))
    return np.asarray(labels == targets)


def choose_tau(
    static_probs: NDArray[np.float64],
    encoder_probs: NDArray[np.float64],
    targets: NDArray[np.integer],
    tolerance: float = TAU_TOLERANCE,
    confidence_z: float = TAU_CONFIDENCE_Z,
) -> float:
    """The smallest tau such that at tau and at every larger candidate the cascade's
    accuracy is at least the encoder's minus ``tolerance``, with confidence.

    Per row, the cascade's correctness minus the encoder's is -1, 0 or +1; a candidate
    passes when the mean of those differences, less ``confidence_z`` standard errors, is at
    least ``-tolerance``. ``confidence_z`` 0 compares the mean alone. Candidates are the
    static tier's top probabilities on these rows (and 1.0, where the static tier answers
    only rows it is certain of). Requiring every larger candidate to pass too keeps a lucky
    dip of the accuracy curve from setting tau. Rows: (n, 6), (n,).
    """
    if len(targets) == 0:
        raise ValueError("cannot choose tau on zero rows")
    if confidence_z < 0:
        raise ValueError(f"confidence_z must be >= 0, got {confidence_z}")
    encoder_right = (encoder_probs.argmax(axis=1) == targets).astype(np.float64)  # (n,)
    candidates = np.unique(np.append(static_probs.max(axis=1), 1.0))[::-1]  # descending
    tau = 1.0
    for candidate in candidates:
        change = cascade_correct(static_probs, encoder_probs, targets, candidate) - encoder_right
        spread = float(change.std(ddof=1)) if len(change) > 1 else 0.0
        bound = float(change.mean()) - confidence_z * spread / np.sqrt(len(change))
        if bound < -tolerance - 1e-12:
            break
        tau = float(candidate)
    return tau
