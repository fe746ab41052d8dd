"""Fixtures of the external suite: the skill-package rows, expanded once per session.

The rows come from the installed skill packages (the `external` extra, installed by
`make install-dev`); nothing here writes into the working tree.
"""

from __future__ import annotations

from typing import Any

import pytest

from routelet import external


@pytest.fixture(scope="session")
def mapping() -> external.Mapping:
    """The one mapping table, routelet/external_map.toml."""
    return external.load_mapping()


@pytest.fixture(scope="session")
def expanded(mapping: external.Mapping) -> external.ExternalSet:
    """Every mapped file expanded, before training duplicates are dropped."""
    return external.expand(mapping)


@pytest.fixture(scope="session")
def train_texts(paths, train_config) -> list[str]:  # type: ignore[no-untyped-def]
    """Every text training sees (written rows and their augmentations)."""
    return external.training_texts(paths, train_config)


@pytest.fixture(scope="session")
def external_set(expanded: external.ExternalSet, train_texts: list[str]) -> external.ExternalSet:
    """The scored external set: expanded rows without near-duplicates of training rows."""
    return external.drop_training_leaks(expanded, train_texts)


@pytest.fixture(scope="session")
def external_scores(request: pytest.FixtureRequest, external_set: external.ExternalSet):  # type: ignore[no-untyped-def]
    """``external_scores(router_name) -> summary``, each router scored once per session."""
    from routelet.intents import LABELS

    cache: dict[str, dict[str, Any]] = {}

    def get(router_name: str) -> dict[str, Any]:
        if router_name not in cache:
            router = request.getfixturevalue(
                "shipped_router" if router_name == "onnx" else f"{router_name}_router"
            )
            probs = router.predict_proba([r.text for r in external_set.rows])  # (n, 6)
            predicted = [LABELS[i] for i in probs.argmax(axis=1)]
            cache[router_name] = external.summarize(external_set.rows, predicted)
        return cache[router_name]

    return get
