"""Tests of routelet.augment: seeded, label-preserving disfluency augmentation."""

from routelet.augment import TRANSFORMS, augment
from routelet.data import Example
from routelet.intents import Intent

ROWS = [
    Example("turn off the kitchen lights", Intent.INTEGRATION),
    Example("what's my gym locker number", Intent.MEMORY),
    Example("pause", Intent.INTEGRATION),
]


def test_deterministic_and_independent_of_other_rows() -> None:
    """A row's variants depend only on the seed and its own text."""
    alone = augment(ROWS[:1], copies=3, seed=4)
    assert alone == augment(ROWS[:1], copies=3, seed=4)
    assert [e.text for e in augment(ROWS, copies=3, seed=4)][: len(alone)] == [
        e.text for e in alone
    ]


def test_labels_kept_and_sources_recorded() -> None:
    """Every variant keeps its source's label and names its source text."""
    out = augment(ROWS, copies=2, seed=0)
    by_text = {r.text: r.intent for r in ROWS}
    assert out and all(by_text[v.meta["augment_of"]] is v.intent for v in out)


def test_variants_are_new_text() -> None:
    """No variant repeats its source or another variant."""
    out = augment(ROWS, copies=4, seed=1)
    texts = [v.text for v in out]
    assert len(set(texts)) == len(texts) and not set(texts) & {r.text for r in ROWS}


def test_transforms_keep_content_words() -> None:
    """Each transform keeps every original word (only adds noise or changes case/apostrophes)."""
    import random

    src = "what's the weather in oslo"
    for name, fn in TRANSFORMS.items():
        out = fn(src, random.Random(3)).lower().replace("'", "")
        for word in src.replace("'", "").split():
            assert word in out, name
