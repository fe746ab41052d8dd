"""Tests of routelet.finetune: batching, the trained shape, and saving/loading a run."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routelet.finetune import FineTunedRouter, _length_bucketed_batches
from routelet.intents import LABELS


def test_bucketed_batches_cover_every_row_once() -> None:
    """One epoch of bucketed batches is a permutation of the rows, no batch over size."""
    lengths = np.random.default_rng(0).integers(1, 30, size=1003)
    batches = _length_bucketed_batches(lengths, 32, np.random.default_rng(1))
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(1003))
    assert max(len(b) for b in batches) <= 32


def test_bucketed_batches_group_similar_lengths() -> None:
    """Within a batch the lengths are closer than in a random batch (less padding)."""
    lengths = np.random.default_rng(0).integers(1, 30, size=3200)
    batches = _length_bucketed_batches(lengths, 32, np.random.default_rng(1))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 5  # a random batch of 32 spans ~27


def test_fit_refuses_missing_labels() -> None:
    """Training data without one of the labels is refused before any model is loaded."""
    with pytest.raises(ValueError, match="no rows for"):
        FineTunedRouter().fit(["hello"], ["chat"])


@pytest.mark.train
def test_saved_run_loads_with_the_same_predictions(tiny_run: Any, tmp_path: Path) -> None:
    """A run saved by ``save`` and read by ``train.load_run`` predicts exactly as before."""
    from routelet.train import load_run

    router, _ = tiny_run
    router.save(tmp_path)
    loaded = load_run(tmp_path)
    assert isinstance(loaded, FineTunedRouter)
    texts = ["turn off the lights", "what is the capital of peru", "flarbo venti"]
    np.testing.assert_allclose(loaded.predict_proba(texts), router.predict_proba(texts), atol=1e-6)
    assert loaded.coef_.shape == (len(LABELS), 384)


def test_make_router_passes_the_step_cap() -> None:
    """`routelet train --max-steps N` reaches the cross-entropy estimator (it was SetFit-only)."""
    from routelet.config import TrainConfig
    from routelet.train import make_router

    config = TrainConfig(method="cross_entropy", max_steps=3)
    assert make_router(config).max_steps == 3


@pytest.mark.train
def test_max_steps_caps_training(paths: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """With max_steps=2 fitting stops after two optimiser steps, whatever the epochs say."""
    from routelet.data import load_jsonl

    rows = load_jsonl(paths.root / "fixtures" / "tiny_train.jsonl")
    FineTunedRouter(epochs=4, batch_size=16, max_length=32, max_steps=2, seed=3).fit(
        [r.text for r in rows], [r.intent.value for r in rows]
    )
    assert "step 2/2 " in capsys.readouterr().out
