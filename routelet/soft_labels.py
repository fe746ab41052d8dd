"""A teacher's soft labels: the file that carries them, the unlabelled pool, and the set they train.

Distillation from a larger teacher (``docs/experiments.md`` #13t, #14) is split in two so that
a retrain stays cheap:

1. ``routelet soft-label --teacher RUN`` runs a trained teacher (any saved run, usually a
   fine-tuned ``all-mpnet-base-v2``) over every text the student trains on (the written rows
   less the calibration split, their augmented variants) and over the unlabelled pool, and
   writes one ``{"text": ..., "probs": [6 floats]}`` row per text, columns in ``LABELS``
   order, to the file ``[soft_labels] file`` names. The file is committed: it is our
   data, derived from our rows.
2. ``routelet train`` with ``[soft_labels] file`` set reads that file (``distillation_set``):
   every training row gets its soft label, and every pool text joins the training rows
   with the teacher's top label as its hard label. The loss is
   ``(1 - weight) * cross-entropy + weight * KL(teacher || student)`` (``routelet.finetune``).

The pool (``[soft_labels] pool``: folders of ``*.jsonl`` commands) is read for its texts
only; any ``intent`` field there is ignored. ``check-data`` checks the pool for leakage
like every other training row. This module does not train the teacher (``routelet train``
with the teacher's config does) and never reads evaluation files.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from routelet.config import Paths, TrainConfig
from routelet.data import Example, atomic_write, iter_commands, parse_command
from routelet.errors import ConfigError, DataError
from routelet.intents import LABELS

#: Decimals kept per probability in the file (rows are renormalised on reading).
DECIMALS = 5
#: Largest gap from 1 a stored row's probabilities may sum to.
SUM_TOLERANCE = 1e-3
#: Texts the teacher scores per progress line.
CHUNK = 512


def pool_files(paths: Paths, config: TrainConfig) -> list[Path]:
    """Every ``*.jsonl`` file in the config's pool folders, sorted; a missing folder is an error."""
    files: list[Path] = []
    for folder in config.soft_labels_pool:
        where = paths.root / folder
        if not where.is_dir():
            raise ConfigError(f"[soft_labels] pool: {where} is not a folder")
        files.extend(sorted(where.glob("*.jsonl")))
    return files


def pool_texts(paths: Paths, config: TrainConfig, exclude: Collection[str] = ()) -> list[str]:
    """The pool's unique texts in file order, less ``exclude`` (texts of the written rows)."""
    texts = [str(row["text"]) for p in pool_files(paths, config) for _, row in iter_commands(p)]
    skip = set(exclude)
    return [t for t in dict.fromkeys(texts) if t not in skip]


def training_inputs(paths: Paths, config: TrainConfig) -> list[Path]:
    """Every file a training run under ``config`` reads: ``data/*.jsonl``, plus the soft-label
    file and the pool's files when the config distils (a model's ``data_sha256`` hashes these)."""
    files = paths.training_files()
    if config.soft_labels_file:
        files = [*files, paths.root / config.soft_labels_file, *pool_files(paths, config)]
    return files


def _new_pool_texts(
    train_rows: Sequence[Example], calib_rows: Sequence[Example], paths: Paths, config: TrainConfig
) -> list[str]:
    """The pool texts that are not already written rows (training or calibration)."""
    written = {ex.text for ex in train_rows} | {ex.text for ex in calib_rows}
    return pool_texts(paths, config, exclude=written)


def write(path: Path, texts: Sequence[str], probs: NDArray[np.floating]) -> int:
    """Write one row per text to ``path`` atomically; return the row count."""
    if len(texts) != len(probs):
        raise ValueError(f"{len(probs)} probability rows for {len(texts)} texts")
    with atomic_write(Path(path)) as handle:
        for text, row in zip(texts, np.asarray(probs, dtype=np.float64), strict=True):
            values = [round(float(p), DECIMALS) for p in row]
            handle.write(json.dumps({"text": text, "probs": values}, ensure_ascii=False) + "\n")
    return len(texts)


def _parse(line: str, where: str) -> tuple[str, NDArray[np.float64]]:
    row = parse_command(line, where)  # a JSON object with a non-blank string 'text'
    probs = row.get("probs")
    if (
        not isinstance(probs, list)
        or len(probs) != len(LABELS)
        or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in probs)
    ):
        raise DataError(f"{where}: 'probs' must be a list of {len(LABELS)} numbers")
    values = np.array(probs, dtype=np.float64)
    if not np.all(np.isfinite(values)) or values.min() < 0 or abs(values.sum() - 1) > SUM_TOLERANCE:
        raise DataError(f"{where}: 'probs' must be non-negative and sum to 1")
    return str(row["text"]), values / values.sum()


def load(path: Path) -> dict[str, NDArray[np.float64]]:
    """``text -> probabilities (6,)`` from a soft-label file; a bad row raises ``DataError``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such soft-label file; write it with `routelet soft-label`")
    table: dict[str, NDArray[np.float64]] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                raise DataError(f"{path}:{lineno}: blank line")
            text, probs = _parse(line, f"{path}:{lineno}")
            if text in table:
                raise DataError(f"{path}:{lineno}: text repeated: {text!r}")
            table[text] = probs
    return table


def texts_to_label(
    train_rows: Sequence[Example], calib_rows: Sequence[Example], paths: Paths, config: TrainConfig
) -> list[str]:
    """Every text the student trains on: its training rows, then the pool (unique, in order)."""
    train_texts = list(dict.fromkeys(ex.text for ex in train_rows))
    return train_texts + _new_pool_texts(train_rows, calib_rows, paths, config)


def distillation_set(
    train_rows: Sequence[Example],
    calib_rows: Sequence[Example],
    paths: Paths,
    config: TrainConfig,
) -> tuple[list[str], list[str], NDArray[np.float64]]:
    """``(texts, hard labels, soft labels (n, 6))``: the training rows, then the pool texts.

    Training rows keep their gold label; a pool text takes the teacher's top label. Raises
    ``DataError`` when the file lacks a text, so a data change cannot train on stale labels.
    """
    source = paths.root / config.soft_labels_file
    table = load(source)
    pool = _new_pool_texts(train_rows, calib_rows, paths, config)
    texts = [ex.text for ex in train_rows] + pool
    missing = [t for t in dict.fromkeys(texts) if t not in table]
    if missing:
        raise DataError(
            f"{source}: no soft label for {len(missing)} training texts (first: "
            f"{missing[0]!r}); the data changed since it was written: rerun `routelet soft-label`"
        )
    soft = np.stack([table[t] for t in texts])  # (n, 6)
    labels = [ex.intent.value for ex in train_rows] + [LABELS[int(table[t].argmax())] for t in pool]
    return texts, labels, soft


def label_texts(
    predict_proba: Callable[[list[str]], NDArray[np.floating]],
    texts: Sequence[str],
    progress: Callable[[str], None] = print,
) -> NDArray[np.float64]:
    """The teacher's probabilities (n, 6) for ``texts``, in chunks with a progress line each."""
    started = time.perf_counter()
    parts: list[NDArray[np.float64]] = []
    for start in range(0, len(texts), CHUNK):
        parts.append(np.asarray(predict_proba(list(texts[start : start + CHUNK])), np.float64))
        done = min(start + CHUNK, len(texts))
        rate = done / max(time.perf_counter() - started, 1e-9)
        progress(f"  {done}/{len(texts)} texts  {rate:.0f} texts/s")
    return np.concatenate(parts) if parts else np.zeros((0, len(LABELS)))


def run_cli(args: argparse.Namespace) -> int:
    from routelet.dataset import build_training_set
    from routelet.train import load_run, torch_threads

    paths = Paths.discover()
    config_path = Path(args.config) if args.config else paths.configs / "default.toml"
    config = TrainConfig.from_toml(config_path)
    if not config.soft_labels_file:
        raise ConfigError(f"{config_path}: [soft_labels] file is not set; nothing to write")
    train_rows, calib_rows, _ = build_training_set(paths, config)
    texts = texts_to_label(train_rows, calib_rows, paths, config)
    teacher = load_run(Path(args.teacher))
    print(f"labelling {len(texts)} texts with the teacher in {args.teacher}")
    torch_threads()
    probs = label_texts(teacher.predict_proba, texts)
    output = paths.root / config.soft_labels_file
    output.parent.mkdir(parents=True, exist_ok=True)
    write(output, texts, probs)
    print(f"wrote {len(texts)} soft labels to {output}")
    return 0
