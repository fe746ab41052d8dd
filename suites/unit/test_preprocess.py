"""Example-based tests of routelet.preprocess (properties live in suites/preprocess)."""

import pytest

from routelet.preprocess import preprocess


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("  Play   SOME Jazz!! ", "play some jazz", id="case-space-punct"),
        pytest.param("¿Qué hora es?", "qué hora es", id="leading-punct"),
        pytest.param("mail jo@example.com now", "mail <EMAIL> now", id="email"),
        pytest.param("call 555 123 4567", "call <NUM>", id="phone-grouped"),
        pytest.param("code 4471-2210.", "code <NUM>", id="code-hyphen"),
        pytest.param("card 4111 1111 1111 1111", "card <NUM>", id="card"),
        pytest.param("set a timer for 10 minutes", "set a timer for 10 minutes", id="short-number"),
        pytest.param("my password is hunter2", "my password is <SECRET>", id="password-is"),
        pytest.param("pin: 9921", "pin: <SECRET>", id="pin-colon"),
        pytest.param("my api key is sk-abc", "my api key is <SECRET>", id="api-key"),
        pytest.param(
            "what's my wifi password for the guest network",
            "what's my wifi password for the guest network",
            id="keyword-no-value",
        ),
        pytest.param("what is my pin", "what is my pin", id="keyword-at-end"),
        pytest.param("tab\there\x00now", "tab here now", id="control-chars"),
    ],
)
def test_examples(raw: str, expected: str) -> None:
    """Documented normalisation and redaction on typical inputs."""
    assert preprocess(raw) == expected


def test_rejects_non_str() -> None:
    """A non-str is a TypeError, not a silent str() conversion."""
    with pytest.raises(TypeError):
        preprocess(b"bytes")  # type: ignore[arg-type]


def test_long_text_cut_on_word_boundary() -> None:
    """Truncation does not leave half a word."""
    out = preprocess("word " * 100)
    assert out.endswith("word") and len(out) <= 256
