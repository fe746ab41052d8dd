"""The label set: the single authority on which intents exist and in what order.

Head columns, ONNX output columns, report columns and snapshot keys all derive
from ``list(Intent)``. This module does not describe the labels' meaning; that
lives in ``docs/taxonomy.md``.
"""

from __future__ import annotations

from enum import StrEnum


class Intent(StrEnum):
    """One routing path of the voice assistant, plus the reject label ``none``."""

    FIND_ACTION = "find_action"
    INTEGRATION = "integration"
    CHAT = "chat"
    MEMORY = "memory"
    AGENT = "agent"
    NONE = "none"


#: Label strings in canonical order (the column order of every probability array).
LABELS: tuple[str, ...] = tuple(intent.value for intent in Intent)

#: The five routable intents; ``none`` means "do not route".
ROUTABLE: tuple[Intent, ...] = tuple(i for i in Intent if i is not Intent.NONE)


def parse_intent(value: object) -> Intent:
    """Return the ``Intent`` named by ``value``; raise ``ValueError`` naming the valid labels."""
    if isinstance(value, str):
        try:
            return Intent(value)
        except ValueError:
            pass
    raise ValueError(f"unknown intent {value!r}; expected one of {', '.join(LABELS)}")
