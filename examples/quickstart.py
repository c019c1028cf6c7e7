"""Train a small model, save three versions, find the best, promote it, load it.

Run from the repository root: ``python examples/quickstart.py [STORAGE_PATH]``;
the storage path defaults to ``data/models/registry``, the registry's default.
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from modelshelf import ModelRegistry


def main(storage_path: str) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    registry = ModelRegistry(storage_path)
    print(f"registry at {storage_path}")

    for C in (0.01, 1.0, 100.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
        model.fit(X_train, y_train)
        metrics = {
            "f1": f1_score(y_test, model.predict(X_test)),
            "roc_auc": roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]),
        }
        model_id = registry.save_model(
            model,
            model_name="cancer-clf",
            model_type="LogisticRegression",
            metrics=metrics,
            hyperparameters={"C": C},
            description=f"logistic regression, C={C}",
        )
        print(f"saved id={model_id} f1={metrics['f1']:.4f} roc_auc={metrics['roc_auc']:.4f}")

    for version in registry.get_model_versions("cancer-clf"):
        print(
            f"  {version.reference:<20} f1={version.metrics['f1']:.4f}  stage={version.stage.value}"
        )

    best = registry.get_best_model(metric="f1")
    assert best is not None
    print(f"best by f1: {best.reference}")
    registry.transition_stage(best.model_name, best.version, "Production")
    production = registry.get_production_model("cancer-clf")
    assert production is not None
    print(f"in Production: {production.reference}")

    model = registry.load("cancer-clf/Production").model
    accuracy = (model.predict(X_test) == y_test).mean()
    print(f"loaded {production.reference}; accuracy on the test set {accuracy:.4f}")
    registry.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/models/registry")
