"""Invariance suite: speech-recognition noise that keeps the meaning keeps the label.

Each perturbation is applied to every holdout row; the consistency rate is the share
of rows whose predicted label is unchanged, held to the floor in budgets.toml.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from routelet.data import load_jsonl
from suites.budgets import BUDGETS

pytestmark = pytest.mark.shipped

PERTURBATIONS: dict[str, Callable[[str], str]] = {
    "upper-case": str.upper,
    "title-case": str.title,
    "trailing-question-mark": lambda t: t.rstrip(".?! ") + "?",
    "trailing-period": lambda t: t.rstrip(".?! ") + ".",
    "filler-um": lambda t: f"um {t}",
    "filler-like": lambda t: " ".join([*t.split()[:1], "like", *t.split()[1:]]),
    "wake-word": lambda t: f"hey assistant {t}",
    "no-apostrophes": lambda t: t.replace("'", ""),
    "extra-spaces": lambda t: "  " + "   ".join(t.split()) + " ",
}


@pytest.fixture(scope="module")
def holdout_texts(paths) -> list[str]:  # type: ignore[no-untyped-def]
    return [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]


@pytest.fixture(scope="module")
def baseline_labels(shipped_router, holdout_texts: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    return shipped_router.predict_proba(holdout_texts).argmax(axis=1)


def consistency(router, texts: list[str], base: np.ndarray, perturb: Callable[[str], str]) -> float:  # type: ignore[no-untyped-def]
    """Share of texts whose predicted label survives ``perturb``."""
    return float((router.predict_proba([perturb(t) for t in texts]).argmax(axis=1) == base).mean())


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_label_survives_noise(shipped_router, holdout_texts, baseline_labels, name: str) -> None:  # type: ignore[no-untyped-def]
    """The predicted label is unchanged for at least the floor share of holdout rows."""
    rate = consistency(shipped_router, holdout_texts, baseline_labels, PERTURBATIONS[name])
    assert rate >= BUDGETS["invariance"]["min_consistency"], f"{name}: {rate:.3f}"


def test_consistency_detects_a_label_changing_perturbation(
    shipped_router, holdout_texts, baseline_labels
) -> None:  # type: ignore[no-untyped-def]
    """A perturbation that does change meaning (replace the text by gibberish) scores low."""
    rate = consistency(shipped_router, holdout_texts, baseline_labels, lambda t: "flarbo quix zent")
    assert rate < 0.5
