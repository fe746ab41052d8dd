"""Fixtures of the production-loop suites: the shipped model, a broken copy, a Ray cluster."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routelet.config import Paths
from routelet.intents import LABELS
from routelet.manifest import add_artifacts

#: The two head rows the broken candidate swaps: every chat answer becomes memory and back.
SWAPPED = ("chat", "memory")


@pytest.fixture(scope="session")
def model_dir(paths: Paths) -> Path:
    """The shipped model's directory (whichever ``Paths.default_model`` names)."""
    return paths.default_model


@pytest.fixture(scope="session")
def swapped_model(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model with the chat and memory rows of its heads swapped (the
    encoder's and, where there is one, the static tier's, so that every tier is broken),
    checksums rewritten so that it loads: a plausible-looking, much worse candidate."""
    out = tmp_path_factory.mktemp("swapped") / "model"
    shutil.copytree(model_dir, out)
    i, j = (LABELS.index(label) for label in SWAPPED)
    heads = [name for name in ("head.json", "static_head.json") if (out / name).is_file()]
    for name in heads:
        head = json.loads((out / name).read_text(encoding="utf-8"))
        for key in ("coef", "intercept"):
            head[key][i], head[key][j] = head[key][j], head[key][i]
        (out / name).write_text(json.dumps(head), encoding="utf-8")
    add_artifacts(out, tuple(heads), {"name": "swapped"})
    return out


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A local two-CPU Ray cluster for the session, shut down at the end."""
    ray = pytest.importorskip("ray", reason="the Ray engine needs the scale extra")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
