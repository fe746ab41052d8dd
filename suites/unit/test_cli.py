"""Tests of routelet.cli: help, version, and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from routelet import __version__
from routelet.cli import main, subcommands


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    """--help names the data subcommands."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "check-data" in out and "generate-none" in out


def test_console_script_runs() -> None:
    """The installed `routelet` entry point answers --help."""
    proc = subprocess.run(
        [sys.executable, "-m", "routelet.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "usage: routelet" in proc.stdout


def _exit_code(argv: list[str]) -> int:
    """``main``'s exit code, whether it returns it or argparse raises SystemExit with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["nosuchcommand"], id="unknown-command"),
        pytest.param(["classify", "--bogus"], id="unknown-option"),
        pytest.param(["eval"], id="missing-required"),
        pytest.param(["serve", "--port", "http"], id="not-a-number"),
        pytest.param(["eval", "--data", "x.jsonl", "--router", "gpt"], id="bad-choice"),
    ],
)
def test_usage_errors_are_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Argument errors print one line naming the command and exit 2 (no usage dump)."""
    assert _exit_code(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("routelet") and "error:" in err and "\n" not in err, err


@pytest.mark.parametrize(
    ("argv", "extra", "module"),
    [
        pytest.param(["train"], "train", "torch", id="train"),
        pytest.param(["export"], "train", "setfit", id="export"),
        pytest.param(["report"], "report", "matplotlib", id="report"),
        pytest.param(["serve"], "serve", "uvicorn", id="serve"),
        pytest.param(["teacher", "label", "in.txt", "out.jsonl"], "llm", "anthropic", id="teacher"),
    ],
)
def test_missing_extra_is_one_line(
    argv: list[str],
    extra: str,
    module: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A command whose extra is not installed exits 2 with one line naming the extra."""
    monkeypatch.setitem(sys.modules, module, None)  # import of `module` now fails
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"needs the {extra} extra" in err and f".[{extra}]" in err and "\n" not in err, err


def test_train_without_extra_leaves_no_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`routelet train` without torch is refused before it creates its run directory."""
    monkeypatch.setitem(sys.modules, "torch", None)
    run_dir = tmp_path / "run"
    assert main(["train", "--run-dir", str(run_dir)]) == 2
    assert not run_dir.exists()


def test_subcommands_name_their_extras() -> None:
    """Every subcommand is listed with an extra that pyproject defines, or None."""
    from routelet.extras import EXTRAS

    commands = subcommands()
    assert {"classify", "eval", "train", "serve", "report"} <= set(commands)
    assert commands["classify"] is None and commands["train"] == "train"
    assert {extra for extra in commands.values() if extra} <= set(EXTRAS)
