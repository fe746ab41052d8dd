"""The docs stay true to the code and data: data-card counts, README commands, --help."""

import re

import pytest

from routelet.cli import build_parser
from routelet.data import load_jsonl


def test_data_card_counts_match_files(paths) -> None:  # type: ignore[no-untyped-def]
    """Every file row of docs/data.md states the file's current row count."""
    card = (paths.root / "docs" / "data.md").read_text()
    rows = re.findall(r"^\| `((?:data|evals)/[\w.]+\.jsonl)` \| (\d+)", card, flags=re.M)
    assert {name for name, _ in rows} == {
        p.relative_to(paths.root).as_posix() for p in paths.training_files() + paths.eval_files()
    }
    for name, count in rows:
        assert len(load_jsonl(paths.root / name)) == int(count), name


@pytest.mark.parametrize(
    "command",
    [
        "check-data",
        "generate-none",
        "train",
        "export",
        "classify",
        "eval",
        "serve",
        "teacher",
        "report",
    ],
)
def test_readme_and_help_agree_on_subcommands(paths, command: str) -> None:  # type: ignore[no-untyped-def]
    """Each subcommand exists in the parser and is mentioned in README or the docs."""
    parser_help = build_parser().format_help()
    docs = (paths.root / "README.md").read_text() + "".join(
        p.read_text() for p in (paths.root / "docs").glob("*.md")
    )
    assert command in parser_help
    assert f"routelet {command}" in docs
