"""Predicting with a version as it was saved: check the input against its
signature, run its preprocessing steps in order, then the model.

The same path runs when a version is saved with an input example (to infer
what the model gives) and when a loaded version predicts, so a pipeline
that works at save time works the same way after loading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelshelf.errors import InvalidMetadataError, PredictionError
from modelshelf.signatures import prepare_input

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from modelshelf.signatures import Signature

PREDICT_METHODS = ("predict", "predict_proba")


def check_steps(steps: Sequence[str], artifacts: Mapping[str, Any]) -> None:
    """Refuse, before anything is written, a step that is no artifact or cannot transform."""
    for step in steps:
        if step not in artifacts:
            known = ", ".join(sorted(artifacts)) or "none"
            raise InvalidMetadataError(
                "preprocessing",
                f"step {step!r} is not one of the artifacts saved with the model ({known}); "
                "pass it in artifacts= as well",
            )
        if not callable(getattr(artifacts[step], "transform", None)):
            raise InvalidMetadataError(
                "preprocessing",
                f"step {step!r} ({type(artifacts[step]).__name__}) has no transform method; "
                "a preprocessing step is a fitted transformer",
            )


def _fit_form(estimator: Any, data: Any) -> Any:
    """A DataFrame in the form the estimator was fitted on.

    scikit-learn estimators record the column names they were fitted with
    (``feature_names_in_``); one fitted on an array warns when given named
    columns, and the check already put them in the fitted order.
    """
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if not (type(data).__name__ == "DataFrame" and type(data).__module__.startswith("pandas")):
        # Bare rows (JSON lists, arrays) for an estimator fitted on a named table:
        # name them as it was fitted, so it checks them without warning.
        shape: tuple[int, ...] = getattr(data, "shape", ())
        if fitted_names is not None and len(shape) == 2 and shape[1] == len(fitted_names):
            import pandas as pd

            return pd.DataFrame(data, columns=list(fitted_names))
        return data
    if fitted_names is None:
        return data.to_numpy() if hasattr(estimator, "n_features_in_") else data
    # Without a signature nothing has ordered the columns yet: named input (a
    # JSON record, a CSV) reaches an estimator fitted on a named table in that
    # table's order, when every column is there (else the estimator names them).
    names = list(fitted_names)
    if list(data.columns) != names and set(names) <= set(data.columns):
        return data[names]
    return data


def run(
    *,
    reference: str,
    model: Any,
    artifacts: Mapping[str, Any],
    signature: Signature | None,
    steps: Sequence[str],
    data: Any,
    method: str,
) -> Any:
    """``method`` of the model on ``data``, after the signature check and every step.

    :raises SchemaError: the input does not match the signature.
    :raises PredictionError: the model has no ``method``, or it or a step
        refused the input (the original error is chained).
    """
    if method not in PREDICT_METHODS:
        raise PredictionError(reference, "model", method, f"unknown method {method!r}")
    predict = getattr(model, method, None)
    if not callable(predict):
        hint = (
            "; only classifiers that estimate probabilities have it"
            if method == "predict_proba"
            else ""
        )
        raise PredictionError(
            reference, "model", method, f"the model ({type(model).__name__}) has no {method}{hint}"
        )
    if signature is not None:
        data = prepare_input(signature.inputs, data)
    for step in steps:
        transformer = artifacts.get(step)
        if transformer is None or not callable(getattr(transformer, "transform", None)):
            raise PredictionError(
                reference,
                step,
                "transform",
                f"preprocessing step {step!r} is not a loaded artifact with a transform method",
            )
        try:
            data = transformer.transform(_fit_form(transformer, data))
        except (ValueError, TypeError) as exc:
            raise PredictionError(
                reference,
                step,
                "transform",
                f"preprocessing step {step!r} refused the input: {type(exc).__name__}: {exc}",
            ) from exc
    try:
        return predict(_fit_form(model, data))
    except (ValueError, TypeError) as exc:
        raise PredictionError(
            reference,
            "model",
            method,
            f"the model's {method} refused the input: {type(exc).__name__}: {exc}",
        ) from exc
