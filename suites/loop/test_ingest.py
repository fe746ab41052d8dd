"""`routelet ingest` end to end: sample logs in, a review file out, reviewed rows merged.

The teacher is a fake Messages API behind ``httpx2.MockTransport`` (suites/teacher/fakes);
the student is the shipped model. Nothing leaves the machine.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, NamedTuple

import httpx2
import pytest

from routelet.cli import build_parser, main
from routelet.config import Paths
from routelet.data import load_jsonl
from routelet.ingest import run_cli
from routelet.samplelog import feedback_record, route_record
from suites.budgets import BUDGETS
from suites.teacher.fakes import FakeAPI, answer, command_of, http_client, make_project

pytestmark = pytest.mark.shipped

TRAIN_ROWS = {
    "integration.jsonl": ["play some jazz on spotify", "turn off the kitchen lights"],
    "chat.jsonl": ["how far away is the moon"],
}
EVAL_ROWS = {"holdout.jsonl": ["remember that my locker code is 4471"]}
#: What the fake teacher answers, by the (redacted) command it receives.
TEACHER = {
    "what's the tallest mountain": ("chat", "high"),
    "flarbo venti": ("chat", "low"),
    "pause the music": ("integration", "high"),
    "tell me a joke": ("memory", "high"),  # wrong on purpose: the student says chat
}
CORRECTED = "set an alarm for seven"
PREDICTION = {"intent": "integration", "confidence": 0.9, "deferred": False, "tier": "encoder"}


def _fake_teacher(request: httpx2.Request) -> httpx2.Response:
    return answer(*TEACHER[command_of(request)])


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    """A project root with tiny data/ and evals/ and the real taxonomy, as ROUTELET_ROOT."""
    paths = make_project(tmp_path / "project", TRAIN_ROWS, EVAL_ROWS)
    monkeypatch.setenv("ROUTELET_ROOT", str(paths.root))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    return paths


def _log(path: Path) -> Path:
    """A sample log: every path through ingest, a correction and a torn last line."""
    lines = [
        route_record("a", "Play some JAZZ on Spotify!", PREDICTION, "m"),  # a training row
        route_record("b", "remember that my locker code is 9912", PREDICTION, "m"),  # eval leak
        route_record("c", "what's the tallest mountain", PREDICTION, "m"),
        route_record("d", "what's the tallest mountain", PREDICTION, "m"),  # seen twice
        route_record("e", "flarbo venti", PREDICTION, "m"),
        route_record("f", CORRECTED, PREDICTION, "m"),
        route_record("g", "pause the music", PREDICTION, "m"),
        feedback_record("f", CORRECTED, "integration"),
        route_record("h", "tell me", PREDICTION, "m")[:25],  # torn by a crash
    ]
    path.write_text("".join(line + "\n" for line in lines))
    return path


class Run(NamedTuple):
    api: FakeAPI
    review: list[dict[str, Any]]
    stdout: str


def _ingest(tmp_path: Path, model_dir: Path, api: FakeAPI, *inputs: Path) -> int:
    argv = ["ingest", *map(str, inputs), "--output", str(tmp_path / "review.jsonl")]
    argv += ["--model", str(model_dir), "--cache-dir", str(tmp_path / "cache")]
    return run_cli(build_parser().parse_args(argv), http_client=http_client(api))


@pytest.fixture
def ingested(
    project: Paths, tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> Run:
    """ingest run once over a sample log and a .txt file."""
    (tmp_path / "more.txt").write_text("tell me a joke\n")
    api = FakeAPI(default=_fake_teacher)
    assert (
        _ingest(tmp_path, model_dir, api, _log(tmp_path / "samples-1.jsonl"), tmp_path / "more.txt")
        == 0
    )
    rows = [json.loads(x) for x in (tmp_path / "review.jsonl").read_text().splitlines()]
    return Run(api, rows, capsys.readouterr().out)


def _by_text(run: Run) -> dict[str, dict[str, Any]]:
    return {r["text"]: r for r in run.review}


def test_correction_beats_the_teacher(ingested: Run) -> None:
    """A corrected command is labelled by the correction and never sent to the teacher."""
    row = _by_text(ingested)[CORRECTED]
    assert (row["intent"], row["label_source"]) == ("integration", "correction")
    assert CORRECTED not in ingested.api.commands()


def test_duplicates_and_leaks_are_dropped(ingested: Run) -> None:
    """Training duplicates and eval near-duplicates reach neither the teacher nor the review."""
    sent = set(ingested.api.commands())
    assert sent == {
        "what's the tallest mountain",
        "flarbo venti",
        "pause the music",
        "tell me a joke",
    }
    assert set(_by_text(ingested)) == sent | {CORRECTED}


def test_repeats_are_one_row_with_a_count(ingested: Run) -> None:
    """A command seen twice is asked once and listed once, with seen = 2."""
    assert ingested.api.commands().count("what's the tallest mountain") == 1
    assert _by_text(ingested)["what's the tallest mountain"]["seen"] == 2


def test_disagreements_come_first(ingested: Run) -> None:
    """The teacher/student disagreement leads the review file; agreements come last."""
    texts = [r["text"] for r in ingested.review]
    before = ingested.review[: texts.index("tell me a joke") + 1]
    assert all(r["disagree"] for r in before) and not ingested.review[-1]["disagree"]
    groups = [0 if r["disagree"] else 1 if r["intent"] is None else 2 for r in ingested.review]
    assert groups == sorted(groups)


def test_low_confidence_answer_has_no_label(ingested: Run) -> None:
    """A low-confidence teacher answer is a suggestion for the reviewer, not a label."""
    row = _by_text(ingested)["flarbo venti"]
    assert row["intent"] is None and row["teacher"] == "chat" and "low confidence" in row["problem"]


def test_summary_counts_every_outcome(ingested: Run) -> None:
    """The summary counts drops, leaks, the torn line and the disagreements."""
    for text in (
        "dropped (duplicate of a training row): 1",
        "refused (near-duplicate of an eval row, leakage): 1",
        "unreadable lines skipped: 1",
        f"{sum(r['disagree'] for r in ingested.review)} disagree with the student first",
    ):
        assert text in ingested.stdout


def _accept(tmp_path: Path, review: Path, into: Path) -> int:
    return main(["ingest", "--accept", str(review), "--into", str(into)])


def test_accept_merges_labelled_rows_with_provenance(
    ingested: Run, project: Paths, tmp_path: Path
) -> None:
    """--accept writes every labelled review row as a valid data row with its provenance."""
    into = project.data / "collected.jsonl"
    assert _accept(tmp_path, tmp_path / "review.jsonl", into) == 0
    rows = {ex.text: ex for ex in load_jsonl(into)}  # validates every row
    assert set(rows) == {r["text"] for r in ingested.review if r["intent"]}
    corrected = rows[CORRECTED].meta
    assert corrected["label_source"] == "correction" and corrected["origin"].endswith(
        "samples-1.jsonl"
    )
    taught = rows["pause the music"].meta
    assert (
        taught["teacher_model"] == "claude-haiku-5-5"
        and taught["date"]
        and taught["source"] == "ingest"
    )
    assert into in project.training_files()


def test_checkdata_accepts_collected_rows(ingested: Run, project: Paths, tmp_path: Path) -> None:
    """check-data reads the merged file (provenance fields included) without an error."""
    _accept(tmp_path, tmp_path / "review.jsonl", project.data / "collected.jsonl")
    from routelet.checkdata import check
    from routelet.config import TrainConfig

    report = check(project, TrainConfig())
    assert not report.errors and str(project.data / "collected.jsonl") in report.counts


def test_reviewer_label_is_recorded(ingested: Run, project: Paths, tmp_path: Path) -> None:
    """A label the reviewer changed is merged as the reviewer's."""
    review = tmp_path / "review.jsonl"
    rows = [
        {**r, "intent": "chat"} if r["text"] == "tell me a joke" else r for r in ingested.review
    ]
    review.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _accept(tmp_path, review, project.data / "collected.jsonl")
    merged = {ex.text: ex for ex in load_jsonl(project.data / "collected.jsonl")}
    assert merged["tell me a joke"].intent == "chat"
    assert merged["tell me a joke"].meta["label_source"] == "reviewer"


def test_accept_refuses_eval_leak_and_repeats(
    ingested: Run, project: Paths, tmp_path: Path
) -> None:
    """A hand-added eval near-duplicate is not merged, and accepting twice adds nothing."""
    review = tmp_path / "review.jsonl"
    leak = {"text": "remember that my locker code is 1234", "intent": "memory"}
    review.write_text(review.read_text() + json.dumps(leak) + "\n")
    into = project.data / "collected.jsonl"
    _accept(tmp_path, review, into)
    first = [ex.text for ex in load_jsonl(into)]
    assert not any("locker" in t for t in first)
    _accept(tmp_path, review, into)
    assert [ex.text for ex in load_jsonl(into)] == first


def test_accept_bad_label_is_one_line(
    project: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewed row with an unknown intent stops --accept with one line naming file and line."""
    review = tmp_path / "r.jsonl"
    review.write_text(json.dumps({"text": "pause", "intent": "music"}) + "\n")
    assert _accept(tmp_path, review, project.data / "collected.jsonl") == 2
    assert f"{review}:1" in capsys.readouterr().err
    assert not (project.data / "collected.jsonl").exists()


def test_missing_key_is_one_line(
    project: Paths,
    tmp_path: Path,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without ANTHROPIC_API_KEY, ingest stops with one line naming it and writes nothing."""
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    source = tmp_path / "in.txt"
    source.write_text("tell me a joke\n")
    code = main(
        ["ingest", str(source), "--output", str(tmp_path / "r.jsonl"), "--model", str(model_dir)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "ANTHROPIC_API_KEY" in err
    assert not (tmp_path / "r.jsonl").exists()


def _traffic(path: Path, n: int) -> Path:
    """``n`` logged lines, distinct commands built from a fixed vocabulary (8 * 8 * 8 * 20)."""
    verbs = ["play", "remind me to", "find", "book", "what is", "turn on", "send", "open"]
    nouns = ["jazz", "the lights", "a table", "the weather", "my notes", "a cab", "mail", "tabs"]
    extra = ["now", "later", "tonight", "at home", "for mom", "quickly", "again", "please"]
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    names += ["kevin", "laura", "mia", "nina", "oscar", "peggy", "quinn", "rupert", "sybil", "ted"]
    lines = []
    for i in range(n):
        words = [verbs[i % 8], nouns[i // 8 % 8], extra[i // 64 % 8], names[i // 512 % 20]]
        lines.append(route_record(f"r{i}", " ".join(words), PREDICTION, "m"))
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_ingest_10k_lines_benchmark(
    benchmark, project: Paths, tmp_path: Path, model_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    """Ingesting 10,000 logged lines with a mocked teacher stays within the [loop] budget."""
    log = _traffic(tmp_path / "samples-big.jsonl", 10_000)

    def run() -> None:
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
        api = FakeAPI(default=lambda request: answer("chat", "high"))
        assert _ingest(tmp_path, model_dir, api, log) == 0

    start = time.perf_counter()
    benchmark.pedantic(run, iterations=1, rounds=1, warmup_rounds=0)
    seconds = time.perf_counter() - start
    benchmark.extra_info.update(seconds=seconds, rows=10_000)
    assert seconds <= BUDGETS["loop"]["ingest_10k_max_s"]
