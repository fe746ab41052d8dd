"""Batch routing on Ray Data: ``routelet classify --engine ray`` and ``routelet gate --engine ray``.

``classify_shards`` reads JSONL and Parquet shards (a directory, a glob or files),
routes every row with one ``Router`` per actor (``map_batches`` over an actor pool; the
model's files travel through the object store, so every node loads the same, checksum-
verified model once per actor) and writes JSONL shards to an output directory, each row
exactly what local ``routelet classify`` writes for it (``routelet.classify.output_row``).
``traffic_flips`` routes the same kind of input with two models and counts label changes
for ``routelet gate``. Without an address a local cluster is started (and stopped);
with one, an existing cluster is joined.

A bad line (invalid JSON, no string ``text``, an empty text, a ``prediction`` field
that the output would overwrite) is reported with its file and line and left out; the
rest still completes. Shards are read whole by one task each, so keep them to a few
hundred MB; lines keep their numbers that way. Parquet rows are numbered from 1 and
values JSON cannot hold are written as strings.

The driver holds no rows: workers write the output and report only bad lines, so its
memory does not grow with the row count. Output order across part files is not the
input order (every input field is copied, so keep an id field if order matters).

Needs the ``scale`` extra (``ray[data]``). Nothing else in routelet imports this module
or ray; ray is imported inside these functions only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from routelet.errors import DataError, RouteletError

#: Input shard formats.
SUFFIXES = (".jsonl", ".parquet")
#: Rows per ``map_batches`` call on an actor.
BATCH_SIZE = 256
#: Bad lines each write task reports in full (all are counted).
MAX_REPORTED = 100
#: Largest block of lines (bytes) while this module runs a pipeline: a shard's lines are cut
#: into blocks of a few thousand, so that even one big shard keeps every actor busy.
BLOCK_BYTES = 512 * 1024
#: Where a run reports its bad lines, inside the output directory.
ERRORS_FILE = "_errors.txt"


def model_files(model_dir: Path) -> dict[str, bytes]:
    """Every file of a model directory, by relative path: what each actor rebuilds it from."""
    root = Path(model_dir)
    if not root.is_dir():
        raise RouteletError(f"{root}: model directory not found")
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def load_router(files: dict[str, bytes], threshold: float | None, tier: str | None) -> Any:
    """A ``Router`` from ``model_files``' output (checksums verified by ``Router.load``)."""
    from routelet.runtime import Router

    with tempfile.TemporaryDirectory(prefix="routelet-model-") as tmp:
        for name, data in files.items():
            path = Path(tmp, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return Router.load(tmp, threshold=threshold, tier=tier)  # all read into memory here


def _lines(shard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``read_binary_files`` row (one shard) -> one row per non-blank line or Parquet row."""
    path, data = str(shard["path"]), shard["bytes"]
    if path.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(pa.BufferReader(data)).to_pylist()
        except (pa.ArrowException, OSError) as exc:
            yield {"where": f"{path}:0", "raw": "", "bad": f"{path}: not Parquet ({exc})"}
            return
        for i, row in enumerate(rows, start=1):
            raw = json.dumps(row, ensure_ascii=False, default=str)
            yield {"where": f"{path}:{i}", "raw": raw, "bad": ""}
        return
    for i, line in enumerate(bytes(data).decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            yield {"where": f"{path}:{i}", "raw": line, "bad": ""}


def _parse(where: str, raw: str, bad: str, skip_feedback: bool) -> dict[str, Any] | str | None:
    """The row of a line, or the problem (a string), or None for a line to skip silently."""
    from routelet.classify import PREDICTION
    from routelet.samplelog import parse_line

    if bad:
        return bad
    line = parse_line(raw, where)
    if line.row is None:
        return str(line.problem)
    if line.is_feedback:
        return None if skip_feedback else f"{where}: a feedback line has no command to route"
    if PREDICTION in line.row:
        return f"{where}: already has a {PREDICTION!r} field, which the output would overwrite"
    return line.row


class _Route:
    """Actor: one ``Router``; a batch of lines -> output rows (JSON) or problems."""

    def __init__(self, model: list[Any], threshold: float | None, tier: str | None):
        import ray

        self.router = load_router(ray.get(model[0]), threshold, tier)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        from routelet.classify import output_row

        parsed = [
            _parse(w, r, b, False)
            for w, r, b in zip(batch["where"], batch["raw"], batch["bad"], strict=True)
        ]
        rows = [p for p in parsed if isinstance(p, dict)]
        preds = iter(self.router.classify_batch([str(r["text"]) for r in rows]))
        out, bad = [], []
        for p in parsed:
            if isinstance(p, dict):
                out.append(json.dumps(output_row(p, next(preds)), ensure_ascii=False))
                bad.append("")
            else:
                out.append("")
                bad.append(p or "")
        return {"out": out, "bad": bad}


class _Pair:
    """Actor: two routers; a batch of lines -> (text, old label, new label) or problems."""

    def __init__(self, old: list[Any], new: list[Any]):
        import ray

        self.old = load_router(ray.get(old[0]), None, None)
        self.new = load_router(ray.get(new[0]), None, None)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        parsed = [
            _parse(w, r, b, True)
            for w, r, b in zip(batch["where"], batch["raw"], batch["bad"], strict=True)
        ]
        texts = [str(p["text"]) for p in parsed if isinstance(p, dict)]
        olds = iter(self.old.predict(texts).tolist() if texts else [])
        news = iter(self.new.predict(texts).tolist() if texts else [])
        cols: dict[str, list[str]] = {"text": [], "old": [], "new": [], "bad": []}
        for p in parsed:
            if isinstance(p, dict):
                row = [str(p["text"]), next(olds), next(news), ""]
            else:
                row = ["", "", "", p or "-"]  # "-": a feedback line, skipped without a word
            for column, value in zip(cols.values(), row, strict=True):
                column.append(value)
        return cols


def _jsonl_sink(directory: Path) -> Any:
    """A Ray Datasink writing the ``out`` column as JSON lines, one part file per write task;
    each task returns (bad lines counted, the first ``MAX_REPORTED`` of them)."""
    from ray.data.datasource import Datasink

    class JsonlSink(Datasink[tuple[int, list[str]]]):
        def __init__(self) -> None:
            self.problems: list[str] = []
            self.n_problems = 0
            self.rows = 0

        def write(self, blocks: Iterable[Any], ctx: Any) -> tuple[int, list[str]]:
            import pyarrow as pa

            n_bad, shown, lines = 0, list[str](), list[str]()
            for block in blocks:
                table = block if isinstance(block, pa.Table) else pa.Table.from_pandas(block)
                for out, bad in zip(
                    table["out"].to_pylist(), table["bad"].to_pylist(), strict=True
                ):
                    if bad:
                        n_bad += 1
                        if len(shown) < MAX_REPORTED:
                            shown.append(bad)
                    else:
                        lines.append(out + "\n")
            if lines:
                path = directory / f"part-{ctx.task_idx:05d}.jsonl"
                path.write_text("".join(lines), encoding="utf-8")
            return n_bad, shown

        def on_write_complete(self, write_result: Any) -> None:
            self.rows = int(write_result.num_rows)
            for n_bad, shown in write_result.write_returns:
                self.n_problems += n_bad
                self.problems.extend(shown)

    return JsonlSink()


class _Cluster:
    """``ray.init`` on entry (a local cluster, or ``address``); shut down on exit if started."""

    def __init__(self, address: str | None) -> None:
        self.address, self.started = address, False

    def __enter__(self) -> Any:
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise RouteletError(f"cannot start or join a Ray cluster ({exc})") from None
            self.started = True
        progress = sys.stderr.isatty()
        with warnings.catch_warnings():
            # Ray Data 2.60 warns about its own deprecated fields (use_polars, ...) when it
            # builds the default context, which routelet never sets.
            warnings.simplefilter("ignore", DeprecationWarning)
            context = ray.data.DataContext.get_current()
        self.saved = context.enable_progress_bars, context.target_max_block_size
        context.enable_progress_bars, context.target_max_block_size = progress, BLOCK_BYTES
        if not progress:  # in logs and pipes, only Ray Data's warnings
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        return ray

    def __exit__(self, *exc: object) -> None:
        import ray

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars, context.target_max_block_size = self.saved
        if self.started:
            ray.shutdown()


def _pool(ray: Any, actors: int) -> Any:
    """``actors`` actors from the start; fewer may stay when the input has fewer blocks."""
    return ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors)


def _dataset(ray: Any, files: Sequence[Path]) -> Any:
    # Reading, splitting into lines and writing are I/O: they reserve no CPU, so that the
    # actors can hold every core (with one CPU each reserved, a read task waiting for a
    # core that the actors hold never runs: the pipeline stalls).
    ds = ray.data.read_binary_files([str(f) for f in files], include_paths=True, num_cpus=0)
    return ds.flat_map(_lines, num_cpus=0)


def classify_shards(
    files: Sequence[Path],
    output: Path,
    model_dir: Path,
    *,
    threshold: float | None = None,
    tier: str | None = None,
    actors: int = 1,
    batch_size: int = BATCH_SIZE,
    address: str | None = None,
) -> tuple[int, int, list[str]]:
    """Route ``files`` into ``output``/part-*.jsonl: (rows written, bad lines, first problems)."""
    model = model_files(model_dir)
    load_router(model, threshold, tier)  # a bad model or option fails here, not in an actor
    output.mkdir(parents=True, exist_ok=True)
    with _Cluster(address) as ray:
        sink = _jsonl_sink(output.resolve())
        ds = _dataset(ray, files).map_batches(
            _Route,
            # The model travels as an object reference (in a list, so that the actor gets
            # the reference and fetches it once), not inside the pickled function.
            fn_constructor_kwargs={"model": [ray.put(model)], "threshold": threshold, "tier": tier},
            batch_size=batch_size,
            batch_format="numpy",
            compute=_pool(ray, actors),
            num_cpus=1,
        )
        ds.write_datasink(sink, ray_remote_args={"num_cpus": 0})
    return sink.rows - sink.n_problems, sink.n_problems, sink.problems


def traffic_flips(
    files: Sequence[Path],
    baseline: Path,
    candidate: Path,
    *,
    address: str | None = None,
    actors: int = 1,
    batch_size: int = BATCH_SIZE,
) -> Any:
    """``routelet.gate.TrafficFlips`` of ``files``, both models routed on Ray actors."""
    from routelet.gate import TrafficFlips

    flips = TrafficFlips()
    old, new = model_files(baseline), model_files(candidate)
    with _Cluster(address) as ray:
        ds = _dataset(ray, files).map_batches(
            _Pair,
            fn_constructor_kwargs={"old": [ray.put(old)], "new": [ray.put(new)]},
            batch_size=batch_size,
            batch_format="numpy",
            compute=_pool(ray, actors),
            num_cpus=1,
        )
        for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
            for text, o, n, bad in zip(
                batch["text"], batch["old"], batch["new"], batch["bad"], strict=True
            ):
                if not bad:
                    flips.add(str(text), str(o), str(n))
                elif bad != "-":
                    flips.problem(str(bad))
    return flips


def run_cli(args: argparse.Namespace) -> int:
    """``routelet classify --engine ray --input DIR_OR_GLOB --output DIR``."""
    from routelet.extras import require
    from routelet.samplelog import input_files

    require("scale", "routelet classify --engine ray")
    if args.texts or not args.input or not args.output:
        raise RouteletError("--engine ray needs --input DIR_OR_GLOB and --output DIR, no arguments")
    if args.actors < 1 or args.batch_size < 1:
        raise RouteletError("--actors and --batch-size must be at least 1")
    files = input_files([args.input], SUFFIXES)
    output = Path(args.output)
    if output.is_file() or (output.is_dir() and any(output.iterdir())):
        raise DataError(f"{output}: exists and is not an empty directory")
    from routelet.config import Paths

    model = Path(args.model) if args.model else Paths.discover().default_model
    written, n_bad, problems = classify_shards(
        files,
        output,
        model,
        threshold=args.threshold,
        tier=args.tier,
        actors=args.actors,
        batch_size=args.batch_size,
        address=args.address,
    )
    print(f"classified {written} rows from {len(files)} shards -> {output}", file=sys.stderr)
    if n_bad:
        (output / ERRORS_FILE).write_text("".join(p + "\n" for p in problems), encoding="utf-8")
        for problem in problems[:10]:
            print(f"  {problem}", file=sys.stderr)
        print(f"{n_bad} bad lines left out (listed in {output / ERRORS_FILE})", file=sys.stderr)
        return 1
    return 0
