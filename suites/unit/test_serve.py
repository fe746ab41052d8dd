"""Unit tests of routelet.serve: body parsing, metrics, model loading and the CLI entry point.

The endpoints themselves are tested in ``suites/serve``.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from routelet import serve
from routelet.cli import main
from routelet.errors import ModelError
from routelet.serve import create_app
from routelet.serve_body import BadRequest, parse
from routelet.serve_metrics import LATENCY_BUCKETS, Metrics
from suites.serve.fakes import FakeRouter


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace ``uvicorn.run`` with a recorder, so nothing listens."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


@pytest.fixture
def fake_loaded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Make ``load_router`` return a FakeRouter and record its arguments."""
    calls: list[tuple[Any, ...]] = []

    def load(model: Any, threshold: Any, threads: int = 1, tier: Any = None) -> FakeRouter:
        call = (model, threshold, threads)
        calls.append(call if tier is None else (*call, tier))
        return FakeRouter()

    monkeypatch.setattr(serve, "load_router", load)
    return calls


# ---------------------------------------------------------------------------------- import


@pytest.mark.parametrize(
    "heavy", [pytest.param("torch", id="torch"), pytest.param("fastapi", id="fastapi")]
)
def test_import_is_light(heavy: str) -> None:
    """Importing routelet.serve imports neither torch nor the web framework (lazy)."""
    code = f"import sys, routelet.serve; sys.exit(1 if {heavy!r} in sys.modules else 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr or f"{heavy} was imported"


def test_playground_ships_in_package() -> None:
    """The playground page is package data, readable through importlib.resources."""
    assert resources.files("routelet").joinpath("static/playground.html").is_file()


def test_create_app_does_not_call_router() -> None:
    """Building the app classifies nothing: the model is loaded and warmed by the caller."""
    router = FakeRouter()
    create_app(router)
    assert router.calls == []


# ------------------------------------------------------------------------------- parsing


def test_parse_route_returns_text_unchanged() -> None:
    """parse hands back the text as sent, spaces and case included."""
    assert parse("/route", b'{"text": "  Play Jazz "}').text == "  Play Jazz "


def test_parse_batch_returns_texts_in_order() -> None:
    """parse hands back a batch's texts in input order."""
    assert parse("/route/batch", b'{"texts": ["b", "a", "b"]}').texts == ["b", "a", "b"]


def test_parse_unknown_field_message_is_bounded() -> None:
    """An unknown field's name is quoted at most 40 characters long in the message."""
    with pytest.raises(BadRequest) as info:
        parse("/route", b'{"text": "hi", "' + b"k" * 1000 + b'": 1}')
    assert "k" * 41 not in info.value.message


# ------------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("seconds", "first_le"),
    [
        pytest.param(0.0, LATENCY_BUCKETS[0], id="zero"),
        pytest.param(LATENCY_BUCKETS[2], LATENCY_BUCKETS[2], id="on-a-bound"),
        pytest.param(LATENCY_BUCKETS[2] * 1.01, LATENCY_BUCKETS[3], id="just-above-a-bound"),
        pytest.param(LATENCY_BUCKETS[-1] * 2, float("inf"), id="beyond-the-last"),
    ],
)
def test_histogram_bucket_is_first_bound_not_below(seconds: float, first_le: float) -> None:
    """An observation counts in every cumulative bucket whose bound is >= it, and no other."""
    metrics = Metrics()
    metrics.observe("/route", 200, seconds)
    counted = [
        float(line.split('le="')[1].split('"')[0].replace("+Inf", "inf"))
        for line in metrics.render().decode().splitlines()
        if line.startswith("routelet_request_duration_seconds_bucket") and line.endswith(" 1.0")
    ]
    assert counted == [b for b in (*LATENCY_BUCKETS, float("inf")) if b >= first_le]


def test_metrics_escape_model_label() -> None:
    """Quotes and backslashes in the model name are escaped in the label value."""
    assert 'routelet_model_info{model="a\\"b\\\\c"} 1.0' in Metrics('a"b\\c').render().decode()


def test_metrics_list_every_intent_from_the_start() -> None:
    """Every intent has a prediction counter before any request (zero, not missing)."""
    from routelet.intents import LABELS

    text = Metrics("m").render().decode()
    assert all(f'routelet_predictions_total{{intent="{label}"}} 0.0' in text for label in LABELS)


# ------------------------------------------------------------------------- model loading


def test_load_router_fails_when_model_cannot_classify(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that loads but raises on a test text fails startup with ModelError."""
    from routelet.runtime import Router

    class Broken(FakeRouter):
        path = Path("models/broken")

        def classify(self, text: str) -> Any:
            raise RuntimeError("onnx graph is broken")

    monkeypatch.setattr(Router, "load", classmethod(lambda cls, *a, **kw: Broken()))
    with pytest.raises(ModelError, match="cannot classify"):
        serve.load_router("models/broken", None)


# ----------------------------------------------------------------------------------- CLI


def test_serve_missing_model_exits_2_with_one_line() -> None:
    """`routelet serve --model MISSING` prints one error line (no traceback) and exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "routelet.cli", "serve", "--model", "/nonexistent/model"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "model directory not found" in lines[0]


def test_serve_corrupt_model_never_starts_server(
    tmp_path: Path, uvicorn_calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A corrupt model directory fails with exit 2 before uvicorn is started."""
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    code = main(["serve", "--model", str(tmp_path)])
    assert (code, uvicorn_calls) == (2, []) and "corrupt manifest" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["--threshold", "1.5"], id="threshold-above-1"),
        pytest.param(["--threshold", "nan"], id="threshold-nan"),
        pytest.param(["--port", "99999"], id="port-too-high"),
        pytest.param(["--port", "-1"], id="port-negative"),
        pytest.param(["--port", "0"], id="port-zero"),
        pytest.param(["--threads", "0"], id="zero-threads"),
    ],
)
def test_serve_rejects_bad_options(
    argv: list[str],
    uvicorn_calls: list[dict[str, Any]],
    fake_loaded: list[tuple[Any, ...]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad port, thread count or threshold exits 2 with one line, before loading or binding."""
    assert (main(["serve", *argv]), fake_loaded, uvicorn_calls) == (2, [], [])
    err = capsys.readouterr().err.strip()
    assert err.startswith("routelet serve: error:") and "\n" not in err


def test_serve_port_out_of_range_subprocess() -> None:
    """`routelet serve --port 99999` in a real process prints one line and exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "routelet.cli", "serve", "--port", "99999"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "between 1 and 65535" in lines[0]


def test_serve_passes_host_and_port_to_uvicorn(
    uvicorn_calls: list[dict[str, Any]], fake_loaded: list[tuple[Any, ...]]
) -> None:
    """`routelet serve --host H --port P` binds uvicorn to H:P."""
    assert main(["serve", "--host", "127.0.0.2", "--port", "9123"]) == 0
    assert (uvicorn_calls[0]["host"], uvicorn_calls[0]["port"]) == ("127.0.0.2", 9123)


def test_serve_defaults_to_loopback_8080(
    uvicorn_calls: list[dict[str, Any]], fake_loaded: list[tuple[Any, ...]]
) -> None:
    """Without options the server binds 127.0.0.1:8080."""
    main(["serve"])
    assert (uvicorn_calls[0]["host"], uvicorn_calls[0]["port"]) == ("127.0.0.1", 8080)


def test_serve_forwards_model_options(
    uvicorn_calls: list[dict[str, Any]], fake_loaded: list[tuple[Any, ...]]
) -> None:
    """--model, --threshold and --threads reach the model loader."""
    main(["serve", "--model", "m", "--threshold", "0.7", "--threads", "2"])
    assert fake_loaded == [("m", 0.7, 2)]


def test_serve_forwards_the_tier(
    uvicorn_calls: list[dict[str, Any]], fake_loaded: list[tuple[Any, ...]]
) -> None:
    """--tier reaches the model loader."""
    main(["serve", "--model", "m", "--tier", "static"])
    assert fake_loaded == [("m", None, 1, "static")]


def test_serve_loads_model_before_uvicorn(
    uvicorn_calls: list[dict[str, Any]], fake_loaded: list[tuple[Any, ...]]
) -> None:
    """The app handed to uvicorn already holds the loaded router."""
    main(["serve"])
    assert isinstance(uvicorn_calls[0]["app"].state.router, FakeRouter)


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        pytest.param("127.0.0.1", False, id="loopback"),
        pytest.param("::1", False, id="loopback-v6"),
        pytest.param("0.0.0.0", True, id="all-interfaces"),
        pytest.param("192.168.1.20", True, id="lan"),
    ],
)
def test_serve_warns_off_loopback(
    uvicorn_calls: list[dict[str, Any]],
    fake_loaded: list[tuple[Any, ...]],
    caplog: pytest.LogCaptureFixture,
    host: str,
    warned: bool,
) -> None:
    """Binding anything but loopback logs a warning that there is no authentication."""
    main(["serve", "--host", host])
    assert ("no authentication" in caplog.text) is warned
