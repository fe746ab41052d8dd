"""Tests of routelet.ood: the seeded `none` generator."""

from collections import Counter

from routelet.intents import Intent
from routelet.ood import generate_none, generate_none_avoiding
from routelet.preprocess import preprocess


def test_deterministic_per_seed() -> None:
    """The same seed gives the same rows; another seed gives different ones."""
    assert generate_none(50, 1) == generate_none(50, 1)
    assert generate_none(50, 1) != generate_none(50, 2)


def test_rows_distinct_and_kinds_mixed() -> None:
    """Rows are distinct after preprocess and all five kinds appear evenly."""
    rows = generate_none(400, 13)
    assert len({preprocess(r.text) for r in rows}) == 400
    assert all(r.intent is Intent.NONE for r in rows)
    assert set(Counter(r.meta["kind"] for r in rows).values()) == {80}


def test_avoiding_drops_near_duplicates() -> None:
    """Rows that near-duplicate an avoided text are replaced, keeping the count."""
    plain = generate_none(60, 5)
    target = plain[10].text
    rows, dropped = generate_none_avoiding(60, 5, [target])
    assert len(rows) == 60 and dropped >= 1 and target not in {r.text for r in rows}
