"""Tests of routelet.manifest, and the shipped model's freshness."""

import pytest

from routelet.manifest import hash_files, read_manifest
from routelet.soft_labels import training_inputs

pytestmark = pytest.mark.shipped


def test_shipped_model_matches_repo_data_and_config(paths, train_config) -> None:  # type: ignore[no-untyped-def]
    """The shipped model was trained on exactly the data and config in the repo (not stale):
    the labelled rows and, when it distils, the soft-label file and the pool."""
    manifest = read_manifest(paths.default_model)
    assert manifest["data_sha256"] == hash_files(training_inputs(paths, train_config), paths.root)
    assert manifest["config_sha256"] == hash_files([paths.configs / "default.toml"], paths.root)


def test_shipped_model_size_budget(paths) -> None:  # type: ignore[no-untyped-def]
    """Everything under models/ stays within 40 MB."""
    total = sum(f.stat().st_size for f in paths.models.rglob("*") if f.is_file())
    assert total <= 40e6, total


def test_shipped_parity_was_recorded_and_passed(paths) -> None:  # type: ignore[no-untyped-def]
    """The export's parity record meets the gate it was exported under."""
    from routelet.export import FP32_PROB_ATOL, INT8_MIN_AGREEMENT

    parity = read_manifest(paths.default_model)["parity"]
    assert parity["fp32_labels_equal"] is True
    assert parity["fp32_max_prob_diff"] <= FP32_PROB_ATOL
    assert parity["int8_agreement"] >= INT8_MIN_AGREEMENT
