"""Unit tests of routelet.teacher and its HTTP half routelet.claude: pure pieces, no HTTP."""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from routelet.claude import (
    DEFAULT_MODEL,
    PRICES_PER_MTOK,
    AnswerCache,
    ClaudeClient,
    MissingKeyError,
    build_system_prompt,
    load_taxonomy,
    parse_answer,
    prompt_hash,
    request_cost,
    route_tool,
)
from routelet.config import Paths
from routelet.errors import ConfigError, DataError, RouteletError
from routelet.intents import ROUTABLE
from routelet.teacher import ClaudeRouter, latest_llm_run, read_commands


def _client(**kwargs: object) -> ClaudeClient:
    return ClaudeClient(None, system_prompt="p", rng=random.Random(0), **kwargs)  # type: ignore[arg-type]


def _call(**fields: object) -> SimpleNamespace:
    block = SimpleNamespace(type="tool_use", name="route_command", input=fields)
    return SimpleNamespace(content=[block], stop_reason="tool_use")


def test_tool_enum_is_the_routable_intents_in_order() -> None:
    """The structured-output enum is exactly the five routable intents in Intent order."""
    enum = route_tool()["input_schema"]["properties"]["intent"]["enum"]
    assert enum == [i.value for i in ROUTABLE] and "none" not in enum


def test_system_prompt_embeds_the_taxonomy(paths: Paths) -> None:
    """The prompt holds docs/taxonomy.md verbatim: one source for the label definitions."""
    taxonomy = (paths.root / "docs" / "taxonomy.md").read_text(encoding="utf-8")
    assert taxonomy in build_system_prompt(load_taxonomy(paths))


def test_prompt_hash_follows_the_taxonomy() -> None:
    """Editing the taxonomy changes the prompt hash, so cached answers are not reused."""
    assert prompt_hash(build_system_prompt("a")) != prompt_hash(build_system_prompt("b"))


def test_missing_taxonomy_is_config_error(tmp_path: Path) -> None:
    """Without docs/taxonomy.md the prompt cannot be built, and the error names the file."""
    with pytest.raises(ConfigError, match=r"taxonomy\.md"):
        load_taxonomy(Paths(tmp_path))


@pytest.mark.parametrize(
    ("message", "label"),
    [
        pytest.param(
            _call(intent="agent", confidence="high", reason="two steps"), "agent", id="valid"
        ),
        pytest.param(_call(intent="none", confidence="high", reason="r"), None, id="none-refused"),
        pytest.param(_call(intent="smalltalk", confidence="high", reason="r"), None, id="unknown"),
        pytest.param(_call(intent="chat", reason="r"), None, id="no-confidence"),
        pytest.param(_call(intent="chat", confidence="low", reason=3), None, id="reason-not-str"),
        pytest.param(SimpleNamespace(content=[], stop_reason="refusal"), None, id="refusal"),
    ],
)
def test_parse_answer(message: SimpleNamespace, label: str | None) -> None:
    """Only a route_command call with a routable intent and a known confidence is valid."""
    assert parse_answer(message, "t").label == label


def test_parse_answer_keeps_raw_invalid_label() -> None:
    """An invalid intent is kept as given, for the review file, not mapped to a label."""
    got = parse_answer(_call(intent="weather", confidence="high", reason="r"), "t")
    assert got.raw == "weather" and got.problem and "weather" in got.problem


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        pytest.param({"input_tokens": 1_000_000, "output_tokens": 0}, 0.10, id="input"),
        pytest.param({"input_tokens": 0, "output_tokens": 1_000_000}, 0.50, id="output"),
        pytest.param(
            {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 1_000_000},
            0.01,
            id="cache-read",
        ),
        pytest.param(
            {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 1_000_000},
            0.125,
            id="cache-write",
        ),
    ],
)
def test_request_cost(usage: dict[str, int], expected: float) -> None:
    """Cost follows the documented per-million prices of the default model."""
    assert PRICES_PER_MTOK[DEFAULT_MODEL] == (0.10, 0.50)
    assert request_cost(DEFAULT_MODEL, SimpleNamespace(**usage)) == pytest.approx(expected)


def test_request_cost_unknown_model_is_none() -> None:
    """A model without a price gets no cost, not a guess."""
    assert (
        request_cost("claude-unpriced-9", SimpleNamespace(input_tokens=5, output_tokens=5)) is None
    )


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param("3", 3.0, id="seconds"),
        pytest.param("0.5", 0.5, id="fraction"),
        pytest.param("600", 30.0, id="capped"),
    ],
)
def test_retry_delay_honours_retry_after(retry_after: str, expected: float) -> None:
    """The server's retry-after is used as given, capped at max_backoff_s."""
    assert _client().retry_delay(0, retry_after) == expected


def test_retry_delay_backs_off_exponentially_with_jitter() -> None:
    """Without retry-after, attempt n waits between half and all of backoff * 2^n, capped."""
    client = _client(backoff_s=1.0, max_backoff_s=10.0)
    for attempt, full in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 10.0)]:
        assert full / 2 <= client.retry_delay(attempt, None) <= full


def test_retry_delay_ignores_http_date() -> None:
    """A retry-after given as an HTTP date falls back to the own schedule."""
    assert 0.5 <= _client().retry_delay(0, "Fri, 27 Nov 2026 13:00:00 GMT") <= 1.0


def test_client_rejects_zero_concurrency() -> None:
    """A concurrency below 1 is a configuration error."""
    with pytest.raises(ConfigError):
        _client(concurrency=0)


def test_empty_text_is_not_sent() -> None:
    """A command that is empty after preprocess is invalid without any request."""
    client = _client()  # its sdk is None: any request would raise
    [got] = client.classify(["?!"])
    assert not got.valid and client.usage.invalid == 1 and client.usage.calls == 0


def test_cache_round_trip(tmp_path: Path) -> None:
    """A stored answer is read back unchanged."""
    cache = AnswerCache(tmp_path)
    key = AnswerCache.key("m", "h", "tell me a joke")
    cache.put(key, {"label": "chat", "confidence": "high", "reason": "r"})
    assert cache.get(key) == {"label": "chat", "confidence": "high", "reason": "r"}


def test_cache_torn_entry_is_a_miss(tmp_path: Path) -> None:
    """An unreadable cache file counts as a miss, not an error."""
    cache = AnswerCache(tmp_path)
    key = AnswerCache.key("m", "h", "t")
    cache.put(key, {"label": "chat"})
    next(tmp_path.rglob("*.json")).write_text("{torn")
    assert cache.get(key) is None


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(("m2", "h", "t"), id="model"),
        pytest.param(("m", "h2", "t"), id="prompt"),
        pytest.param(("m", "h", "t2"), id="text"),
    ],
)
def test_cache_key_depends_on_each_part(other: tuple[str, str, str]) -> None:
    """Changing the model, the prompt hash or the text changes the cache key."""
    assert AnswerCache.key("m", "h", "t") != AnswerCache.key(*other)


def test_from_env_without_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing ANTHROPIC_API_KEY raises a one-line RouteletError naming the variable."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingKeyError) as info:
        ClaudeRouter.from_env()
    assert isinstance(info.value, RouteletError)
    assert "ANTHROPIC_API_KEY" in str(info.value) and "\n" not in str(info.value)


def test_from_env_blank_key_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blank ANTHROPIC_API_KEY counts as missing."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "  ")
    with pytest.raises(MissingKeyError):
        ClaudeRouter.from_env()


def test_latest_llm_run_none_without_file(tmp_path: Path) -> None:
    """With no recorded run, the report gets None (shown as "not run")."""
    assert latest_llm_run(tmp_path) is None


def test_latest_llm_run_is_the_last_line(tmp_path: Path) -> None:
    """The newest run is the last line, and a torn last line does not hide older runs."""
    runs = [{"model": "a", "accuracy": 0.9}, {"model": "b", "accuracy": 0.8}]
    text = "".join(json.dumps(r) + "\n" for r in runs)
    (tmp_path / "llm_runs.jsonl").write_text(text)
    assert latest_llm_run(tmp_path) == runs[-1]
    (tmp_path / "llm_runs.jsonl").write_text(text + '{"model": "c", "acc')
    assert latest_llm_run(tmp_path) == runs[-1]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        pytest.param("in.txt", "pause\n\n  next  \n", ["pause", "next"], id="txt"),
        pytest.param(
            "in.jsonl",
            '{"text": "pause"}\n\n{"text": "b", "intent": "chat"}\n',
            ["pause", "b"],
            id="jsonl",
        ),
    ],
)
def test_read_commands(tmp_path: Path, name: str, content: str, expected: list[str]) -> None:
    """Commands come one a line from text files and from the `text` field of JSONL files."""
    (tmp_path / name).write_text(content)
    assert read_commands(tmp_path / name) == expected


@pytest.mark.parametrize(
    "content",
    [
        pytest.param('{"text": "a"}\n{oops\n', id="invalid-json"),
        pytest.param('{"text": "a"}\n{"intent": "chat"}\n', id="no-text"),
    ],
)
def test_read_commands_bad_jsonl_names_line(tmp_path: Path, content: str) -> None:
    """A bad JSONL row is a DataError naming the file and line."""
    (tmp_path / "in.jsonl").write_text(content)
    with pytest.raises(DataError, match=r"in\.jsonl:2"):
        read_commands(tmp_path / "in.jsonl")
