"""TF-IDF baseline: word 1-2-grams + char 2-5-grams into a class-balanced logistic regression.

The floor every report shows: if the fine-tuned router cannot beat this by a clear
margin, the encoder is not earning its latency. scikit-learn estimator contract;
``predict_proba`` columns follow ``classes_`` = ``LABELS``. Texts go through the same
``preprocess`` as every other router. Needs scikit-learn (the ``baseline`` extra).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from routelet.config import Paths, TrainConfig
from routelet.intents import LABELS
from routelet.preprocess import preprocess


class TfidfRouter:
    """Word + character TF-IDF features and a logistic-regression classifier."""

    def __init__(self, c: float = 10.0, seed: int = 0) -> None:
        self.c = c
        self.seed = seed

    def fit(self, texts: list[str], labels: list[str]) -> TfidfRouter:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline

        features = FeatureUnion(
            [
                ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
                (
                    "char",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                ),
            ]
        )
        classifier = LogisticRegression(
            C=self.c, class_weight="balanced", max_iter=3000, random_state=self.seed
        )
        y = np.array([LABELS.index(label) for label in labels])
        self.pipeline_ = make_pipeline(features, classifier).fit([preprocess(t) for t in texts], y)
        if list(self.pipeline_.classes_) != list(range(len(LABELS))):
            raise ValueError("training data must contain every label")
        self.classes_ = np.array(LABELS)
        return self

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        if not texts:
            return np.zeros((0, len(LABELS)))
        return np.asarray(self.pipeline_.predict_proba([preprocess(t) for t in texts]))

    def predict(self, texts: list[str]) -> NDArray[np.str_]:
        return self.classes_[self.predict_proba(texts).argmax(axis=1)]


def fit_floor(paths: Paths, config: TrainConfig) -> TfidfRouter:
    """The floor, fitted on the rows SetFit trains on (minus calibration, plus augmented)."""
    from routelet.dataset import build_training_set

    train, _calib, _files = build_training_set(paths, config)
    return TfidfRouter().fit([ex.text for ex in train], [ex.intent.value for ex in train])
