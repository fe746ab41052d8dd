"""One answer per text: every entry point gives exactly ``Router.classify``'s answer, on every
row of every eval file, with the shipped model.

The reference is ``Router.classify(text)`` for each row. Compared bit for bit (or, where
the path prints JSON, to ``Prediction.to_dict()``'s rounding): ``predict_proba`` (what
``eval`` and the report use), ``classify_batch`` on two workers, ``routelet eval``'s
metrics, ``routelet classify`` with the texts as arguments and with the file as
``--input``, ``POST /route`` and ``POST /route/batch``. Any batching that lets batch-mates
change an answer (as padded int8 batches did) fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routelet.cli import main
from routelet.config import Paths
from routelet.data import Example, load_jsonl
from routelet.evaluate import compute_metrics, evaluate_file
from routelet.runtime import Prediction, Router

pytestmark = [pytest.mark.shipped, pytest.mark.slow]

EVAL_FILES = [pytest.param(p, id=p.stem) for p in Paths.discover().eval_files()]


@pytest.fixture(scope="module")
def reference(shipped_router: Router) -> Any:
    """``reference(path) -> (rows, [Router.classify(row.text)])``, computed once per file."""
    cache: dict[Path, tuple[list[Example], list[Prediction]]] = {}

    def get(path: Path) -> tuple[list[Example], list[Prediction]]:
        if path not in cache:
            rows = load_jsonl(path)
            cache[path] = (rows, [shipped_router.classify(r.text) for r in rows])
        return cache[path]

    return get


@pytest.fixture(scope="module")
def client(shipped_router: Router) -> Iterator[Any]:
    """An in-process HTTP client of the service around the shipped router."""
    pytest.importorskip("fastapi", reason="the HTTP paths need the serve extra")
    from starlette.testclient import TestClient

    from routelet.serve import create_app

    with TestClient(create_app(shipped_router)) as test_client:
        yield test_client


def _texts(rows: list[Example]) -> list[str]:
    return [r.text for r in rows]


@pytest.mark.parametrize("path", EVAL_FILES)
def test_predict_proba(shipped_router: Router, reference: Any, path: Path) -> None:
    """predict_proba's row for each text is classify's distribution, bit for bit."""
    rows, expected = reference(path)
    want = np.array([list(p.distribution.values()) for p in expected])
    assert np.array_equal(shipped_router.predict_proba(_texts(rows)), want)


@pytest.mark.parametrize("path", EVAL_FILES)
def test_classify_batch_on_two_workers(shipped_router: Router, reference: Any, path: Path) -> None:
    """classify_batch with two worker threads gives every text classify's Prediction."""
    rows, expected = reference(path)
    assert shipped_router.classify_batch(_texts(rows), workers=2) == expected


@pytest.mark.parametrize("path", EVAL_FILES)
def test_eval(shipped_router: Router, reference: Any, path: Path) -> None:
    """`routelet eval`'s scoring equals the metrics of classify's answers."""
    rows, expected = reference(path)
    probs = np.array([list(p.distribution.values()) for p in expected])
    want = compute_metrics(_texts(rows), [r.intent.value for r in rows], probs)
    assert evaluate_file(shipped_router, path).to_json() == want.to_json()


@pytest.mark.parametrize("path", EVAL_FILES)
def test_cli_input_file(reference: Any, path: Path, tmp_path: Path) -> None:
    """`routelet classify --input FILE --output OUT` gives every row classify's answer and keeps
    every input field (the gold label included) unchanged."""
    rows, expected = reference(path)
    out = tmp_path / "routed.jsonl"
    assert main(["classify", "--input", str(path), "--output", str(out), "--threads", "2"]) == 0
    routed = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    inputs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["prediction"] for r in routed] == [p.to_dict() for p in expected]
    assert [{k: v for k, v in r.items() if k != "prediction"} for r in routed] == inputs
    assert len(routed) == len(rows)


@pytest.mark.parametrize("path", EVAL_FILES)
def test_cli_arguments(reference: Any, path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`routelet classify --json TEXT...` gives every text classify's answer."""
    rows, expected = reference(path)
    assert main(["classify", "--json", *_texts(rows)]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [
        {"text": r.text, "prediction": p.to_dict()} for r, p in zip(rows, expected, strict=True)
    ]


@pytest.mark.parametrize("path", EVAL_FILES)
def test_http_route(client: Any, reference: Any, path: Path) -> None:
    """POST /route answers each text with classify's answer."""
    rows, expected = reference(path)
    for row, prediction in zip(rows, expected, strict=True):
        body = client.post("/route", json={"text": row.text}).json()
        want = prediction.to_dict()
        assert {k: body[k] for k in want} == want, row.text


@pytest.mark.parametrize("path", EVAL_FILES)
def test_http_route_batch(client: Any, reference: Any, path: Path) -> None:
    """POST /route/batch, in batches of up to 256, answers each text with classify's answer."""
    from routelet.serve import MAX_BATCH

    rows, expected = reference(path)
    results: list[dict[str, Any]] = []
    for start in range(0, len(rows), MAX_BATCH):
        chunk = _texts(rows[start : start + MAX_BATCH])
        results += client.post("/route/batch", json={"texts": chunk}).json()["results"]
    want = [p.to_dict() for p in expected]
    assert [{k: r[k] for k in w} for r, w in zip(results, want, strict=True)] == want
