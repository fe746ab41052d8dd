"""Tests of routelet.config: path discovery and the training config file."""

from pathlib import Path

import pytest

from routelet.config import DEFAULT_MODEL_NAME, Paths, TrainConfig
from routelet.errors import ConfigError


def test_checked_in_config_parses(train_config: TrainConfig) -> None:
    """configs/default.toml names the shipped model and parses without error."""
    assert train_config.name == DEFAULT_MODEL_NAME and 0 < train_config.calibration_fraction < 0.5


def test_finetune_section_maps_to_its_fields(tmp_path: Path) -> None:
    """[finetune] keys land in the ft_* fields, and [model] method selects the trainer."""
    path = tmp_path / "c.toml"
    path.write_text(
        '[model]\nmethod = "cross_entropy"\n[finetune]\nepochs = 3\nfreeze_embeddings = false\n'
        "freeze_layers = 2\nnum_layers = 4\n"
    )
    config = TrainConfig.from_toml(path)
    assert (
        config.method,
        config.ft_epochs,
        config.ft_freeze_embeddings,
        config.ft_freeze_layers,
        config.ft_num_layers,
    ) == ("cross_entropy", 3.0, False, 2, 4)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        pytest.param("[setfit]\nbogus = 1\n", "unknown key", id="unknown-key"),
        pytest.param("[nope]\nx = 1\n", "unknown section", id="unknown-section"),
        pytest.param('[setfit]\nbatch_size = "16"\n', "must be int", id="wrong-type"),
        pytest.param("[setfit\n", "invalid TOML", id="bad-toml"),
        pytest.param('[model]\nmethod = "svm"\n', "method must be one of", id="bad-method"),
        pytest.param("[finetune]\nbatch_size = 1.5\n", "must be int", id="finetune-type"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path: Path, toml: str, message: str) -> None:
    """A bad config file raises ConfigError naming the file."""
    path = tmp_path / "c.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_toml(path)


def test_env_root_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$ROUTELET_ROOT overrides discovery."""
    monkeypatch.setenv("ROUTELET_ROOT", str(tmp_path))
    assert Paths.discover().models == tmp_path / "models"


def test_run_dir_defaults_to_the_shipped_model_name(tmp_path: Path) -> None:
    """Training runs live under runs/, named after the model (the shipped one by default)."""
    paths = Paths(tmp_path)
    assert paths.run_dir() == tmp_path / "runs" / DEFAULT_MODEL_NAME
    assert paths.run_dir("v2") == tmp_path / "runs" / "v2"
