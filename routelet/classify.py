"""``routelet classify``: route commands from the command line or stream a file.

Arguments are printed as a table (or JSON lines with ``--json``). ``--input`` streams a
``.txt`` (one command a line; blank lines are skipped) or ``.jsonl`` file (``text``
field; other fields are copied through), read by ``routelet.data.iter_commands``, in
batches with a progress bar, and writes one JSON object per input row to ``--output``
(or stdout). A bad input row stops the run with its line number; output is written to
a temporary file and renamed only when complete, so a failed run never leaves a
half-written result.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from tabulate import tabulate
from tqdm import tqdm

from routelet.data import iter_commands
from routelet.errors import DataError, RouteletError
from routelet.runtime import Router

BATCH = 64


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix not in (".txt", ".jsonl"):
        raise DataError(f"{path}: expected a .txt or .jsonl file")
    return iter_commands(path)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def stream(router: Router, source: Path, sink: TextIO, progress: bool = True) -> int:
    """Classify every row of ``source`` into ``sink`` (JSON lines); return the row count."""
    total = _count_lines(source) if source.is_file() else None
    done = 0
    batch: list[dict[str, Any]] = []
    bar = tqdm(total=total, unit="line", disable=not progress, file=sys.stderr)

    def flush() -> None:
        for row, pred in zip(batch, router.classify_batch([r["text"] for r in batch]), strict=True):
            sink.write(json.dumps({**row, **pred.to_dict()}, ensure_ascii=False) + "\n")
        batch.clear()

    last_line = 0
    for lineno, row in _rows(source):
        batch.append(row)
        done += 1
        bar.update(lineno - last_line)
        last_line = lineno
        if len(batch) == BATCH:
            flush()
    flush()
    bar.close()
    return done


def run_cli(args: argparse.Namespace) -> int:
    if args.input and args.texts:
        raise RouteletError("give commands as arguments or --input FILE, not both")
    if args.output and not args.input:
        raise RouteletError("--output needs --input")
    if not args.input and not args.texts:
        raise RouteletError("nothing to classify: give commands as arguments or --input FILE")
    router = Router.load(args.model, threads=args.threads, threshold=args.threshold)
    if args.input:
        source = Path(args.input)
        if args.output:
            out = Path(args.output)
            tmp = out.with_name(out.name + ".tmp")
            try:
                with tmp.open("w", encoding="utf-8") as sink:
                    n = stream(router, source, sink)
            except BaseException:
                tmp.unlink(missing_ok=True)  # never leave a half-written result
                raise
            tmp.replace(out)
            print(f"classified {n} rows -> {out}", file=sys.stderr)
        else:
            stream(router, source, sys.stdout, progress=False)
        return 0
    predictions = router.classify_batch(args.texts)
    if args.json:
        for text, pred in zip(args.texts, predictions, strict=True):
            print(json.dumps({"text": text, **pred.to_dict()}, ensure_ascii=False))
    else:
        rows = [
            [text, p.intent.value, f"{p.confidence:.3f}", "yes" if p.deferred else ""]
            for text, p in zip(args.texts, predictions, strict=True)
        ]
        print(
            tabulate(rows, headers=["text", "intent", "confidence", "deferred"], tablefmt="github")
        )
    return 0
