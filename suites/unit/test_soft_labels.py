"""Tests of routelet.soft_labels: the soft-label file, the unlabelled pool, the distillation set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from routelet import soft_labels
from routelet.checkdata import check
from routelet.cli import main
from routelet.config import Paths, TrainConfig
from routelet.data import Example, save_jsonl
from routelet.dataset import build_training_set
from routelet.errors import ConfigError, DataError
from routelet.intents import LABELS, Intent

CONFIG = """
[model]
method = "cross_entropy"
[augment]
copies = 1
[calibration]
fraction = 0.2
[soft_labels]
file = "data/soft/teacher.jsonl"
weight = 0.7
pool = ["data/pool"]
"""


def _project(tmp_path: Path, pool: list[str]) -> tuple[Paths, TrainConfig]:
    """A project with 10 written rows per label, one eval file and an unlabelled pool."""
    paths = Paths(tmp_path)
    rows = [
        Example(f"{label} command number {i}", Intent(label)) for label in LABELS for i in range(10)
    ]
    save_jsonl(paths.data / "rows.jsonl", rows)
    save_jsonl(paths.evals / "holdout.jsonl", [Example("an unrelated eval text", Intent("chat"))])
    (paths.data / "pool").mkdir()
    lines = [json.dumps({"text": t}) for t in pool]
    (paths.data / "pool" / "pool.jsonl").write_text("\n".join(lines) + "\n")
    paths.configs.mkdir()
    (paths.configs / "default.toml").write_text(CONFIG)
    return paths, TrainConfig.from_toml(paths.configs / "default.toml")


def _one_hot(index: int) -> list[float]:
    return [0.9 if i == index else 0.02 for i in range(len(LABELS))]


def _write_labels(paths: Paths, config: TrainConfig, texts: list[str], index: int = 3) -> None:
    target = paths.root / config.soft_labels_file
    target.parent.mkdir(parents=True, exist_ok=True)
    soft_labels.write(target, texts, np.array([_one_hot(index)] * len(texts)))


def test_file_round_trips_rounded_and_renormalised(tmp_path: Path) -> None:
    probs = np.array([[0.1234567, 0.2, 0.3, 0.1, 0.1, 0.1765433], _one_hot(0)])
    soft_labels.write(tmp_path / "s.jsonl", ["one", "two"], probs)
    table = soft_labels.load(tmp_path / "s.jsonl")
    assert list(table) == ["one", "two"]
    assert table["one"] == pytest.approx(probs[0], abs=1e-5)
    assert table["two"].sum() == pytest.approx(1.0)
    assert table["two"].argmax() == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "invalid JSON"),
        ('{"probs": [1, 0, 0, 0, 0, 0]}', "string 'text'"),
        ('{"text": " ", "probs": [1, 0, 0, 0, 0, 0]}', "'text' is empty"),
        ('{"text": "a", "probs": [1, 0, 0]}', "list of 6 numbers"),
        ('{"text": "a", "probs": [1, 0, 0, 0, 0, true]}', "list of 6 numbers"),
        ('{"text": "a", "probs": [1.5, -0.5, 0, 0, 0, 0]}', "non-negative"),
        ('{"text": "a", "probs": [0.5, 0, 0, 0, 0, 0]}', "sum to 1"),
        ('{"text": "a", "probs": [NaN, 0, 0, 0, 0, 1]}', "non-negative"),
        ("", "blank line"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps({"text": "ok", "probs": _one_hot(1)})
    (tmp_path / "s.jsonl").write_text(f"{good}\n{line}\n")
    with pytest.raises(DataError, match=rf"s\.jsonl:2: .*{message}"):
        soft_labels.load(tmp_path / "s.jsonl")


def test_repeated_text_and_missing_file_are_refused(tmp_path: Path) -> None:
    row = json.dumps({"text": "ok", "probs": _one_hot(1)})
    (tmp_path / "s.jsonl").write_text(f"{row}\n{row}\n")
    with pytest.raises(DataError, match="repeated"):
        soft_labels.load(tmp_path / "s.jsonl")
    with pytest.raises(DataError, match="routelet soft-label"):
        soft_labels.load(tmp_path / "absent.jsonl")


def test_distillation_set_adds_new_pool_texts_with_the_teachers_label(tmp_path: Path) -> None:
    """Training rows keep gold labels; pool texts (not already written rows) take the argmax."""
    written = f"{LABELS[0]} command number 1"
    paths, config = _project(tmp_path, ["fresh pool text", written, "fresh pool text"])
    train, calib, _ = build_training_set(paths, config)
    wanted = soft_labels.texts_to_label(train, calib, paths, config)
    assert wanted[-1] == "fresh pool text" and wanted.count("fresh pool text") == 1
    assert written not in wanted[len(set(e.text for e in train)) :]
    _write_labels(paths, config, wanted, index=3)
    texts, labels, soft = soft_labels.distillation_set(train, calib, paths, config)
    assert texts == [e.text for e in train] + ["fresh pool text"]
    assert labels[:-1] == [e.intent.value for e in train] and labels[-1] == LABELS[3]
    assert soft.shape == (len(texts), len(LABELS))
    assert np.allclose(soft.sum(axis=1), 1)


def test_stale_soft_labels_are_refused(tmp_path: Path) -> None:
    """A text the file lacks (the data changed) is an error naming the command that fixes it."""
    paths, config = _project(tmp_path, ["fresh pool text"])
    train, calib, _ = build_training_set(paths, config)
    _write_labels(paths, config, soft_labels.texts_to_label(train, calib, paths, config)[:-1])
    with pytest.raises(DataError, match=r"no soft label for 1 training texts.*fresh pool text"):
        soft_labels.distillation_set(train, calib, paths, config)


def test_config_section_is_parsed_and_checked(tmp_path: Path) -> None:
    paths, config = _project(tmp_path, ["x"])
    assert (config.soft_labels_file, config.soft_labels_weight) == ("data/soft/teacher.jsonl", 0.7)
    assert config.soft_labels_pool == ("data/pool",)
    bad = paths.configs / "bad.toml"
    bad.write_text(CONFIG.replace("weight = 0.7", "weight = 1.0"))
    with pytest.raises(ConfigError, match=r"weight must be in \[0, 1\)"):
        TrainConfig.from_toml(bad)
    bad.write_text(CONFIG.replace('"cross_entropy"', '"setfit"'))
    with pytest.raises(ConfigError, match="needs \\[model\\] method = 'cross_entropy'"):
        TrainConfig.from_toml(bad)
    bad.write_text(CONFIG.replace('file = "data/soft/teacher.jsonl"', ""))
    with pytest.raises(ConfigError, match="weight and pool need a soft-label file"):
        TrainConfig.from_toml(bad)
    bad.write_text(CONFIG.replace('"data/pool"', '"data/nowhere"'))
    with pytest.raises(ConfigError, match="is not a folder"):
        soft_labels.pool_files(paths, TrainConfig.from_toml(bad))


def test_check_data_finds_a_pool_text_leaking_into_an_eval_file(tmp_path: Path) -> None:
    paths, config = _project(tmp_path, ["an unrelated eval text!", "something else"])
    report = check(paths, config)
    assert [leak.train_file for leak in report.leaks] == ["pool (pool.jsonl)"]


def test_cli_writes_the_teachers_labels_for_every_training_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`routelet soft-label` labels exactly the texts training will ask for, with progress."""
    import routelet.train

    paths, config = _project(tmp_path, ["fresh pool text"])

    class Teacher:
        def predict_proba(self, texts: list[str]) -> np.ndarray:
            return np.array([_one_hot(len(t) % len(LABELS)) for t in texts])

    monkeypatch.setattr(routelet.train, "load_run", lambda run_dir: Teacher())
    monkeypatch.setenv("ROUTELET_ROOT", str(tmp_path))
    assert main(["soft-label", "--teacher", str(tmp_path / "teacher")]) == 0
    train, calib, _ = build_training_set(paths, config)
    texts, _labels, soft = soft_labels.distillation_set(train, calib, paths, config)
    assert [int(row.argmax()) for row in soft] == [len(t) % len(LABELS) for t in texts]
    out = capsys.readouterr().out
    assert "texts/s" in out and f"wrote {len(set(texts))} soft labels" in out


def test_cli_refuses_a_config_without_soft_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paths, _config = _project(tmp_path, ["x"])
    (paths.configs / "plain.toml").write_text('[model]\nmethod = "cross_entropy"\n')
    monkeypatch.setenv("ROUTELET_ROOT", str(tmp_path))
    code = main(["soft-label", "--teacher", "t", "--config", str(paths.configs / "plain.toml")])
    assert code == 2
    assert "[soft_labels] file is not set" in capsys.readouterr().err


def test_router_gets_the_weight_and_base_model_from_the_config(tmp_path: Path) -> None:
    """`[soft_labels] weight` and `[model] base_model` reach the estimator; a folder that is
    not a sentence-transformers model is refused before any training."""
    from routelet.errors import ModelError
    from routelet.train import base_model_of, make_router

    paths, config = _project(tmp_path, ["x"])
    assert base_model_of(config, paths.root) is None
    (tmp_path / "vendor" / "enc").mkdir(parents=True)
    teacher = TrainConfig(method="cross_entropy", base_model="vendor/enc")
    with pytest.raises(ModelError, match="not a sentence-transformers folder"):
        base_model_of(teacher, paths.root)
    (tmp_path / "vendor" / "enc" / "config.json").write_text("{}")
    base = base_model_of(teacher, paths.root)
    assert base == str(tmp_path / "vendor" / "enc")
    router = make_router(config, base)
    assert (router.distill_weight, router.base_model) == (0.7, base)
