"""Scoring a router on a labelled file: the metrics every suite and the report share.

``compute_metrics`` turns gold labels and predicted distributions into accuracy,
macro-F1, per-intent precision/recall/F1/support, ``none`` recall, deferral rate,
accuracy on the rows kept after deferral, ECE, the confusion matrix and the wrong rows.
``load_router`` builds any router kind behind the same ``predict_proba`` interface.
numpy only; a router kind that needs torch or scikit-learn imports it when asked for.
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
from routelet.config import Paths, TrainConfig
from routelet.data import load_jsonl
from routelet.errors import ModelError, RouteletError
from routelet.intents import LABELS, Intent

ROUTER_KINDS = ("onnx", "setfit", "tfidf", "claude")


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


def deferred_mask(probs: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]:
    """Rows the router hands to the fallback: predicted ``none`` or top probability < threshold."""
    none_col = LABELS.index(Intent.NONE.value)
    return (probs.argmax(axis=1) == none_col) | (probs.max(axis=1) < threshold)


def compute_metrics(
    texts: list[str], gold: list[str], probs: NDArray[np.float64], threshold: float = 0.5
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


def load_router(kind: str, model: str | None = None, paths: Paths | None = None) -> ProbaRouter:
    """Build a router of ``kind`` (onnx, setfit, tfidf, claude) behind ``predict_proba``."""
    paths = paths or Paths.discover()
    if kind == "onnx":
        from routelet.runtime import Router

        return Router.load(model)
    if kind == "setfit":
        try:
            from routelet.train import SetFitRouter
        except ImportError as exc:
            raise ModelError(
                f"the setfit router needs the train extra ({exc.name} missing)"
            ) from None
        return SetFitRouter.load(Path(model) if model else paths.root / "runs" / "routelet-v1")
    if kind == "tfidf":
        from routelet.baseline import fit_floor

        return fit_floor(paths, TrainConfig.from_toml(paths.configs / "default.toml"))
    if kind == "claude":
        from routelet.teacher import ClaudeRouter

        return ClaudeRouter.from_env(model=model)
    raise RouteletError(f"unknown router {kind!r}; expected one of {', '.join(ROUTER_KINDS)}")


def evaluate_file(router: ProbaRouter, path: Path, threshold: float = 0.5) -> Metrics:
    rows = load_jsonl(path)
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
    router = load_router(args.router, args.model)
    threshold = args.threshold if args.threshold is not None else getattr(router, "threshold", 0.5)
    metrics = evaluate_file(router, Path(args.data), threshold)
    extra: dict[str, Any] = {}
    if hasattr(router, "latency_summary"):  # the LLM baseline times each call
        extra["latency"] = router.latency_summary()
    if hasattr(router, "record_run"):
        extra["recorded_in"] = str(router.record_run(metrics.to_json(), str(args.data)))
    if args.json:
        json.dump({**metrics.to_json(), **extra}, sys.stdout, indent=2)
        print()
    else:
        print(format_metrics(metrics, f"{args.router} router on {args.data}"))
        for key, value in extra.items():
            print(f"{key}: {value}")
    return 0
