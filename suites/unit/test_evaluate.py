"""Tests of routelet.evaluate: the `routelet eval` command and router loading."""

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routelet.cli import main
from routelet.data import load_jsonl
from routelet.errors import RouteletError
from routelet.evaluate import accuracy_interval, compute_metrics, load_router

pytestmark = pytest.mark.shipped


def _exit_code(argv: list[str]) -> int:
    """``main``'s exit code, whether it returns it or argparse raises SystemExit with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_eval_json_keys(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """--json prints one object with the documented keys, scoring every row of the file."""
    data = paths.evals / "short_commands.jsonl"
    assert main(["eval", "--data", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "per_intent", "ece", "n"} <= set(result)
    assert set(result["per_intent"]["chat"]) == {"precision", "recall", "f1", "support"}
    assert result["n"] == len(load_jsonl(data))


def test_eval_table_lists_wrong_rows(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """The text report shows the metrics table and the confusion matrix."""
    assert main(["eval", "--data", str(paths.evals / "boundary.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "macro-F1" in out and "confusion" in out


def test_tfidf_router_evaluates(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """The TF-IDF floor is selectable with --router tfidf and scores every row."""
    data = paths.evals / "ood.jsonl"
    assert main(["eval", "--router", "tfidf", "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == len(load_jsonl(data))


def test_threshold_changes_deferral(paths, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """--threshold 1 defers every routable row; --threshold 0 defers fewer."""
    data = str(paths.evals / "short_commands.jsonl")
    rates = []
    for threshold in ("1", "0"):
        assert main(["eval", "--data", data, "--json", "--threshold", threshold]) == 0
        rates.append(json.loads(capsys.readouterr().out)["deferral_rate"])
    assert rates[0] == 1.0 and rates[1] < 1.0


def test_summary_holds_the_headline_numbers() -> None:
    """Metrics.summary is the short form: counts, scores and recall of present intents only."""
    import numpy as np

    from routelet.intents import LABELS

    probs = np.eye(len(LABELS))[[LABELS.index("chat"), LABELS.index("chat")]]
    summary = compute_metrics(["a", "b"], ["chat", "memory"], probs).summary()
    assert summary["n"] == 2 and summary["accuracy"] == 0.5
    assert summary["recall"] == {"chat": 1.0, "memory": 0.0}
    assert set(summary) == {
        "n",
        "accuracy",
        "macro_f1",
        "none_recall",
        "deferral_rate",
        "ece",
        "recall",
    }


def test_missing_data_file_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing data file exits 2 with a one-line message."""
    assert main(["eval", "--data", "nope.jsonl"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_empty_data_file_is_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file without rows exits 2 instead of printing metrics of nothing."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["eval", "--data", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert "no rows to score" in err and "\n" not in err


@pytest.mark.parametrize(
    "value",
    [pytest.param("2", id="2"), pytest.param("-5", id="-5"), pytest.param("nan", id="nan")],
)
def test_threshold_outside_unit_interval_is_one_line_error(
    paths,  # type: ignore[no-untyped-def]
    value: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--threshold that is not a probability exits 2 instead of printing meaningless numbers."""
    argv = ["eval", "--data", str(paths.evals / "short_commands.jsonl"), "--threshold", value]
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "between 0 and 1" in err and "\n" not in err


@pytest.mark.parametrize(
    ("router", "extra", "module"),
    [
        pytest.param("tfidf", "baseline", "sklearn", id="tfidf"),
        pytest.param("setfit", "train", "torch", id="setfit"),
        pytest.param("claude", "llm", "anthropic", id="claude"),
    ],
)
def test_router_without_its_extra_is_one_line_error(
    paths,  # type: ignore[no-untyped-def]
    router: str,
    extra: str,
    module: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--router tfidf/setfit/claude without its extra exits 2 naming the extra to install."""
    monkeypatch.setitem(sys.modules, module, None)
    argv = ["eval", "--router", router, "--data", str(paths.evals / "short_commands.jsonl")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"needs the {extra} extra" in err and "\n" not in err, err


def test_unknown_router_kind() -> None:
    """An unknown router kind is a RouteletError."""
    with pytest.raises(RouteletError, match="unknown router"):
        load_router("gpt")


@pytest.mark.parametrize(
    ("accuracy", "n", "low", "high"),
    [
        pytest.param(0.5, 100, 0.4038, 0.5962, id="half"),
        pytest.param(1.0, 50, 0.9287, 1.0, id="perfect-on-50"),
        pytest.param(0.0, 10, 0.0, 0.2775, id="zero-on-10"),
    ],
)
def test_accuracy_interval_known_values(accuracy: float, n: int, low: float, high: float) -> None:
    """Wilson 95 % intervals against values computed by hand."""
    got = accuracy_interval(accuracy, n)
    assert got == pytest.approx((low, high), abs=1e-4)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_accuracy_interval_contains_the_accuracy(right_n: tuple[int, int]) -> None:
    """The interval holds the measured accuracy, stays in [0, 1] and narrows with more rows."""
    right, n = right_n
    low, high = accuracy_interval(right / n, n)
    assert 0.0 <= low <= right / n <= high <= 1.0
    wider = accuracy_interval(right / n, max(1, n // 4))
    assert wider[1] - wider[0] >= high - low - 1e-12


def test_accuracy_interval_refuses_a_bad_accuracy() -> None:
    with pytest.raises(ValueError, match="accuracy"):
        accuracy_interval(1.5, 10)
