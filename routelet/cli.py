"""The ``routelet`` command line: one subcommand per pipeline stage.

Each subcommand imports its stage lazily, so ``routelet --help`` works in an install
without torch. A subcommand that needs an optional extra declares it here and is
refused with one line naming the extra before its stage is imported or anything is
written (``routelet.extras``). Expected failures (bad arguments, bad input, missing
model, missing extra or key) print one line to stderr and exit with code 2; they never
show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from routelet import __version__
from routelet.config import DEFAULT_MODEL_NAME, DEFAULT_THRESHOLD, TIERS
from routelet.errors import RouteletError

Handler = Callable[[argparse.Namespace], int]
#: (name, help, add_args, module, extra or None), in the order ``--help`` lists them.
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], str, str | None]] = []
_MODEL_DIR = f"models/{DEFAULT_MODEL_NAME}"


def _add_tier(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--tier",
        choices=TIERS,
        help="who answers: the static tier, the encoder, or the cascade "
        "(default: the cascade when the model has a static tier, else the encoder; "
        "docs/cascade.md)",
    )


def _add_ray(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="Ray cluster to join (default: start a local one)")
    p.add_argument("--actors", type=int, default=1, help="Ray actors, one model each (default: 1)")


def _register(
    name: str, help_text: str, module: str, extra: str | None = None
) -> Callable[..., Callable[..., None]]:
    """Declare a subcommand whose handler is ``<module>.run_cli(args)`` imported on use,
    refused up front unless the optional ``extra`` is installed."""

    def decorator(add_args: Callable[[argparse.ArgumentParser], None]) -> Callable[..., None]:
        _COMMANDS.append((name, help_text, add_args, module, extra))
        return add_args

    return decorator


def subcommands() -> dict[str, str | None]:
    """Every subcommand and the extra it needs (None: the base install is enough).

    ``eval`` needs an extra only for some routers: ``routelet.evaluate.ROUTER_EXTRAS``.
    """
    return {name: extra for name, _, _, _, extra in _COMMANDS}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


@_register("check-data", "validate data/ and evals/ and check train/eval leakage", "checkdata")
def _check_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="project root (default: discovered from the working directory)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="near-duplicate char-3-gram Jaccard threshold (default: 0.8)",
    )


@_register("generate-none", "write the seeded `none` rows to data/none.jsonl", "ood")
def _generate_none_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=13, help="random seed (default: 13)")
    p.add_argument("--count", type=int, default=480, help="rows to write (default: 480)")
    p.add_argument("--output", help="output file (default: data/none.jsonl)")


@_register(
    "train",
    "fine-tune the router as configs/default.toml says (needs the train extra)",
    "train",
    "train",
)
def _train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="training config TOML (default: configs/default.toml)")
    p.add_argument("--run-dir", help="where to save the run (default: runs/<model name>)")
    p.add_argument(
        "--max-steps", type=int, help="cap optimiser steps (quick smoke runs; -1: no cap)"
    )


@_register(
    "soft-label",
    "write a teacher's soft labels over the training texts and the pool (needs the train extra)",
    "soft_labels",
    "train",
)
def _soft_label_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--teacher", required=True, help="the teacher's training run directory")
    p.add_argument(
        "--config",
        help="the student's training config; its [soft_labels] file is written "
        "(default: configs/default.toml)",
    )


@_register(
    "export", "export a training run to ONNX (int8) and write models/<name>/", "export", "train"
)
def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run-dir", help=f"training run to export (default: runs/{DEFAULT_MODEL_NAME})")
    p.add_argument("--output", help="model directory to write (default: models/<name>)")


@_register(
    "distill",
    "add the static tier (model2vec) and the cascade to an exported model directory",
    "distill",
    "train",
)
def _distill_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--run", help=f"training run the model came from (default: runs/{DEFAULT_MODEL_NAME})"
    )
    p.add_argument("--model", help=f"exported model directory to add it to (default: {_MODEL_DIR})")


@_register("classify", "route commands given as arguments or from a file", "classify")
def _classify_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", help="commands to route")
    p.add_argument("--input", help="a .txt file (one command a line) or .jsonl file (`text` field)")
    p.add_argument("--output", help="write JSON Lines here instead of stdout (needs --input)")
    p.add_argument("--model", help=f"model directory (default: {_MODEL_DIR})")
    p.add_argument("--threshold", type=float, help="confidence below which to defer")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="texts routed at once, one per thread; answers do not change (default: 1)",
    )
    _add_tier(p)
    p.add_argument("--json", action="store_true", help="print one JSON object per command")
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local (this process) or ray: --input is then a directory or glob of .jsonl/.parquet "
        "shards and --output a directory (needs the scale extra; default: local)",
    )
    _add_ray(p)
    p.add_argument("--batch-size", type=int, default=256, help="rows per Ray batch (default: 256)")


@_register("eval", "score a router on a labelled JSONL file", "evaluate")
def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="labelled JSONL file, e.g. evals/holdout.jsonl")
    p.add_argument(
        "--router",
        default="onnx",
        choices=["onnx", "setfit", "tfidf", "claude"],
        help="which router to score (default: onnx, the shipped model)",
    )
    p.add_argument("--model", help="model directory, run directory, or LLM model name")
    p.add_argument(
        "--threshold",
        type=float,
        help=f"deferral threshold in [0, 1] (default: the model's, else {DEFAULT_THRESHOLD})",
    )
    _add_tier(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


@_register("serve", "serve the router over HTTP (needs the serve extra)", "serve", "serve")
def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port, 1 to 65535 (default: 8080)")
    p.add_argument("--model", help=f"model directory (default: {_MODEL_DIR})")
    p.add_argument("--threshold", type=float, help="confidence below which to defer")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default: 1)")
    _add_tier(p)
    p.add_argument(
        "--log-samples",
        metavar="DIR",
        help="append sampled requests (redacted) and users' corrections to rotating JSONL "
        "files in DIR (default: off)",
    )
    p.add_argument(
        "--sample-rate", type=float, default=1.0, help="share of requests logged (default: 1)"
    )
    p.add_argument(
        "--log-max-mb", type=float, default=10.0, help="size of one log file (default: 10)"
    )
    p.add_argument("--log-max-files", type=int, default=10, help="log files kept (default: 10)")


@_register("teacher", "label commands with the LLM teacher (needs the llm extra)", "teacher", "llm")
def _teacher_args(p: argparse.ArgumentParser) -> None:
    tsub = p.add_subparsers(dest="teacher_command", metavar="SUBCOMMAND", required=True)
    label = tsub.add_parser("label", help="label unlabelled commands with the LLM")
    label.add_argument("input", help="JSONL (`text` field) or .txt, one command a line")
    label.add_argument("output", help="labelled JSONL to write")
    label.add_argument(
        "--review",
        help="file for low-confidence/invalid answers (default: OUTPUT with suffix .review.jsonl)",
    )
    label.add_argument("--model", help="Claude model name (default: a current Haiku model)")
    label.add_argument("--concurrency", type=int, default=4, help="parallel requests (default: 4)")
    label.add_argument("--cache-dir", help="on-disk answer cache (default: .cache/teacher)")


@_register(
    "ingest",
    "turn logged traffic into training rows: label it for review, then merge the reviewed "
    "rows (needs the llm extra)",
    "ingest",
    "llm",
)
def _ingest_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="sample logs, .jsonl or .txt files")
    p.add_argument("--output", help="the review file to write (JSONL)")
    p.add_argument("--accept", metavar="REVIEWED", help="merge this reviewed file instead")
    p.add_argument("--into", help="data file --accept merges into (default: data/collected.jsonl)")
    p.add_argument("--model", help=f"the student model (default: {_MODEL_DIR})")
    p.add_argument("--threads", type=int, help="texts routed at once (default: one per CPU)")
    p.add_argument("--teacher-model", help="Claude model name (default: a current Haiku model)")
    p.add_argument("--concurrency", type=int, default=4, help="parallel requests (default: 4)")
    p.add_argument("--cache-dir", help="on-disk answer cache (default: .cache/teacher)")


@_register(
    "gate",
    "compare a candidate model with the shipped one on every eval set; exit 1 if it loses",
    "gate",
)
def _gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--candidate", required=True, help="model directory to promote")
    p.add_argument("--baseline", help=f"model directory to beat (default: {_MODEL_DIR})")
    p.add_argument(
        "--input", nargs="+", metavar="FILES_OR_DIR", help="unlabelled traffic to count flips on"
    )
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="route --input here or on Ray (needs the scale extra; default: local)",
    )
    _add_ray(p)
    p.add_argument("--no-external", action="store_true", help="skip the external skill-package set")
    p.add_argument("--budgets", help="budgets file (default: suites/budgets.toml, [gate])")
    p.add_argument("--threads", type=int, default=1, help="texts routed at once (default: 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


@_register("report", "run the evaluations and write report/REPORT.md", "report", "report")
def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help=f"model directory (default: {_MODEL_DIR})")
    p.add_argument("--output", help="report directory (default: report/)")
    p.add_argument("--no-latency", action="store_true", help="skip the latency measurements")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="routelet",
        description="A tiny on-device intent router for spoken voice-assistant commands.",
    )
    parser.add_argument("--version", action="version", version=f"routelet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_args, module, extra in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(_module=module, _extra=extra)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import importlib

    from routelet.extras import require

    try:
        if args._extra is not None:
            require(args._extra, f"routelet {args.command}")
        module = importlib.import_module(f"routelet.{args._module}")
        return int(module.run_cli(args))
    except RouteletError as exc:
        print(f"routelet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"routelet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
