"""Softmax with temperature, and fitting that temperature: the one place this maths lives.

Calibration, the runtime, the server and the suites all call ``softmax``. The
temperature is fitted on a calibration split of the *training* data by minimising
negative log-likelihood; it is never fitted on evaluation files. numpy only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating]


def softmax(logits: FloatArray, temperature: float = 1.0) -> NDArray[np.float64]:
    """Row-wise softmax of ``logits / temperature``; ``logits`` is (n, k) or (k,)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    if z.ndim == 1:  # one text (the runtime's path): plain reductions, the same numbers, cheaper
        e = np.exp(z - z.max())
        return e / e.sum()
    z = z - z.max(axis=-1, keepdims=True)  # stable: largest exponent is 0
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: FloatArray, targets: NDArray[np.integer], temperature: float) -> float:
    """Mean negative log-likelihood of integer ``targets`` (n,) under tempered softmax."""
    probs = softmax(logits, temperature)  # (n, k)
    picked = probs[np.arange(len(targets)), targets]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, None))))


def fit_temperature(
    logits: FloatArray, targets: NDArray[np.integer], low: float = 0.05, high: float = 20.0
) -> float:
    """Temperature in ``[low, high]`` minimising NLL: log-spaced grid, then golden-section."""
    if len(targets) == 0:
        raise ValueError("cannot fit a temperature on zero rows")
    grid = np.geomspace(low, high, 60)
    losses = [nll(logits, targets, t) for t in grid]
    i = int(np.argmin(losses))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if nll(logits, targets, c) < nll(logits, targets, d):
            b = d
        else:
            a = c
    return float((a + b) / 2)


def expected_calibration_error(
    probs: FloatArray, targets: NDArray[np.integer], n_bins: int = 10
) -> float:
    """ECE: bin rows by top probability; weighted mean |accuracy - confidence| over bins."""
    probs = np.asarray(probs)
    if len(targets) == 0:
        return 0.0
    conf = probs.max(axis=1)  # (n,)
    correct = (probs.argmax(axis=1) == targets).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)
