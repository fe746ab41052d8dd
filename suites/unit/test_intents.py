"""Tests of routelet.intents: the label set and its order."""

import pytest

from routelet.intents import LABELS, ROUTABLE, Intent, parse_intent


def test_label_order_is_pinned() -> None:
    """Head columns, ONNX outputs and report columns all depend on this exact order."""
    assert LABELS == ("find_action", "integration", "chat", "memory", "agent", "none")


def test_routable_excludes_none() -> None:
    """`none` is the reject label, not a route."""
    assert Intent.NONE not in ROUTABLE and len(ROUTABLE) == 5


@pytest.mark.parametrize("bad", ["Chat", "", "smalltalk", 3, None], ids=repr)
def test_parse_rejects_unknown(bad: object) -> None:
    """Unknown or mistyped labels raise an error listing the valid ones."""
    with pytest.raises(ValueError, match="expected one of find_action"):
        parse_intent(bad)
