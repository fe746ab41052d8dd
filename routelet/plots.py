"""PNG figures for the report: confusion matrix, latency histogram, reliability, coverage.

matplotlib (the ``report`` extra) with the non-interactive Agg backend; each function
writes one file and returns its path. No numbers are computed here beyond binning.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.intents import LABELS


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix(matrix: list[list[int]], title: str, path: Path) -> Path:
    plt = _pyplot()
    data = np.asarray(matrix)  # (6, 6), rows gold, columns predicted
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.imshow(data, cmap="Blues")
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=45, ha="right")
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            color = "white" if data[i, j] > data.max() / 2 else "black"
            ax.text(j, i, str(data[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_histogram(samples_ms: dict[str, NDArray[np.float64]], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, samples in samples_ms.items():
        hi = np.percentile(samples, 99.5)
        ax.hist(samples[samples <= hi], bins=60, alpha=0.6, label=name)
    ax.set_xlabel("milliseconds per call (1 thread)")
    ax.set_ylabel("calls")
    ax.legend()
    ax.set_title("Router.classify latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def reliability_diagram(probs: NDArray[np.float64], targets: NDArray[np.int64], path: Path) -> Path:
    plt = _pyplot()
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    edges = np.linspace(0, 1, 11)
    centers, accs, counts = [], [], []
    for lo, hi in itertools.pairwise(edges):
        mask = (conf >= lo) & ((conf < hi) | (hi == 1.0))
        if mask.any():
            centers.append(conf[mask].mean())
            accs.append(correct[mask].mean())
            counts.append(int(mask.sum()))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.plot(centers, accs, "o-", label="shipped model")
    for x, y, n in zip(centers, accs, counts, strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability (holdout)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def coverage_curve(probs: NDArray[np.float64], targets: NDArray[np.int64], path: Path) -> Path:
    """Accuracy of the rows kept vs share kept, as the confidence threshold rises."""
    plt = _pyplot()
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == targets
    thresholds = np.linspace(0.0, 0.99, 100)
    coverage = [(conf >= t).mean() for t in thresholds]
    accuracy = [correct[conf >= t].mean() if (conf >= t).any() else np.nan for t in thresholds]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(coverage, accuracy)
    ax.set_xlabel("coverage (share of rows kept)")
    ax.set_ylabel("accuracy on kept rows")
    ax.set_title("Coverage vs accuracy (holdout)")
    ax.invert_xaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
