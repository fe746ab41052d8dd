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

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from routelet.config import DEFAULT_THRESHOLD, Paths, TrainConfig

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


@pytest.fixture(scope="session")
def shipped_router(paths: Paths):  # type: ignore[no-untyped-def]
    """The shipped model (``Paths.default_model``), loaded once (torch-free runtime)."""
    from routelet.runtime import Router

    return Router.load(paths.default_model)


@pytest.fixture(scope="session")
def tfidf_router(paths: Paths, train_config: TrainConfig):  # type: ignore[no-untyped-def]
    """The TF-IDF floor, fitted once on the same rows SetFit trains on."""
    from routelet.baseline import fit_floor

    return fit_floor(paths, train_config)


@pytest.fixture(scope="session")
def scores(request: pytest.FixtureRequest, paths: Paths):  # type: ignore[no-untyped-def]
    """``scores(router_name, eval_stem) -> Metrics``, each pair computed once per session."""
    from routelet.evaluate import evaluate_file

    cache: dict[tuple[str, str], object] = {}

    def get(router_name: str, stem: str):  # type: ignore[no-untyped-def]
        key = (router_name, stem)
        if key not in cache:
            router = request.getfixturevalue(
                "shipped_router" if router_name == "onnx" else f"{router_name}_router"
            )
            threshold = getattr(router, "threshold", DEFAULT_THRESHOLD)
            cache[key] = evaluate_file(router, paths.evals / f"{stem}.jsonl", threshold)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, paths: Paths):  # type: ignore[no-untyped-def]
    """A tiny router trained once from fixtures/tiny_train.jsonl by the shipping method
    (cross-entropy fine-tuning; seeded, < 1 min on CPU).

    Returns ``(router, run_dir)``; the run directory is laid out like ``routelet train``'s.
    """
    pytest.importorskip("sentence_transformers", reason="the tiny model needs the train extra")
    from routelet.config import TrainConfig
    from routelet.data import load_jsonl
    from routelet.finetune import FineTunedRouter

    shipped = TrainConfig.from_toml(paths.configs / "default.toml")
    rows = load_jsonl(ROOT / "fixtures" / "tiny_train.jsonl")
    router = FineTunedRouter(
        epochs=4,
        batch_size=16,
        max_length=32,
        num_layers=shipped.ft_num_layers,  # the shipped encoder's depth (timing compares them)
        seed=3,
        show_progress_bar=False,
    ).fit([r.text for r in rows], [r.intent.value for r in rows])
    router.calibrate([r.text for r in rows[::3]], [r.intent.value for r in rows[::3]])
    run_dir = tmp_path_factory.mktemp("tiny_run")
    router.save(run_dir)
    (run_dir / "config.toml").write_bytes((paths.configs / "default.toml").read_bytes())
    return router, run_dir


@pytest.fixture(scope="session")
def tiny_onnx(tiny_run, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The tiny router exported through the shipping export code: ``(fp32, int8)`` routers."""
    from routelet.data import load_jsonl
    from routelet.export import export_onnx_fp32, head_payload, onnx_router
    from routelet.quantize import quantize_int8

    router, run_dir = tiny_run
    out = tmp_path_factory.mktemp("tiny_onnx")
    fp32_path = export_onnx_fp32(run_dir / router.encoder_dir, out)
    tokenizer = run_dir / router.encoder_dir / "tokenizer.json"
    texts = [r.text for r in load_jsonl(ROOT / "fixtures" / "tiny_train.jsonl")]
    int8_path = quantize_int8(
        fp32_path, out / "model.onnx", tokenizer, texts, max_length=router.max_length
    )
    head = head_payload(router)
    return onnx_router(fp32_path, tokenizer, head), onnx_router(int8_path, tokenizer, head)


@pytest.fixture(scope="session")
def encoder_only_model_dir(paths: Paths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model without its static tier (files and manifest entries removed)."""
    import json
    import shutil

    from routelet.static_tier import STATIC_ARTIFACTS

    out = tmp_path_factory.mktemp("encoder_only") / "model"
    shutil.copytree(paths.default_model, out, ignore=shutil.ignore_patterns(*STATIC_ARTIFACTS))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for name in STATIC_ARTIFACTS:
        manifest["artifacts"].pop(name, None)
    manifest.pop("static_tier", None)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def static_model_dir(paths: Paths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model plus a synthetic static tier (seeded random int8 rows and head).

    Torch-free and quick: it tests the static runtime and the cascade, not distillation.
    ``tau`` is the median static confidence on holdout, so the cascade answers about half
    of those rows from each tier.
    """
    import shutil

    import numpy as np
    from tokenizers import Tokenizer

    from routelet.data import load_jsonl
    from routelet.distill import write_static_tier
    from routelet.intents import LABELS
    from routelet.static_tier import StaticTier

    out = tmp_path_factory.mktemp("static_model") / "model"
    shutil.copytree(paths.default_model, out)
    tokenizer_json = (out / "tokenizer.json").read_text(encoding="utf-8")
    rng = np.random.default_rng(0)
    vocab = Tokenizer.from_str(tokenizer_json).get_vocab_size()
    vectors = rng.integers(-127, 128, size=(vocab, 16), dtype=np.int8)  # (V, 16)
    scales = rng.uniform(0.5, 1.5, size=vocab).astype(np.float32)  # (V,)
    head = {
        "labels": list(LABELS),
        "coef": (rng.normal(size=(len(LABELS), 16)) * 4).tolist(),
        "intercept": [0.0] * len(LABELS),
        "temperature": 1.0,
        "tau": 0.5,
        "max_tokens": 512,
        "max_chars": 3584,
        "unk_id": None,
    }
    tier = StaticTier(
        Tokenizer.from_str(tokenizer_json),
        vectors * scales[:, None],
        coef=np.asarray(head["coef"]),
        intercept=np.zeros(len(LABELS)),
        temperature=1.0,
        tau=0.5,
    )
    texts = [ex.text for ex in load_jsonl(paths.evals / "holdout.jsonl")]
    head["tau"] = float(np.median(tier.predict_proba(texts).max(axis=1)))
    write_static_tier(out, tokenizer_json, vectors, scales, head, {"synthetic": True})
    return out
