"""Where the project's files live, and the defaults every stage shares.

The one place that knows ``data/``, ``evals/``, ``models/`` and ``runs/``, the shipped
model's name and the default deferral threshold. The root is ``$ROUTELET_ROOT`` when
set, else the nearest ancestor of the current directory holding a ``pyproject.toml``
next to a ``routelet/`` folder, else the current directory. ``Paths`` only names
paths; ``TrainConfig.from_toml`` is the one reader of a training config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Name of the shipped model: its directory under ``models/`` and its run under ``runs/``.
DEFAULT_MODEL_NAME = "routelet-v6"
#: Top probability below which a prediction is a deferral, unless a model says otherwise
#: (the manifest's ``defer_threshold``) or the caller passes one.
DEFAULT_THRESHOLD = 0.5
#: Who answers a ``Router``: its static tier, its encoder, or the cascade of both
#: (``routelet.cascade``).
TIERS = ("static", "encoder", "cascade")


def _find_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "routelet").is_dir():
            return candidate
    return start


@dataclass(frozen=True)
class Paths:
    """Project directories, all derived from one root."""

    root: Path

    @classmethod
    def discover(cls) -> Paths:
        """Build from ``$ROUTELET_ROOT`` or by searching upwards from the working directory."""
        env = os.environ.get("ROUTELET_ROOT")
        root = Path(env) if env else _find_root(Path.cwd().resolve())
        return cls(root=root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def evals(self) -> Path:
        return self.root / "evals"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def configs(self) -> Path:
        return self.root / "configs"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def default_model(self) -> Path:
        return self.models / DEFAULT_MODEL_NAME

    def run_dir(self, name: str = DEFAULT_MODEL_NAME) -> Path:
        """Where ``routelet train`` saves the run of model ``name`` (not created here)."""
        return self.runs / name

    def training_files(self) -> list[Path]:
        """Every labelled training file (``data/*.jsonl``), sorted."""
        return sorted(self.data.glob("*.jsonl"))

    def eval_files(self) -> list[Path]:
        """Every evaluation file (``evals/*.jsonl``), sorted."""
        return sorted(self.evals.glob("*.jsonl"))


_SECTIONS: dict[str, tuple[str, ...]] = {
    "model": ("name", "method", "seed", "max_length", "base_model"),
    "augment": ("augment_copies", "augment_seed"),
    "setfit": ("num_iterations", "num_epochs", "batch_size", "body_learning_rate", "max_steps"),
    "finetune": (
        "ft_epochs",
        "ft_batch_size",
        "ft_body_learning_rate",
        "ft_head_learning_rate",
        "ft_label_smoothing",
        "ft_freeze_embeddings",
        "ft_freeze_layers",
        "ft_num_layers",
    ),
    "head": ("head_c",),
    "calibration": ("calibration_fraction",),
    "runtime": ("defer_threshold",),
    "export": ("smooth_alpha", "smooth_rows", "keep_fp32"),
    "soft_labels": ("soft_labels_file", "soft_labels_weight", "soft_labels_pool"),
}
#: ``[model] method``: SetFit pairs + logistic head, or end-to-end cross-entropy fine-tuning.
TRAIN_METHODS = ("setfit", "cross_entropy")
_ALIASES = {"copies": "augment_copies", "c": "head_c", "fraction": "calibration_fraction"}


@dataclass(frozen=True)
class TrainConfig:
    """Every training hyperparameter and seed; read from a checked-in TOML file.

    The file's sections map to fields: ``[model]``, ``[augment]``, ``[setfit]``,
    ``[finetune]``, ``[head]``, ``[calibration]``, ``[runtime]``, ``[export]``,
    ``[soft_labels]``. Unknown keys are an error.
    """

    name: str = DEFAULT_MODEL_NAME
    method: str = "setfit"  # or "cross_entropy" (routelet.finetune)
    seed: int = 42
    max_length: int = 64
    base_model: str = ""  # local sentence-transformers folder; "" = the packaged MiniLM
    augment_copies: int = 1
    augment_seed: int = 7
    num_iterations: int = 5
    num_epochs: int = 1
    batch_size: int = 16
    body_learning_rate: float = 2e-5
    max_steps: int = -1
    head_c: float = 1.0
    ft_epochs: float = 2.0
    ft_batch_size: int = 32
    ft_body_learning_rate: float = 5e-5
    ft_head_learning_rate: float = 5e-3
    ft_label_smoothing: float = 0.05
    ft_freeze_embeddings: bool = True
    ft_freeze_layers: int = 0
    ft_num_layers: int = 0
    calibration_fraction: float = 0.15
    defer_threshold: float = DEFAULT_THRESHOLD
    smooth_alpha: float = 0.8
    smooth_rows: int = 1000
    keep_fp32: tuple[str, ...] = ()
    soft_labels_file: str = ""  # a teacher's soft labels (routelet.soft_labels); "" = none
    soft_labels_weight: float = 0.0  # weight of the KL term towards them
    soft_labels_pool: tuple[str, ...] = ()  # folders of unlabelled *.jsonl texts

    @classmethod
    def from_toml(cls, path: Path) -> TrainConfig:
        """Parse ``path``; raise ``ConfigError`` naming the file on any unknown or mistyped key."""
        import tomllib

        from routelet.errors import ConfigError

        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML ({exc})") from None
        values: dict[str, object] = {}
        defaults = cls()
        for section, table in raw.items():
            if section not in _SECTIONS or not isinstance(table, dict):
                raise ConfigError(f"{path}: unknown section [{section}]")
            for key, value in table.items():
                field_name = _ALIASES.get(key, key)
                if section == "augment" and key == "seed":
                    field_name = "augment_seed"
                if section == "finetune":
                    field_name = f"ft_{key}"
                if section == "soft_labels":
                    field_name = f"soft_labels_{key}"
                if field_name not in _SECTIONS[section]:
                    raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")
                expected = type(getattr(defaults, field_name))
                if expected is tuple and isinstance(value, list):
                    if not all(isinstance(v, str) for v in value):
                        raise ConfigError(f"{path}: [{section}] {key} must be a list of strings")
                    value = tuple(value)
                if expected is float and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                if type(value) is not expected:
                    raise ConfigError(
                        f"{path}: [{section}] {key} must be {expected.__name__}, got {value!r}"
                    )
                values[field_name] = value
        method = values.get("method", defaults.method)
        if method not in TRAIN_METHODS:
            raise ConfigError(
                f"{path}: [model] method must be one of {TRAIN_METHODS}, got {method!r}"
            )
        weight = values.get("soft_labels_weight", defaults.soft_labels_weight)
        assert isinstance(weight, float)
        if not 0 <= weight < 1:
            raise ConfigError(f"{path}: [soft_labels] weight must be in [0, 1), got {weight}")
        if values.get("soft_labels_file") and method != "cross_entropy":
            raise ConfigError(f"{path}: [soft_labels] needs [model] method = 'cross_entropy'")
        if (weight or values.get("soft_labels_pool")) and not values.get("soft_labels_file"):
            raise ConfigError(f"{path}: [soft_labels] weight and pool need a soft-label file")
        return cls(**values)  # type: ignore[arg-type]
