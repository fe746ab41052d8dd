"""Tests of routelet.evaluate: the `routelet eval` command and router loading."""

import json

import pytest

from routelet.cli import main
from routelet.errors import RouteletError
from routelet.evaluate import load_router

pytestmark = pytest.mark.shipped


def test_eval_json_keys(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """--json prints one object with the documented keys."""
    assert main(["eval", "--data", str(paths.evals / "short_commands.jsonl"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "per_intent", "ece", "n"} <= set(result)
    assert set(result["per_intent"]["chat"]) == {"precision", "recall", "f1", "support"}
    assert result["n"] == 50


def test_eval_table_lists_wrong_rows(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """The text report shows the metrics table and the confusion matrix."""
    assert main(["eval", "--data", str(paths.evals / "boundary.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "confusion" in out


def test_tfidf_router_evaluates(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """The TF-IDF floor is selectable with --router tfidf."""
    assert (
        main(["eval", "--router", "tfidf", "--data", str(paths.evals / "ood.jsonl"), "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["n"] == 117


def test_missing_data_file_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing data file exits 2 with a one-line message."""
    assert main(["eval", "--data", "nope.jsonl"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unknown_router_kind() -> None:
    """An unknown router kind is a RouteletError."""
    with pytest.raises(RouteletError, match="unknown router"):
        load_router("gpt")
