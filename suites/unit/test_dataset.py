"""Tests of routelet.dataset: the one training-set builder (train, the floor, check-data)."""

from collections import Counter

from routelet.checkdata import check
from routelet.data import Example
from routelet.dataset import build_training_set, split_calibration
from routelet.intents import LABELS, Intent


def _rows() -> list[Example]:
    return [Example(f"{label} row {i}", Intent(label)) for label in LABELS for i in range(20)]


def test_calibration_split_is_stratified_and_deterministic() -> None:
    """Each label gives the same share to calibration, identically for the same seed."""
    train, calib = split_calibration(_rows(), 0.25, seed=1)
    assert Counter(e.intent for e in calib) == {Intent(label): 5 for label in LABELS}
    assert len(train) == 90
    assert (train, calib) == split_calibration(_rows(), 0.25, seed=1)


def test_training_set_excludes_calibration_rows(paths, train_config) -> None:  # type: ignore[no-untyped-def]
    """No calibration row, nor any variant of one, is in the training set."""
    train, calib, files = build_training_set(paths, train_config)
    calib_texts = {e.text for e in calib}
    assert files and calib
    assert not calib_texts & {e.text for e in train}
    assert not calib_texts & {e.meta.get("augment_of") for e in train}


def test_check_data_checks_the_rows_training_reads(paths, train_config) -> None:  # type: ignore[no-untyped-def]
    """check-data's augmented rows are exactly those of the training set (none of calibration)."""
    train, _calib, _files = build_training_set(paths, train_config)
    augmented = sum("augment_of" in ex.meta for ex in train)
    assert augmented and check(paths, train_config).augmented_rows == augmented
