"""Session fixtures shared by every suite.

Expensive objects (the shipped router, a tiny trained model) are built once per session.
Nothing here writes into the working tree: fixtures that write use ``tmp_path_factory``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub, in tests or CI
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from routelet.config import Paths, TrainConfig  # noqa: E402

# Hypothesis profiles: "ci" is thorough but bounded; "dev" is quick. Select with
# HYPOTHESIS_PROFILE (CI sets ci).
settings.register_profile(
    "ci",
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def paths() -> Paths:
    """The project's real directories (read-only use)."""
    return Paths(ROOT)


@pytest.fixture(scope="session")
def train_config(paths: Paths) -> TrainConfig:
    """The checked-in training configuration of the shipped model."""
    return TrainConfig.from_toml(paths.configs / "default.toml")
