"""Seeded generator of ``none`` rows: input the router must refuse to route.

Five kinds, mixed evenly: made-up gibberish words, keyboard and character noise,
sentences in French, Spanish, German, Italian and Portuguese, speech-recognition
fragments made only of fillers and stray function words, and off-domain prose that
states something and asks for nothing. The same seed always gives the same rows.

It does not produce other languages, code, URLs, emoji or number strings; those are
left to ``evals/ood.jsonl`` so that the eval measures generalisation, not recall of
the generator.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable

from routelet.config import Paths
from routelet.data import Example, load_jsonl, save_jsonl
from routelet.errors import RouteletError
from routelet.intents import Intent
from routelet.preprocess import preprocess

_ONSETS = [
    "b",
    "bl",
    "br",
    "d",
    "dr",
    "f",
    "fl",
    "g",
    "gr",
    "k",
    "kl",
    "l",
    "m",
    "n",
    "p",
    "pl",
    "qu",
    "r",
    "s",
    "sk",
    "sn",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
    "zh",
]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "ei", "ou", "oo", "ia"]
_CODAS = ["", "", "n", "r", "x", "sk", "nt", "mp", "lt", "ng", "b"]

_KEY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "poiuytrewq", "lkjhgfdsa"]

_LANGS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "fr": (
        ["mon voisin", "la boulangère", "le train de nuit", "notre professeur", "ce vieux chat"],
        ["a oublié", "regardait", "a peint", "cherchait encore", "n'aime pas"],
        [
            "la lettre sur la table",
            "les nuages au-dessus du port",
            "un parapluie jaune",
            "le marché du dimanche",
            "les clés de la cave",
        ],
    ),
    "es": (
        ["mi abuela", "el cartero", "aquel perro flaco", "la orquesta", "los vecinos de arriba"],
        ["siempre canta", "perdió", "está pintando", "no encuentra", "compró ayer"],
        [
            "una bufanda roja",
            "el último autobús",
            "las naranjas del patio",
            "la llave del garaje",
            "un libro sin portada",
        ],
    ),
    "de": (
        ["mein Onkel", "die Lehrerin", "der kleine Hund", "unser Nachbar", "das Orchester"],
        ["hat vergessen", "sucht immer noch", "malte gestern", "mag nicht", "verkauft"],
        [
            "den alten Regenschirm",
            "die Brötchen vom Bäcker",
            "das Fahrrad im Keller",
            "einen blauen Koffer",
            "die Karten für Samstag",
        ],
    ),
    "it": (
        ["mia sorella", "il fornaio", "quel gatto nero", "la maestra", "i ragazzi del bar"],
        ["ha dimenticato", "sta cercando", "ha dipinto", "non sopporta", "ha comprato"],
        [
            "la bicicletta rossa",
            "le chiavi di casa",
            "un ombrello verde",
            "il pane di ieri",
            "la cartolina da napoli",
        ],
    ),
    "pt": (
        ["o meu primo", "a padeira", "aquele cão", "a nossa vizinha", "o motorista"],
        ["esqueceu", "está a procurar", "pintou", "não gosta de", "vendeu"],
        [
            "o guarda-chuva azul",
            "as chaves do carro",
            "um bolo de laranja",
            "a janela da cozinha",
            "o jornal de domingo",
        ],
    ),
}

_FILLERS = ["uh", "um", "hmm", "erm", "ah", "mm", "like", "uh huh", "er", "oh"]
_FRAGMENTS = ["the", "a", "and", "so", "it", "that", "you know", "i mean", "wait", "okay so"]

_PROSE_SUBJECTS = [
    "the committee",
    "a retired engineer",
    "the river",
    "my grandfather's old radio",
    "the football club",
    "a small bakery on the corner",
    "the city council",
    "the orchestra",
    "a fox",
    "the night shift nurse",
    "the museum",
    "our landlord",
    "the weather station",
    "the school choir",
    "a cargo ship",
    "the library",
    "the marathon runner",
]
_PROSE_VERBS = [
    "spent the afternoon arguing about",
    "was famous for",
    "quietly replaced",
    "never recovered from",
    "kept a diary about",
    "was photographed near",
    "slowly lost interest in",
    "used to complain about",
    "won an award for",
    "was surrounded by",
]
_PROSE_OBJECTS = [
    "the price of parking",
    "a broken fence",
    "the summer floods",
    "an unfinished mural",
    "the old harbour",
    "a missing trophy",
    "three stray cats",
    "the new roundabout",
    "its crumbling bell tower",
    "the autumn fair",
    "a jar of buttons",
    "the fog",
]
_PROSE_TAILS = [
    "",
    "",
    "last winter",
    "for years",
    "according to the paper",
    "before anyone noticed",
    "which surprised nobody",
    "and then it rained",
]


def _gibberish(rng: random.Random) -> str:
    def word() -> str:
        syllables = rng.randint(1, 3)
        return "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )

    return " ".join(word() for _ in range(rng.randint(1, 5)))


def _keyboard_noise(rng: random.Random) -> str:
    chunks = []
    for _ in range(rng.randint(1, 4)):
        row = rng.choice(_KEY_ROWS)
        start = rng.randrange(len(row) - 2)
        run = row[start : start + rng.randint(3, 8)]
        if rng.random() < 0.3:
            run = "".join(rng.sample(run, len(run)))
        if rng.random() < 0.2:
            run = run.upper()
        chunks.append(run + rng.choice(["", "", ";", "/", "!!", "..", "]"]))
    return " ".join(chunks)


def _foreign(rng: random.Random) -> str:
    subjects, verbs, objects = _LANGS[rng.choice(sorted(_LANGS))]
    sentence = f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(objects)}"
    return sentence if rng.random() < 0.5 else sentence.lower()


def _asr_fragment(rng: random.Random) -> str:
    words = [
        rng.choice(_FILLERS) if rng.random() < 0.65 else rng.choice(_FRAGMENTS)
        for _ in range(rng.randint(1, 6))
    ]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), words[0])  # stutter
    return " ".join(words)


def _prose(rng: random.Random) -> str:
    parts = [rng.choice(_PROSE_SUBJECTS), rng.choice(_PROSE_VERBS), rng.choice(_PROSE_OBJECTS)]
    tail = rng.choice(_PROSE_TAILS)
    return " ".join(parts + ([tail] if tail else []))


_KINDS: dict[str, Callable[[random.Random], str]] = {
    "gibberish": _gibberish,
    "keyboard": _keyboard_noise,
    "foreign": _foreign,
    "asr_fragment": _asr_fragment,
    "prose": _prose,
}


def generate_none(count: int, seed: int) -> list[Example]:
    """Return ``count`` distinct ``none`` examples, kinds in rotation, deterministic per seed."""
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(seed)
    kinds = sorted(_KINDS)
    seen: set[str] = set()
    rows: list[Example] = []
    attempts = 0
    while len(rows) < count:
        attempts += 1
        if attempts > count * 200:
            raise RouteletError(f"could not generate {count} distinct rows; ask for fewer")
        kind = kinds[len(rows) % len(kinds)]
        text = _KINDS[kind](rng).strip()
        key = preprocess(text)  # distinct as the model sees them, not just as typed
        if key and key not in seen:
            seen.add(key)
            rows.append(Example(text=text, intent=Intent.NONE, meta={"kind": kind}))
    return rows


def generate_none_avoiding(count: int, seed: int, avoid: list[str]) -> tuple[list[Example], int]:
    """Like ``generate_none`` but without rows that near-duplicate any text in ``avoid``.

    Returns ``(rows, n_dropped)``. Used to keep generated training rows out of the evals.
    """
    from routelet.checkdata import find_leaks

    extra = max(20, count // 10)
    while True:
        rows = generate_none(count + extra, seed)
        leaks = find_leaks([("none", r.text) for r in rows], [("eval", t) for t in avoid])
        leaked = {pair.train_text for pair in leaks}
        kept = [r for r in rows if r.text not in leaked]
        if len(kept) >= count:
            return kept[:count], len(rows) - len(kept)
        extra *= 2


def run_cli(args: argparse.Namespace) -> int:
    paths = Paths.discover()
    output = args.output or paths.data / "none.jsonl"
    avoid = [ex.text for p in paths.eval_files() for ex in load_jsonl(p)]
    rows, dropped = generate_none_avoiding(args.count, args.seed, avoid)
    written = save_jsonl(output, rows)
    print(
        f"wrote {written} none rows (seed {args.seed}) to {output}; "
        f"skipped {dropped} that near-duplicate an eval row"
    )
    return 0
