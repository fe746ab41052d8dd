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


def test_markdown_states_machine_and_llm_status(results) -> None:  # type: ignore[no-untyped-def]
    """REPORT.md names the machine and date, and never invents an LLM number."""
    data, _ = results
    text = render(data)
    assert data["machine"]["date"] in text and "cores" in text
    assert "## LLM baseline" in text
    if data["llm"] is None:
        assert "Not run" in text


def test_headline_matches_metrics(results) -> None:  # type: ignore[no-untyped-def]
    """README's headline table carries the holdout accuracy computed in the run."""
    data, _ = results
    accuracy = next(iter(data["routers"].values()))["holdout"]["accuracy"]
    assert str(accuracy) in headline(data)


def test_committed_metrics_json_is_valid(paths) -> None:  # type: ignore[no-untyped-def]
    """The committed report/metrics.json parses and names the shipped model."""
    data = json.loads((Path(paths.report) / "metrics.json").read_text())
    assert data["model"]["name"] == "routelet-v1"


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


@pytest.mark.train
def test_paired_speedup_measures_both_paths(paths, tiny_run) -> None:  # type: ignore[no-untyped-def]
    """The paired timing returns p50/p99 for both routers and their ratio."""
    from routelet.report import measure_speedup

    _, run_dir = tiny_run
    result = measure_speedup(paths.default_model, run_dir, blocks=1)
    assert result is not None
    assert result["onnx"]["p50_ms"] > 0 and result["setfit_torch"]["p50_ms"] > 0
    assert result["speedup"] == pytest.approx(
        result["setfit_torch"]["p50_ms"] / result["onnx"]["p50_ms"], rel=0.05
    )


def test_paired_speedup_without_a_run(paths, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Without a training run the SetFit side is reported as not measured (None)."""
    from routelet.report import measure_speedup

    assert measure_speedup(paths.default_model, tmp_path) is None
