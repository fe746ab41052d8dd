"""Latency budgets, measured with pytest-benchmark one call per sample.

Runs only with ``pytest --benchmark-only`` (the default run passes ``--benchmark-skip``).
p50/p99 come from the recorded per-call samples (``benchmark.stats.stats.sorted_data``),
since pytest-benchmark reports no p99. The sample commands, the percentiles and the
speed-up measurement are ``routelet.timing``'s, the same that ``routelet report`` uses.
Each test stands alone (any one can run under ``-k``).
"""

from __future__ import annotations

import numpy as np
import pytest

from routelet.data import load_jsonl
from routelet.runtime import Router
from routelet.timing import BATCH_WORKERS, LONG, SHORT, measure_speedup, percentiles
from suites.budgets import BUDGETS

pytestmark = pytest.mark.shipped

BUDGET = BUDGETS["latency"]


def _p50_p99(benchmark) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(p50, p99) in milliseconds from the per-call samples, recorded in the benchmark's info."""
    p = percentiles(np.asarray(benchmark.stats.stats.sorted_data) * 1000.0)
    benchmark.extra_info.update(p)
    return p["p50_ms"], p["p99_ms"]


@pytest.fixture(scope="module")
def router(paths) -> Router:  # type: ignore[no-untyped-def]
    return Router.load(paths.default_model, threads=1)


def test_single_short(benchmark, router: Router) -> None:  # type: ignore[no-untyped-def]
    """One short command end to end (preprocess, tokenise, encode, head) within p50/p99."""
    benchmark.pedantic(router.classify, args=(SHORT,), iterations=1, rounds=2000, warmup_rounds=50)
    p50, p99 = _p50_p99(benchmark)
    assert p50 <= BUDGET["single_p50_ms"] and p99 <= BUDGET["single_p99_ms"], (p50, p99)


def test_single_long(benchmark, router: Router) -> None:  # type: ignore[no-untyped-def]
    """One long run-on command within its own p50/p99."""
    benchmark.pedantic(router.classify, args=(LONG,), iterations=1, rounds=500, warmup_rounds=20)
    p50, p99 = _p50_p99(benchmark)
    assert p50 <= BUDGET["long_p50_ms"] and p99 <= BUDGET["long_p99_ms"], (p50, p99)


def test_batch_throughput(benchmark, router: Router, paths) -> None:  # type: ignore[no-untyped-def]
    """classify_batch over the holdout texts, one text per worker thread, reaches the floor."""
    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]
    benchmark.pedantic(
        router.classify_batch,
        args=(texts,),
        kwargs={"workers": BATCH_WORKERS},
        iterations=1,
        rounds=10,
        warmup_rounds=1,
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
def test_speedup_over_setfit(benchmark, paths, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """The runtime is at least the budgeted factor faster than SetFit's torch predict.

    The report's own paired measurement (``timing.measure_speedup``: alternating blocks,
    one thread each, same text). The SetFit side is the tiny fixture model: the same
    MiniLM-L6 encoder and sequence lengths as the shipped model, trained in-session, so
    the test needs no training run in ``runs/``.
    """
    _, run_dir = tiny_run
    result = benchmark.pedantic(
        measure_speedup, args=(paths.default_model, run_dir), iterations=1, rounds=1
    )
    assert result is not None, "the tiny run has no train_meta.json"
    benchmark.extra_info.update(speedup=result["speedup"])
    assert result["speedup"] >= BUDGET["min_speedup_vs_setfit"], result
