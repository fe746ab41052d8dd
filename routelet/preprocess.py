"""The one text normalisation, applied identically at training, export, evaluation and serving.

``preprocess(text)``:

0. Bound the input: only its first ``MAX_INPUT_CHARS`` characters are read, cut so
   that no token or digit run is split (a split email or phone number would no longer
   match its pattern and leak). Every later step, and every pattern, runs in time
   linear in its input, so preprocessing any text takes bounded time.
1. Unicode NFKC; control, format and unassigned characters become spaces.
2. Lowercase, except the placeholders ``<EMAIL>``, ``<NUM>``, ``<SECRET>``.
3. Redact, in this order:
   emails -> ``<EMAIL>``;
   the token after a secret keyword (password, passcode, pin, pin code, api key,
   token, secret, ...), optionally after "is"/"was"/":"/"=", -> ``<SECRET>``
   (function words such as "for" or "to" are not treated as values);
   digit runs with 4 or more digits in total, also grouped by single spaces,
   hyphens or dots ("555 123 4567", "4471-2210") -> ``<NUM>``.
4. Collapse whitespace; truncate to ``MAX_CHARS`` on a word boundary where possible;
   strip leading and trailing punctuation and spaces.

Invariants (property-tested in ``suites/preprocess``): total on every ``str``;
idempotent (placeholders survive a second pass); redacted values never appear in the
output; ``len(output) <= MAX_CHARS``; the output depends on the first
``MAX_INPUT_CHARS + 1`` characters only. Over-redaction is acceptable; leaking is not.

It does not spell-correct, stem, remove fillers or change word order: fillers are
signal the model learns to ignore through augmentation.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest output, in characters. Spoken commands are far shorter; the encoder sees
#: at most 64 tokens anyway.
MAX_CHARS = 256
#: Longest input read, in characters; the rest is cut before any pattern runs. Four
#: times ``MAX_CHARS`` leaves room for what redaction and whitespace collapsing remove.
#: Data files, the HTTP API and eval rows hold at most 500 characters: none is cut.
MAX_INPUT_CHARS = 4 * MAX_CHARS

PLACEHOLDERS = ("<EMAIL>", "<NUM>", "<SECRET>")

_PLACEHOLDER_RE = re.compile(r"<(?:EMAIL|NUM|SECRET)>")
_PARTIAL_PLACEHOLDER_AT_END_RE = re.compile(r"<[A-Z]*$")
# Local part, "@", domain with at least one dot. A match starts only where a run of
# email characters starts (the look-behind) and takes the whole run as its local part
# (possessive), so a long run without "@" is scanned once, not once per start position:
# linear time. Same matches as the plain pattern, whose leftmost match always starts at
# a run start. A string without a match has no substring with one (truncation cannot
# create an email).
_EMAIL_RE = re.compile(r"(?<![^\s@<>])[^\s@<>]++@[^\s@<>]+\.[^\s@<>]+")
_SECRET_KEYWORD = (
    r"(?:passwords?|passcodes?|passwd|passphrase|pin(?:\s+(?:code|number))?"
    r"|api[\s_-]?keys?|access\s+tokens?|tokens?|secrets?)\b"
)
_SECRET_RE = re.compile(
    rf"\b(?P<key>{_SECRET_KEYWORD})"
    r"(?P<sep>(?>(?:\s*(?:'s\b|is\b|was\b|are\b|of\b|=|:))*\s*))"  # atomic: no backtracking
    rf"(?!<(?:EMAIL|NUM|SECRET)>|{_SECRET_KEYWORD})"  # a repeated keyword is not a value
    r"(?P<value>[^\s]+)"
)
# Words that follow a keyword without being its value ("password for netflix").
_NOT_A_VALUE = frozenset(
    [
        "for",
        "to",
        "of",
        "the",
        "my",
        "a",
        "an",
        "and",
        "or",
        "on",
        "in",
        "at",
        "is",
        "was",
        "please",
        "again",
        "reset",
        "manager",
        "with",
        "from",
        "by",
        "this",
        "that",
        "it",
        "its",
        "your",
        "our",
        "their",
        "his",
        "her",
        "what",
        "whats",
        "where",
    ]
)
_DIGITS_RE = re.compile(r"\d+(?:[ .\-]\d+)*")
# Substrings every secret keyword contains (the text is lowercase by then): a text with
# none of them cannot match _SECRET_RE, so the scan is skipped.
_SECRET_STEMS = ("pass", "pin", "api", "token", "secret")
_ANY_DIGIT_RE = re.compile(r"\d")


def _bound(text: str) -> str:
    """The first ``MAX_INPUT_CHARS`` characters, never ending inside a token or digit run.

    A cut inside a token drops that token; then trailing digits and their separators go
    too, since a digit run may span spaces ("555 12|3 4567" must not leave "555").
    """
    if len(text) <= MAX_INPUT_CHARS:
        return text
    end = MAX_INPUT_CHARS
    if not text[end].isspace():
        while end and not text[end - 1].isspace():
            end -= 1
    while end and (text[end - 1].isspace() or text[end - 1].isdigit() or text[end - 1] in ".-"):
        end -= 1
    return text[:end]


def _clean_chars(text: str) -> str:
    if text.isascii() and text.isprintable():  # the common case: NFKC and the filter are no-ops
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def _lower_keeping_placeholders(text: str) -> str:
    if "<" not in text:  # no placeholder can be present: plain lowercasing
        return text.lower()
    parts = _PLACEHOLDER_RE.split(text)
    holders = _PLACEHOLDER_RE.findall(text)
    out = [parts[0].lower()]
    for holder, part in zip(holders, parts[1:], strict=True):
        out.append(holder)
        out.append(part.lower())
    return "".join(out)


def _redact_secret(match: re.Match[str]) -> str:
    value = match.group("value")
    if value in _NOT_A_VALUE:  # exact: "to!" is a value, "to" is not
        return match.group(0)
    return f"{match.group('key')}{match.group('sep') or ' '}<SECRET>"


def _redact_digits(match: re.Match[str]) -> str:
    run = match.group(0)
    n_digits = sum(ch.isdigit() for ch in run)
    return "<NUM>" if n_digits >= 4 else run


def redact(text: str) -> str:
    """Replace emails, secret values and long digit runs with placeholders."""
    # Each pattern is run only where its required character or keyword occurs: the guards
    # skip scans that cannot match (the common case), never ones that could.
    if "@" in text:
        text = _EMAIL_RE.sub("<EMAIL>", text)
    if any(stem in text for stem in _SECRET_STEMS):
        text = _SECRET_RE.sub(_redact_secret, text)
    if _ANY_DIGIT_RE.search(text) is None:
        return text
    return _DIGITS_RE.sub(_redact_digits, text)


def _truncate(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return text
    cut = text[:MAX_CHARS]
    if text[MAX_CHARS] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]  # do not end on half a word or half a placeholder
    return _PARTIAL_PLACEHOLDER_AT_END_RE.sub("", cut)


def _strip_edges(text: str) -> str:
    if text[:1].isalnum() and text[-1:].isalnum():  # neither edge is a space or punctuation
        return text
    start, end = 0, len(text)
    while start < end and (text[start] == " " or unicodedata.category(text[start])[0] == "P"):
        start += 1
    while end > start and (text[end - 1] == " " or unicodedata.category(text[end - 1])[0] == "P"):
        end -= 1
    return text[start:end]


def _once(text: str) -> str:
    text = _clean_chars(text)
    text = _lower_keeping_placeholders(text)
    text = unicodedata.normalize("NFKC", text)  # lowercasing can denormalise ("İ" -> "i̇")
    text = redact(text)
    text = " ".join(text.split())
    return _strip_edges(_truncate(text))


def preprocess(text: str) -> str:
    """Normalise and redact one utterance; see the module docstring for the contract."""
    if not isinstance(text, str):
        raise TypeError(f"preprocess expects str, got {type(text).__name__}")
    text = _bound(text)  # first: every step below is linear in a bounded input
    # A second pass is a no-op for almost every input; running to a fixed point (at
    # most three passes) makes idempotence hold for rare unicode case-mapping chains.
    for _ in range(3):
        out = _once(text)
        if out == text:
            return out
        text = out
    return text
