"""Leakage suite: no evaluation row, or its near-duplicate, is used for training."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from routelet.checkdata import (
    NEAR_DUP_THRESHOLD,
    char_ngrams,
    check,
    find_leaks,
    jaccard,
    leakage_key,
    leaking_rows,
)
from routelet.config import Paths, TrainConfig
from routelet.intents import LABELS


@pytest.fixture(scope="module")
def report(paths: Paths, train_config: TrainConfig):  # type: ignore[no-untyped-def]
    return check(paths, train_config)


def test_no_train_eval_leaks(report) -> None:  # type: ignore[no-untyped-def]
    """Training rows (written, generated, augmented) share no exact or near-duplicate with evals."""
    assert report.leaks == []


def test_files_valid_and_without_duplicates(report) -> None:  # type: ignore[no-untyped-def]
    """Every data and eval file passes the schema and has no duplicate rows."""
    assert report.errors == [] and report.duplicates == []


@pytest.mark.parametrize(
    ("train", "evaluation"),
    [
        pytest.param(
            "remember my locker code is 4471",
            "Remember my locker code is 9912!",
            id="exact-after-preprocess",
        ),
        pytest.param(
            "turn off the kitchen lights please",
            "turn off the kitchen light please",
            id="one-letter",
        ),
        pytest.param(
            "um play some jazz on spotify", "play some jazz on spotify", id="filler-added"
        ),
    ],
)
def test_planted_near_duplicate_is_caught(train: str, evaluation: str) -> None:
    """The documented threshold flags planted near-duplicates."""
    assert find_leaks([("t", train)], [("e", evaluation)], NEAR_DUP_THRESHOLD)


@pytest.mark.parametrize(
    ("train", "evaluation"),
    [
        pytest.param(
            "what is the meaning of life", "whats the meaning of life", id="whats-what-is"
        ),
        pytest.param("flowerpot", "flower pot", id="word-join"),
        pytest.param(
            "remember for me that the spare key is under the blue flower pot",
            "remember that the spare key is under the blue flowerpot",
            id="word-join-in-sentence",
        ),
        pytest.param("when is my next meeting", "when's my next meeting", id="whens-when-is"),
        pytest.param("what’s pi", "whats pi", id="curly-apostrophe"),
        pytest.param("what`s pi", "what is pi", id="backtick-apostrophe"),
        pytest.param("im late", "i am late", id="im-i-am"),
        pytest.param("dont stop", "do not stop", id="dont-do-not"),
        pytest.param("i can't hear you", "i cannot hear you", id="cant-cannot"),
        pytest.param("its raining", "it is raining", id="its-it-is"),
        pytest.param("youre funny", "you are funny", id="youre-you-are"),
        pytest.param("i'm gonna be late", "i am going to be late", id="gonna-going-to"),
        pytest.param("good night", "goodnight", id="good-night"),
    ],
)
def test_planted_spelling_variant_is_caught(train: str, evaluation: str) -> None:
    """Contractions, apostrophe kinds and word joins do not hide a near-duplicate."""
    assert find_leaks([("t", train)], [("e", evaluation)], NEAR_DUP_THRESHOLD)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param("What’s up, John’s mom?", "what is up, johns mom", id="expanded"),
        pytest.param("were we well", "were we well", id="ordinary-words-kept"),
    ],
)
def test_leakage_key(text: str, key: str) -> None:
    """The key expands contractions, drops other apostrophes and keeps ordinary words."""
    assert leakage_key(text) == key


def _brute_force(train: list[str], evals: list[str], threshold: float) -> list[tuple]:
    pairs = []
    for i, t in enumerate(train):
        for j, e in enumerate(evals):
            tk, ek = leakage_key(t), leakage_key(e)
            tj, ej = tk.replace(" ", ""), ek.replace(" ", "")
            sim = max(
                jaccard(char_ngrams(tk), char_ngrams(ek)), jaccard(char_ngrams(tj), char_ngrams(ej))
            )
            if sim >= threshold or tj == ej:
                pairs.append((str(i), str(j), round(sim, 3)))
    return sorted(pairs)


_texts = st.lists(st.text(alphabet="ab' c", max_size=12), max_size=8)


@given(train=_texts, evals=_texts, threshold=st.sampled_from([0.3, 0.5, 0.8, 0.95, 1.0]))
@example(train=["aaaa"], evals=["aaa a"], threshold=1.0)
@example(train=["ab"], evals=["a  ab "], threshold=0.5)  # needs the full prefix length
@example(train=["b b  "], evals=[" b b baa"], threshold=0.3)  # smallest size that qualifies
@example(train=[" bc cbbc c"], evals=["b cc"], threshold=0.5)  # largest size that qualifies
def test_every_pair_at_threshold_is_found(
    train: list[str], evals: list[str], threshold: float
) -> None:
    """The indexed search returns exactly the pairs a comparison of every pair returns."""
    found = find_leaks(
        [(str(i), t) for i, t in enumerate(train)],
        [(str(j), e) for j, e in enumerate(evals)],
        threshold,
    )
    assert sorted((p.train_file, p.eval_file, p.similarity) for p in found) == _brute_force(
        train, evals, threshold
    )


def test_leaking_rows_filters_candidates() -> None:
    """``leaking_rows`` returns the candidates that leak against an eval text, in input order."""
    candidates = ["play some jazz", "whats the meaning of life", "put on jazz", "flower pot"]
    evals = ["flowerpot", "what is the meaning of life"]
    assert leaking_rows(candidates, evals) == ["whats the meaning of life", "flower pot"]


def test_different_commands_are_not_flagged() -> None:
    """Two commands on the same topic with different wording are not flagged."""
    assert not find_leaks([("t", "play some jazz on spotify")], [("e", "put on a jazz playlist")])


def test_minimum_counts(report) -> None:  # type: ignore[no-untyped-def]
    """Each file meets the counts promised in docs/data.md."""
    totals = {path.rsplit("/", 1)[-1]: counts for path, counts in report.counts.items()}
    for label in ("find_action", "integration", "chat", "memory", "agent"):
        assert totals[f"{label}.jsonl"][label] >= 350
    assert totals["none.jsonl"]["none"] >= 400
    assert all(totals["holdout.jsonl"][label] >= 75 for label in LABELS)  # a missing label is 0
    assert sum(totals["boundary.jsonl"].values()) >= 120
    assert sum(totals["short_commands.jsonl"].values()) >= 40
    assert sum(totals["ood.jsonl"].values()) >= 100
