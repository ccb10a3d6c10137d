"""Autologging for scikit-learn: every top-level ``fit`` inside the block is recorded.

    >>> with pl.start_run("retail-demand/forecast") as run:
    ...     with autolog(run, dataset="retail-demand/sales@v1"):
    ...         model = Pipeline([...]).fit(X, y)

For each outermost ``fit`` (a pipeline's inner fits are not logged twice): the estimator's
parameters, its training score (``score(X, y)``) and, when ``X_test``/``y_test`` are given to
:func:`autolog`, its test score, the fitted model (``model/`` under the run, or
``model-2/``... for later fits), and the training dataset version as the run's input.
The ``fit`` methods are patched on entry and restored on exit, even on error.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from passline.errors import MissingExtra
from passline.sdk.tracking import ActiveRun

__all__ = ["autolog"]

_depth = threading.local()


@contextmanager
def autolog(
    run: ActiveRun,
    dataset: str | None = None,
    X_test: Any = None,
    y_test: Any = None,
    log_models: bool = True,
) -> Iterator[list[Any]]:
    """Patch scikit-learn's estimators for the duration of the block; yields the fitted ones."""
    try:
        from sklearn.utils import all_estimators
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("sklearn", "Autologging scikit-learn") from None
    fitted: list[Any] = []
    state = {"input_logged": False}
    originals = {}
    for _, cls in all_estimators():
        if "fit" in vars(cls):
            originals[cls] = vars(cls)["fit"]
            cls.fit = _wrap(
                vars(cls)["fit"], run, dataset, X_test, y_test, log_models, fitted, state
            )
    try:
        yield fitted
    finally:
        for cls, fit in originals.items():
            cls.fit = fit


def _wrap(
    fit: Any,
    run: ActiveRun,
    dataset: str | None,
    X_test: Any,
    y_test: Any,
    log_models: bool,
    fitted: list[Any],
    state: dict[str, bool],
) -> Any:
    @functools.wraps(fit)
    def patched(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        # fit(X, y), fit(X) and fit(y) (LabelEncoder) all exist: pass arguments through.
        _depth.value = getattr(_depth, "value", 0) + 1
        try:
            result = fit(estimator, *args, **kwargs)
        finally:
            _depth.value -= 1
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if _depth.value == 0:  # the outermost fit: a pipeline, not each of its steps
            _record(run, estimator, X, y, dataset, X_test, y_test, log_models, fitted, state)
        return result

    return patched


def _record(
    run: ActiveRun,
    estimator: Any,
    X: Any,
    y: Any,
    dataset: str | None,
    X_test: Any,
    y_test: Any,
    log_models: bool,
    fitted: list[Any],
    state: dict[str, bool],
) -> None:
    fitted.append(estimator)
    prefix = "" if len(fitted) == 1 else f"fit{len(fitted)}."
    params = {f"{prefix}{k}": _short(v) for k, v in estimator.get_params(deep=False).items()}
    run.log_params({**params, f"{prefix}estimator": type(estimator).__name__})
    metrics = {}
    if y is not None and hasattr(estimator, "score"):
        metrics[f"{prefix}training_score"] = float(estimator.score(X, y))
    if X_test is not None and y_test is not None and hasattr(estimator, "score"):
        metrics[f"{prefix}test_score"] = float(estimator.score(X_test, y_test))
    if metrics:
        run.log_metrics(metrics)
    if dataset and not state["input_logged"]:
        run.log_input(dataset)
        state["input_logged"] = True
    if log_models:
        run.log_model(estimator, name="model" if len(fitted) == 1 else f"model-{len(fitted)}")


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 500 else text[:497] + "..."
