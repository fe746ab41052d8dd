"""The static tier's fast tokenising equals its tokenizer applied word by word (shipped model).

``StaticTier._ids`` skips the tokenizer's chained normalisers for printable-ASCII text and
segments each word on its own through a cache (routelet.static_tier); these tests hold it
to the tokenizer itself (its own normaliser, then each word encoded alone) on every
training and evaluation text and on drawn text, and check the cache.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routelet import static_tier as static_tier_module
from routelet.data import load_jsonl
from routelet.manifest import read_manifest
from routelet.preprocess import preprocess
from routelet.static_tier import StaticTier, has_static_tier

pytestmark = pytest.mark.shipped

#: Printable ASCII, with pieces that matter most (brackets, added-token spellings) mixed in.
ascii_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
        st.sampled_from(["[UNK]", "[PAD]", "don't", "e-mail", " ' ", "..."]),
    ),
    max_size=10,
).map(" ".join)


def _reference_ids(tier: StaticTier, normalised: str) -> list[int]:
    """The reference, cut as ``_ids`` cuts: the tokenizer's own normaliser, then each word
    through the tokenizer alone; the whole tokenizer where the fast path does not apply."""
    text = normalised[: tier.max_chars]
    if not (text.isascii() and text.isprintable()) or "[" in text:
        return tier._tokenizer_ids(text)[: tier.max_tokens]
    tokenizer = tier._tokenizer
    words = tokenizer.normalizer.normalize_str(text).split()
    ids = [i for w in words for i in tokenizer.encode(w, add_special_tokens=False).ids]
    return tier._drop_unknown(ids)[: tier.max_tokens]


@pytest.fixture(scope="module")
def shipped_tier(paths) -> StaticTier:  # type: ignore[no-untyped-def]
    manifest = read_manifest(paths.default_model)
    if not has_static_tier(manifest):
        pytest.skip("the shipped model has no static tier")
    return StaticTier.load(paths.default_model, manifest)


def test_shipped_tokenizer_gets_the_fast_path(shipped_tier: StaticTier) -> None:
    """model2vec's tokenizer shape is recognised, so the fast path is taken at all."""
    assert shipped_tier._fast_ids("play some jazz") is not None


def test_fast_ids_equal_word_by_word_tokenizer_ids_on_every_data_and_eval_text(
    shipped_tier: StaticTier,
    paths,  # type: ignore[no-untyped-def]
) -> None:
    """Every training and evaluation text gets the tokenizer's word-by-word ids."""
    files = [*paths.training_files(), *paths.eval_files()]
    texts = [preprocess(ex.text) for f in files for ex in load_jsonl(Path(f))]
    assert len(texts) > 5000
    differing = [t for t in texts if shipped_tier._ids(t) != _reference_ids(shipped_tier, t)]
    assert differing == []


@given(text=ascii_text)
def test_fast_ids_equal_word_by_word_tokenizer_ids_on_drawn_ascii(
    shipped_tier: StaticTier, text: str
) -> None:
    """Drawn printable ASCII (punctuation, brackets, added-token spellings) agrees too."""
    assert shipped_tier._ids(text) == _reference_ids(shipped_tier, text)


def test_word_ids_do_not_depend_on_the_words_around_them(shipped_tier: StaticTier) -> None:
    """A word contributes the same ids wherever it stands (the whole-text tokenizer splits
    'solstice' differently after other words: the reason for word-by-word segmenting)."""
    alone = shipped_tier._ids("solstice")
    assert shipped_tier._ids("when is the winter solstice")[-len(alone) :] == alone


def test_word_cache_is_bounded_and_gives_the_same_ids(
    shipped_tier: StaticTier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached word returns the ids it was computed with, and the cache never outgrows its
    bound (it starts afresh when full)."""
    monkeypatch.setattr(static_tier_module, "WORD_CACHE_SIZE", 3)
    monkeypatch.setattr(shipped_tier, "_word_cache", {})
    first = shipped_tier._ids("turn on the kitchen lights")
    assert shipped_tier._ids("turn on the kitchen lights") == first
    assert len(shipped_tier._word_cache) <= 3


def test_no_shipped_token_holds_the_word_boundary_inside(shipped_tier: StaticTier) -> None:
    """Word-by-word segmenting loses no token: every ``▁`` is a token's first character."""
    vocab = shipped_tier._tokenizer.get_vocab()
    assert not [token for token in vocab if "\u2581" in token[1:]]
