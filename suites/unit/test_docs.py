"""The docs stay true to the code and data: data-card counts, README commands and extras."""

import re
import shlex
from pathlib import Path

import pytest

from routelet.cli import build_parser, subcommands
from routelet.data import load_jsonl
from routelet.evaluate import ROUTER_EXTRAS, ROUTER_KINDS


def test_data_card_counts_match_files(paths) -> None:  # type: ignore[no-untyped-def]
    """Every file row of docs/data.md states the file's current row count."""
    card = (paths.root / "docs" / "data.md").read_text()
    rows = re.findall(r"^\| `((?:data|evals)/[\w.]+\.jsonl)` \| (\d+)", card, flags=re.M)
    assert {name for name, _ in rows} == {
        p.relative_to(paths.root).as_posix() for p in paths.training_files() + paths.eval_files()
    }
    for name, count in rows:
        assert len(load_jsonl(paths.root / name)) == int(count), name


def _docs(root: Path) -> str:
    return (root / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((root / "docs").glob("*.md"))
    )


@pytest.mark.parametrize("command", list(subcommands()))
def test_every_subcommand_is_documented(paths, command: str) -> None:  # type: ignore[no-untyped-def]
    """Each subcommand of the parser is mentioned in README or the docs."""
    assert f"routelet {command}" in _docs(paths.root)


def _readme_commands(root: Path) -> list[str]:
    """Every `routelet ...` line inside the README's ```bash blocks, comments removed."""
    blocks = re.findall(r"^```bash\n(.*?)^```", (root / "README.md").read_text(), re.M | re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith("routelet ")]


def test_readme_has_commands(paths) -> None:  # type: ignore[no-untyped-def]
    """The README shows routelet commands in bash blocks (so the next test checks something)."""
    assert len(_readme_commands(paths.root)) >= 5


def test_readme_commands_parse(paths) -> None:  # type: ignore[no-untyped-def]
    """Every routelet command in the README's bash blocks is accepted by the real parser."""
    parser = build_parser()
    for line in _readme_commands(paths.root):
        argv = shlex.split(line, comments=True)[1:]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"README command does not parse: {line}")


def _extras_table(root: Path) -> dict[str, str]:
    """README's "which install" table: ``{first cell: second cell}``."""
    text = (root / "README.md").read_text()
    section = text.split("## Install", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): cells[1].strip() for cells in rows}


def _needs() -> list[tuple[str, str | None]]:
    """(command as typed, extra it needs or None) for every subcommand and eval router."""
    needs = [(f"routelet {name}", extra) for name, extra in subcommands().items()]
    needs += [(f"routelet eval --router {kind}", ROUTER_EXTRAS.get(kind)) for kind in ROUTER_KINDS]
    return needs


@pytest.mark.parametrize(("command", "extra"), _needs(), ids=[c for c, _ in _needs()])
def test_readme_names_the_extra_each_command_needs(paths, command: str, extra: str | None) -> None:  # type: ignore[no-untyped-def]
    """README's install table lists each command with the extra routelet.extras checks for it."""
    rows = [need for cell, need in _extras_table(paths.root).items() if f"`{command}`" in cell]
    assert len(rows) == 1, f"{command} is in {len(rows)} rows of README's install table"
    assert (f"`{extra}`" if extra else "base install") in rows[0]
