"""The static tier's fast tokenising equals its tokenizer's, on the shipped model.

``StaticTier._ids`` skips the tokenizer's chained normalisers for printable-ASCII text
(routelet.static_tier); these tests hold it to the tokenizer on every training and
evaluation text and on drawn text.
"""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

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


def _tokenizer_ids(tier: StaticTier, normalised: str) -> list[int]:
    """The reference: the tokenizer itself on the text, cut as ``_ids`` cuts."""
    return tier._tokenizer_ids(normalised[: tier.max_chars])[: tier.max_tokens]


@pytest.fixture(scope="module")
def shipped_tier(paths) -> StaticTier:  # type: ignore[no-untyped-def]
    manifest = read_manifest(paths.default_model)
    if not has_static_tier(manifest):
        pytest.skip("the shipped model has no static tier")
    return StaticTier.load(paths.default_model, manifest)


def test_shipped_tokenizer_gets_the_fast_path(shipped_tier: StaticTier) -> None:
    """model2vec's tokenizer shape is recognised, so the fast path is taken at all."""
    assert shipped_tier._fast_ids("play some jazz") is not None


def test_fast_ids_equal_tokenizer_ids_on_every_data_and_eval_text(
    shipped_tier: StaticTier,
    paths,  # type: ignore[no-untyped-def]
) -> None:
    """Every training and evaluation text gets the tokenizer's own ids from the fast path."""
    files = [*paths.training_files(), *paths.eval_files()]
    texts = [preprocess(ex.text) for f in files for ex in load_jsonl(Path(f))]
    assert len(texts) > 5000
    differing = [t for t in texts if shipped_tier._ids(t) != _tokenizer_ids(shipped_tier, t)]
    assert differing == []


@given(text=ascii_text)
def test_fast_ids_equal_tokenizer_ids_on_drawn_ascii(shipped_tier: StaticTier, text: str) -> None:
    """Drawn printable ASCII (punctuation, brackets, added-token spellings) agrees too."""
    assert shipped_tier._ids(text) == _tokenizer_ids(shipped_tier, text)


def test_no_shipped_token_holds_the_word_boundary_inside(shipped_tier: StaticTier) -> None:
    """The fast path's exactness rests on every ``▁`` being a token's first character."""
    vocab = shipped_tier._tokenizer.get_vocab()
    assert not [token for token in vocab if "\u2581" in token[1:]]
