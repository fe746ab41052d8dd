"""Tests of routelet.cli: help, version, and one-line errors."""

import subprocess
import sys

import pytest

from routelet import __version__
from routelet.cli import main


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
