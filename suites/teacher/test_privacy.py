"""Privacy: no email, long digit run or secret value of a command ever appears in a request body."""

from __future__ import annotations

import json
import re

from hypothesis import example, given

from routelet.claude import route_tool
from routelet.preprocess import preprocess
from suites.strategies import private_commands
from suites.teacher.fakes import PROMPT, FakeAPI, body_of, command_of, make_router

_LONG_DIGITS = re.compile(r"\d(?:[ .\-]?\d){3,}")
# Every top-level field; `system` and `tools` are checked to be constant, so only
# `messages` can carry the command.
_FIELDS = {"model", "max_tokens", "system", "messages", "tools", "tool_choice", "thinking"}


@given(private_commands())
@example(
    (
        "my password is hunter2 mail jo@example.com or call 555 123 4567",
        {"email": "jo@example.com", "digits": "555 123 4567", "secret": "hunter2"},
    )
)
@example(("pin: ab1 4471-2210 x@y.io", {"email": "x@y.io", "digits": "4471-2210", "secret": "ab1"}))
def test_request_body_never_holds_private_values(case: tuple[str, dict[str, str]]) -> None:
    """Whatever the command holds, the request carries only its redacted form."""
    text, values = case
    api = FakeAPI()
    make_router(api).label([text])
    [request] = api.requests
    body = body_of(request)
    assert body.keys() == _FIELDS
    assert body["system"][0]["text"] == PROMPT and body["tools"] == [route_tool()]
    sent = json.dumps(body["messages"], ensure_ascii=False)
    assert command_of(request) == preprocess(text)
    assert values["email"].lower() not in sent and "@" not in sent
    assert values["secret"] not in sent and values["digits"] not in sent
    assert _LONG_DIGITS.search(sent) is None
