"""The load benchmark's machinery, run for a fraction of a second against the fake router.

The benchmark itself (``python -m suites.serve.loadbench``) is never run by pytest.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from suites.serve.loadbench import Level, check_loopback, requests_for, run_level, write_report

pytestmark = pytest.mark.serve


def _payloads(url: str, texts: list[str]) -> list[bytes]:
    host, port = check_loopback(url)
    return requests_for(texts, host, port)


def test_level_counts_successful_requests(live_url: str) -> None:
    """Two clients for a moment complete requests without errors."""
    level = asyncio.run(
        run_level(live_url, _payloads(live_url, ["play jazz", "hi"]), 2, 0.3, 10_000)
    )
    assert level.requests > 0 and level.errors == 0


def test_level_counts_rejections_as_errors(live_url: str) -> None:
    """Every non-200 answer counts as an error."""
    level = asyncio.run(run_level(live_url, _payloads(live_url, [" "]), 1, 5.0, 20))
    assert level.errors == level.requests == 20


def test_level_stops_at_request_cap(live_url: str) -> None:
    """A level sends no more than --max-requests, whatever its duration."""
    level = asyncio.run(run_level(live_url, _payloads(live_url, ["hi"]), 3, 60.0, 25))
    assert level.requests == 25


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://10.0.0.1:8080", id="private"),
        pytest.param("http://192.168.1.5:8080", id="lan"),
        pytest.param("http://example.com:80", id="public-name"),
        pytest.param("http://127.0.0.1", id="no-port"),
    ],
)
def test_refuses_non_loopback_targets(url: str) -> None:
    """Only loopback addresses (with an explicit port) can be benchmarked."""
    with pytest.raises(SystemExit, match="refusing"):
        check_loopback(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:8080", id="ipv4"),
        pytest.param("http://127.3.2.1:8080", id="ipv4-range"),
        pytest.param("http://[::1]:8080", id="ipv6"),
        pytest.param("http://localhost:8080", id="localhost"),
    ],
)
def test_accepts_loopback_targets(url: str) -> None:
    """Loopback addresses are accepted."""
    assert check_loopback(url)[1] == 8080


def test_report_has_a_row_per_level(tmp_path: Path) -> None:
    """The JSON report holds one entry per level and the Markdown one table row per level."""
    levels = [Level(n, 1.0, 10, 0, 10.0, 1.0, 2.0, 3.0, 4.0) for n in (3, 7)]
    write_report(tmp_path, {"cpus": 2}, levels)
    lines = (tmp_path / "serve_load.md").read_text().splitlines()
    rows = [ln for ln in lines if ln.startswith(("| 3 | 10 |", "| 7 | 10 |"))]
    assert len(json.loads((tmp_path / "serve_load.json").read_text())["levels"]) == len(rows) == 2


def test_report_flags_missed_throughput(tmp_path: Path) -> None:
    """A 10-client level under the throughput target is reported as not met."""
    write_report(tmp_path, {}, [Level(10, 1.0, 10, 0, 10.0, 1.0, 2.0, 3.0, 4.0)])
    targets = json.loads((tmp_path / "serve_load.json").read_text())["targets"]
    assert [t["met"] for t in targets if "10 clients" in t["target"]] == [False]


def test_profile_times_every_stage() -> None:
    """The request-path profile gives a positive time for each in-process stage."""
    from suites.serve.fakes import FakeRouter
    from suites.serve.loadbench import profile_request_path

    stages = profile_request_path(FakeRouter(), ["play jazz", "hi"], rounds=20)
    assert len(stages) == 7 and all(us > 0 for us in stages.values())
