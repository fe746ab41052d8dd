"""Property tests of ``preprocess``: total, idempotent, bounded, never leaking a redacted value,
reading a bounded prefix of its input (so its time does not grow with the input)."""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from routelet.preprocess import MAX_CHARS, MAX_INPUT_CHARS, PLACEHOLDERS, preprocess
from suites.strategies import (
    any_text,
    digit_runs,
    emails,
    long_texts,
    private_commands,
    secret_keywords,
    secret_separators,
    secret_values,
    words,
)

_LONG_DIGITS = re.compile(r"\d(?:[ .\-]?\d){3,}")


@given(any_text)
@example("\x00\x1f\x7f\u200b")
@example("pin: 1234")
@example("İ" * 300)
def test_total_returns_str(text: str) -> None:
    """Any str maps to a str without raising."""
    assert isinstance(preprocess(text), str)


@given(any_text)
@example("pin: 1234")
@example("a" * 255 + " <EMAIL>")
@example("x" * 250 + "<SECRET>" + "y" * 10)
@example("İ")
@example("<EMAIL> <NUM> <SECRET>")
def test_idempotent(text: str) -> None:
    """A second pass changes nothing; placeholders survive it."""
    once = preprocess(text)
    assert preprocess(once) == once


@given(any_text)
@example("w " * 400)
@example("İ" * 400)
def test_bounded_length(text: str) -> None:
    """Output never exceeds MAX_CHARS characters."""
    assert len(preprocess(text)) <= MAX_CHARS


@given(words, emails, words)
def test_email_never_leaks(before: str, email: str, after: str) -> None:
    """A redacted email's address never appears in the output."""
    out = preprocess(f"{before} {email} {after}")
    assert email.lower() not in out
    assert "@" not in out


@given(words, digit_runs, words)
@example("call", "555 123 4567", "")
@example("code", "4471-2210", "please")
def test_digit_runs_never_leak(before: str, run: str, after: str) -> None:
    """No run of four or more digits, grouped or not, survives."""
    out = preprocess(f"{before} {run} {after}")
    assert _LONG_DIGITS.search(out) is None


@given(words, secret_keywords, secret_separators, secret_values, words)
@example("my", "password", " is ", "hunter2", "ok")
@example("", "pin", ": ", "ab1", "")
@example("password", "password", " ", "aa0", "")
@example("", "password", " ", "to!", "ok")
def test_secret_value_never_leaks(
    before: str, keyword: str, sep: str, value: str, after: str
) -> None:
    """The value after a secret keyword is replaced by <SECRET>."""
    out = preprocess(f"{before} {keyword}{sep}{value} {after}")
    assert value not in out
    assert "<SECRET>" in out


@given(st.sampled_from(PLACEHOLDERS), words)
def test_placeholders_kept_verbatim(holder: str, text: str) -> None:
    """Placeholders stay upper-case while the rest is lower-cased."""
    assert holder in preprocess(f"{text.upper()} {holder}")


@given(long_texts)
@example(" " * 1000 + "hello world")
@example("a" * 5000)
@example("1 " * 600)
def test_reads_a_bounded_prefix(text: str) -> None:
    """The output depends on the first MAX_INPUT_CHARS + 1 characters only."""
    assert preprocess(text) == preprocess(text[: MAX_INPUT_CHARS + 1])


@given(st.integers(MAX_INPUT_CHARS - 60, MAX_INPUT_CHARS), private_commands())
@example(
    MAX_INPUT_CHARS - 10,
    (
        "alice@example.com 555 123 4567 pin 1234",
        {"email": "alice@example.com", "digits": "555 123 4567", "secret": "1234"},
    ),
)
def test_cut_never_leaks(pad: int, command: tuple[str, dict[str, str]]) -> None:
    """Where the input bound falls inside an email, digit run or secret, none of it leaks."""
    text, values = command
    out = preprocess(" " * pad + text)
    assert values["email"].lower() not in out and "@" not in out
    assert values["secret"] not in out
    assert not any(ch.isdigit() for ch in out), out  # not even part of a digit run


def _redact_unguarded(text: str) -> str:
    """The three substitutions of ``redact`` run on every text, without its skip guards."""
    from routelet import preprocess as pre

    text = pre._EMAIL_RE.sub("<EMAIL>", text)
    text = pre._SECRET_RE.sub(pre._redact_secret, text)
    return pre._DIGITS_RE.sub(pre._redact_digits, text)


#: Lowercase text made of the pieces the patterns look for (keywords, "@", digits,
#: separators), so the guards meet both texts they may skip and texts they must not.
_redaction_pieces = st.lists(
    st.one_of(
        secret_keywords.map(str.lower),
        st.sampled_from(["@", "a@b.co", "passport", "spinach", "apiary", "tokens", "٣"]),
        st.text(alphabet="abcxyz0123456789 .-:=@'", min_size=1, max_size=6),
    ),
    max_size=8,
).map(" ".join)


@given(st.one_of(_redaction_pieces, any_text.map(str.lower)))
@example("my pin is 4471")
@example("mail a@b.co")
@example("call 555 123 4567")
def test_redact_guards_skip_only_scans_that_cannot_match(text: str) -> None:
    """``redact``'s guards (no "@", no keyword stem, no digit) change no output."""
    from routelet.preprocess import redact

    assert redact(text) == _redact_unguarded(text)
