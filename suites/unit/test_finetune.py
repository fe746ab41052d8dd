"""Tests of routelet.finetune: batching, the trained shape, and saving/loading a run."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routelet.finetune import FineTunedRouter, _length_bucketed_batches
from routelet.intents import LABELS


def _tiny_rows(paths: Any) -> tuple[list[str], list[str]]:
    """Texts and labels of fixtures/tiny_train.jsonl, as ``fit`` takes them."""
    from routelet.data import load_jsonl

    rows = load_jsonl(paths.root / "fixtures" / "tiny_train.jsonl")
    return [r.text for r in rows], [r.intent.value for r in rows]


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
    FineTunedRouter(epochs=4, batch_size=16, max_length=32, max_steps=2, seed=3).fit(
        *_tiny_rows(paths)
    )
    assert "step 2/2 " in capsys.readouterr().out


@pytest.mark.train
def test_frozen_layers_keep_their_pretrained_weights(paths: Any) -> None:
    """freeze_layers=2 leaves the two lowest transformer layers as the base model has them
    and still trains the layers above (the speed-up must not freeze the whole body)."""
    import torch
    from sentence_transformers import SentenceTransformer

    from routelet.train import base_model_path

    router = FineTunedRouter(
        epochs=1, batch_size=16, max_length=32, max_steps=2, freeze_layers=2, seed=3
    ).fit(*_tiny_rows(paths))
    base = SentenceTransformer(str(base_model_path()), device="cpu", local_files_only=True)
    base_layers = base[0].auto_model.encoder.layer
    tuned_layers = router.body_[0].auto_model.encoder.layer

    def same(i: int) -> bool:
        pairs = zip(base_layers[i].parameters(), tuned_layers[i].parameters(), strict=True)
        return all(torch.equal(a, b) for a, b in pairs)

    assert [same(i) for i in range(len(base_layers))] == [True, True] + [False] * (
        len(base_layers) - 2
    )


@pytest.mark.train
def test_num_layers_trains_and_saves_a_shallower_encoder(paths: Any, tmp_path: Path) -> None:
    """num_layers=3 keeps the base model's lowest three layers; the saved run reloads as a
    three-layer encoder that predicts exactly as the fitted one (so export sees it too)."""
    from routelet.train import load_run

    router = FineTunedRouter(
        epochs=1, batch_size=16, max_length=32, max_steps=1, num_layers=3, seed=3
    ).fit(*_tiny_rows(paths))
    assert len(router.body_[0].auto_model.encoder.layer) == 3
    router.save(tmp_path)
    loaded = load_run(tmp_path)
    assert loaded.body_[0].auto_model.config.num_hidden_layers == 3
    assert len(loaded.body_[0].auto_model.encoder.layer) == 3
    texts = ["turn off the lights", "what is the capital of peru"]
    np.testing.assert_allclose(loaded.predict_proba(texts), router.predict_proba(texts), atol=1e-6)


@pytest.mark.train
@pytest.mark.parametrize(
    ("depth", "message"),
    [
        # Freezing every layer would leave nothing to train: an error, not a silent no-op.
        pytest.param({"freeze_layers": 6}, r"freeze_layers must be 0\.\.5", id="freeze-all"),
        pytest.param({"num_layers": 7}, r"num_layers must be 1\.\.6 or 0", id="too-deep"),
    ],
)
def test_layer_options_out_of_range_are_refused(
    paths: Any, depth: dict[str, int], message: str
) -> None:
    """freeze_layers and num_layers outside the encoder's depth are clear ConfigErrors."""
    from routelet.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        FineTunedRouter(max_steps=1, **depth).fit(*_tiny_rows(paths))
