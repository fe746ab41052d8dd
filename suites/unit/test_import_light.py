"""The inference side must import without torch (the base install has none)."""

import subprocess
import sys

import pytest

LIGHT_MODULES = [
    "routelet",
    "routelet.cli",
    "routelet.data",
    "routelet.preprocess",
    "routelet.checkdata",
    "routelet.teacher",
    "routelet.runtime",
    "routelet.evaluate",
    "routelet.report",
    "routelet.timing",
    "routelet.extras",
    "routelet.dataset",
]


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_module_imports_without_torch(module: str) -> None:
    """Importing the module in a fresh interpreter does not import torch."""
    code = f"import sys, {module}; sys.exit(1 if 'torch' in sys.modules else 0)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr or "torch was imported"
