"""``routelet distill``: add the static tier to an exported model directory, from its run.

Steps (``add_static_tier``), all from the training run that the model was exported from:

1. model2vec distils static token embeddings from the run's fine-tuned encoder
   (``routelet.train.run_encoder_dir``, a local path; nothing is downloaded), PCA to
   ``pca_dims``; rows are scaled by their SIF weight and quantised to int8 per row;
2. every training row (the run's own split, augmented rows included) is embedded with
   the numpy runtime (``routelet.static_tier``), so training sees exactly what serving
   computes;
3. a linear head is fitted on those embeddings against a mix of the gold label and the
   soft labels of the exported int8 encoder on the same rows (the cascade's fallback, so
   the static tier learns the model it stands in front of), classes balanced as the
   encoder's head is; then the token rows and the head are fine-tuned
   together on the same targets (``routelet.static_train``, ``row_epochs`` epochs), the
   rows quantised again, and the head refitted on the quantised rows;
4. its temperature is fitted on the run's calibration split, and ``tau`` is chosen on
   that same split (``routelet.cascade.choose_tau``: within 0.5 points of the exported int8
   encoder with 95 % confidence);
5. ``static_embeddings.npz``, ``static_tokenizer.json`` and ``static_head.json`` are
   written and added to the manifest with their checksums and the distillation record.

Evaluation files are never read here. Needs the ``train`` extra (torch, model2vec);
the runtime it writes for needs neither. It does not train the encoder or export it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.calibrate import fit_temperature, softmax
from routelet.cascade import (
    TAU_CONFIDENCE_Z,
    TAU_TOLERANCE,
    answered_statically,
    cascade_correct,
    choose_tau,
)
from routelet.config import Paths, TrainConfig
from routelet.errors import ModelError
from routelet.intents import LABELS
from routelet.manifest import add_artifacts
from routelet.preprocess import preprocess
from routelet.static_tier import (
    STATIC_ARTIFACTS,
    STATIC_EMBEDDINGS,
    STATIC_HEAD,
    STATIC_TOKENIZER,
    StaticTier,
    dequantise,
)
from routelet.static_train import RowTraining, finetune_rows

#: Texts the exported encoder labels at a time (one text per call, each on its own thread).
SOFT_LABEL_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class StaticConfig:
    """Hyperparameters of the static tier (recorded in the manifest)."""

    pca_dims: int = 256
    #: Head target = (1 - soft_weight) * gold one-hot + soft_weight * encoder probabilities.
    soft_weight: float = 0.5
    #: Inverse L2 strength of the head, as scikit-learn's ``C``.
    head_c: float = 1.0
    #: Largest calibration-split accuracy loss of the cascade against the encoder alone.
    tau_tolerance: float = TAU_TOLERANCE
    #: Standard errors the loss's confidence bound subtracts (``routelet.cascade.choose_tau``).
    tau_confidence_z: float = TAU_CONFIDENCE_Z
    #: Tokens kept per text (model2vec's ``encode`` default).
    max_tokens: int = 512
    #: Epochs of token-row fine-tuning (0: the distilled rows as they are). On routelet-v3's
    #: calibration split one epoch at 1e-3 lifted static accuracy 0.798 -> 0.872 and the
    #: share answered statically at tau 0.369 -> 0.583; more epochs overfit (docs/cascade.md).
    row_epochs: int = 1
    row_learning_rate: float = 1e-3


def distill_static(encoder_dir: Path, pca_dims: int) -> Any:
    """model2vec's ``StaticModel`` of a local sentence-transformers encoder, ready to encode.

    model2vec 0.7 keeps the source tokenizer's padding and truncation (MiniLM's pads every
    text to 128 tokens, and ``encode`` would then average the pad rows in); both are
    switched off so that a text's embedding is the mean of its own tokens.
    """
    from model2vec.distill import distill

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = distill(model_name=str(encoder_dir), pca_dims=pca_dims)
    model.tokenizer.no_padding()
    model.tokenizer.no_truncation()
    return model


def quantise_rows(
    embedding: NDArray[np.floating], weights: NDArray[np.floating] | None
) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """Rows (V, D) times their SIF weight (V,), as int8 (V, D) and a float32 scale (V,) each."""
    rows = np.asarray(embedding, dtype=np.float64)
    if weights is not None:
        rows = rows * np.asarray(weights, dtype=np.float64)[:, None]
    scales = np.abs(rows).max(axis=1) / 127.0  # (V,)
    scales[scales == 0] = 1.0
    vectors = np.clip(np.rint(rows / scales[:, None]), -127, 127).astype(np.int8, order="C")
    return vectors, scales.astype(np.float32)


def fit_head(
    emb: NDArray[np.floating],
    targets: NDArray[np.floating],
    sample_weight: NDArray[np.floating],
    c: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Multinomial logistic regression on soft targets: ``(coef (k, D), intercept (k,))``.

    Minimises ``c * sum_i w_i * CE(softmax(x_i W^T + b), t_i) + ||W||^2 / 2`` with L-BFGS
    (scikit-learn's objective, with soft targets ``t`` (n, k), which it does not accept).
    """
    from scipy.optimize import minimize

    x = np.asarray(emb, dtype=np.float64)  # (n, D)
    t = np.asarray(targets, dtype=np.float64)  # (n, k)
    w = np.asarray(sample_weight, dtype=np.float64)[:, None]  # (n, 1)
    n_dim, k = x.shape[1], t.shape[1]

    def loss(params: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        coef, bias = params[: k * n_dim].reshape(k, n_dim), params[k * n_dim :]
        logits = x @ coef.T + bias  # (n, k)
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -c * float((w * t * log_p).sum()) + 0.5 * float((coef**2).sum())
        residual = c * w * (np.exp(log_p) - t)  # (n, k)
        grad = np.concatenate([(residual.T @ x + coef).ravel(), residual.sum(axis=0)])
        return value, grad

    start = np.zeros(k * n_dim + k)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    params = result.x
    return params[: k * n_dim].reshape(k, n_dim), params[k * n_dim :]


def balanced_weights(targets: NDArray[np.integer], k: int) -> NDArray[np.float64]:
    """Per-row weights (n,) that give every class the same total, as ``class_weight='balanced'``."""
    counts = np.bincount(targets, minlength=k).astype(np.float64)
    per_class = len(targets) / (k * np.maximum(counts, 1))
    return per_class[targets]


def write_static_tier(
    model_dir: Path,
    tokenizer_json: str,
    vectors: NDArray[np.int8],
    scales: NDArray[np.float32],
    head: dict[str, Any],
    record: dict[str, Any],
) -> dict[str, Any]:
    """Write the static tier's files into ``model_dir`` and add them to its manifest."""
    model_dir = Path(model_dir)
    with (model_dir / STATIC_EMBEDDINGS).open("wb") as handle:
        np.savez(handle, vectors=vectors, scales=scales)
    (model_dir / STATIC_TOKENIZER).write_text(tokenizer_json, encoding="utf-8")
    (model_dir / STATIC_HEAD).write_text(json.dumps(head) + "\n", encoding="utf-8")
    return add_artifacts(model_dir, STATIC_ARTIFACTS, {"static_tier": record})


def _embedder(
    static_model: Any, rows: NDArray[np.float32], max_tokens: int, max_chars: int
) -> StaticTier:
    """A headless ``StaticTier`` over these (dequantised) rows: it embeds as serving will."""
    return StaticTier(
        static_model.tokenizer,
        rows,
        coef=np.zeros((len(LABELS), rows.shape[1]), dtype=np.float32),
        intercept=np.zeros(len(LABELS), dtype=np.float32),
        temperature=1.0,
        tau=1.0,
        max_tokens=max_tokens,
        max_chars=max_chars,
        unk_id=static_model.unk_token_id,
    )


def _run_config(run_dir: Path, paths: Paths) -> TrainConfig:
    """The run's training config (its split and seed), else the checked-in default."""
    if (run_dir / "config.toml").is_file():
        return TrainConfig.from_toml(run_dir / "config.toml")
    print(f"{run_dir} has no config.toml: using configs/default.toml for the calibration split")
    return TrainConfig.from_toml(paths.configs / "default.toml")


def add_static_tier(
    run_dir: Path, model_dir: Path, paths: Paths, config: StaticConfig | None = None
) -> dict[str, Any]:
    """Distil, fit and calibrate the static tier of ``run_dir`` into ``model_dir``.

    ``model_dir`` must be the export of ``run_dir`` (its encoder answers the cascade's
    fallback and sets the accuracy ``tau`` is chosen against). Returns the manifest's
    ``static_tier`` record.
    """
    from routelet.runtime import Router
    from routelet.train import build_training_set, run_encoder_dir

    config = config or StaticConfig()
    run_dir, model_dir = Path(run_dir), Path(model_dir)
    encoder_router = Router.load(model_dir, tier="encoder")  # fails early on a bad model dir
    encoder_dir = run_encoder_dir(run_dir)  # the run's weights are never loaded here
    train_rows, calib_rows, _ = build_training_set(paths, _run_config(run_dir, paths))
    train_texts = [ex.text for ex in train_rows]
    calib_texts = [ex.text for ex in calib_rows]
    y_train = np.array([LABELS.index(ex.intent.value) for ex in train_rows])  # (n,)
    y_calib = np.array([LABELS.index(ex.intent.value) for ex in calib_rows])  # (m,)

    started = time.perf_counter()
    static_model = distill_static(encoder_dir, config.pca_dims)
    distill_seconds = time.perf_counter() - started
    vectors, scales = quantise_rows(static_model.embedding, static_model.weights)
    max_chars = config.max_tokens * int(static_model.median_token_length)
    unk_id = static_model.unk_token_id
    embedder = _embedder(static_model, dequantise(vectors, scales), config.max_tokens, max_chars)
    x_train, x_calib = embedder.embed(train_texts), embedder.embed(calib_texts)  # (n, D), (m, D)

    # (n, 6) soft labels from the exported int8 encoder, the model the static tier stands in
    # front of (and whose accuracy tau is held to); one text per call, several at a time:
    # 2x faster than the torch run on 2 cores.
    soft = encoder_router.predict_proba(train_texts, workers=SOFT_LABEL_WORKERS)
    gold = np.eye(len(LABELS))[y_train]  # (n, 6)
    targets = (1 - config.soft_weight) * gold + config.soft_weight * soft
    weights = balanced_weights(y_train, len(LABELS))
    coef, intercept = fit_head(x_train, targets, weights, config.head_c)
    if config.row_epochs > 0:
        token_ids = [embedder._ids(preprocess(t)) for t in train_texts]
        rows = finetune_rows(
            embedder._vectors,  # the dequantised rows the head was fitted on
            token_ids,
            targets,
            weights,
            coef,
            intercept,
            RowTraining(epochs=config.row_epochs, rows_learning_rate=config.row_learning_rate),
        )
        vectors, scales = quantise_rows(rows, None)
        embedder = _embedder(
            static_model, dequantise(vectors, scales), config.max_tokens, max_chars
        )
        x_train, x_calib = embedder.embed(train_texts), embedder.embed(calib_texts)
        coef, intercept = fit_head(x_train, targets, weights, config.head_c)
    calib_logits = x_calib @ coef.T + intercept  # (m, 6)
    temperature = fit_temperature(calib_logits, y_calib)
    static_probs = softmax(calib_logits, temperature)
    encoder_probs = encoder_router.predict_proba(calib_texts)
    tau = choose_tau(
        static_probs, encoder_probs, y_calib, config.tau_tolerance, config.tau_confidence_z
    )
    fit_seconds = time.perf_counter() - started

    head = {
        "labels": list(LABELS),
        "coef": coef.tolist(),  # (6, D)
        "intercept": intercept.tolist(),  # (6,)
        "temperature": temperature,
        "tau": tau,
        "max_tokens": config.max_tokens,
        "max_chars": max_chars,
        "unk_id": unk_id,
        "pooling": "mean",
        "normalize": True,
    }
    cascade_right = cascade_correct(static_probs, encoder_probs, y_calib, tau)  # (m,)
    record = {
        "config": asdict(config),
        "run_dir": run_dir.name,
        "vocab_size": int(vectors.shape[0]),
        "dim": int(vectors.shape[1]),
        "distill_seconds": round(distill_seconds, 1),
        "total_seconds": round(fit_seconds, 1),
        "train_rows": len(train_rows),
        "calibration": {
            "rows": len(calib_rows),
            "static_accuracy": round(float((static_probs.argmax(1) == y_calib).mean()), 4),
            "encoder_accuracy": round(float((encoder_probs.argmax(1) == y_calib).mean()), 4),
            "cascade_accuracy": round(float(cascade_right.mean()), 4),
            "static_share": round(float(answered_statically(static_probs, tau).mean()), 4),
        },
        "versions": {pkg: version(pkg) for pkg in ("model2vec", "tokenizers", "numpy")},
    }
    tokenizer_json = static_model.tokenizer.to_str()
    write_static_tier(model_dir, tokenizer_json, vectors, scales, head, record)
    return record


def print_record(record: dict[str, Any], model_dir: Path) -> None:
    """Two lines: where the tier went, how long it took, what the calibration split says."""
    calib = record["calibration"]
    size = sum(f.stat().st_size for f in model_dir.iterdir() if f.is_file()) / 1e6
    print(
        f"static tier added to {model_dir} ({size:.1f} MB in all) in "
        f"{record['total_seconds']:.0f} s (distillation {record['distill_seconds']:.0f} s)"
    )
    print(
        f"  calibration split ({calib['rows']} rows): static {calib['static_accuracy']:.4f}, "
        f"encoder {calib['encoder_accuracy']:.4f}, cascade {calib['cascade_accuracy']:.4f} "
        f"with {calib['static_share']:.1%} answered by the static tier"
    )


def run_cli(args: argparse.Namespace) -> int:
    paths = Paths.discover()
    run_dir = Path(args.run) if args.run else paths.run_dir()
    model_dir = Path(args.model) if args.model else paths.default_model
    if not run_dir.is_dir():
        raise ModelError(f"{run_dir}: training run not found (pass --run RUN_DIR)")
    print_record(add_static_tier(run_dir, model_dir, paths), model_dir)
    return 0
