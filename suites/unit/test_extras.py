"""Tests of routelet.extras: which extra each stage needs, and the error when it is missing."""

import sys
import tomllib

import pytest

from routelet.extras import EXTRAS, MissingExtraError, missing, require


def test_extras_exist_in_pyproject(paths) -> None:  # type: ignore[no-untyped-def]
    """Every extra named here is an optional-dependency group of pyproject.toml."""
    project = tomllib.loads((paths.root / "pyproject.toml").read_text())["project"]
    assert set(EXTRAS) <= set(project["optional-dependencies"])


def test_installed_extra_passes() -> None:
    """With the extra's modules importable, require raises nothing and missing is empty."""
    require("baseline", "the tfidf router")
    assert missing("baseline") == []


def test_missing_module_names_extra_and_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing module gives one line naming the command, the extra and how to install it."""
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(MissingExtraError) as info:
        require("report", "routelet report")
    message = str(info.value)
    assert message.startswith("routelet report needs the report extra (sklearn")
    assert "pip install -e '.[report]'" in message and "\n" not in message
