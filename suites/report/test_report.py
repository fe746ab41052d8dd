"""The report is generated from real evaluations into the directory it is given."""

import json
from pathlib import Path

import pytest

from routelet.report import build, headline, render

pytestmark = [pytest.mark.shipped, pytest.mark.slow]


@pytest.fixture(scope="module")
def results(paths, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("report")
    return build(paths, paths.default_model, out, latency=False), out


def test_every_router_scored_on_every_nonempty_eval(results, paths) -> None:  # type: ignore[no-untyped-def]
    """Both routers have metrics for holdout, boundary, short_commands and ood."""
    data, _ = results
    for per_file in data["routers"].values():
        assert {"holdout", "boundary", "short_commands", "ood"} <= set(per_file)


def test_plots_written(results) -> None:  # type: ignore[no-untyped-def]
    """Confusion, reliability and coverage plots are PNG files."""
    _, out = results
    for name in ("confusion_holdout.png", "reliability_holdout.png", "coverage_holdout.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_markdown_states_machine(results) -> None:  # type: ignore[no-untyped-def]
    """REPORT.md names the machine and the date it was measured on."""
    data, _ = results
    text = render(data)
    assert data["machine"]["date"] in text and "cores" in text


_RECORDED_RUN = {"model": "claude-test", "accuracy": 0.9123, "cost_usd": 0.0421}


@pytest.mark.parametrize(
    ("llm", "present", "absent"),
    [
        pytest.param(None, ["Not run"], ["Last recorded run"], id="no-recorded-run"),
        pytest.param(
            _RECORDED_RUN,
            ["Last recorded run", "claude-test", "0.9123", "0.0421"],
            ["Not run"],
            id="recorded-run",
        ),
    ],
)
def test_markdown_llm_section(results, llm, present: list[str], absent: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The LLM section says "Not run" without a record, and quotes the record when there is one."""
    data, _ = results
    text = render({**data, "llm": llm}).split("## LLM baseline", 1)[1]
    assert all(p in text for p in present) and not any(a in text for a in absent)


def test_headline_matches_metrics(results) -> None:  # type: ignore[no-untyped-def]
    """README's headline table carries the holdout accuracy computed in the run."""
    data, _ = results
    accuracy = next(iter(data["routers"].values()))["holdout"]["accuracy"]
    assert str(accuracy) in headline(data)


def test_committed_metrics_json_is_valid(paths) -> None:  # type: ignore[no-untyped-def]
    """The committed report/metrics.json parses and names the shipped model."""
    data = json.loads((Path(paths.report) / "metrics.json").read_text())
    assert data["model"]["name"] == paths.default_model.name


def test_readme_headline_block_replaced(results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """update_readme rewrites only the text between the headline markers."""
    from routelet.report import update_readme

    data, _ = results
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- headline:start -->\nSTALE-TABLE\n<!-- headline:end -->\noutro\n")
    assert update_readme(readme, data)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "STALE-TABLE" not in text
    assert str(data["routers"]["onnx (shipped, int8)"]["holdout"]["accuracy"]) in text


def test_readme_without_markers_untouched(results, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A README without markers is left as it is."""
    from routelet.report import update_readme

    data, _ = results
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert not update_readme(readme, data)
    assert readme.read_text() == "no markers here\n"


def _results(model: dict[str, float], floor: dict[str, float]) -> dict:  # type: ignore[type-arg]
    return {
        "routers": {
            "onnx (shipped, int8)": {k: {"n": 10, "accuracy": v} for k, v in model.items()},
            "tfidf (floor)": {k: {"n": 10, "accuracy": v} for k, v in floor.items()},
        }
    }


@pytest.mark.parametrize(
    ("model", "floor", "too_easy"),
    [
        pytest.param(0.97, 0.95, True, id="floor-2-points-below"),
        pytest.param(0.97, 0.99, True, id="floor-above-model"),
        pytest.param(0.97, 0.93, False, id="floor-4-points-below"),
    ],
)
def test_hardness_flags_sets_the_floor_nearly_ties(
    model: float, floor: float, too_easy: bool
) -> None:
    """A set is flagged too easy exactly when the TF-IDF floor is within min_gap of the model."""
    from routelet.report import hardness

    rows = hardness(_results({"holdout": model}, {"holdout": floor}), min_gap=0.03)
    assert [(r["set"], r["too_easy"]) for r in rows] == [("holdout", too_easy)]


def test_hardness_does_not_judge_small_sets() -> None:
    """A set with fewer than min_rows rows is listed with too_easy None, not flagged."""
    from routelet.report import hardness

    rows = hardness(_results({"regression": 0.2}, {"regression": 0.8}), min_gap=0.03, min_rows=20)
    assert rows[0]["too_easy"] is None


def test_hardness_covers_every_eval_file_and_external_set(results, paths) -> None:  # type: ignore[no-untyped-def]
    """The hardness table has a row for each eval file, the external set and each source."""
    data, _ = results
    sets = {r["set"] for r in data["hardness"]}
    assert {p.stem for p in paths.eval_files()} <= sets
    assert "external (all)" in sets
    assert {f"external: {s}" for s in data["external"]["onnx (shipped, int8)"]["source"]} <= sets


def test_markdown_shows_external_and_hardness(results) -> None:  # type: ignore[no-untyped-def]
    """REPORT.md has the External section (per label, per source, floor beside model) and the
    hardness table, flagging the sets the floor nearly ties."""
    data, _ = results
    text = render(data)
    assert "## External" in text and "## Hardness" in text
    assert "tf-idf floor recall" in text and "ovos-skill-weather==" in text
    model = next(iter(data["routers"]))
    low, high = data["external"][model]["accuracy_interval"]
    assert low <= data["external"][model]["accuracy"] <= high
    assert f"({low}-{high})" in text
    flagged = [r["set"] for r in data["hardness"] if r["too_easy"]]
    assert text.count("too easy to rank models") == len(flagged) > 0


def test_external_section_says_why_when_not_installed(monkeypatch, paths) -> None:  # type: ignore[no-untyped-def]
    """Without the skill packages the report says so instead of failing."""
    from routelet import external, report
    from routelet.errors import DataError

    def missing(*_: object) -> None:
        raise DataError("ovos-skill-weather is not installed")

    monkeypatch.setattr(external, "load", missing)
    section = report._external(paths, None, {})
    assert section == {"error": "ovos-skill-weather is not installed"}
    assert "Not measured: ovos-skill-weather is not installed" in render(
        {**_results({}, {}), "external": section, "machine": _MACHINE, "model": _MODEL, "llm": None}
    )


_MACHINE = {"date": "2026-01-01", "cpu": "cpu", "cores": 2, "python": "3.11"}
_MODEL = {"name": "m", "size_mb": 1, "train_seconds": 1, "threshold": 0.5}
