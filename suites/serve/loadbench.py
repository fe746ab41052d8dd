"""Bounded HTTP load benchmark of ``routelet serve``, on loopback only.

    python -m suites.serve.loadbench [--model PATH] [--levels 1,10,50] [--duration 20]

Starts ``routelet serve`` on 127.0.0.1 at a free port in a subprocess (or uses ``--url``,
which must be a loopback address), then runs each concurrency level for ``--duration``
seconds: N closed-loop clients, one keep-alive connection each, posting real commands
from ``evals/`` to ``POST /route``. It stops by itself: every level ends at its deadline
or after ``--max-requests``, whichever comes first, and the server is stopped after.
Writes ``report/serve_load.json`` and ``report/serve_load.md``.

The load generator is a few lines of asyncio on raw sockets rather than an HTTP
library, so that on a 2-core machine it takes as little CPU from the server as it can.
Latency is end to end: from writing the request to reading the last byte of the answer.
Closed-loop clients under-report tail latency when the server stalls (coordinated
omission); the numbers are a capacity check, not an SLO measurement.

It is not collected by pytest (no ``test_`` prefix); ``test_loadbench.py`` runs its
machinery for a fraction of a second against a fake router.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from routelet.config import Paths

#: Issue targets: zero errors everywhere, single-client p50, throughput at 10 clients.
TARGET_P50_MS_AT_1 = 5.0
TARGET_RPS_AT_10 = 800.0
#: Longest a level may run past its duration (draining in-flight requests) before it is cut.
GRACE_S = 10.0


@dataclass
class Level:
    """What one concurrency level measured."""

    clients: int
    duration_s: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    server_cpu_ms_per_request: float | None = None
    client_cpu_ms_per_request: float | None = None
    # Cores busy with anything but this server and this load generator, averaged over
    # the level: the CPU that other work on the machine took from the benchmark.
    other_busy_cores: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)


def _percentile(sorted_ms: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_ms:
        return 0.0
    rank = max(0, min(len(sorted_ms) - 1, round(q / 100 * len(sorted_ms)) - 1))
    return sorted_ms[rank]


def check_loopback(url: str) -> tuple[str, int]:
    """``(host, port)`` of ``url``; refuse anything that is not a loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback or parts.port is None:
        raise SystemExit(f"loadbench: refusing {url!r}: only http://127.x.x.x:PORT or [::1]")
    return host, parts.port


def requests_for(texts: list[str], host: str, port: int) -> list[bytes]:
    """One pre-encoded ``POST /route`` per text (HTTP/1.1, keep-alive)."""
    out = []
    for text in texts:
        body = json.dumps({"text": text}).encode()
        head = (
            f"POST /route HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode() + body)
    return out


async def _client(
    host: str,
    port: int,
    payloads: list[bytes],
    offset: int,
    deadline: float,
    budget: list[int],
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    """One closed-loop client on one keep-alive connection, until the deadline or budget."""
    reader = writer = None
    i = offset
    while time.perf_counter() < deadline and budget[0] > 0:
        budget[0] -= 1
        payload = payloads[i % len(payloads)]
        i += 1
        start = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length_at = head.lower().index(b"content-length:") + 15
            length = int(head[length_at : head.index(b"\r\n", length_at)])
            body = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            kind = type(exc).__name__
            errors[kind] = errors.get(kind, 0) + 1
            await _close(writer)
            reader = writer = None
            continue
        latencies.append((time.perf_counter() - start) * 1000)
        if status != 200 or not body.startswith(b'{"intent"'):
            errors[f"http_{status}"] = errors.get(f"http_{status}", 0) + 1
    await _close(writer)


async def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
        with contextlib.suppress(OSError):  # the server already dropped it
            await writer.wait_closed()


def _machine_busy_seconds() -> float | None:
    """CPU seconds spent by all cores outside idle and iowait since boot (Linux), or None."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user..steal, less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (Linux ``/proc``), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(
    url: str,
    payloads: list[bytes],
    clients: int,
    duration_s: float,
    max_requests: int,
    server_pid: int | None = None,
) -> Level:
    """Run ``clients`` concurrent clients for ``duration_s`` (or ``max_requests``) on loopback."""
    host, port = check_loopback(url)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    budget = [max_requests]  # shared: the level stops once this many were sent
    server_cpu, client_cpu = _cpu_seconds(server_pid), time.process_time()
    machine = _machine_busy_seconds()
    start = time.perf_counter()
    deadline = start + duration_s
    tasks = [
        _client(host, port, payloads, k * 7919, deadline, budget, latencies, errors)
        for k in range(clients)
    ]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=duration_s + GRACE_S)
    elapsed = time.perf_counter() - start
    client_cpu = time.process_time() - client_cpu
    server_after = _cpu_seconds(server_pid)
    machine_after = _machine_busy_seconds()
    other = None
    if server_cpu is not None and server_after is not None and machine and machine_after:
        ours = client_cpu + server_after - server_cpu
        other = round(max(0.0, (machine_after - machine - ours) / elapsed), 2)
    n_errors = sum(errors.values())
    n = len(latencies) + sum(v for k, v in errors.items() if not k.startswith("http_"))
    ordered = sorted(latencies)
    per_request = 1000 / max(n, 1)
    return Level(
        clients=clients,
        duration_s=round(elapsed, 3),
        requests=n,
        errors=n_errors,
        rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(_percentile(ordered, 50), 3),
        p90_ms=round(_percentile(ordered, 90), 3),
        p99_ms=round(_percentile(ordered, 99), 3),
        max_ms=round(ordered[-1], 3) if ordered else 0.0,
        server_cpu_ms_per_request=None
        if server_cpu is None or server_after is None
        else round((server_after - server_cpu) * per_request, 3),
        client_cpu_ms_per_request=round(client_cpu * per_request, 3),
        other_busy_cores=other,
        error_kinds=errors,
    )


def load_texts(paths: Paths, seed: int = 0) -> list[str]:
    """Every evaluation command (holdout, boundary, ood, ...), shuffled with a fixed seed."""
    texts = [
        json.loads(line)["text"]
        for path in paths.eval_files()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    random.Random(seed).shuffle(texts)
    return texts


def profile_request_path(router: Any, texts: list[str], rounds: int = 300) -> dict[str, float]:
    """Microseconds per request of each in-process stage of ``POST /route``.

    The HTTP and ASGI stack (uvicorn, Starlette routing, FastAPI) is what remains of the
    server's CPU per request after these; the report shows it as a residual.
    """
    from routelet.preprocess import preprocess
    from routelet.serve import Metrics
    from routelet.serve_body import parse

    sample = (texts * (rounds // max(len(texts), 1) + 1))[:rounds]
    bodies = [json.dumps({"text": t}).encode() for t in sample]
    for text in sample[:20]:
        router.classify(text)  # warm-up
    predictions = [router.classify(t) for t in sample]
    metrics = Metrics()

    def per_call(fn: Any, args: list[Any]) -> float:
        start = time.perf_counter()
        for arg in args:
            fn(arg)
        return round((time.perf_counter() - start) / len(args) * 1e6, 1)

    def serialize(prediction: Any) -> bytes:
        payload = {**prediction.to_dict(), "latency_ms": 1.0, "model": "m"}
        return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()

    async def handoffs() -> float:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            start = time.perf_counter()
            for _ in range(rounds):
                await loop.run_in_executor(pool, int)
            return round((time.perf_counter() - start) / rounds * 1e6, 1)

    quiet = logging.getLogger("routelet.loadbench.quiet")  # DEBUG off, as in production
    loud = logging.getLogger("routelet.loadbench.loud")  # DEBUG on, into a null handler
    loud.setLevel(logging.DEBUG)
    loud.addHandler(logging.NullHandler())
    loud.propagate = False

    def log_line(logger: logging.Logger, text: str) -> None:
        if logger.isEnabledFor(logging.DEBUG):  # what serve does per routed text
            logger.debug("%s %r -> %s", "/route", preprocess(text), "chat")

    return {
        "log check, DEBUG off (production)": per_call(lambda t: log_line(quiet, t), sample),
        "redacted DEBUG log line (when enabled)": per_call(lambda t: log_line(loud, t), sample),
        "validate body (serve_body.parse)": per_call(lambda b: parse("/route", b), bodies),
        "model (Router.classify)": per_call(router.classify, sample),
        "serialize (to_dict + json)": per_call(serialize, predictions),
        "metrics (observe)": per_call(lambda _: metrics.observe("/route", 200, 0.002), sample),
        "thread hand-off (run_in_executor)": asyncio.run(handoffs()),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Poll ``GET /healthz`` until it answers 200 (bounded)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"loadbench: server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # bounded server-start polling
    raise SystemExit(f"loadbench: server not healthy after {timeout_s:.0f} s")


def _conditions(url: str, model: str | None) -> dict[str, Any]:
    """Where and on what the numbers were measured."""
    import fastapi
    import uvicorn

    cpu = ""
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "url": url,
        "model": model,
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "fastapi": fastapi.__version__,
        "uvicorn": uvicorn.__version__,
        "load_generator": "asyncio raw-socket keep-alive clients, same machine",
    }


def _targets(levels: list[Level]) -> list[dict[str, Any]]:
    by_clients = {lv.clients: lv for lv in levels}
    out: list[dict[str, Any]] = [
        {"target": "zero errors at every level", "measured": sum(lv.errors for lv in levels),
         "met": all(lv.errors == 0 for lv in levels)},
    ]  # fmt: skip
    if 1 in by_clients:
        p50 = by_clients[1].p50_ms
        out.append({"target": f"1 client: p50 <= {TARGET_P50_MS_AT_1} ms", "measured": p50,
                    "met": p50 <= TARGET_P50_MS_AT_1})  # fmt: skip
    if 10 in by_clients:
        rps = by_clients[10].rps
        out.append({"target": f"10 clients: >= {TARGET_RPS_AT_10:.0f} requests/s",
                    "measured": rps, "met": rps >= TARGET_RPS_AT_10})  # fmt: skip
    return out


def write_report(
    out_dir: Path,
    conditions: dict[str, Any],
    levels: list[Level],
    stages: dict[str, float] | None = None,
) -> None:
    """Write ``serve_load.json`` and ``serve_load.md`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = _targets(levels)
    payload = {
        "conditions": conditions,
        "levels": [asdict(lv) for lv in levels],
        "targets": targets,
        "request_path_us": stages or {},
    }
    (out_dir / "serve_load.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    lines = [
        "# routelet serve: loopback load benchmark",
        "",
        "Generated by `python -m suites.serve.loadbench`; do not edit by hand.",
        "",
        "| clients | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors "
        "| server CPU ms/req | client CPU ms/req | other work, cores |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {lv.clients} | {lv.requests} | {lv.rps:.0f} | {lv.p50_ms:.2f} | {lv.p90_ms:.2f} "
        f"| {lv.p99_ms:.2f} | {lv.max_ms:.2f} | {lv.errors} | {lv.server_cpu_ms_per_request} "
        f"| {lv.client_cpu_ms_per_request} | {lv.other_busy_cores} |"
        for lv in levels
    ]
    lines += [
        "",
        "Latency is end to end (request written to last byte read) with closed-loop",
        "keep-alive clients; the load generator runs on the same machine. CPU columns are",
        "per completed request. *other work* is the CPU (in cores) that processes other",
        "than this server and load generator used during the level: the benchmark is",
        "CPU-bound, so throughput drops roughly in proportion when other work takes cores.",
    ]
    lines += ["", "| target | measured | met |", "|---|---:|:---:|"]
    lines += [
        f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'NO'} |" for t in targets
    ]
    if stages:
        lines += [
            "",
            "Request path profile, microseconds per request: stages timed in process on one",
            "thread, then server CPU per request of a no-op model and of the real server.",
            "",
        ]
        lines += ["| stage | us |", "|---|---:|"]
        lines += [f"| {stage} | {us} |" for stage, us in stages.items()]
        single = next((lv for lv in levels if lv.clients == 1), None)
        if single and single.server_cpu_ms_per_request is not None:
            lines.append(
                f"| whole request in the real server (1 client, server CPU) "
                f"| {single.server_cpu_ms_per_request * 1000:.0f} |"
            )
    lines += ["", "Conditions:", ""]
    lines += [f"- {key}: {value}" for key, value in conditions.items()]
    (out_dir / "serve_load.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.contextmanager
def _server(
    module_args: list[str], log_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m MODULE_ARGS... PORT`` serving on 127.0.0.1 at a free port, stopped on exit."""
    port = _free_port()
    command = [sys.executable, "-m", *module_args, str(port)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}", proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def _http_stack_ms(paths: Paths, log_path: Path, seconds: float = 5.0) -> float | None:
    """Server CPU ms per request of the whole service around a no-op model (the fake router)."""
    with _server(["suites.serve.fakes"], log_path) as (url, proc):
        _wait_healthy(url, proc, timeout_s=60)
        host, port = check_loopback(url)
        payloads = requests_for(load_texts(paths), host, port)
        asyncio.run(run_level(url, payloads, 1, 1.0, 100_000))  # warm-up, dropped
        level = asyncio.run(run_level(url, payloads, 1, seconds, 100_000, proc.pid))
    return level.server_cpu_ms_per_request


def _run_levels(
    url: str, proc: subprocess.Popen[bytes] | None, args: argparse.Namespace, paths: Paths
) -> list[Level]:
    _wait_healthy(url, proc, timeout_s=120)
    host, port = check_loopback(url)
    payloads = requests_for(load_texts(paths), host, port)
    pid = proc.pid if proc else None
    asyncio.run(run_level(url, payloads, 1, args.warmup, args.max_requests))  # warm-up, dropped
    levels = []
    for clients in (int(x) for x in args.levels.split(",")):
        level = asyncio.run(
            run_level(url, payloads, clients, args.duration, args.max_requests, pid)
        )
        print(f"{clients:>3} clients: {level.rps:7.0f} req/s  p50 {level.p50_ms:6.2f} ms  "
              f"p99 {level.p99_ms:6.2f} ms  errors {level.errors}", flush=True)  # fmt: skip
        levels.append(level)
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m suites.serve.loadbench", description=__doc__)
    parser.add_argument("--model", help="model directory (default: the shipped model)")
    parser.add_argument("--url", help="benchmark a running server here (loopback only)")
    parser.add_argument("--levels", default="1,10,50", help="client counts (default: 1,10,50)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of 1-client warm-up")
    parser.add_argument("--max-requests", type=int, default=200_000, help="cap per level")
    parser.add_argument("--output", help="report directory (default: report/)")
    args = parser.parse_args(argv)
    if args.duration > 120:
        parser.error("--duration is capped at 120 s per level")
    paths = Paths.discover()
    model = args.model or str(paths.default_model)
    stages = None
    if args.url:
        url = args.url.rstrip("/")
        check_loopback(url)
        conditions = _conditions(url, None)
        levels = _run_levels(url, None, args, paths)
    else:
        from routelet.runtime import Router

        log_path = Path(tempfile.gettempdir()) / "routelet-loadbench-server.log"
        serve = ["routelet.cli", "serve", "--host", "127.0.0.1"]
        serve += ["--model", args.model] if args.model else []
        with _server([*serve, "--port"], log_path) as (url, proc):
            conditions = _conditions(url, model)
            levels = _run_levels(url, proc, args, paths)
        stages = profile_request_path(Router.load(model), load_texts(paths))
        http = _http_stack_ms(paths, log_path.with_suffix(".fake.log"))
        if http is not None:
            stages["HTTP + ASGI + app around a no-op model (1 client, server CPU)"] = round(
                http * 1000, 1
            )
    out_dir = Path(args.output) if args.output else paths.report
    write_report(out_dir, conditions, levels, stages)
    print(f"wrote {out_dir / 'serve_load.md'} and {out_dir / 'serve_load.json'}")
    return 0 if all(t["met"] for t in _targets(levels)) else 1


if __name__ == "__main__":
    sys.exit(main())
