"""The torch-free router: tokenizers + onnxruntime + numpy, nothing else.

``Router.load(path=None)`` opens a model directory written by ``routelet export``
(``model.onnx`` int8 encoder, ``tokenizer.json``, ``head.json``, ``manifest.json``),
verifies every checksum and raises ``ModelError`` on a missing or corrupt file. Input
goes through ``preprocess``; the encoder's token embeddings are mean-pooled over the
attention mask and L2-normalised (as sentence-transformers does), then the logistic
head and the calibrated temperature give the distribution.

Nothing is loaded at import time. It does not train, export or download anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.calibrate import softmax
from routelet.config import Paths
from routelet.errors import ConfigError, ModelError
from routelet.intents import LABELS, Intent
from routelet.manifest import verify_artifacts
from routelet.preprocess import preprocess

#: Default confidence below which a prediction is a deferral (route to the fallback).
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Prediction:
    """The router's answer for one text."""

    intent: Intent
    confidence: float
    distribution: dict[str, float]
    deferred: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent.value,
            "confidence": round(self.confidence, 6),
            "distribution": {k: round(v, 6) for k, v in self.distribution.items()},
            "deferred": self.deferred,
        }


def _parse_head(
    head: dict[str, Any], where: Path | str
) -> tuple[NDArray[np.float32], NDArray[np.float32], float, int]:
    """Validate a head (``head.json``'s content): (coef, intercept, temperature, max_length)."""
    try:
        coef = np.asarray(head["coef"], dtype=np.float32)  # (6, 384)
        intercept = np.asarray(head["intercept"], dtype=np.float32)  # (6,)
        temperature = float(head["temperature"])
        labels = tuple(head["labels"])
        max_length = int(head.get("max_length", 64))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: malformed head ({exc})") from None
    if labels != LABELS:
        raise ModelError(f"{where}: head labels {labels} differ from Intent order {LABELS}")
    if coef.shape[0] != len(LABELS) or intercept.shape != (len(LABELS),):
        raise ModelError(f"{where}: head shapes {coef.shape}/{intercept.shape} do not match labels")
    return coef, intercept, temperature, max_length


class Router:
    """Classify spoken commands with an exported routelet model."""

    def __init__(
        self,
        session: Any,
        tokenizer: Any,
        coef: NDArray[np.float32],
        intercept: NDArray[np.float32],
        temperature: float,
        threshold: float = DEFAULT_THRESHOLD,
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._coef_t = np.ascontiguousarray(coef.T)  # (384, 6)
        self._intercept = intercept
        self.temperature = temperature
        self.threshold = threshold
        self.manifest = manifest or {}
        self.path = path
        self._inputs = {i.name for i in session.get_inputs()}
        self.classes_ = np.array(LABELS)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name if self.path else "routelet"))

    @classmethod
    def load(
        cls, path: Path | str | None = None, threads: int = 1, threshold: float | None = None
    ) -> Router:
        """Open a model directory (default: the shipped ``models/routelet-v1``)."""
        if threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1, got {threshold}")
        model_dir = Path(path) if path is not None else Paths.discover().default_model
        if not model_dir.is_dir():
            raise ModelError(f"{model_dir}: model directory not found (pass --model PATH)")
        manifest = verify_artifacts(model_dir)
        try:
            head = json.loads((model_dir / "head.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{model_dir / 'head.json'}: malformed head ({exc.msg})") from None
        default = manifest.get("defer_threshold", DEFAULT_THRESHOLD)
        return cls.from_files(
            model_dir / "model.onnx",
            model_dir / "tokenizer.json",
            head,
            threads=threads,
            threshold=default if threshold is None else threshold,
            manifest=manifest,
            path=model_dir,
        )

    @classmethod
    def from_files(
        cls,
        model_path: Path,
        tokenizer_path: Path,
        head: dict[str, Any],
        threads: int = 1,
        threshold: float = DEFAULT_THRESHOLD,
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
    ) -> Router:
        """Build from an encoder, a tokenizer and a head, without a manifest check.

        ``load`` uses it after verifying checksums; export uses it directly on the
        fresh, not yet checksummed files it compares with torch.
        """
        import onnxruntime as ort
        from tokenizers import Tokenizer

        where = path / "head.json" if path is not None else "head"
        coef, intercept, temperature, max_length = _parse_head(head, where)
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise ModelError(f"{tokenizer_path}: unreadable ({exc})") from None
        tokenizer.enable_truncation(max_length)
        tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = ort.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{model_path}: cannot load ({exc})") from None
        return cls(
            session,
            tokenizer,
            coef,
            intercept,
            temperature,
            threshold=threshold,
            manifest=manifest,
            path=path,
        )

    def _feeds(self, encodings: list[Any]) -> dict[str, NDArray[np.int64]]:
        if len(encodings) == 1:  # the hot path: one text, no padding
            ids = np.asarray([encodings[0].ids], dtype=np.int64)  # (1, L)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            return feeds
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)  # (n, L), 0 = [PAD]
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        return feeds

    def _embed_encodings(self, encodings: list[Any]) -> NDArray[np.float32]:
        feeds = self._feeds(encodings)
        hidden = self._session.run(None, feeds)[0]  # (n, L, 384)
        mask = feeds["attention_mask"][:, :, None].astype(np.float32)  # (n, L, 1)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)  # (n, 384)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    def _probs(self, encodings: list[Any]) -> NDArray[np.float64]:
        """Calibrated probabilities (n, 6) of tokenised, preprocessed texts, as one batch."""
        emb = self._embed_encodings(encodings)  # (n, 384)
        return softmax(emb @ self._coef_t + self._intercept, self.temperature)

    def predict_proba(self, texts: list[str], batch_size: int = 1) -> NDArray[np.float64]:
        """Calibrated probabilities (n, 6), columns in ``Intent`` order.

        The default (``batch_size=1``) gives exactly what ``classify`` gives for each text,
        which evaluation and snapshots rely on. Larger batches are faster but not
        identical: the int8 encoder quantises activations per batch, so a text's
        probabilities can move slightly with its batch-mates. Batches are formed by token
        length so that they carry little padding.
        """
        if not texts:
            return np.zeros((0, len(LABELS)))
        encodings = self._tokenizer.encode_batch([preprocess(t) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), len(LABELS)))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._probs([encodings[i] for i in idx])
        return out

    def predict(self, texts: list[str]) -> NDArray[np.str_]:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def _prediction(self, probs: NDArray[np.float64]) -> Prediction:
        best = int(probs.argmax())
        intent = Intent(LABELS[best])
        confidence = float(probs[best])
        return Prediction(
            intent=intent,
            confidence=confidence,
            distribution={label: float(p) for label, p in zip(LABELS, probs, strict=True)},
            deferred=intent is Intent.NONE or confidence < self.threshold,
        )

    def classify(self, text: str) -> Prediction:
        """Route one text."""
        return self._prediction(self._probs([self._tokenizer.encode(preprocess(text))])[0])

    def classify_batch(self, texts: list[str], batch_size: int = 16) -> list[Prediction]:
        """Route many texts at once in padded batches (faster; see ``predict_proba``)."""
        return [self._prediction(p) for p in self.predict_proba(list(texts), batch_size)]
