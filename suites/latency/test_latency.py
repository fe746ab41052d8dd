"""Latency budgets, measured with pytest-benchmark one call per sample.

Runs only with ``pytest --benchmark-only`` (the default run passes ``--benchmark-skip``).
p50/p99 come from the recorded per-call samples (``benchmark.stats.stats.sorted_data``),
since pytest-benchmark reports no p99. The torch SetFit path is timed in the same run
on a model of the same architecture (the tiny fixture model: MiniLM-L6, same sequence
lengths), so the speed-up is a ratio from one run on one machine.
"""

from __future__ import annotations

import numpy as np
import pytest

from routelet.data import load_jsonl
from routelet.runtime import Router
from suites.budgets import BUDGETS

pytestmark = pytest.mark.shipped

SHORT = "hey um play some jazz on spotify"
LONG = (
    "okay so um find me a cheap hotel in lisbon for friday night near the old town, "
    "check the reviews, and if it's under a hundred and twenty euros book it and send "
    "the confirmation to my sister"
)
BUDGET = BUDGETS["latency"]
_measured: dict[str, float] = {}


def percentiles(benchmark) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(p50, p99) in milliseconds from the per-call samples."""
    samples = np.asarray(benchmark.stats.stats.sorted_data) * 1000.0
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 99))


@pytest.fixture(scope="module")
def router(paths) -> Router:  # type: ignore[no-untyped-def]
    return Router.load(paths.default_model, threads=1)


def test_single_short(benchmark, router: Router) -> None:  # type: ignore[no-untyped-def]
    """One short command end to end (preprocess, tokenise, encode, head) within p50/p99."""
    benchmark.pedantic(router.classify, args=(SHORT,), iterations=1, rounds=2000, warmup_rounds=50)
    p50, p99 = percentiles(benchmark)
    _measured["onnx_p50"] = p50
    benchmark.extra_info.update(p50_ms=p50, p99_ms=p99)
    assert p50 <= BUDGET["single_p50_ms"] and p99 <= BUDGET["single_p99_ms"], (p50, p99)


def test_single_long(benchmark, router: Router) -> None:  # type: ignore[no-untyped-def]
    """One long run-on command within its own p50/p99."""
    benchmark.pedantic(router.classify, args=(LONG,), iterations=1, rounds=500, warmup_rounds=20)
    p50, p99 = percentiles(benchmark)
    benchmark.extra_info.update(p50_ms=p50, p99_ms=p99)
    assert p50 <= BUDGET["long_p50_ms"] and p99 <= BUDGET["long_p99_ms"], (p50, p99)


def test_batch_throughput(benchmark, paths) -> None:  # type: ignore[no-untyped-def]
    """classify_batch over the holdout texts, on both cores, reaches the throughput floor."""
    router = Router.load(paths.default_model, threads=BUDGET["batch_threads"])
    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]
    benchmark.pedantic(
        router.classify_batch, args=(texts,), iterations=1, rounds=10, warmup_rounds=1
    )
    per_s = len(texts) / float(np.median(benchmark.stats.stats.sorted_data))
    benchmark.extra_info.update(texts_per_s=per_s)
    assert per_s >= BUDGET["batch_min_texts_per_s"], per_s


def test_cold_start(benchmark, paths) -> None:  # type: ignore[no-untyped-def]
    """Loading the model (with checksum verification) plus the first call stays within budget."""

    def cold() -> None:
        Router.load(paths.default_model, threads=1).classify(SHORT)

    benchmark.pedantic(cold, iterations=1, rounds=5, warmup_rounds=0)
    worst = max(benchmark.stats.stats.sorted_data) * 1000.0
    benchmark.extra_info.update(max_ms=worst)
    assert worst <= BUDGET["cold_start_max_ms"], worst


@pytest.mark.train
def test_setfit_torch_single(benchmark, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """SetFit's own torch ``predict`` on the same text, 1 thread, for the speed-up ratio."""
    import torch

    torch.set_num_threads(1)
    model = tiny_run[0].model_
    benchmark.pedantic(model.predict, args=([SHORT],), iterations=1, rounds=200, warmup_rounds=10)
    p50, p99 = percentiles(benchmark)
    _measured["setfit_p50"] = p50
    benchmark.extra_info.update(p50_ms=p50, p99_ms=p99)
    assert p50 > 0


@pytest.mark.train
def test_speedup_over_setfit(benchmark) -> None:  # type: ignore[no-untyped-def]
    """The ONNX runtime is at least the budgeted factor faster than SetFit in torch (same run)."""
    benchmark.pedantic(lambda: None, iterations=1, rounds=1)  # marks this as a benchmark test
    assert {"onnx_p50", "setfit_p50"} <= _measured.keys(), "run the whole latency suite"
    ratio = _measured["setfit_p50"] / _measured["onnx_p50"]
    benchmark.extra_info.update(speedup=ratio)
    assert ratio >= BUDGET["min_speedup_vs_setfit"], ratio
