"""A fake Messages API for the teacher suites: recorded replies behind ``httpx2.MockTransport``.

anthropic>=2 speaks ``httpx2`` (and rejects ``httpx`` objects), so the fake transport
is ``httpx2.MockTransport``. Nothing here opens a socket.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx2

from routelet.claude import AnswerCache, ClaudeClient, build_system_prompt, load_taxonomy
from routelet.config import Paths
from routelet.teacher import ClaudeRouter

ROOT = Path(__file__).resolve().parents[2]
PROMPT = build_system_prompt(load_taxonomy(Paths(ROOT)))
TIMEOUT = "timeout"  # a script item that makes the transport raise a read timeout
_COMMAND_RE = re.compile(r"<command>(.*)</command>", re.DOTALL)

Item = httpx2.Response | str | Callable[[httpx2.Request], httpx2.Response]


def make_project(
    root: Path, train_rows: dict[str, list[str]], eval_rows: dict[str, list[str]]
) -> Paths:
    """A throwaway project root with tiny data/ and evals/ files and the real taxonomy.

    ``train_rows`` maps a data file name (``integration.jsonl``) to texts labelled by the
    file's stem; ``eval_rows`` maps an eval file name to texts labelled ``memory``.
    """
    import shutil

    for folder in ("data", "evals", "docs"):
        (root / folder).mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "taxonomy.md", root / "docs" / "taxonomy.md")
    rows = [
        ("data", name, texts, name.removesuffix(".jsonl")) for name, texts in train_rows.items()
    ]
    rows += [("evals", name, texts, "memory") for name, texts in eval_rows.items()]
    for folder, name, texts, intent in rows:
        (root / folder / name).write_text(
            "".join(json.dumps({"text": t, "intent": intent}) + "\n" for t in texts)
        )
    return Paths(root)


def message(
    content: list[dict[str, Any]], *, stop_reason: str = "tool_use", **usage: int
) -> httpx2.Response:
    """A recorded 200 reply of the Messages API with ``content`` blocks and ``usage``."""
    return httpx2.Response(
        200,
        json={
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-5-5",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 1000, "output_tokens": 40, **usage},
        },
    )


def answer(
    intent: object = "chat",
    confidence: object = "high",
    reason: str = "world knowledge",
    **usage: int,
) -> httpx2.Response:
    """A forced ``route_command`` call with the given fields."""
    call = {
        "type": "tool_use",
        "id": "toolu_test",
        "name": "route_command",
        "input": {"intent": intent, "confidence": confidence, "reason": reason},
    }
    return message([call], **usage)


def error(status: int, kind: str, headers: dict[str, str] | None = None) -> httpx2.Response:
    """An API error reply in Anthropic's error envelope."""
    return httpx2.Response(
        status, headers=headers, json={"type": "error", "error": {"type": kind, "message": kind}}
    )


def body_of(request: httpx2.Request) -> dict[str, Any]:
    return json.loads(request.content)


def command_of(request: httpx2.Request) -> str:
    """The command text sent inside ``<command>`` tags."""
    match = _COMMAND_RE.search(body_of(request)["messages"][0]["content"])
    assert match, "request without a <command>"
    return match.group(1)


class FakeAPI:
    """Answers from a script first, then ``default(request)``; records every request."""

    def __init__(
        self, *script: Item, default: Callable[[httpx2.Request], httpx2.Response] | None = None
    ):
        self.script = list(script)
        self.default = default or (lambda request: answer())
        self.requests: list[httpx2.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            self.requests.append(request)
            item: Item = self.script.pop(0) if self.script else self.default
        if item == TIMEOUT:
            raise httpx2.ReadTimeout("timed out", request=request)
        return item(request) if callable(item) else item  # type: ignore[return-value]

    def commands(self) -> list[str]:
        return [command_of(r) for r in self.requests]


def http_client(api: FakeAPI) -> httpx2.Client:
    return httpx2.Client(transport=httpx2.MockTransport(api))


def make_router(
    api: FakeAPI,
    *,
    model: str = "claude-haiku-5-5",
    cache_dir: Path | None = None,
    concurrency: int = 1,
    max_attempts: int = 3,
    sleep: Callable[[float], None] = lambda seconds: None,
    clock: Callable[[], float] | None = None,
) -> ClaudeRouter:
    """A router over the fake API; sleeping is a no-op unless a recorder is passed."""
    sdk = anthropic.Anthropic(
        api_key="test", base_url="https://api.invalid", http_client=http_client(api), max_retries=0
    )
    client = ClaudeClient(
        sdk,
        model,
        system_prompt=PROMPT,
        cache=AnswerCache(cache_dir) if cache_dir else None,
        concurrency=concurrency,
        max_attempts=max_attempts,
        sleep=sleep,
        rng=random.Random(0),
        **({"clock": clock} if clock else {}),
    )
    return ClaudeRouter(client)
