"""Tests of routelet.distill: quantisation, the soft-label head, and the whole distill step.

The whole step runs torch-free here, on the shipped model, with model2vec and the torch run
replaced by seeded fakes; the real distillation (model2vec on a trained encoder) is the
``train``-marked test at the end.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer

from routelet.config import Paths
from routelet.distill import balanced_weights, fit_head, quantise_rows
from routelet.intents import LABELS
from routelet.manifest import read_manifest, verify_artifacts
from routelet.static_tier import STATIC_ARTIFACTS, StaticTier
from routelet.train import RUN_META


def test_quantised_rows_round_trip() -> None:
    """int8 rows times their scale give back each row times its weight, within 1/254 of its max."""
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(50, 8)).astype(np.float16)
    weights = rng.uniform(0.1, 1.0, size=50)
    vectors, scales = quantise_rows(rows, weights)
    assert vectors.dtype == np.int8 and scales.dtype == np.float32
    expected = rows.astype(np.float64) * weights[:, None]
    error = np.abs(vectors * scales[:, None].astype(np.float64) - expected).max(axis=1)
    assert (error <= np.abs(expected).max(axis=1) / 254 + 1e-7).all()


def test_zero_row_quantises_to_zero() -> None:
    """An all-zero row stays zero (no division by a zero scale)."""
    vectors, scales = quantise_rows(np.zeros((2, 4)), None)
    assert not vectors.any() and np.isfinite(scales).all()


def test_head_follows_soft_targets() -> None:
    """Fitted on soft targets, the head's probabilities approach those targets."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 5))
    true_w = rng.normal(size=(3, 5))
    logits = x @ true_w.T
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # (600, 3)
    coef, intercept = fit_head(x, soft, np.ones(600), c=1000.0)
    fitted = x @ coef.T + intercept
    probs = np.exp(fitted) / np.exp(fitted).sum(axis=1, keepdims=True)
    assert np.abs(probs - soft).max() < 0.02


def test_balanced_weights_give_each_class_the_same_total() -> None:
    """Per-row weights sum to the same total for every class present."""
    targets = np.array([0, 0, 0, 1, 2, 2])
    weights = balanced_weights(targets, 3)
    totals = [weights[targets == k].sum() for k in range(3)]
    assert totals == pytest.approx([2.0, 2.0, 2.0])


class _FakeStaticModel:
    """What add_static_tier uses of model2vec's StaticModel, seeded and tiny."""

    def __init__(self, tokenizer_json: str) -> None:
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        vocab = self.tokenizer.get_vocab_size()
        rng = np.random.default_rng(2)
        self.embedding = rng.normal(size=(vocab, 12)).astype(np.float16)
        self.weights = np.ones(vocab)
        self.median_token_length = 7
        self.unk_token_id = None


@pytest.fixture
def distilled(paths: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """add_static_tier on a copy of the shipped model, in a project root without evals/."""
    import routelet.distill

    root = tmp_path / "project"
    shutil.copytree(paths.data, root / "data")
    shutil.copytree(paths.configs, root / "configs")
    model_dir = tmp_path / "model"
    shutil.copytree(paths.default_model, model_dir)
    (tmp_path / "run").mkdir()  # a run's meta only: distill never loads the run's weights
    (tmp_path / "run" / RUN_META).write_text('{"method": "cross_entropy"}', encoding="utf-8")
    tokenizer_json = (model_dir / "tokenizer.json").read_text(encoding="utf-8")
    monkeypatch.setattr(
        routelet.distill, "distill_static", lambda *a: _FakeStaticModel(tokenizer_json)
    )
    record = routelet.distill.add_static_tier(tmp_path / "run", model_dir, Paths(root))
    return {"record": record, "model_dir": model_dir}


@pytest.mark.shipped
def test_distill_adds_checksummed_static_files(distilled: dict[str, Any]) -> None:
    """The static files are written and listed in the manifest, which still verifies."""
    manifest = verify_artifacts(distilled["model_dir"])
    assert set(STATIC_ARTIFACTS) <= set(manifest["artifacts"])
    assert manifest["static_tier"] == distilled["record"]


@pytest.mark.shipped
def test_distill_reads_no_eval_file(distilled: dict[str, Any]) -> None:
    """Head, temperature and tau come from training data alone: the project had no evals/."""
    calibration = distilled["record"]["calibration"]
    assert calibration["rows"] > 0
    # Tau keeps the cascade within the tolerance of the encoder on that split.
    assert calibration["cascade_accuracy"] >= calibration["encoder_accuracy"] - 0.005


@pytest.mark.shipped
def test_distilled_tier_loads_with_its_tau(distilled: dict[str, Any]) -> None:
    """The written tier loads, and its tau lies in [0, 1]."""
    model_dir = distilled["model_dir"]
    tier = StaticTier.load(model_dir, read_manifest(model_dir))
    assert 0.0 <= tier.tau <= 1.0 and tier.dim == 12


@pytest.mark.train
@pytest.mark.slow
def test_numpy_runtime_equals_model2vec_encode(tiny_run: Any) -> None:
    """The numpy static runtime embeds as the distilled model2vec model's own encode does.

    Tolerance: the runtime's rows are int8 per row (model2vec's are float16), so each
    embedding is within 0.01 of model2vec's, component-wise, on every training text.
    """
    from routelet.data import load_jsonl
    from routelet.distill import distill_static
    from routelet.preprocess import preprocess

    _, run_dir = tiny_run
    model = distill_static(run_dir / tiny_run[0].encoder_dir, 64)
    vectors, scales = quantise_rows(model.embedding, model.weights)
    tier = StaticTier(
        model.tokenizer,
        vectors.astype(np.float32) * scales[:, None],
        coef=np.zeros((len(LABELS), vectors.shape[1])),
        intercept=np.zeros(len(LABELS)),
        temperature=1.0,
        tau=1.0,
        max_chars=512 * model.median_token_length,
        unk_id=model.unk_token_id,
    )
    root = Path(__file__).resolve().parents[2]
    texts = [r.text for r in load_jsonl(root / "fixtures" / "tiny_train.jsonl")]
    expected = model.encode([preprocess(t) for t in texts])  # (n, 64)
    np.testing.assert_allclose(tier.embed(texts), expected, atol=0.01)
