"""Tests of routelet.static_tier: the numpy runtime of the static tier and its files.

The synthetic static tier of ``static_model_dir`` (root conftest) stands in for a
distilled one; that the runtime equals model2vec's own ``encode`` on a really distilled
model is tested in ``suites/unit/test_distill.py`` (train extra).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from routelet.calibrate import softmax
from routelet.errors import DataError, ModelError
from routelet.manifest import add_artifacts, read_manifest
from routelet.preprocess import preprocess
from routelet.static_tier import (
    STATIC_ARTIFACTS,
    STATIC_EMBEDDINGS,
    STATIC_HEAD,
    STATIC_TOKENIZER,
    StaticTier,
    has_static_tier,
)

pytestmark = pytest.mark.shipped

TEXTS = ["remember my locker code is 4471", "hey um play some jazz on spotify", "hi"]


@pytest.fixture(scope="module")
def tier(static_model_dir: Path) -> StaticTier:
    return StaticTier.load(static_model_dir, read_manifest(static_model_dir))


@pytest.fixture
def model_copy(static_model_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(static_model_dir, dst)
    return dst


def test_embedding_is_the_normalised_mean_of_token_rows(
    tier: StaticTier, static_model_dir: Path
) -> None:
    """A text's embedding is the L2-normalised mean of its tokens' rows times their scales."""
    with np.load(static_model_dir / STATIC_EMBEDDINGS) as npz:
        rows = npz["vectors"].astype(np.float32) * npz["scales"][:, None]  # (V, D)
    tokenizer = Tokenizer.from_file(str(static_model_dir / STATIC_TOKENIZER))
    for text in TEXTS:
        ids = tokenizer.encode(preprocess(text), add_special_tokens=False).ids
        mean = rows[ids].mean(axis=0)
        expected = mean / np.linalg.norm(mean)
        np.testing.assert_allclose(tier.embed([text])[0], expected, rtol=1e-5, atol=1e-6)


def test_proba_one_is_the_head_on_the_embedding(tier: StaticTier) -> None:
    """proba_one's folded table gives the head on ``embed`` to float rounding."""
    for text in [*TEXTS, "zzqxj", "?!"]:  # "?!" preprocesses to no token at all
        expected = softmax(tier.embed([text])[0] @ tier._coef_t + tier._intercept, tier.temperature)
        np.testing.assert_allclose(tier.proba_one(text), expected, rtol=0, atol=1e-5)


def test_predict_proba_rows_are_proba_one(tier: StaticTier) -> None:
    """Row i of predict_proba is exactly proba_one(texts[i]), a distribution over 6 labels."""
    probs = tier.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), 6)
    for row, text in zip(probs, TEXTS, strict=True):
        assert np.array_equal(row, tier.proba_one(text))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_tokens_beyond_max_tokens_are_ignored(tier: StaticTier) -> None:
    """Only the first max_tokens tokens count, as in model2vec's encode."""
    base = "play some jazz"
    tier_short = StaticTier(
        Tokenizer.from_str(tier._tokenizer.to_str()),
        tier._vectors,
        tier._coef_t.T,
        tier._intercept,
        tier.temperature,
        tier.tau,
        max_tokens=3,
    )
    assert np.array_equal(tier_short.embed([base + " now please"]), tier_short.embed([base]))


@pytest.mark.parametrize(
    "text", [pytest.param("", id="empty"), pytest.param(" \t\n", id="whitespace")]
)
def test_empty_text_is_refused(tier: StaticTier, text: str) -> None:
    """An empty or whitespace-only text is a DataError, as on every other path."""
    with pytest.raises(DataError, match="empty"):
        tier.proba_one(text)


def test_manifest_lists_every_static_file(static_model_dir: Path) -> None:
    """Every static-tier file is in the manifest with its checksum."""
    manifest = read_manifest(static_model_dir)
    assert has_static_tier(manifest)
    assert set(STATIC_ARTIFACTS) <= set(manifest["artifacts"])


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in STATIC_ARTIFACTS])
def test_corrupt_static_file_is_a_model_error(model_copy: Path, name: str) -> None:
    """One flipped byte in any static-tier file fails loading with a one-line ModelError."""
    path = model_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch") as info:
        StaticTier.load(model_copy, read_manifest(model_copy))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in STATIC_ARTIFACTS])
def test_missing_static_file_is_a_model_error(model_copy: Path, name: str) -> None:
    """A static-tier file listed in the manifest but absent is a ModelError naming it."""
    (model_copy / name).unlink()
    with pytest.raises(ModelError, match=f"{name}: missing"):
        StaticTier.load(model_copy, read_manifest(model_copy))


def _rewrite_head(model_dir: Path, **changes: object) -> None:
    head = json.loads((model_dir / STATIC_HEAD).read_text())
    head.update(changes)
    (model_dir / STATIC_HEAD).write_text(json.dumps(head))
    add_artifacts(model_dir, (STATIC_HEAD,), {})  # a consistent checksum: the content is bad


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"tau": 1.5}, "tau must be between 0 and 1", id="tau-above-1"),
        pytest.param({"tau": float("nan")}, "tau must be between 0 and 1", id="tau-nan"),
        pytest.param({"temperature": 0}, "temperature must be a positive", id="zero-temperature"),
        pytest.param({"labels": ["a"] * 6}, "differ from Intent order", id="wrong-labels"),
        pytest.param({"coef": [[0.0] * 3] * 6}, "do not match", id="coef-width"),
        pytest.param({"max_tokens": 0}, "max_tokens must be a positive", id="max-tokens"),
    ],
)
def test_malformed_static_head_is_a_model_error(
    model_copy: Path, changes: dict[str, object], message: str
) -> None:
    """A checksummed but malformed static head is a one-line ModelError saying what is wrong."""
    _rewrite_head(model_copy, **changes)
    with pytest.raises(ModelError, match=message):
        StaticTier.load(model_copy, read_manifest(model_copy))


def test_runtime_never_imports_model2vec_or_torch(static_model_dir: Path) -> None:
    """Loading and running a model with a static tier imports neither model2vec nor torch."""
    code = (
        "import sys; from routelet.runtime import Router; "
        f"Router.load({str(static_model_dir)!r}, tier='static').classify('play jazz'); "
        "sys.exit(1 if {'torch', 'model2vec'} & set(sys.modules) else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr or "torch or model2vec was imported"
