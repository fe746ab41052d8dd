"""The cascade inside ``Router``, on every entry point: who answers, and what.

Runs on the shipped encoder plus the synthetic static tier of ``static_model_dir`` (root
conftest), whose tau lets about half the holdout rows through to each tier. Every test
here would pass on a distilled tier too; what the distilled tier scores is the report's.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routelet.cli import main
from routelet.config import Paths
from routelet.data import load_jsonl
from routelet.runtime import Router

pytestmark = pytest.mark.shipped


@pytest.fixture(scope="module")
def routers(static_model_dir: Path) -> dict[str, Router]:
    """One router per tier mode over the same model directory."""
    return {t: Router.load(static_model_dir, tier=t) for t in ("static", "encoder", "cascade")}


@pytest.fixture(scope="module")
def texts(paths: Paths) -> list[str]:
    return [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")][::5]


def test_cascade_is_the_default_with_a_static_tier(static_model_dir: Path) -> None:
    """Router.load answers with the cascade when the model has a static tier; the encoder
    alone is one option away."""
    assert Router.load(static_model_dir).tier == "cascade"
    assert Router.load(static_model_dir, tier="encoder").tier == "encoder"


def test_cascade_answers_come_from_the_right_tier(
    routers: dict[str, Router], texts: list[str]
) -> None:
    """Each cascade answer is the static tier's when its confidence >= tau, else the encoder's."""
    tau = routers["cascade"].static.tau  # type: ignore[union-attr]
    tiers = set()
    for text in texts:
        static = routers["static"].classify(text)
        expected = static if static.confidence >= tau else routers["encoder"].classify(text)
        got = routers["cascade"].classify(text)
        assert got.tier == ("static" if static.confidence >= tau else "encoder")
        assert got.distribution == expected.distribution
        tiers.add(got.tier)
    assert tiers == {"static", "encoder"}  # the fixture's tau splits the rows


@pytest.mark.parametrize("tier", ["static", "encoder", "cascade"])
def test_every_python_path_gives_the_same_answer(
    routers: dict[str, Router], texts: list[str], tier: str
) -> None:
    """classify, classify_batch (1 and 2 workers) and predict_proba agree in every tier mode."""
    router = routers[tier]
    single = [router.classify(t) for t in texts]
    assert router.classify_batch(texts) == single
    assert router.classify_batch(texts, workers=2) == single
    probs = router.predict_proba(texts, workers=2)
    assert np.array_equal(probs, np.array([list(p.distribution.values()) for p in single]))
    if tier != "cascade":
        assert {p.tier for p in single} == {tier}


@pytest.mark.parametrize("tier", ["static", "encoder", "cascade"])
def test_cli_classify_tier_flag(
    static_model_dir: Path,
    routers: dict[str, Router],
    tier: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`routelet classify --tier` answers as Router.load(tier=...).classify does."""
    texts = ["remember my locker code is 4471", "play some jazz", "how far is the moon"]
    argv = ["classify", "--json", "--model", str(static_model_dir), "--tier", tier, *texts]
    assert main(argv) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["prediction"] for r in rows] == [routers[tier].classify(t).to_dict() for t in texts]


@pytest.mark.parametrize("tier", ["static", "encoder", "cascade"])
def test_cli_eval_tier_flag(
    static_model_dir: Path,
    routers: dict[str, Router],
    paths: Paths,
    tier: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`routelet eval --tier` scores that tier mode's answers."""
    from routelet.evaluate import evaluate_file

    data = paths.evals / "short_commands.jsonl"
    argv = ["eval", "--json", "--data", str(data), "--model", str(static_model_dir)]
    assert main([*argv, "--tier", tier]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = evaluate_file(routers[tier], data, routers[tier].threshold)
    assert (
        got["accuracy"] == expected.accuracy and got["confusion"] == expected.to_json()["confusion"]
    )


def test_cli_eval_names_the_tier_and_the_static_share(
    static_model_dir: Path,
    routers: dict[str, Router],
    paths: Paths,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`routelet eval` without --tier scores the default cascade, says so, and reports the
    share of rows the static tier answered (as the router's own answers count it)."""
    data = paths.evals / "short_commands.jsonl"
    assert main(["eval", "--json", "--data", str(data), "--model", str(static_model_dir)]) == 0
    got = json.loads(capsys.readouterr().out)
    answers = routers["cascade"].classify_batch([ex.text for ex in load_jsonl(data)])
    share = sum(a.tier == "static" for a in answers) / len(answers)
    assert got["tier"] == "cascade" and got["static_share"] == pytest.approx(share, abs=1e-4)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["classify", "--tier", "static", "hi"], id="classify"),
        pytest.param(["eval", "--tier", "cascade", "--data", "evals/holdout.jsonl"], id="eval"),
    ],
)
def test_static_tier_on_a_model_without_one_is_one_line(
    argv: list[str],
    paths: Paths,
    encoder_only_model_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Asking a model without a static tier for one fails with one line and exit code 2."""
    argv = [a if a != "evals/holdout.jsonl" else str(paths.evals / "holdout.jsonl") for a in argv]
    assert main([*argv, "--model", str(encoder_only_model_dir)]) == 2
    err = capsys.readouterr().err
    assert "has none" in err and err.count("\n") == 1


@pytest.mark.serve
def test_serve_counts_answers_per_tier(routers: dict[str, Router], texts: list[str]) -> None:
    """POST /route answers with the tier, and /metrics counts answers per tier."""
    from starlette.testclient import TestClient

    from routelet.serve import create_app

    router = routers["cascade"]
    expected = [router.classify(t) for t in texts]
    with TestClient(create_app(router)) as client:
        for text, pred in zip(texts, expected, strict=True):
            assert client.post("/route", json={"text": text}).json()["tier"] == pred.tier
        metrics = client.get("/metrics").text
    for tier in ("static", "encoder"):
        count = sum(p.tier == tier for p in expected)
        assert f'routelet_answers_total{{tier="{tier}"}} {count}' in metrics
