"""Tests of routelet.timing: the one latency module behind `routelet report` and suites/latency."""

from pathlib import Path

import numpy as np
import pytest

from routelet.timing import (
    measure_speedup,
    percentiles,
    reference_timer,
    reference_workload,
    time_calls,
)


def test_time_calls_times_each_call_after_warmup() -> None:
    """time_calls calls warmup + rounds times and returns one sample per timed call."""
    calls: list[int] = []
    samples = time_calls(calls.append, 1, rounds=5, warmup=2)
    assert len(calls) == 7 and samples.shape == (5,) and (samples >= 0).all()


def test_percentiles_of_known_samples() -> None:
    """p50 and p99 are the percentiles of the samples, in milliseconds."""
    assert percentiles(np.arange(1.0, 102.0)) == {"p50_ms": 51.0, "p99_ms": 100.0}


@pytest.mark.train
@pytest.mark.shipped
def test_paired_speedup_measures_both_paths(paths, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """The paired timing returns p50/p99 for both routers and the ratio of their medians."""
    _, run_dir = tiny_run
    result = measure_speedup(paths.default_model, run_dir, blocks=1)
    assert result is not None
    assert result["onnx"]["p50_ms"] > 0 and result["setfit_torch"]["p50_ms"] > 0
    assert result["speedup"] == pytest.approx(
        result["setfit_torch"]["p50_ms"] / result["onnx"]["p50_ms"], rel=0.05
    )


@pytest.mark.shipped
def test_paired_speedup_without_a_run(paths, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Without a training run the SetFit side is not measured (None)."""
    assert measure_speedup(paths.default_model, tmp_path) is None


def test_reference_timer_records_one_sample_per_call() -> None:
    """Each call of a reference timer runs the reference once and records its milliseconds."""
    samples: list[float] = []
    tick = reference_timer(2, samples)
    tick()
    tick()
    assert len(samples) == 2 and all(s > 0 for s in samples)


def test_reference_workload_grows_with_units() -> None:
    """Twenty units take longer than one (the budgets scale the reference by units)."""
    one = time_calls(reference_workload, 1, rounds=20, warmup=2).min()
    twenty = time_calls(reference_workload, 20, rounds=5, warmup=1).min()
    assert twenty > 5 * one
