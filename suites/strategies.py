"""Hypothesis strategies shared by the property suites."""

from __future__ import annotations

from hypothesis import strategies as st

from routelet.preprocess import MAX_INPUT_CHARS

#: Any text at all, including control characters and astral-plane unicode.
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=400)

#: Texts around and beyond preprocess's input bound: a drawn piece repeated to a length
#: near MAX_INPUT_CHARS (a little below to well above it), then a drawn tail.
long_texts = st.builds(
    lambda unit, length, tail: (unit * (length // len(unit) + 1))[:length] + tail,
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=1, max_size=12),
    st.integers(MAX_INPUT_CHARS - 24, MAX_INPUT_CHARS + 76),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),
)

#: Lower-case words that look like a spoken command.
words = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz'", min_size=1, max_size=9), min_size=0, max_size=8
).map(" ".join)

emails = st.builds(
    "{}@{}.{}".format,
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10),
    st.sampled_from(["com", "org", "io", "co.uk", "de"]),
)

#: 4+ digits, optionally grouped by single spaces, hyphens or dots.
digit_runs = (
    st.lists(st.text(alphabet="0123456789", min_size=1, max_size=5), min_size=1, max_size=4)
    .flatmap(
        lambda groups: st.tuples(
            st.just(groups),
            st.lists(
                st.sampled_from([" ", "-", "."]), min_size=len(groups) - 1, max_size=len(groups) - 1
            ),
        )
    )
    .map(lambda gs: "".join(g + s for g, s in zip(gs[0], [*gs[1], ""], strict=True)))
    .filter(lambda run: sum(c.isdigit() for c in run) >= 4)
)

secret_keywords = st.sampled_from(
    ["password", "passcode", "pin", "pin code", "api key", "token", "secret", "Password", "PIN"]
)
secret_separators = st.sampled_from([" ", " is ", ": ", " = ", "=", " was ", "'s "])
#: Secret values: distinctive tokens with a letter and a digit (never a function word).
secret_values = st.tuples(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8),
    st.text(alphabet="0123456789", min_size=1, max_size=2),
    st.text(alphabet="!#$%", max_size=2),
).map("".join)


@st.composite
def private_commands(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A command holding an email, a long digit run and a secret, in any order.

    Returns ``(text, values)``; ``values`` maps "email", "digits" and "secret" to what
    must never leave the machine.
    """
    email, run, value = draw(emails), draw(digit_runs), draw(password_values)
    secret = f"{draw(secret_keywords)}{draw(secret_separators)}{value}"
    parts = draw(st.permutations([email, run, secret]))
    text = " ".join(f"{draw(words)} {part}" for part in parts) + " " + draw(words)
    return text, {"email": email, "digits": run, "secret": value}


#: Password-like secret values: letters, then digits, then optional symbols. Always holding
#: a digit, a value can never read as a function word ("for", "to!") that preprocess skips.
password_values = st.tuples(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8),
    st.text(alphabet="0123456789", min_size=1, max_size=3),
    st.text(alphabet="!#$%", max_size=2),
).map("".join)
