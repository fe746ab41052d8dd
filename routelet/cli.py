"""The ``routelet`` command line: one subcommand per pipeline stage.

Each subcommand imports its stage lazily, so ``routelet --help`` works in an install
without torch. Expected failures (bad input, missing model, missing key) print one
line to stderr and exit with code 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from routelet import __version__
from routelet.errors import RouteletError

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], str]] = []


def _register(name: str, help_text: str, module: str) -> Callable[..., Callable[..., None]]:
    """Declare a subcommand whose handler is ``<module>.run_cli(args)`` imported on use."""

    def decorator(add_args: Callable[[argparse.ArgumentParser], None]) -> Callable[..., None]:
        _COMMANDS.append((name, help_text, add_args, module))
        return add_args

    return decorator


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="routelet",
        description="A tiny on-device intent router for spoken voice-assistant commands.",
    )
    parser.add_argument("--version", action="version", version=f"routelet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_args, module in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    import importlib

    module = importlib.import_module(f"routelet.{args._module}")
    try:
        return int(module.run_cli(args))
    except RouteletError as exc:
        print(f"routelet {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"routelet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
