"""Latency measurements shared by ``routelet report`` and ``suites/latency``.

The sample commands (``SHORT``, ``LONG``), per-call timing, p50/p99, the latency block
of the report, and the one speed-up measurement: the runtime's ``classify`` against
the trained run's own torch ``predict`` on the same text, one thread each, in alternating blocks
of calls so that load which comes and goes hits both sides alike. ``reference_workload``
is the fixed, model-independent workload that ``suites/latency`` times next to every
benchmarked call, so that its budgets are ratios that hold on a slower or busier machine.

It measures and returns numbers; it sets no budget (``suites/budgets.toml`` does) and
writes nothing. Torch is imported only by ``measure_speedup``, and only when the train
extra and a training run are there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.runtime import Router

SHORT = "hey um play some jazz on spotify"
LONG = (
    "okay so um find me a cheap hotel in lisbon for friday night near the old town, "
    "check the reviews, and if it's under a hundred and twenty euros book it and send "
    "the confirmation to my sister"
)
#: Texts routed at once by the batch-throughput measurement (one per core here).
BATCH_WORKERS = 2


def time_calls(fn: Callable[[Any], Any], arg: Any, rounds: int, warmup: int) -> NDArray[Any]:
    """Milliseconds of each of ``rounds`` calls ``fn(arg)``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn(arg)
    samples = np.empty(rounds)  # (rounds,) milliseconds
    for i in range(rounds):
        start = time.perf_counter()
        fn(arg)
        samples[i] = (time.perf_counter() - start) * 1000.0
    return samples


def percentiles(samples_ms: NDArray[Any]) -> dict[str, float]:
    """``{"p50_ms", "p99_ms"}`` of per-call samples in milliseconds, rounded to the microsecond."""
    return {
        "p50_ms": round(float(np.percentile(samples_ms, 50)), 3),
        "p99_ms": round(float(np.percentile(samples_ms, 99)), 3),
    }


def measure_latency(
    model_dir: Path, batch_texts: list[str]
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """Single-call latency of the encoder tier (1 thread), batch throughput and cold start
    of the default router of ``model_dir``; returns the report's latency block and the raw
    samples by name.

    The single calls time the encoder on ``SHORT`` and ``LONG`` whatever the default tier:
    under the cascade, whether one sample text is answered statically would decide the
    number (``routelet.tiers`` times each tier over many commands instead).
    """
    start = time.perf_counter()
    router = Router.load(model_dir, threads=1)
    router.classify(SHORT)
    cold_ms = (time.perf_counter() - start) * 1000.0
    encoder = Router.load(model_dir, threads=1, tier="encoder")
    short = time_calls(encoder.classify, SHORT, 2000, 50)
    long = time_calls(encoder.classify, LONG, 500, 20)

    def batch(texts: list[str]) -> None:
        router.classify_batch(texts, workers=BATCH_WORKERS)

    batch_ms = time_calls(batch, batch_texts, 5, 1)
    result = {
        "single_short": percentiles(short),
        "single_long": percentiles(long),
        "batch_texts_per_s": round(len(batch_texts) / (float(np.median(batch_ms)) / 1000.0)),
        "batch_tier": router.tier,
        "cold_start_ms": round(cold_ms, 1),
        "threads": {"single": 1, "batch": BATCH_WORKERS},
    }
    return result, {"short command": short, "long command": long}


def _setfit_predict(run_dir: Path) -> Callable[[list[str]], Any] | None:
    """The trained run's own torch ``predict`` (its fine-tuned MiniLM encoder through
    sentence-transformers, plus the head) on 1 thread, if the train extra and a run exist.
    """
    if not (run_dir / "train_meta.json").is_file():
        return None
    try:
        import torch

        from routelet.train import load_run
    except ImportError:
        return None
    torch.set_num_threads(1)
    predict: Callable[[list[str]], Any] = load_run(run_dir).predict
    return predict


def measure_speedup(model_dir: Path, run_dir: Path, blocks: int = 10) -> dict[str, Any] | None:
    """The runtime's encoder ``classify`` against the run's torch ``predict`` on ``SHORT``, 1
    thread each: the same model both ways (the cascade's tiers are timed in ``routelet.tiers``).

    Alternating 100-call runtime blocks with 20-call torch blocks exposes both to the
    same machine conditions, so the ratio of medians is not skewed by load that comes
    and goes. None when ``run_dir`` holds no training run or torch is not installed.
    """
    predict = _setfit_predict(run_dir)
    if predict is None:
        return None
    router = Router.load(model_dir, threads=1, tier="encoder")
    onnx_ms, setfit_ms = [], []
    for _ in range(blocks):
        onnx_ms.append(time_calls(router.classify, SHORT, 100, 5))
        setfit_ms.append(time_calls(predict, [SHORT], 20, 2))
    onnx, setfit = np.concatenate(onnx_ms), np.concatenate(setfit_ms)
    return {
        "onnx": percentiles(onnx),
        "setfit_torch": percentiles(setfit),
        "speedup": round(float(np.median(setfit) / np.median(onnx)), 1),
    }


# ------------------------------------------------------------------ the fixed reference

#: Seeded inputs of ``reference_workload``, built on first use (about 24 MB).
_REFERENCE: dict[str, Any] = {}


def reference_workload(units: int = 1) -> None:
    """A fixed numpy workload, independent of any model: what latency budgets are ratios to.

    One unit is ``tanh`` of a (96, 384) float32 block, a sort of 16,384 floats and the sum
    of a 4 MB row of a 24 MB buffer (the next row each unit, so that memory is streamed the
    way an encoder streams its weights): about 0.45 ms on one core of the 2026-11 machine.
    numpy runs all of it on one thread. A budgeted call is compared with a reference of
    similar length (``units``), so that a slower CPU, or a busier machine that preempts
    long calls more often, stretches both alike.
    """
    if not _REFERENCE:
        rng = np.random.default_rng(0)
        _REFERENCE["block"] = rng.standard_normal((96, 384)).astype(np.float32)
        _REFERENCE["sort"] = rng.standard_normal(16384).astype(np.float32)
        _REFERENCE["stream"] = rng.standard_normal((6, 1 << 20)).astype(np.float32)
        _REFERENCE["row"] = 0
    for _ in range(units):
        np.tanh(_REFERENCE["block"])
        np.sort(_REFERENCE["sort"])
        _REFERENCE["row"] = (_REFERENCE["row"] + 1) % len(_REFERENCE["stream"])
        _REFERENCE["stream"][_REFERENCE["row"]].sum()


def reference_timer(units: int, samples_ms: list[float]) -> Callable[[], None]:
    """A function that times one ``reference_workload(units)`` call into ``samples_ms``:
    pytest-benchmark's ``pedantic(setup=...)``, so that every timed call of the target is
    paired with a reference call just before it, in the same process and run."""

    def tick() -> None:
        start = time.perf_counter()
        reference_workload(units)
        samples_ms.append((time.perf_counter() - start) * 1000.0)

    return tick
