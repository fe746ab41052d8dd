"""Request bodies of ``routelet serve``: read, decoded and validated, or refused with a reason.

``read_body`` reads a body under its endpoint's size limit (refused before reading when
the declared length is over it; counted as it arrives when chunked). ``decode_json`` is
strict JSON from UTF-8 whatever the Content-Type: no NaN or Infinity, no number longer
than Python's digit limit, bounded nesting. ``parse`` validates the decoded body with the
endpoint's pydantic model (``request_models``). Every refusal is a ``BadRequest`` with a
status, a stable error code and a message that names the field, never its value, so
``routelet.serve``'s one exception handler can answer it as ``{"error", "message"}``.

It routes nothing and knows nothing of HTTP beyond the bytes of a body. Empty means what
it means on every path (``routelet.data.is_blank``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

from routelet.data import MAX_TEXT_CHARS, is_blank
from routelet.intents import LABELS

#: Most texts in one ``POST /route/batch``.
MAX_BATCH = 256
#: Largest request body per endpoint, in bytes. The batch limit is sized so that any batch
#: within the text and item limits fits even with every character JSON-escaped
#: (an astral character escapes to 12 bytes: 256 * 500 * 12 < 2 MiB).
MAX_BODY_BYTES = {"/route": 64 * 1024, "/route/batch": 2 * 1024 * 1024, "/feedback": 4096}


class BadRequest(Exception):
    """A request the client must fix; becomes a 4xx JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


async def read_body(chunks: AsyncIterator[bytes], declared: str | None, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes (before reading, when declared)."""
    too_big = BadRequest(413, "body_too_large", f"request body is larger than {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:  # chunked uploads declare no length: count as they arrive
            raise too_big
    return bytes(body)


def decode_json(body: bytes) -> Any:
    """Strict JSON from UTF-8 bytes; ``BadRequest`` (400) saying why not."""
    try:
        doc = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            400, "invalid_utf8", f"body is not valid UTF-8 (byte {exc.start})"
        ) from None
    try:
        return json.loads(doc, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        why = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except RecursionError:
        why = "nested too deeply"
    except ValueError:  # NaN, Infinity, or an integer longer than Python's digit limit
        why = "unparsable number"
    raise BadRequest(400, "invalid_json", f"body is not valid JSON ({why})")


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN; RFC 8259 does not


def _kind(value: object) -> str:
    """The JSON name of a parsed value's type."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


@functools.cache
def request_models() -> dict[str, Any]:
    """The pydantic model of each endpoint's body (built on first use: pydantic is optional)."""
    from typing import Annotated, Literal

    from pydantic import AfterValidator, BaseModel, ConfigDict, Field
    from pydantic_core import PydanticCustomError

    def not_blank(text: str) -> str:
        if is_blank(text):
            raise PydanticCustomError("empty_text", "empty or only whitespace")
        return text

    Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(not_blank)]
    strict = ConfigDict(extra="forbid", strict=True)

    class RouteBody(BaseModel):
        model_config = strict
        text: Text

    class BatchBody(BaseModel):
        model_config = strict
        texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_BATCH)]

    class FeedbackBody(BaseModel):
        model_config = strict
        id: Annotated[str, Field(min_length=1, max_length=64)]
        intent: Literal[LABELS]  # type: ignore[valid-type]

    return {"/route": RouteBody, "/route/batch": BatchBody, "/feedback": FeedbackBody}


def validation_error(errors: list[Any], fields: str) -> BadRequest:
    """The first pydantic error as our error (an unknown field first, as it is the likeliest
    mistake); messages name the field, never its value."""
    e = sorted(errors, key=lambda e: e["type"] != "extra_forbidden")[0]
    kind, loc = e["type"], e["loc"]
    value: Any = e.get("input")
    where = "".join(f"[{p}]" if isinstance(p, int) else p for p in loc)
    if kind == "extra_forbidden":
        shown = json.dumps(str(loc[-1])[:40])  # a key is input too: shown short
        return BadRequest(422, "unknown_field", f"unknown field {shown}; expected only {fields}")
    if kind == "missing":
        return BadRequest(422, "missing_field", f"missing field {where!r}")
    if not loc:
        return BadRequest(422, "not_an_object", f"body must be a JSON object, got {_kind(value)}")
    if kind in ("string_type", "list_type"):
        want = "a string" if kind == "string_type" else "an array"
        return BadRequest(422, "wrong_type", f"{where!r} must be {want}, got {_kind(value)}")
    if kind == "empty_text":
        return BadRequest(422, "empty_text", f"{where!r} is empty or only whitespace")
    if kind == "string_too_long":
        msg = f"{where!r} has {len(value)} characters (max {MAX_TEXT_CHARS})"
        return BadRequest(422, "text_too_long", msg)
    if kind == "too_short" and where == "texts":
        return BadRequest(422, "empty_batch", f"'texts' is empty; send 1 to {MAX_BATCH} texts")
    if kind == "too_long" and where == "texts":
        msg = f"'texts' has {len(value)} items (max {MAX_BATCH}); split the batch"
        return BadRequest(422, "too_many_texts", msg)
    if kind == "literal_error":
        return BadRequest(422, "bad_intent", f"{where!r} must be one of {', '.join(LABELS)}")
    return BadRequest(422, "invalid_field", f"{where!r}: {e['msg']}")


def parse(path: str, body: bytes) -> Any:
    """The validated body of ``path`` (a pydantic model); ``BadRequest`` saying what is wrong."""
    from pydantic import ValidationError

    model = request_models()[path]
    try:
        return model.model_validate(decode_json(body))
    except ValidationError as exc:
        fields = " or ".join(repr(f) for f in model.model_fields)
        raise validation_error(exc.errors(include_url=False), fields) from None


def openapi_body(model: Any) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint: its pydantic model's JSON schema."""
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": {"application/json": schema}}}
