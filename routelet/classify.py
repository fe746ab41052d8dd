"""``routelet classify``: route commands from the command line or stream a file.

Arguments are printed as a table (or JSON lines with ``--json``). ``--input`` streams a
``.txt`` (one command a line; blank lines are skipped) or ``.jsonl`` file (``text``
field), read by ``routelet.data.iter_commands``, with a progress bar on a terminal,
and writes one JSON object per input row to ``--output`` (or stdout).

Output shape, the same for arguments (``--json``) and files: every input field copied
unchanged, plus one ``prediction`` object ``{intent, confidence, deferred,
distribution, tier}``. An input row that already has a ``prediction`` field is refused
rather than overwritten. Each answer is exactly ``Router.classify(text)``'s: texts are
routed one per call (``--threads`` routes several at once, with the same answers).

An empty argument or row, a bad row (named by its line number) and an output path
that cannot be written stop the run with one line and exit code 2. Output is written
through ``routelet.data.atomic_write``, so a failed run never leaves a half-written
result or a temporary file.
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

from routelet.data import atomic_write, is_blank, iter_commands
from routelet.errors import DataError, RouteletError
from routelet.runtime import Prediction, Router

#: Rows read ahead and routed together (each still in a call of its own).
CHUNK = 64
#: The output field that holds the answer; never taken from the input.
PREDICTION = "prediction"


def output_row(row: dict[str, Any], prediction: Prediction) -> dict[str, Any]:
    """The input row, unchanged, plus its ``prediction`` object."""
    return {**row, PREDICTION: prediction.to_dict()}


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix not in (".txt", ".jsonl"):
        raise DataError(f"{path}: expected a .txt or .jsonl file")
    for lineno, row in iter_commands(path):
        if PREDICTION in row:
            raise DataError(
                f"{path}:{lineno}: already has a {PREDICTION!r} field, which the output "
                "would overwrite; rename or remove it"
            )
        yield lineno, row


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def stream(
    router: Router, source: Path, sink: TextIO, progress: bool = True, workers: int = 1
) -> int:
    """Classify every row of ``source`` into ``sink`` (JSON lines); return the row count."""
    total = _count_lines(source) if source.is_file() else None
    done = 0
    chunk: list[dict[str, Any]] = []
    # disable=None: a bar only on a terminal, so logs and pipes get just the result line.
    bar = tqdm(total=total, unit="line", disable=None if progress else True, file=sys.stderr)

    def flush() -> None:
        predictions = router.classify_batch([r["text"] for r in chunk], workers=workers)
        for row, pred in zip(chunk, predictions, strict=True):
            sink.write(json.dumps(output_row(row, pred), ensure_ascii=False) + "\n")
        chunk.clear()

    last_line = 0
    try:
        for lineno, row in _rows(source):
            chunk.append(row)
            done += 1
            bar.update(lineno - last_line)
            last_line = lineno
            if len(chunk) == CHUNK:
                flush()
        flush()
    finally:
        bar.close()
    return done


def run_cli(args: argparse.Namespace) -> int:
    if getattr(args, "engine", "local") == "ray":  # shards on a Ray cluster: routelet.scale
        from routelet.scale import run_cli as run_on_ray

        return run_on_ray(args)
    if args.input and args.texts:
        raise RouteletError("give commands as arguments or --input FILE, not both")
    if args.output and not args.input:
        raise RouteletError("--output needs --input")
    if not args.input and not args.texts:
        raise RouteletError("nothing to classify: give commands as arguments or --input FILE")
    if args.threads < 1:
        raise RouteletError(f"--threads must be at least 1, got {args.threads}")
    blank = [i for i, text in enumerate(args.texts, start=1) if is_blank(text)]
    if blank:
        raise RouteletError(f"argument {blank[0]} is empty or only whitespace: nothing to route")
    router = Router.load(args.model, threshold=args.threshold, tier=args.tier)
    if args.input:
        source = Path(args.input)
        if not args.output:
            stream(router, source, sys.stdout, progress=False, workers=args.threads)
            return 0
        out = Path(args.output)
        with atomic_write(out) as sink:
            n = stream(router, source, sink, workers=args.threads)
        print(f"classified {n} rows -> {out}", file=sys.stderr)
        return 0
    predictions = router.classify_batch(args.texts, workers=args.threads)
    if args.json:
        for text, pred in zip(args.texts, predictions, strict=True):
            print(json.dumps(output_row({"text": text}, pred), ensure_ascii=False))
    else:
        rows = [
            [text, p.intent.value, f"{p.confidence:.3f}", "yes" if p.deferred else ""]
            for text, p in zip(args.texts, predictions, strict=True)
        ]
        print(
            tabulate(rows, headers=["text", "intent", "confidence", "deferred"], tablefmt="github")
        )
    return 0
