"""Read ``suites/budgets.toml``: every floor and budget the suites check, declared once."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

BUDGETS_PATH = Path(__file__).with_name("budgets.toml")
BUDGETS: dict[str, Any] = tomllib.loads(BUDGETS_PATH.read_text(encoding="utf-8"))

#: Eval files gated on accuracy, by stem (evals/<stem>.jsonl).
GATED_EVALS: tuple[str, ...] = tuple(BUDGETS["accuracy"]["onnx"])
#: Routers scored by the accuracy suite.
SCORED_ROUTERS: tuple[str, ...] = tuple(BUDGETS["accuracy"])
