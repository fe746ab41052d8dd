"""The training set: the one builder used by ``train``, the TF-IDF floor and ``check-data``.

From the written rows (every ``data/*.jsonl``): a stratified calibration split is held
out (``calibration_fraction`` of each label, deterministic per ``seed``), and the rest
gets ``augment_copies`` disfluent variants each (``augment_seed``). Calibration rows are
never augmented and never trained on: they only fit the temperature. So what
``check-data`` checks for leakage is exactly what training reads.

It reads and splits; it does not validate beyond ``routelet.data`` (a bad row raises
``DataError``), normalise text, or look at evaluation files.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from routelet.augment import augment
from routelet.config import Paths, TrainConfig
from routelet.data import Example, load_jsonl
from routelet.intents import LABELS


def split_calibration(
    examples: list[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Stratified split: ``(train, calibration)``, deterministic per seed."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.intent.value].append(ex)
    rng = random.Random(seed)
    train: list[Example] = []
    calib: list[Example] = []
    for label in LABELS:
        rows = sorted(by_label[label], key=lambda e: e.text)
        rng.shuffle(rows)
        n_calib = round(len(rows) * fraction)
        calib.extend(rows[:n_calib])
        train.extend(rows[n_calib:])
    return train, calib


def split_and_augment(
    written: list[Example], config: TrainConfig
) -> tuple[list[Example], list[Example]]:
    """``(training rows incl. augmented variants, calibration rows)`` from written rows."""
    train, calib = split_calibration(written, config.calibration_fraction, config.seed)
    train = train + augment(train, copies=config.augment_copies, seed=config.augment_seed)
    return train, calib


def build_training_set(
    paths: Paths, config: TrainConfig
) -> tuple[list[Example], list[Example], list[Path]]:
    """``(training rows incl. augmented, calibration rows, data files used)``."""
    files = paths.training_files()
    written = [ex for p in files for ex in load_jsonl(p)]
    train, calib = split_and_augment(written, config)
    return train, calib, files
