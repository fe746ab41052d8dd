"""The torch-free router: tokenizers + onnxruntime + numpy, nothing else.

``Router.load(path=None)`` opens a model directory written by ``routelet export``
(``model.onnx`` int8 encoder, ``tokenizer.json``, ``head.json``, ``manifest.json``),
verifies every checksum and raises ``ModelError`` on a missing, corrupt or malformed
file. Input goes through ``preprocess``; the encoder's token embeddings are mean-pooled
and L2-normalised (as sentence-transformers does), then the logistic head and the
calibrated temperature give the distribution. ``defers`` is the one deferral rule
(``none``, or a top probability below the threshold); ``deferred_mask`` applies it to many
rows at once (evaluation).

Invariant: one answer per text, whatever the path or the batch-mates. The int8 encoder
quantises activations per call (dynamic quantisation), so a padded batch would give a
text different probabilities from a call of its own. Every text is therefore encoded
in a call of its own, unpadded: ``classify``, ``classify_batch`` and ``predict_proba``
give bit-identical distributions for the same text. Multi-text calls may run several
texts at once on worker threads (onnxruntime releases the GIL), which changes only
the speed.

A model directory that also holds a static tier (``routelet.static_tier``, added by
``routelet distill``) is opened with it, and ``tier`` says who answers: ``cascade`` (the
default with a static tier: the static tier when its confidence reaches the model's
``tau``, else the encoder; ``routelet.cascade``), ``encoder`` (the default without one) or
``static``. ``Prediction.tier`` names the
tier that answered.

An empty or whitespace-only text is refused with ``DataError`` (``routelet.data.is_blank``),
as on every other path. Nothing is loaded at import time. It does not train, export or
download anything.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.calibrate import softmax
from routelet.cascade import answer, resolve_tier
from routelet.config import DEFAULT_THRESHOLD, Paths
from routelet.data import is_blank
from routelet.errors import ConfigError, DataError, ModelError
from routelet.intents import LABELS, Intent
from routelet.manifest import verify_artifacts
from routelet.preprocess import preprocess
from routelet.static_tier import StaticTier, has_static_tier

_NONE_COLUMN = LABELS.index(Intent.NONE.value)


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` if it is a probability in [0, 1]; else raise ``ConfigError``."""
    if not 0.0 <= threshold <= 1.0:  # also rejects NaN
        raise ConfigError(f"threshold must be between 0 and 1, got {threshold}")
    return threshold


def defers(best: int, confidence: float, threshold: float) -> bool:
    """The deferral rule for one text: handed to the fallback when its top label (column
    ``best`` in ``Intent`` order) is ``none``, or its top probability is below ``threshold``."""
    return best == _NONE_COLUMN or confidence < threshold


def deferred_mask(probs: NDArray[np.float64], threshold: float) -> NDArray[np.bool_]:
    """``defers`` for many rows at once: ``probs`` is (n, 6) in ``Intent`` order; (n,)."""
    return (probs.argmax(axis=1) == _NONE_COLUMN) | (probs.max(axis=1) < threshold)


@dataclass(frozen=True)
class Prediction:
    """The router's answer for one text."""

    intent: Intent
    confidence: float
    distribution: dict[str, float]
    deferred: bool
    tier: str = "encoder"  # which tier answered: "static" or "encoder" (routelet.cascade)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent.value,
            "confidence": round(self.confidence, 6),
            "distribution": {k: round(v, 6) for k, v in self.distribution.items()},
            "deferred": self.deferred,
            "tier": self.tier,
        }


def _finite(array: NDArray[np.float32]) -> bool:
    return bool(np.isfinite(array).all())


def _parse_head(
    head: Any, where: Path | str
) -> tuple[NDArray[np.float32], NDArray[np.float32], float, int]:
    """Validate a head (``head.json``'s content): (coef, intercept, temperature, max_length)."""
    try:
        coef = np.asarray(head["coef"], dtype=np.float32)  # (6, 384)
        intercept = np.asarray(head["intercept"], dtype=np.float32)  # (6,)
        temperature = float(head["temperature"])
        labels = tuple(head["labels"])
        max_length = head["max_length"]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ModelError(f"{where}: malformed head ({type(exc).__name__}: {exc})") from None
    if labels != LABELS:
        raise ModelError(f"{where}: head labels {labels} differ from Intent order {LABELS}")
    if coef.ndim != 2 or coef.shape[0] != len(LABELS) or intercept.shape != (len(LABELS),):
        raise ModelError(f"{where}: head shapes {coef.shape}/{intercept.shape} do not match labels")
    if not (_finite(coef) and _finite(intercept)):
        raise ModelError(f"{where}: head weights are not all finite numbers")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ModelError(f"{where}: temperature must be a positive number, got {temperature}")
    if type(max_length) is not int or max_length < 3:  # [CLS] + one token + [SEP]
        raise ModelError(f"{where}: max_length must be an integer >= 3, got {max_length!r}")
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
        static: StaticTier | None = None,
        tier: str | None = None,
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
        self.static = static
        self.tier = resolve_tier(tier, static)  # static | encoder | cascade

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", self.path.name if self.path else "routelet"))

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        threads: int = 1,
        threshold: float | None = None,
        tier: str | None = None,
    ) -> Router:
        """Open a model directory (default: the shipped model under ``models/``).

        ``threads`` is onnxruntime's thread count for one call; ``threshold`` overrides
        the manifest's ``defer_threshold``; ``tier`` is static, encoder or cascade
        (default: the cascade when the model has a static tier, else the encoder; see
        ``routelet.cascade.resolve_tier``).
        """
        if threads < 1:
            raise ConfigError(f"threads must be >= 1, got {threads}")
        if threshold is not None:
            check_threshold(threshold)
        model_dir = Path(path) if path is not None else Paths.discover().default_model
        if not model_dir.is_dir():
            raise ModelError(f"{model_dir}: model directory not found (pass --model PATH)")
        manifest = verify_artifacts(model_dir)
        static = StaticTier.load(model_dir, manifest) if has_static_tier(manifest) else None
        resolve_tier(tier, static)  # a bad tier fails before the encoder is loaded
        try:
            head = json.loads((model_dir / "head.json").read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{model_dir / 'head.json'}: malformed head ({exc.msg})") from None
        default = manifest.get("defer_threshold", DEFAULT_THRESHOLD)
        if threshold is None:
            try:
                check_threshold(float(default))
            except (ConfigError, TypeError, ValueError):
                raise ModelError(
                    f"{model_dir / 'manifest.json'}: defer_threshold must be in [0, 1], "
                    f"got {default!r}"
                ) from None
        return cls.from_files(
            model_dir / "model.onnx",
            model_dir / "tokenizer.json",
            head,
            threads=threads,
            threshold=float(default) if threshold is None else threshold,
            manifest=manifest,
            path=model_dir,
            static=static,
            tier=tier,
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
        static: StaticTier | None = None,
        tier: str | None = None,
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
        width = session.get_outputs()[0].shape[-1]  # the hidden size, e.g. 384
        if isinstance(width, int) and width != coef.shape[1]:
            raise ModelError(
                f"{where}: head expects {coef.shape[1]}-wide embeddings, the encoder gives {width}"
            )
        return cls(
            session,
            tokenizer,
            coef,
            intercept,
            temperature,
            threshold=threshold,
            manifest=manifest,
            path=path,
            static=static,
            tier=tier,
        )

    def _feeds(self, ids: list[int]) -> dict[str, NDArray[np.int64]]:
        """Encoder inputs for one unpadded text: every position is a real token."""
        input_ids = np.asarray([ids], dtype=np.int64)  # (1, L)
        feeds = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return feeds

    def _proba_one(self, text: str) -> NDArray[np.float64]:
        """Calibrated probabilities (6,) of one raw text, from a call of its own."""
        if is_blank(text):
            raise DataError("empty text: nothing to route (empty or whitespace only)")
        feeds = self._feeds(self._tokenizer.encode(preprocess(text)).ids)
        hidden = self._session.run(None, feeds)[0]  # (1, L, 384)
        # Mean pooling: never padded, every position is a real token, so no mask is needed
        # (the same numbers as the masked mean, without building and multiplying a mask).
        pooled = hidden.sum(axis=1) / np.float32(hidden.shape[1])  # (1, 384)
        emb = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return softmax(emb @ self._coef_t + self._intercept, self.temperature)[0]

    def _answer(self, text: str) -> tuple[NDArray[np.float64], str]:
        """(probabilities (6,), answering tier) of one raw text, by the cascade's one rule."""
        return answer(text, self.tier, self.static, self._proba_one)

    def _answers(self, texts: list[str], workers: int) -> list[tuple[NDArray[np.float64], str]]:
        if workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        texts = list(texts)
        if workers == 1 or len(texts) <= 1:
            return [self._answer(t) for t in texts]
        with ThreadPoolExecutor(min(workers, len(texts)), thread_name_prefix="routelet") as pool:
            return list(pool.map(self._answer, texts))

    def predict_proba(self, texts: list[str], workers: int = 1) -> NDArray[np.float64]:
        """Calibrated probabilities (n, 6), columns in ``Intent`` order.

        Row ``i`` is exactly ``classify(texts[i])``'s distribution. ``workers`` texts are
        encoded at a time, each in its own call (faster on several cores, same numbers).
        """
        answers = self._answers(texts, workers)
        if not answers:
            return np.zeros((0, len(LABELS)))
        return np.vstack([probs for probs, _ in answers])

    def predict(self, texts: list[str]) -> NDArray[np.str_]:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def _prediction(self, probs: NDArray[np.float64], tier: str) -> Prediction:
        # Plain Python on the six floats: each numpy call on a (6,) array costs a few
        # microseconds, more than the work, and the static tier's whole call is ~0.1 ms.
        values = probs.tolist()  # Python floats in one call (per-element float() costs ~10 us)
        best = max(range(len(values)), key=values.__getitem__)  # the first maximum, as argmax
        return Prediction(
            intent=Intent(LABELS[best]),
            confidence=values[best],
            distribution=dict(zip(LABELS, values, strict=True)),
            deferred=defers(best, values[best], self.threshold),
            tier=tier,
        )

    def classify(self, text: str) -> Prediction:
        """Route one text."""
        return self._prediction(*self._answer(text))

    def classify_batch(self, texts: list[str], workers: int = 1) -> list[Prediction]:
        """Route many texts; each answer equals ``classify(text)`` (see ``predict_proba``)."""
        return [self._prediction(*a) for a in self._answers(texts, workers)]
