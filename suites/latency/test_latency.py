"""Latency budgets, measured with pytest-benchmark one call per sample.

Runs only with ``pytest --benchmark-only`` (the default run passes ``--benchmark-skip``).
p50/p99 come from the recorded per-call samples (``benchmark.stats.stats.sorted_data``),
since pytest-benchmark reports no p99. The sample commands, the percentiles and the
speed-up measurement are ``routelet.timing``'s, the same that ``routelet report`` uses.
Each test stands alone (any one can run under ``-k``).

Budgets are machine-relative (issue 13): before every timed call, pytest-benchmark's
``setup`` times ``routelet.timing.reference_workload`` (a fixed numpy workload of about
the same length), so each benchmark has its own reference from the same process and run.
``suites/budgets.toml`` holds ratios: p50 / reference p50 and p99 / reference p99.
Absolute milliseconds are recorded in ``extra_info`` and shown by ``routelet report``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from routelet.data import load_jsonl
from routelet.runtime import Router
from routelet.timing import (
    BATCH_WORKERS,
    LONG,
    SHORT,
    measure_speedup,
    percentiles,
    reference_timer,
)
from suites.budgets import BUDGETS

pytestmark = pytest.mark.shipped

BUDGET = BUDGETS["latency"]


def _p50_p99(benchmark) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(p50, p99) in milliseconds from the per-call samples, recorded in the benchmark's info."""
    p = percentiles(np.asarray(benchmark.stats.stats.sorted_data) * 1000.0)
    benchmark.extra_info.update(p)
    return p["p50_ms"], p["p99_ms"]


def _ratios(benchmark, reference_ms: list[float]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(p50 / reference p50, p99 / reference p99), both recorded in the benchmark's info."""
    p50, p99 = _p50_p99(benchmark)
    ref = percentiles(np.asarray(reference_ms))
    ratios = (p50 / ref["p50_ms"], p99 / ref["p99_ms"])
    benchmark.extra_info.update(
        reference_p50_ms=ref["p50_ms"],
        reference_p99_ms=ref["p99_ms"],
        p50_ratio=round(ratios[0], 3),
        p99_ratio=round(ratios[1], 3),
    )
    return ratios


def _timed_against_reference(  # type: ignore[no-untyped-def]
    benchmark, fn, args: tuple[object, ...], rounds: int, warmup: int, units: int
) -> list[float]:
    """Benchmark ``fn(*args)`` one call per round, a reference call before each; the
    reference samples (ms) of the timed rounds."""
    reference_ms: list[float] = []
    benchmark.pedantic(
        fn,
        args=args,
        setup=reference_timer(units, reference_ms),
        iterations=1,
        rounds=rounds,
        warmup_rounds=warmup,
    )
    return reference_ms[warmup:]


@pytest.fixture(scope="module")
def router(paths) -> Router:  # type: ignore[no-untyped-def]
    """The shipped model's encoder (a static tier, if any, is benchmarked on its own)."""
    return Router.load(paths.default_model, threads=1, tier="encoder")


def test_single_short(benchmark, router: Router) -> None:  # type: ignore[no-untyped-def]
    """One short command end to end (preprocess, tokenise, encode, head) within p50/p99."""
    units = BUDGET["reference_units"]
    ref = _timed_against_reference(benchmark, router.classify, (SHORT,), 2000, 50, units)
    p50, p99 = _ratios(benchmark, ref)
    assert p50 <= BUDGET["single_p50_ratio"] and p99 <= BUDGET["single_p99_ratio"], (p50, p99)


def test_single_long(benchmark, router: Router) -> None:  # type: ignore[no-untyped-def]
    """One long run-on command within its own p50/p99."""
    units = BUDGET["long_reference_units"]
    ref = _timed_against_reference(benchmark, router.classify, (LONG,), 500, 20, units)
    p50, p99 = _ratios(benchmark, ref)
    assert p50 <= BUDGET["long_p50_ratio"] and p99 <= BUDGET["long_p99_ratio"], (p50, p99)


def test_batch_throughput(benchmark, paths) -> None:  # type: ignore[no-untyped-def]
    """classify_batch of the default router (the cascade when the model has a static tier)
    over the holdout texts, one text per worker thread, reaches the floor."""
    router = Router.load(paths.default_model, threads=1)
    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]

    def batch(texts: list[str]) -> None:
        router.classify_batch(texts, workers=BATCH_WORKERS)

    ref = _timed_against_reference(benchmark, batch, (texts,), 10, 1, BUDGET["reference_units"])
    per_s = len(texts) / float(np.median(benchmark.stats.stats.sorted_data))
    per_reference = per_s * float(np.median(ref)) / 1000.0  # texts routed per reference call
    benchmark.extra_info.update(texts_per_s=per_s, texts_per_reference=per_reference)
    assert per_reference >= BUDGET["batch_min_texts_per_reference"], per_reference


def test_cold_start(benchmark, paths) -> None:  # type: ignore[no-untyped-def]
    """Loading the model (with checksum verification) plus the first call stays within budget."""

    def cold() -> None:
        Router.load(paths.default_model, threads=1).classify(SHORT)

    ref = _timed_against_reference(benchmark, cold, (), 5, 0, BUDGET["reference_units"])
    worst = max(benchmark.stats.stats.sorted_data) * 1000.0
    ratio = worst / float(np.median(ref))
    benchmark.extra_info.update(max_ms=worst, max_ratio=ratio)
    assert ratio <= BUDGET["cold_start_max_ratio"], ratio


def _tiered(paths, tier: str) -> Router:  # type: ignore[no-untyped-def]
    router = Router.load(paths.default_model, threads=1, tier="encoder")
    if router.static is None:
        pytest.skip("the shipped model has no static tier (`routelet distill` adds one)")
    return Router.load(paths.default_model, threads=1, tier=tier)


def _cycling(
    texts: list[str], units: int, reference_ms: list[float]
) -> Callable[[], tuple[tuple[str], dict[str, object]]]:
    """A pedantic ``setup``: times a reference call, then hands the next text to the target."""
    commands, tick = itertools.cycle(texts), reference_timer(units, reference_ms)

    def setup() -> tuple[tuple[str], dict[str, object]]:
        tick()
        return (next(commands),), {}

    return setup


@pytest.mark.parametrize(
    ("tier", "units"),
    [
        pytest.param("static", "static_reference_units", id="static"),
        pytest.param("cascade", "reference_units", id="cascade"),
    ],
)
def test_tier_single(benchmark, paths, tier: str, units: str) -> None:  # type: ignore[no-untyped-def]
    """One realistic command at a time (holdout, cycled) through the static tier alone or
    the cascade, within that tier's p50/p99."""
    router = _tiered(paths, tier)
    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]
    ref: list[float] = []
    setup = _cycling(texts, BUDGET[units], ref)
    benchmark.pedantic(router.classify, setup=setup, iterations=1, rounds=2000, warmup_rounds=50)
    p50, p99 = _ratios(benchmark, ref[50:])
    assert p50 <= BUDGET[f"{tier}_p50_ratio"] and p99 <= BUDGET[f"{tier}_p99_ratio"], (p50, p99)


@pytest.mark.train
def test_speedup_over_setfit(benchmark, paths, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """The runtime is at least the budgeted factor faster than SetFit's torch predict.

    The report's own paired measurement (``timing.measure_speedup``: alternating blocks,
    one thread each, same text). The torch side is the tiny fixture model: the same
    encoder (MiniLM cut to the shipped config's ``num_layers``) and sequence lengths as the
    shipped model, trained in-session, so the test needs no training run in ``runs/``.
    """
    _, run_dir = tiny_run
    result = benchmark.pedantic(
        measure_speedup, args=(paths.default_model, run_dir), iterations=1, rounds=1
    )
    assert result is not None, "the tiny run has no train_meta.json"
    benchmark.extra_info.update(speedup=result["speedup"])
    assert result["speedup"] >= BUDGET["min_speedup_vs_setfit"], result
