"""Scoring a router on a labelled file: the metrics every suite and the report share.

``compute_metrics`` turns gold labels and predicted distributions into accuracy,
macro-F1, per-intent precision/recall/F1/support, ``none`` recall, deferral rate
(by the runtime's one deferral rule), accuracy on the rows kept after deferral, ECE,
the confusion matrix and the wrong rows; ``Metrics.summary`` is the one short form
that the report, snapshots and recorded runs share. ``load_router`` builds any router
kind behind the same ``predict_proba`` interface; a kind that needs an optional extra
is refused with one line when it is missing (``ROUTER_EXTRAS``).

numpy only. It refuses what would give meaningless numbers: a file without rows, a
threshold outside [0, 1].
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from tabulate import tabulate

from routelet.calibrate import expected_calibration_error
from routelet.cascade import answered_statically
from routelet.config import DEFAULT_THRESHOLD, Paths, TrainConfig
from routelet.data import Example, load_jsonl
from routelet.errors import DataError, RouteletError
from routelet.extras import require
from routelet.intents import LABELS
from routelet.runtime import check_threshold, deferred_mask

ROUTER_KINDS = ("onnx", "setfit", "tfidf", "claude")
#: Router kinds that need an optional extra (the others run on the base install).
ROUTER_EXTRAS = {"setfit": "train", "tfidf": "baseline", "claude": "llm"}


class ProbaRouter(Protocol):
    """Anything that maps texts to an (n, 6) probability array in ``Intent`` order."""

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]: ...


@dataclass
class Metrics:
    n: int
    accuracy: float
    macro_f1: float
    per_intent: dict[str, dict[str, float]]
    none_recall: float | None
    deferral_rate: float
    accuracy_after_deferral: float | None
    ece: float
    confusion: list[list[int]]
    wrong: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_intent": self.per_intent,
            "none_recall": self.none_recall,
            "deferral_rate": self.deferral_rate,
            "accuracy_after_deferral": self.accuracy_after_deferral,
            "ece": self.ece,
            "confusion": {"labels": list(LABELS), "matrix": self.confusion},
            "wrong": self.wrong,
        }

    def summary(self) -> dict[str, Any]:
        """The headline numbers of one file: what the report tabulates and snapshots pin."""
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "none_recall": self.none_recall,
            "deferral_rate": self.deferral_rate,
            "ece": self.ece,
            "recall": {k: v["recall"] for k, v in self.per_intent.items() if v["support"]},
        }


def accuracy_interval(accuracy: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % at ``z`` 1.96) of an accuracy measured on ``n`` rows.

    It is the sampling error of the file alone: two training runs of one config differ by
    about a point on our files as well (docs/experiments.md #11-#12), which it does not
    include. ``(0.0, 1.0)`` for ``n`` 0.
    """
    if n <= 0:
        return 0.0, 1.0
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be between 0 and 1, got {accuracy}")
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * float(np.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)))
    # The interval always holds the accuracy; min/max only undo float rounding at 0 and 1.
    return max(0.0, min(accuracy, centre - half)), min(1.0, max(accuracy, centre + half))


def compute_metrics(
    texts: list[str],
    gold: list[str],
    probs: NDArray[np.float64],
    threshold: float = DEFAULT_THRESHOLD,
) -> Metrics:
    """All metrics for one file. ``probs`` is (n, 6) in ``Intent`` order."""
    n = len(gold)
    y = np.array([LABELS.index(g) for g in gold], dtype=int)  # (n,)
    pred = probs.argmax(axis=1) if n else np.zeros(0, dtype=int)  # (n,)
    k = len(LABELS)
    confusion = np.zeros((k, k), dtype=int)  # rows: gold, columns: predicted
    for g, p in zip(y, pred, strict=True):
        confusion[g, p] += 1
    per_intent: dict[str, dict[str, float]] = {}
    f1s = []
    for i, label in enumerate(LABELS):
        tp = confusion[i, i]
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[label] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": support,
        }
        if support:
            f1s.append(f1)
    deferred = deferred_mask(probs, threshold) if n else np.zeros(0, dtype=bool)
    kept = ~deferred
    # Routable rows only: a deferred `none` row is a correct refusal, not lost coverage.
    correct = pred == y
    none_i = LABELS.index("none")
    wrong = [
        {
            "text": texts[i],
            "gold": gold[i],
            "predicted": LABELS[pred[i]],
            "confidence": round(float(probs[i].max()), 4),
        }
        for i in np.flatnonzero(~correct)
    ]
    return Metrics(
        n=n,
        accuracy=round(float(correct.mean()), 4) if n else 0.0,
        macro_f1=round(float(np.mean(f1s)), 4) if f1s else 0.0,
        per_intent=per_intent,
        none_recall=per_intent["none"]["recall"] if per_intent["none"]["support"] else None,
        deferral_rate=round(float(deferred[y != none_i].mean()), 4) if (y != none_i).any() else 0.0,
        accuracy_after_deferral=round(float(correct[kept].mean()), 4) if kept.any() else None,
        ece=round(expected_calibration_error(probs, y), 4) if n else 0.0,
        confusion=confusion.tolist(),
        wrong=wrong,
    )


def load_router(
    kind: str, model: str | None = None, paths: Paths | None = None, tier: str | None = None
) -> ProbaRouter:
    """Build a router of ``kind`` (onnx, setfit, tfidf, claude) behind ``predict_proba``;
    ``tier`` (static, encoder, cascade) applies to the onnx router only."""
    paths = paths or Paths.discover()
    if tier is not None and kind != "onnx":
        raise RouteletError(f"--tier applies to the onnx router only, not {kind}")
    if kind in ROUTER_EXTRAS:
        require(ROUTER_EXTRAS[kind], f"the {kind} router")
    if kind == "onnx":
        from routelet.runtime import Router

        return Router.load(model, tier=tier)
    if kind == "setfit":
        from routelet.train import SetFitRouter

        return SetFitRouter.load(Path(model) if model else paths.run_dir())
    if kind == "tfidf":
        from routelet.baseline import fit_floor

        return fit_floor(paths, TrainConfig.from_toml(paths.configs / "default.toml"))
    if kind == "claude":
        from routelet.teacher import ClaudeRouter

        return ClaudeRouter.from_env(model=model)
    raise RouteletError(f"unknown router {kind!r}; expected one of {', '.join(ROUTER_KINDS)}")


def load_scored_rows(path: Path) -> list[Example]:
    """The rows of a labelled file to score; a file without rows is a ``DataError``."""
    rows = load_jsonl(path)
    if not rows:
        raise DataError(f"{path}: no rows to score")
    return rows


def evaluate_file(router: ProbaRouter, path: Path, threshold: float = DEFAULT_THRESHOLD) -> Metrics:
    """Score ``router`` on a labelled file."""
    rows = load_scored_rows(path)
    texts = [r.text for r in rows]
    return compute_metrics(
        texts, [r.intent.value for r in rows], router.predict_proba(texts), threshold
    )


def format_metrics(m: Metrics, title: str) -> str:
    head = [
        ["rows", m.n],
        ["accuracy", m.accuracy],
        ["macro-F1", m.macro_f1],
        ["none recall", "-" if m.none_recall is None else m.none_recall],
        ["deferral rate (routable rows)", m.deferral_rate],
        [
            "accuracy on kept rows",
            "-" if m.accuracy_after_deferral is None else m.accuracy_after_deferral,
        ],
        ["ECE", m.ece],
    ]
    per = [
        [label, v["precision"], v["recall"], v["f1"], v["support"]]
        for label, v in m.per_intent.items()
    ]
    conf = [[LABELS[i], *row] for i, row in enumerate(m.confusion)]
    parts = [
        title,
        tabulate(head, tablefmt="github", headers=["metric", "value"]),
        "",
        tabulate(
            per, headers=["intent", "precision", "recall", "f1", "support"], tablefmt="github"
        ),
        "",
        "confusion (rows: gold, columns: predicted)",
        tabulate(conf, headers=["", *LABELS], tablefmt="github"),
    ]
    if m.wrong:
        parts += ["", f"{len(m.wrong)} wrong rows:"]
        parts += [
            f"  [{w['gold']} -> {w['predicted']} {w['confidence']:.2f}] {w['text']}"
            for w in m.wrong
        ]
    return "\n".join(parts)


def run_cli(args: argparse.Namespace) -> int:
    if args.threshold is not None:
        check_threshold(args.threshold)
    data = Path(args.data)
    rows = load_scored_rows(data)  # a missing, bad or empty file fails before a router is built
    router = load_router(args.router, args.model, tier=args.tier)
    threshold = args.threshold
    if threshold is None:
        threshold = getattr(router, "threshold", DEFAULT_THRESHOLD)
    metrics = evaluate_file(router, data, threshold)
    extra: dict[str, Any] = {}
    tier = getattr(router, "tier", None)  # the onnx router: which tier mode answered
    if tier is not None:
        extra["tier"] = tier
    static = getattr(router, "static", None)
    if tier == "cascade" and static is not None:
        static_probs = static.predict_proba([row.text for row in rows])
        extra["static_share"] = round(
            float(answered_statically(static_probs, static.tau).mean()), 4
        )
    if hasattr(router, "latency_summary"):  # the LLM baseline times each call
        extra["latency"] = router.latency_summary()
    if hasattr(router, "record_run"):
        extra["recorded_in"] = str(router.record_run(metrics.to_json(), str(args.data)))
    if args.json:
        json.dump({**metrics.to_json(), **extra}, sys.stdout, indent=2)
        print()
    else:
        title = f"{args.router} router" + (f" ({tier} tier)" if tier else "")
        print(format_metrics(metrics, f"{title} on {args.data}"))
        for key, value in extra.items():
            print(f"{key}: {value}")
    return 0
