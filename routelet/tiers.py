"""The report's view of the cascade: accuracy, share and latency of each tier.

``measure_tiers(model_dir, eval_files)`` scores a model that has a static tier three ways
on every eval file (static tier alone, encoder alone, the cascade) with the share of
cascade answers each tier gave, and times one call per text, 1 thread, for each tier
mode, splitting the cascade's calls by the tier that answered. ``render_tiers`` turns
that into the report's markdown section.

It measures and formats; it sets no budget and chooses no tau (``routelet.distill``
does, on training data). Timing uses the shared ``routelet.timing`` helpers.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from routelet.config import TIERS
from routelet.data import load_jsonl
from routelet.intents import LABELS
from routelet.runtime import Router
from routelet.timing import percentiles, time_calls


def _timed_per_text(router: Router, texts: list[str], rounds: int) -> tuple[Any, list[str]]:
    """Milliseconds of ``rounds`` classify calls cycling through ``texts`` (rounds,), and
    the tier that answered each call."""
    cycle = itertools.cycle(texts)
    answered: list[str] = []

    def call(_: None) -> None:
        answered.append(router.classify(next(cycle)).tier)

    samples = time_calls(call, None, rounds, warmup=20)
    return samples, answered[20:]


def measure_tiers(
    model_dir: Path,
    eval_files: list[Path],
    timing_texts: list[str] | None = None,
    rounds: int = 2000,
) -> dict[str, Any]:
    """Per eval file: accuracy of each tier mode and the cascade's share answered by the
    static tier; per tier mode: p50/p99 of one call (1 thread) on ``timing_texts``."""
    routers = {tier: Router.load(model_dir, threads=1, tier=tier) for tier in TIERS}
    tau = routers["cascade"].static.tau  # type: ignore[union-attr]
    files: dict[str, Any] = {}
    for path in eval_files:
        rows = load_jsonl(path)
        if not rows:
            continue
        texts = [r.text for r in rows]
        gold = np.array([LABELS.index(r.intent.value) for r in rows])  # (n,)
        entry: dict[str, Any] = {"n": len(rows)}
        for tier, router in routers.items():
            predictions = router.classify_batch(texts)
            predicted = np.array([LABELS.index(p.intent.value) for p in predictions])
            entry[tier] = round(float((predicted == gold).mean()), 4)
            if tier == "cascade":
                entry["static_share"] = round(
                    float(np.mean([p.tier == "static" for p in predictions])), 4
                )
        files[path.stem] = entry
    result: dict[str, Any] = {"tau": tau, "files": files}
    if timing_texts:
        latency: dict[str, Any] = {}
        for tier, router in routers.items():
            samples, answered = _timed_per_text(router, timing_texts, rounds)
            latency[tier] = percentiles(samples)
            if tier == "cascade":
                by = np.array(answered)
                for answered_by in ("static", "encoder"):
                    part = samples[by == answered_by]
                    if len(part):
                        latency[f"cascade, answered by {answered_by}"] = {
                            **percentiles(part),
                            "share": round(len(part) / len(samples), 4),
                        }
        result["latency"] = latency
    return result


def render_tiers(tiers: dict[str, Any]) -> list[str]:
    """The report's markdown lines for ``measure_tiers``'s result."""
    table = [
        [
            stem,
            e["n"],
            e["static"],
            e["encoder"],
            e["cascade"],
            round(e["cascade"] - e["encoder"], 4),
            e["static_share"],
        ]
        for stem, e in tiers["files"].items()
    ]
    out = [
        "",
        "## Tiers: static, encoder and the cascade",
        "",
        f"The cascade answers from the static tier when its confidence is at least "
        f"tau = {tiers['tau']:.4f} (chosen on the training calibration split), else from "
        "the encoder. Accuracy per eval file:",
        "",
        tabulate(
            table,
            headers=[
                "eval file",
                "n",
                "static",
                "encoder",
                "cascade",
                "cascade - encoder",
                "static share",
            ],
            tablefmt="github",
        ),
    ]
    if "latency" in tiers:
        rows = [
            [name, v["p50_ms"], v["p99_ms"], v.get("share", "")]
            for name, v in tiers["latency"].items()
        ]
        out += [
            "",
            "One call per text, cycling through the timing texts, 1 thread:",
            "",
            tabulate(rows, headers=["tier", "p50 ms", "p99 ms", "share"], tablefmt="github"),
        ]
    return out
