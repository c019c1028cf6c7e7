"""Small fitted models for tests: real scikit-learn estimators, built once.

Each builder is cached, so a whole test session fits each model once (well
under a second on the iris data). ``assert_equivalent`` says whether a
loaded object behaves like the one that was saved, which is what a
serializer round trip must preserve.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@functools.cache
def iris() -> tuple[np.ndarray, np.ndarray]:
    """The iris data set (150 samples, 4 features, 3 classes)."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, y


@functools.cache
def logistic_regression() -> Any:
    """A fitted ``LogisticRegression`` on iris."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    return LogisticRegression(max_iter=1000).fit(X, y)


@functools.cache
def random_forest() -> Any:
    """A fitted five-tree ``RandomForestClassifier`` on iris (an ensemble)."""
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris()
    return RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)


@functools.cache
def pipeline() -> Any:
    """A fitted scaler + logistic regression ``Pipeline`` on iris."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = iris()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


def example_models() -> dict[str, Any]:
    """Common kinds of objects a registry stores, by label."""
    import numpy as np

    return {
        "logistic_regression": logistic_regression(),
        "random_forest": random_forest(),
        "pipeline": pipeline(),
        "ndarray": np.arange(12, dtype=np.float32).reshape(3, 4),
        "dict": {"weights": [0.25, 0.5], "bias": -1.0, "labels": ["a", "b"], "nested": {"k": 1}},
    }


def assert_equivalent(original: Any, loaded: Any) -> None:
    """Fail unless ``loaded`` is a faithful copy of ``original``."""
    import numpy as np

    assert type(loaded) is type(original), (type(loaded), type(original))
    if isinstance(original, np.ndarray):
        assert loaded.dtype == original.dtype
        assert np.array_equal(loaded, original)
    elif hasattr(original, "predict"):
        X, _ = iris()
        assert np.array_equal(loaded.predict(X), original.predict(X))
        if hasattr(original, "predict_proba"):
            assert np.allclose(loaded.predict_proba(X), original.predict_proba(X))
        assert loaded.get_params().keys() == original.get_params().keys()
    else:
        assert loaded == original


__all__ = [
    "assert_equivalent",
    "example_models",
    "iris",
    "logistic_regression",
    "pipeline",
    "random_forest",
]
