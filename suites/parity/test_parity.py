"""Parity suite: the exported ONNX router answers like its torch self.

A tiny SetFit model is trained in a session fixture, exported by the shipping export
code, and compared on real holdout utterances and adversarial ones: fp32 labels must be
identical (``np.array_equal``) with probabilities within ``FP32_PROB_ATOL``; int8 labels
must agree on at least the tiny model's floor.
"""

from __future__ import annotations

import numpy as np
import pytest

from routelet.data import load_jsonl
from routelet.export import FP32_PROB_ATOL, INT8_MIN_AGREEMENT, ParityResult, check_parity
from suites.budgets import BUDGETS

pytestmark = [pytest.mark.train, pytest.mark.slow]

ADVERSARIAL = [
    pytest.param("", id="empty"),
    pytest.param("?!...", id="empty-after-preprocess"),
    pytest.param("   \t\n ", id="whitespace"),
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


def test_batch_equals_single(tiny_onnx, real_texts) -> None:  # type: ignore[no-untyped-def]
    """Padding in a batch does not change any row's probabilities."""
    fp32, _ = tiny_onnx
    batch = fp32.predict_proba(real_texts[:20])
    single = np.vstack([fp32.predict_proba([t]) for t in real_texts[:20]])
    np.testing.assert_allclose(batch, single, atol=1e-5)


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
