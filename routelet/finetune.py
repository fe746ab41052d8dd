"""Cross-entropy fine-tuning of the sentence encoder with a linear head (no SetFit pairs).

``FineTunedRouter`` trains the whole encoder and a linear head end to end on the
training rows: mean-pooled, L2-normalised sentence embedding -> ``Linear(384, 6)``,
loss = cross-entropy on the gold label, optionally mixed with a KL term towards a
teacher's soft labels (distillation). The shape of the result is exactly what the
runtime already executes (encoder, mean pooling, L2 norm, ``coef``/``intercept``,
temperature), so export and the torch-free ``Router`` need no change.

It follows the scikit-learn estimator contract like ``SetFitRouter`` (hyperparameters
in ``__init__``, ``fit`` returns ``self``, learned state ends in ``_``). It does not
build the training set, calibrate on its own or export: ``routelet.train`` does the first
two, ``routelet.export`` the last. Needs the ``train`` extra (torch).
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.calibrate import fit_temperature, softmax
from routelet.config import TrainConfig
from routelet.errors import ConfigError
from routelet.intents import LABELS
from routelet.preprocess import preprocess
from routelet.train import RUN_META, base_model_path, offline

ENCODER_DIR = "encoder"


def _length_bucketed_batches(
    lengths: NDArray[np.integer], batch_size: int, rng: np.random.Generator
) -> list[NDArray[np.intp]]:
    """One epoch of batches of similar-length rows, in random order (less padding per step).

    Rows are shuffled, cut into chunks of 50 batches, each chunk sorted by length and
    split into batches; the batches are then shuffled.
    """
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[NDArray[np.intp]] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


class FineTunedRouter:
    """Encoder + linear head trained with cross-entropy, as a scikit-learn-style estimator."""

    def __init__(
        self,
        base_model: str | None = None,
        epochs: float = 3.0,
        batch_size: int = 32,
        body_learning_rate: float = 5e-5,
        head_learning_rate: float = 5e-3,
        weight_decay: float = 0.01,
        warmup_fraction: float = 0.1,
        label_smoothing: float = 0.05,
        distill_weight: float = 0.0,
        max_length: int = TrainConfig.max_length,
        freeze_embeddings: bool = True,
        freeze_layers: int = 0,
        num_layers: int = 0,
        max_steps: int = -1,
        seed: int = 42,
        show_progress_bar: bool = True,
    ) -> None:
        self.base_model = base_model
        self.epochs = epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.head_learning_rate = head_learning_rate
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.label_smoothing = label_smoothing
        self.distill_weight = distill_weight
        self.max_length = max_length
        self.freeze_embeddings = freeze_embeddings
        self.freeze_layers = freeze_layers  # lowest transformer layers kept as pre-trained
        self.num_layers = num_layers  # > 0 keeps only the lowest N layers (a shallower encoder)
        self.max_steps = max_steps  # > 0 caps optimiser steps (smoke runs); -1: epochs decide
        self.seed = seed
        self.show_progress_bar = show_progress_bar

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        soft_labels: NDArray[np.floating] | None = None,
    ) -> FineTunedRouter:
        """Fine-tune encoder and head; ``soft_labels`` (n, 6) adds a distillation term."""
        import torch
        from sentence_transformers import SentenceTransformer

        offline()
        missing = set(LABELS) - set(labels)
        if missing:
            raise ValueError(f"training data has no rows for {sorted(missing)}")
        if soft_labels is not None and len(soft_labels) != len(texts):
            raise ValueError(f"{len(soft_labels)} soft labels for {len(texts)} texts")
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        body = SentenceTransformer(
            str(self.base_model or base_model_path()), device="cpu", local_files_only=True
        )
        body.max_seq_length = self.max_length
        dim = body.get_embedding_dimension()
        encoder = body[0].auto_model
        if self.freeze_embeddings:
            # The word-embedding matrix is half the encoder's weights; AdamW would update
            # all 30k rows every step. Freezing it roughly halves step time on CPU.
            for param in encoder.embeddings.parameters():
                param.requires_grad = False
        if self.num_layers:
            if not 0 < self.num_layers <= len(encoder.encoder.layer):
                raise ConfigError(
                    f"[finetune] num_layers must be 1..{len(encoder.encoder.layer)} or 0 "
                    f"(all), got {self.num_layers}"
                )
            # Keep the lowest layers; the saved config says how many, so the run, its ONNX
            # export and the static tier's distillation all see the shallower encoder.
            encoder.encoder.layer = encoder.encoder.layer[: self.num_layers]
            encoder.config.num_hidden_layers = self.num_layers
        layers = encoder.encoder.layer
        if not 0 <= self.freeze_layers < len(layers):
            raise ConfigError(
                f"[finetune] freeze_layers must be 0..{len(layers) - 1} (the encoder has "
                f"{len(layers)} layers), got {self.freeze_layers}"
            )
        # Frozen lower layers need no backward pass: freezing 2 of MiniLM's 6 made steps
        # 1.2-1.4x faster on 2 cores (docs/experiments.md, #9a and #9b).
        for layer in layers[: self.freeze_layers]:
            for param in layer.parameters():
                param.requires_grad = False
        head = torch.nn.Linear(dim, len(LABELS))
        norm_texts = [preprocess(t) for t in texts]
        targets = torch.tensor([LABELS.index(label) for label in labels])  # (n,)
        soft = None if soft_labels is None else torch.tensor(soft_labels, dtype=torch.float32)
        # Class weights balance the labels as the old head's class_weight="balanced" did.
        counts = torch.bincount(targets, minlength=len(LABELS)).float()
        weights = counts.sum() / (len(LABELS) * counts.clamp(min=1))
        loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=self.label_smoothing)
        optimizer = torch.optim.AdamW(
            [
                {
                    "params": [p for p in body.parameters() if p.requires_grad],
                    "lr": self.body_learning_rate,
                },
                {"params": head.parameters(), "lr": self.head_learning_rate},
            ],
            weight_decay=self.weight_decay,
        )
        steps_per_epoch = math.ceil(len(texts) / self.batch_size)
        total = max(1, round(steps_per_epoch * self.epochs))
        if self.max_steps > 0:
            total = min(total, self.max_steps)
        warmup = max(1, round(total * self.warmup_fraction))
        decay = max(1, total - warmup)  # `--max-steps 1` leaves no decay steps: no zero division
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step: min((step + 1) / warmup, max(0.0, (total - step) / decay)),
        )
        trainable = [p for group in optimizer.param_groups for p in group["params"]]
        rng = np.random.default_rng(self.seed)
        body.train()
        started = time.perf_counter()
        step = 0
        lengths = np.array([len(t.split()) for t in norm_texts])
        while step < total:
            for idx in _length_bucketed_batches(lengths, self.batch_size, rng):
                if step >= total:
                    break
                features = body.preprocess([norm_texts[i] for i in idx])
                emb = body(features)["sentence_embedding"]  # (b, 384), L2-normalised
                logits = head(emb)  # (b, 6)
                loss = loss_fn(logits, targets[idx])
                if soft is not None and self.distill_weight > 0:
                    log_p = torch.log_softmax(logits, dim=-1)
                    kl = torch.nn.functional.kl_div(log_p, soft[idx], reduction="batchmean")
                    loss = (1 - self.distill_weight) * loss + self.distill_weight * kl
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                step += 1
                if self.show_progress_bar and (step % 50 == 0 or step == total):
                    rate = step / (time.perf_counter() - started)
                    print(f"  step {step}/{total}  loss {loss.item():.4f}  {rate:.2f} steps/s")
        body.eval()
        self.body_ = body
        self.coef_ = head.weight.detach().numpy().astype(np.float64)  # (6, 384)
        self.intercept_ = head.bias.detach().numpy().astype(np.float64)  # (6,)
        self.classes_ = np.array(LABELS)
        self.temperature_ = 1.0
        return self

    #: Subdirectory of a saved run holding the sentence-transformers encoder.
    encoder_dir = ENCODER_DIR

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Sentence embeddings (n, 384) of preprocessed texts, L2-normalised by the body."""
        return np.asarray(
            self.body_.encode(
                [preprocess(t) for t in texts],
                batch_size=64,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        )

    def logits(self, texts: list[str]) -> NDArray[np.float64]:
        """Head logits (n, 6) before temperature, columns in ``classes_`` order."""
        return np.asarray(self.embed(texts) @ self.coef_.T + self.intercept_, dtype=np.float64)

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        return softmax(self.logits(texts), self.temperature_)

    def predict(self, texts: list[str]) -> NDArray[np.str_]:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def calibrate(self, texts: list[str], labels: list[str]) -> FineTunedRouter:
        """Fit ``temperature_`` on held-out training rows (never on evaluation files)."""
        targets = np.array([LABELS.index(label) for label in labels])
        self.temperature_ = fit_temperature(self.logits(texts), targets)
        return self

    def save(self, run_dir: Path) -> None:
        """Write ``encoder/`` (a sentence-transformers directory) and ``train_meta.json``."""
        run_dir = Path(run_dir)
        self.body_.save(str(run_dir / ENCODER_DIR))
        meta = {
            "method": "cross_entropy",
            "temperature": self.temperature_,
            "max_length": self.max_length,
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_.tolist(),
        }
        (run_dir / RUN_META).write_text(json.dumps(meta) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> FineTunedRouter:
        """Load a run saved by ``save`` (``routelet.train.load_run`` checks it is one)."""
        from sentence_transformers import SentenceTransformer

        offline()
        run_dir = Path(run_dir)
        meta: dict[str, Any] = json.loads((run_dir / RUN_META).read_text())
        router = cls(max_length=int(meta["max_length"]), show_progress_bar=False)
        router.body_ = SentenceTransformer(
            str(run_dir / ENCODER_DIR), device="cpu", local_files_only=True
        )
        router.body_.max_seq_length = router.max_length
        router.coef_ = np.asarray(meta["coef"], dtype=np.float64)
        router.intercept_ = np.asarray(meta["intercept"], dtype=np.float64)
        router.classes_ = np.array(LABELS)
        router.temperature_ = float(meta["temperature"])
        return router
