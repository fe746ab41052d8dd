"""The external accuracy's interval: it resamples intent files, so shared wording widens it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routelet import external
from routelet.data import Example
from routelet.intents import Intent


def _rows(files: int, per_file: int) -> list[Example]:
    """``files`` intent files of one package, ``per_file`` rows each."""
    return [
        Example(f"command {f} {i}", Intent.INTEGRATION, {"source": "s", "skill_intent": f"f{f}"})
        for f in range(files)
        for i in range(per_file)
    ]


def test_interval_contains_accuracy_and_is_reproducible() -> None:
    rows = _rows(40, 5)
    hits = [i % 5 >= (i // 5) % 3 for i in range(len(rows))]  # file f misses f % 3 rows
    low, high = external.accuracy_interval(rows, hits)
    assert low < sum(hits) / len(hits) < high
    assert external.accuracy_interval(rows, hits) == (low, high)


def test_files_not_rows_are_the_unit() -> None:
    """The same hits are less certain when whole files are right or wrong together than
    when the misses are spread over the files."""
    rows = _rows(40, 5)
    spread = [i % 5 != 0 for i in range(len(rows))]  # one miss in every file
    clustered = [i // 5 >= 8 for i in range(len(rows))]  # the first 8 files all wrong
    assert sum(spread) == sum(clustered) == 160
    low_s, high_s = external.accuracy_interval(rows, spread)
    low_c, high_c = external.accuracy_interval(rows, clustered)
    assert high_s - low_s == 0.0  # every file is 80 % right: resampling files cannot move it
    assert high_c - low_c > 0.1


def test_all_right_and_no_rows() -> None:
    rows = _rows(3, 2)
    assert external.accuracy_interval(rows, [True] * 6) == (1.0, 1.0)
    assert external.accuracy_interval([], []) == (0.0, 0.0)


def test_mismatched_lengths_refused() -> None:
    with pytest.raises(ValueError, match="2 hits for 6 rows"):
        external.accuracy_interval(_rows(3, 2), [True, False])


@given(st.lists(st.tuples(st.integers(0, 9), st.booleans()), min_size=1, max_size=60))
def test_interval_brackets_accuracy(draws: list[tuple[int, bool]]) -> None:
    """For any rows and hits, low <= accuracy <= high, all within [0, 1]."""
    rows = [
        Example(f"c{i}", Intent.CHAT, {"source": "s", "skill_intent": f"f{f}"})
        for i, (f, _) in enumerate(draws)
    ]
    hits = [ok for _, ok in draws]
    low, high = external.accuracy_interval(rows, hits, resamples=200)
    accuracy = sum(hits) / len(hits)
    assert 0.0 <= low <= round(accuracy, 4) + 1e-9
    assert round(accuracy, 4) - 1e-9 <= high <= 1.0


def test_summary_carries_the_interval() -> None:
    rows = _rows(10, 3)
    predicted = ["integration" if i % 3 else "chat" for i in range(len(rows))]
    summary: dict[str, Any] = external.summarize(rows, predicted)
    low, high = summary["accuracy_interval"]
    assert summary["accuracy"] == round(20 / 30, 4)
    assert low <= summary["accuracy"] <= high
