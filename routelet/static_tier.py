"""The static tier: a sub-millisecond router from static token embeddings, numpy only.

``StaticTier.load(model_dir, manifest)`` opens the three files that ``routelet distill``
adds to a model directory and checks them against the manifest's checksums:

- ``static_embeddings.npz``: ``vectors`` (V, D) int8 and ``scales`` (V,) float32, one row
  per token of the static tokenizer; a row's embedding is ``vectors[i] * scales[i]``
  (the model2vec row times its SIF weight, quantised per row);
- ``static_tokenizer.json``: model2vec's tokenizer (no special tokens, no padding);
- ``static_head.json``: the linear head (coef (6, D), intercept (6,)) in ``Intent`` order,
  its calibrated ``temperature``, and ``tau``, the confidence at or above which the
  cascade answers from this tier (``routelet.cascade``).

A text is routed as model2vec's ``StaticModel.encode`` embeds it: ``preprocess``, cut to
``max_chars`` characters, tokenise without special tokens (word by word, see below), drop
the unknown token when the tokenizer has one, keep ``max_tokens`` tokens, mean of the
rows, L2 normalisation (plus model2vec's 1e-32), then the head and
``routelet.calibrate.softmax``. ``proba_one`` computes the same with the head folded into
the rows at load (a (V, D + 6) table: each row, then the row times the head), so one
gather and one sum give both the pooled vector and the logits before normalising; its
probabilities equal ``embed`` followed by the head to float rounding (~1e-6).

Tokenising is the costly step: the tokenizer's ~35 chained normalisers take ~50 us a
text, more than everything else. For printable-ASCII text (a ``[``, which could spell an
added token, excepted) they are one ``str.lower``/``str.translate``/``split`` in Python,
and each word is then segmented on its own by a copy of the tokenizer without its
normaliser, through a bounded per-word cache (``WORD_CACHE_SIZE``): a word's ids are its
segmentation alone, whatever surrounds it. The whole-text tokenizer agrees on ~99.5 % of
texts; where it does not, its Unigram model broke a tie between equal-score splits of a
word by floating-point sums that depend on the words before it (model2vec's vocabulary
has only 20 distinct scores). ``routelet distill`` fits the head on these same ids
(``StaticTier._ids``), so serving and training agree by construction;
``suites/unit/test_static_fast_path.py`` holds the fast path to the tokenizer applied
word by word on every training and evaluation text and on drawn text. Other text, and a
tokenizer of another shape, goes through the tokenizer whole.

Imports tokenizers and numpy only; it never imports model2vec or torch, and loads
nothing at import time. It does not distil or train (``routelet.distill`` does) and does
not decide which tier answers (``routelet.cascade`` does). Any missing, altered or
malformed file is a one-line ``ModelError``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.calibrate import softmax
from routelet.data import is_blank
from routelet.errors import DataError, ModelError
from routelet.intents import LABELS
from routelet.manifest import verify_files
from routelet.preprocess import preprocess

STATIC_EMBEDDINGS = "static_embeddings.npz"
STATIC_TOKENIZER = "static_tokenizer.json"
STATIC_HEAD = "static_head.json"
#: The static tier's files, each listed in the manifest with its sha256.
STATIC_ARTIFACTS = (STATIC_EMBEDDINGS, STATIC_TOKENIZER, STATIC_HEAD)
#: Distinct words whose token ids the fast path keeps (then it starts afresh): ~10 MB at most.
WORD_CACHE_SIZE = 65_536


def has_static_tier(manifest: dict[str, Any]) -> bool:
    """Whether the manifest lists a static tier (any of its files: a partial one is an error)."""
    return any(name in manifest.get("artifacts", {}) for name in STATIC_ARTIFACTS)


def _fail(where: Path, what: str) -> ModelError:
    return ModelError(f"{where}: {what}")


def dequantise(vectors: NDArray[np.int8], scales: NDArray[np.floating]) -> NDArray[np.float32]:
    """Token rows (V, D) float32 from int8 ``vectors`` (V, D) and per-row ``scales`` (V,).

    C order: a text gathers whole rows (a Fortran-ordered table made that 10x slower).
    """
    return np.ascontiguousarray(vectors, dtype=np.float32) * scales.astype(np.float32)[:, None]


def _load_vectors(path: Path) -> NDArray[np.float32]:
    """Dequantised token rows (V, D) float32 from ``static_embeddings.npz``."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            vectors, scales = npz["vectors"], npz["scales"]
    except (OSError, ValueError, KeyError) as exc:
        raise _fail(path, f"malformed static embeddings ({type(exc).__name__}: {exc})") from None
    if vectors.dtype != np.int8 or vectors.ndim != 2 or scales.shape != (vectors.shape[0],):
        raise _fail(
            path,
            f"expected int8 (V, D) vectors and (V,) scales, got "
            f"{vectors.dtype} {vectors.shape} and {scales.shape}",
        )
    if not np.isfinite(scales).all():
        raise _fail(path, "scales are not all finite numbers")
    return dequantise(vectors, scales)


def _parse_head(head: Any, where: Path, dim: int) -> dict[str, Any]:
    """Validate ``static_head.json``'s content against the embedding width ``dim``."""
    try:
        parsed = {
            "coef": np.asarray(head["coef"], dtype=np.float32),  # (6, D)
            "intercept": np.asarray(head["intercept"], dtype=np.float32),  # (6,)
            "temperature": float(head["temperature"]),
            "tau": float(head["tau"]),
            "max_tokens": head["max_tokens"],
            "max_chars": head["max_chars"],
            "unk_id": head["unk_id"],
        }
        labels = tuple(head["labels"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(where, f"malformed static head ({type(exc).__name__}: {exc})") from None
    coef, intercept = parsed["coef"], parsed["intercept"]
    if labels != LABELS:
        raise _fail(where, f"static head labels {labels} differ from Intent order {LABELS}")
    if coef.shape != (len(LABELS), dim) or intercept.shape != (len(LABELS),):
        raise _fail(
            where,
            f"static head shapes {coef.shape}/{intercept.shape} do not match "
            f"{len(LABELS)} labels and {dim}-wide embeddings",
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise _fail(where, "static head weights are not all finite numbers")
    if not (math.isfinite(parsed["temperature"]) and parsed["temperature"] > 0):
        raise _fail(where, f"temperature must be a positive number, got {parsed['temperature']}")
    if not 0.0 <= parsed["tau"] <= 1.0:  # also rejects NaN
        raise _fail(where, f"tau must be between 0 and 1, got {parsed['tau']}")
    for key in ("max_tokens", "max_chars"):
        if type(parsed[key]) is not int or parsed[key] < 1:
            raise _fail(where, f"{key} must be a positive integer, got {parsed[key]!r}")
    if parsed["unk_id"] is not None and type(parsed["unk_id"]) is not int:
        raise _fail(where, f"unk_id must be an integer or null, got {parsed['unk_id']!r}")
    return parsed


def _punctuation_table(tokenizer: Any) -> dict[int, str] | None:
    """``str.translate`` table doing ``tokenizer``'s normaliser on printable ASCII, or None.

    Only for the shape model2vec writes: a Unigram model, a Metaspace pre-tokenizer that
    prepends ``▁`` and does not split, and a normaliser sequence of a lower-casing
    ``BertNormalizer``, single-character ``Replace``s of ``c`` by `` c ``, a
    whitespace-collapsing ``Replace`` and a ``Strip`` (``split`` does those two). Reads the
    components' own small JSON states, never the whole tokenizer (a 29k-row vocabulary
    would add ~50 ms to every load). Exactness also needs no vocabulary token to hold
    ``▁`` after its first character, as model2vec's do; ``suites/unit/test_static_fast_path.py``
    checks that on the shipped tokenizer, with every data and eval text.
    """
    if type(tokenizer.model).__name__ != "Unigram" or tokenizer.pre_tokenizer is None:
        return None
    if tokenizer.normalizer is None:
        return None
    pre = json.loads(tokenizer.pre_tokenizer.__getstate__())
    norm = json.loads(tokenizer.normalizer.__getstate__())
    if pre.get("type") != "Metaspace" or pre.get("split"):
        return None
    if pre.get("replacement") != "\u2581" or pre.get("prepend_scheme") != "always":
        return None
    steps = norm.get("normalizers", []) if norm.get("type") == "Sequence" else []
    if not steps or steps[0].get("type") != "BertNormalizer" or not steps[0].get("lowercase"):
        return None
    table: dict[int, str] = {}
    for step in steps[1:]:
        pattern = step.get("pattern", {})
        if step.get("type") == "Strip" or pattern.get("Regex") == "\\s+":
            continue
        char = pattern.get("String")
        if step.get("type") != "Replace" or char is None or len(char) != 1:
            return None
        if step.get("content") != f" {char} ":
            return None
        table[ord(char)] = f" {char} "
    return table


class StaticTier:
    """Static token embeddings + linear head + temperature: ``predict_proba`` in numpy."""

    def __init__(
        self,
        tokenizer: Any,
        vectors: NDArray[np.float32],
        coef: NDArray[np.float32],
        intercept: NDArray[np.float32],
        temperature: float,
        tau: float,
        max_tokens: int = 512,
        max_chars: int = 512 * 7,
        unk_id: int | None = None,
    ) -> None:
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self._tokenizer = tokenizer
        rows = np.asarray(vectors, dtype=np.float32)  # (V, D)
        self._coef_t = np.ascontiguousarray(coef.T)  # (D, 6)
        # Each token's row followed by its row times the head, (V, D + 6): one gather and one
        # sum give a text's pooled vector and its unnormalised logits together. The head is
        # linear, so normalising the sum of the logits equals the head on the normalised sum
        # (to float rounding, ~1e-6 in probability); it saves the per-call matmul.
        self._table = np.ascontiguousarray(np.hstack([rows, rows @ self._coef_t]))
        self._dim = int(rows.shape[1])
        self._vectors = self._table[:, : self._dim]  # (V, D), a view
        self._intercept = intercept  # (6,)
        self.temperature = temperature
        self.tau = tau
        self.max_tokens = max_tokens
        self.max_chars = max_chars
        self.unk_id = unk_id
        self.classes_ = np.array(LABELS)
        self._split_punct = _punctuation_table(tokenizer)
        self._unnormalised = None  # the same model and pre-tokenizer, no normaliser
        self._word_cache: dict[str, list[int]] = {}
        if self._split_punct is not None:
            self._unnormalised = type(tokenizer)(tokenizer.model)
            self._unnormalised.pre_tokenizer = tokenizer.pre_tokenizer

    @property
    def dim(self) -> int:
        return self._dim

    @classmethod
    def load(cls, model_dir: Path, manifest: dict[str, Any]) -> StaticTier:
        """Open the static tier of ``model_dir`` after checking its files' checksums."""
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        verify_files(model_dir, manifest, STATIC_ARTIFACTS)
        vectors = _load_vectors(model_dir / STATIC_EMBEDDINGS)
        tokenizer_path = model_dir / STATIC_TOKENIZER
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise _fail(tokenizer_path, f"unreadable ({exc})") from None
        if tokenizer.get_vocab_size() != len(vectors):
            raise _fail(
                tokenizer_path,
                f"{tokenizer.get_vocab_size()} tokens for {len(vectors)} embedding rows",
            )
        head_path = model_dir / STATIC_HEAD
        try:
            raw = json.loads(head_path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _fail(head_path, f"malformed static head ({exc})") from None
        head = _parse_head(raw, head_path, vectors.shape[1])
        return cls(tokenizer, vectors, **head)

    def _tokenizer_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` from the tokenizer itself, the unknown token dropped."""
        return self._drop_unknown(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def _drop_unknown(self, ids: list[int]) -> list[int]:
        return ids if self.unk_id is None else [i for i in ids if i != self.unk_id]

    def _word_ids(self, word: str) -> list[int]:
        """Token ids of one normalised word, segmented alone (cached; unknown token kept)."""
        ids = self._word_cache.get(word)
        if ids is None:
            assert self._unnormalised is not None  # only the fast path calls this
            if len(self._word_cache) >= WORD_CACHE_SIZE:
                self._word_cache.clear()
            ids = self._unnormalised.encode(word, add_special_tokens=False).ids
            self._word_cache[word] = ids
        return ids

    def _fast_ids(self, text: str) -> list[int] | None:
        """Token ids of printable-ASCII ``text``, normalised in Python and segmented word by
        word; None where the fast path does not apply (see the module docstring)."""
        table = self._split_punct
        if table is None or self._unnormalised is None:
            return None
        if not (text.isascii() and text.isprintable()):
            return None
        if "[" in text:  # could spell an added token ([UNK], [PAD]), matched before normalising
            return None
        ids: list[int] = []
        for word in text.lower().translate(table).split():
            ids += self._word_ids(word)
        return self._drop_unknown(ids)

    def _ids(self, normalised: str) -> list[int]:
        """Token ids of a preprocessed text, cut exactly as model2vec's ``tokenize`` cuts."""
        text = normalised[: self.max_chars]
        ids = self._fast_ids(text)
        if ids is None:
            ids = self._tokenizer_ids(text)
        return ids[: self.max_tokens]

    def _embed_one(self, normalised: str) -> NDArray[np.float32]:
        """The L2-normalised mean of the token rows (D,); zeros for a text without tokens."""
        ids = self._ids(normalised)
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        # The sum, not the mean: normalising makes them the same vector, one pass cheaper.
        pooled = self._vectors[ids].sum(axis=0)  # (D,)
        return pooled / (np.sqrt(pooled @ pooled) + 1e-32)

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Sentence embeddings (n, D) of raw texts (``preprocess`` is applied here)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._embed_one(preprocess(t)) for t in texts])

    def proba_one(self, text: str) -> NDArray[np.float64]:
        """Calibrated probabilities (6,) of one raw text, in ``Intent`` order."""
        if is_blank(text):
            raise DataError("empty text: nothing to route (empty or whitespace only)")
        ids = self._ids(preprocess(text))
        if not ids:  # no token: the zero embedding, whose logits are the intercept
            return softmax(self._intercept, self.temperature)
        summed = self._table[ids].sum(axis=0)  # (D + 6,): pooled row, then its logits
        pooled = summed[: self._dim]
        norm = math.sqrt(float(pooled @ pooled)) + 1e-32  # as _embed_one normalises
        return softmax(summed[self._dim :] / norm + self._intercept, self.temperature)

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        """Calibrated probabilities (n, 6); row ``i`` is ``proba_one(texts[i])``."""
        if not texts:
            return np.zeros((0, len(LABELS)))
        return np.vstack([self.proba_one(t) for t in texts])
