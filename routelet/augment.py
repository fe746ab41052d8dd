"""Seeded disfluency augmentation for training rows (never for evaluation rows).

Each transform imitates speech-to-text noise that leaves the request unchanged:
fillers, hedges, restart-style self-corrections that repeat the opening words,
stutters, dropped apostrophes, casing and punctuation noise, and wake-word prefixes.
It never joins two commands, never adds or removes content words, and never changes
a label; each augmented row keeps its source row's intent.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from routelet.data import Example

WAKE_WORDS = ("hey assistant", "ok assistant", "hey computer", "assistant", "hey there")
FILLERS = ("um", "uh", "like", "so", "hmm", "er", "you know")
HEDGES = ("i think", "maybe", "i guess", "kinda", "just", "actually")
RESTARTS = ("no wait", "sorry", "i mean", "uh no")


def _words(text: str) -> list[str]:
    return text.split()


def _filler(text: str, rng: random.Random) -> str:
    words = _words(text)
    words.insert(rng.randrange(len(words) + 1), rng.choice(FILLERS))
    return " ".join(words)


def _hedge(text: str, rng: random.Random) -> str:
    return f"{rng.choice(HEDGES)} {text}" if rng.random() < 0.5 else _filler(text, rng)


def _restart(text: str, rng: random.Random) -> str:
    words = _words(text)
    if len(words) < 3:
        return _filler(text, rng)
    k = rng.randint(1, min(3, len(words) - 1))
    return " ".join([*words[:k], rng.choice(RESTARTS), *words])


def _stutter(text: str, rng: random.Random) -> str:
    words = _words(text)
    i = rng.randrange(len(words))
    return " ".join([*words[: i + 1], words[i], *words[i + 1 :]])


def _drop_apostrophes(text: str, rng: random.Random) -> str:
    stripped = text.replace("'", "").replace("’", "")
    return stripped if stripped != text else _casing(text, rng)


def _casing(text: str, rng: random.Random) -> str:
    choice = rng.randrange(3)
    if choice == 0:
        return text[:1].upper() + text[1:]
    if choice == 1:
        return text.upper() if len(text) < 40 else text.capitalize()
    return " ".join(w.capitalize() if rng.random() < 0.3 else w for w in _words(text))


def _punctuation(text: str, rng: random.Random) -> str:
    return text.rstrip(".?!") + rng.choice((".", "?", "!", "...", " ?", ","))


def _wake_word(text: str, rng: random.Random) -> str:
    sep = rng.choice((" ", ", ", " um "))
    return f"{rng.choice(WAKE_WORDS)}{sep}{text}"


TRANSFORMS: dict[str, Callable[[str, random.Random], str]] = {
    "filler": _filler,
    "hedge": _hedge,
    "restart": _restart,
    "stutter": _stutter,
    "drop_apostrophes": _drop_apostrophes,
    "casing": _casing,
    "punctuation": _punctuation,
    "wake_word": _wake_word,
}


def augment(examples: Iterable[Example], copies: int = 1, seed: int = 0) -> list[Example]:
    """Return ``copies`` noisy variants per example (new rows only, originals excluded).

    Variants equal to their source or to an earlier variant are skipped, so the result
    can be shorter than ``len(examples) * copies``. Each row's variants depend only on
    the seed and that row's text, so adding or removing other rows never changes them.
    Each variant's ``meta["augment_of"]`` holds its source text.
    """
    names = sorted(TRANSFORMS)
    out: list[Example] = []
    seen: set[str] = set()
    for ex in examples:
        seen.add(ex.text)
        if not ex.text.split():
            continue
        rng = random.Random(f"{seed}:{ex.text}")  # str seeds are hashed with sha512: stable
        for _ in range(copies):
            first, second = rng.sample(names, 2)
            text = TRANSFORMS[first](ex.text, rng)
            if rng.random() < 0.4:
                text = TRANSFORMS[second](text, rng)
            if text not in seen:
                seen.add(text)
                out.append(Example(text=text, intent=ex.intent, meta={"augment_of": ex.text}))
    return out
