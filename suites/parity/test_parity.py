"""Parity suite: the exported ONNX router answers like its torch self, and like itself.

A tiny SetFit model is trained in a session fixture, exported by the shipping export
code, and compared on real holdout utterances and adversarial ones: fp32 labels must be
identical (``np.array_equal``) with probabilities within ``FP32_PROB_ATOL``; int8 labels
must agree on at least the tiny model's floor. Torch encodes in padded batches, the
runtime one unpadded text per call, so the fp32 comparison also checks the runtime's
attention mask and pooling: ``test_broken_padding_mask_fails_parity`` breaks the mask on
purpose and shows the comparison failing. Every multi-text call of the runtime must give
each text bit for bit what ``classify`` gives it; int8 padded batches would not
(``test_padded_int8_batches_change_answers``). The shipped model's entry points are
compared on every eval file in ``test_entry_points.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from routelet.calibrate import softmax
from routelet.data import load_jsonl
from routelet.export import FP32_PROB_ATOL, INT8_MIN_AGREEMENT, ParityResult, check_parity
from suites.budgets import BUDGETS

pytestmark = [pytest.mark.train, pytest.mark.slow]

ADVERSARIAL = [
    pytest.param("?!...", id="empty-after-preprocess"),
    pytest.param("play " * 120, id="very-long"),
    pytest.param("pourriez-vous éteindre la lumière du salon", id="french"),
    pytest.param("今日は天気がいいですね", id="japanese"),
    pytest.param("🎵🎶 🔥🔥🔥", id="emoji"),
    pytest.param("my password is hunter2 and my email is a@b.co", id="redacted"),
    pytest.param("\x00\x1f control \u200b chars", id="control-chars"),
]


@pytest.fixture(scope="module")
def real_texts(paths) -> list[str]:  # type: ignore[no-untyped-def]
    return [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")][::4]


def test_fp32_labels_identical_on_real_rows(tiny_run, tiny_onnx, real_texts) -> None:  # type: ignore[no-untyped-def]
    """fp32 ONNX predicts exactly the torch labels on real utterances."""
    torch_router, _ = tiny_run
    fp32, _ = tiny_onnx
    assert np.array_equal(torch_router.predict(real_texts), fp32.predict(real_texts))


def test_fp32_probabilities_within_tolerance(tiny_run, tiny_onnx, real_texts) -> None:  # type: ignore[no-untyped-def]
    """fp32 ONNX probabilities match torch within the stated tolerance."""
    torch_router, _ = tiny_run
    fp32, _ = tiny_onnx
    diff = np.abs(torch_router.predict_proba(real_texts) - fp32.predict_proba(real_texts))
    assert diff.max() <= FP32_PROB_ATOL


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_fp32_parity_on_adversarial_input(tiny_run, tiny_onnx, text: str) -> None:  # type: ignore[no-untyped-def]
    """Edge inputs give the same label and near-identical probabilities in both runtimes."""
    torch_router, _ = tiny_run
    fp32, _ = tiny_onnx
    p_torch, p_onnx = torch_router.predict_proba([text]), fp32.predict_proba([text])
    assert np.array_equal(p_torch.argmax(axis=1), p_onnx.argmax(axis=1))
    np.testing.assert_allclose(p_onnx, p_torch, atol=FP32_PROB_ATOL)


def test_int8_agreement(tiny_run, tiny_onnx, real_texts) -> None:  # type: ignore[no-untyped-def]
    """int8 ONNX agrees with torch on at least the tiny model's floor of rows."""
    torch_router, _ = tiny_run
    fp32, int8 = tiny_onnx
    result = check_parity(torch_router, fp32, int8, real_texts)
    assert result.int8_agreement >= BUDGETS["parity"]["tiny_int8_min_agreement"]


@pytest.mark.parametrize("which", [pytest.param(0, id="fp32"), pytest.param(1, id="int8")])
def test_multi_text_calls_equal_classify(tiny_onnx, real_texts, which: int) -> None:  # type: ignore[no-untyped-def]
    """predict_proba and classify_batch, on 1 or more workers, give each text classify's answer."""
    router = tiny_onnx[which]
    single = np.array([list(router.classify(t).distribution.values()) for t in real_texts])
    assert np.array_equal(router.predict_proba(real_texts), single)
    assert np.array_equal(router.predict_proba(real_texts, workers=3), single)
    assert router.classify_batch(real_texts, workers=2) == [router.classify(t) for t in real_texts]


def _padded_batch_proba(router: Any, texts: list[str]) -> np.ndarray:
    """What a padded batch gives: texts padded to the longest, masked correctly, one call."""
    from routelet.preprocess import preprocess

    encodings = [router._tokenizer.encode(preprocess(t)).ids for t in texts]
    width = max(len(ids) for ids in encodings)
    ids = np.zeros((len(texts), width), dtype=np.int64)  # (n, L), 0 = [PAD]
    mask = np.zeros_like(ids)
    for row, seq in enumerate(encodings):
        ids[row, : len(seq)], mask[row, : len(seq)] = seq, 1
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = router._session.run(None, feeds)[0]  # (n, L, 384)
    m = mask[:, :, None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / m.sum(axis=1)  # (n, 384)
    emb = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return softmax(emb @ router._coef_t + router._intercept, router.temperature)


def test_padded_int8_batches_change_answers(tiny_onnx, real_texts) -> None:  # type: ignore[no-untyped-def]
    """With activations quantised per call, a padded int8 batch moves probabilities (why
    the runtime never pads): the exact-equality test above would catch a batched path."""
    _, int8 = tiny_onnx
    single = int8.predict_proba(real_texts)
    assert not np.array_equal(_padded_batch_proba(int8, real_texts), single)


def test_padded_fp32_batches_match_within_tolerance(tiny_onnx, real_texts) -> None:  # type: ignore[no-untyped-def]
    """The padded reference itself is right: for fp32 it matches single calls closely."""
    fp32, _ = tiny_onnx
    np.testing.assert_allclose(
        _padded_batch_proba(fp32, real_texts), fp32.predict_proba(real_texts), atol=1e-5
    )


def test_broken_padding_mask_fails_parity(tiny_run, tiny_onnx, real_texts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Padding every text to 64 tokens with the pads left in the mask breaks fp32 parity
    with torch (so the parity tests above can fail)."""
    torch_router, _ = tiny_run
    fp32, _ = tiny_onnx
    correct = fp32._feeds

    def broken_feeds(ids: list[int]) -> dict[str, np.ndarray]:
        return correct(ids + [0] * (64 - len(ids)))  # [PAD] tokens, and the mask all ones

    monkeypatch.setattr(fp32, "_feeds", broken_feeds)
    diff = np.abs(torch_router.predict_proba(real_texts) - fp32.predict_proba(real_texts))
    assert diff.max() > FP32_PROB_ATOL


@pytest.mark.parametrize(
    ("result", "ok"),
    [
        pytest.param(ParityResult(10, True, 0.0, 1.0), True, id="all-good"),
        pytest.param(ParityResult(10, False, 0.0, 1.0), False, id="fp32-label-flip"),
        pytest.param(ParityResult(10, True, FP32_PROB_ATOL * 2, 1.0), False, id="fp32-drift"),
        pytest.param(ParityResult(10, True, 0.0, INT8_MIN_AGREEMENT - 0.01), False, id="int8-low"),
    ],
)
def test_parity_gate(result: ParityResult, ok: bool) -> None:
    """The export gate passes only when every parity condition holds."""
    assert result.ok is ok


def test_export_refuses_to_write_on_parity_failure(tiny_run, paths, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With an unreachable int8 floor, export raises and leaves no model directory."""
    import routelet.export as export_module
    from routelet.errors import ModelError

    monkeypatch.setattr(export_module, "INT8_MIN_AGREEMENT", 1.01)
    _, run_dir = tiny_run
    out = tmp_path / "model"
    with pytest.raises(ModelError, match="parity failed"):
        export_module.export(run_dir, out, paths, ["play jazz", "hello there"])
    assert not out.exists()
