"""Steps and pipelines the tests run: a small retraining pipeline on project retail."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa

from passline.pipelines import Dataset, Metrics, Model, Pipeline, step


@step
def features(sales: Dataset) -> Dataset:
    import pyarrow.compute as pc

    return sales.append_column("price_sq", pc.multiply(sales["price"], sales["price"]))


@step(retries=2)
def train(features: Dataset, alpha: float = 1.0, fail: bool = False) -> Model:
    from sklearn.linear_model import Ridge

    if fail:
        raise RuntimeError("the training data has no rows for week 53")
    frame = features.to_pandas()
    return Ridge(alpha=alpha).fit(frame[["price", "price_sq"]], frame["units"])


@step
def evaluate(train: Model, features: Dataset) -> Metrics:
    frame = features.to_pandas()
    predicted = train.predict(frame[["price", "price_sq"]])
    return {"mae": float(abs(predicted - frame["units"]).mean()), "rows": len(frame)}


def retrain(**extra: object) -> Pipeline:
    fields: dict[str, object] = {
        "steps": [features, train, evaluate],
        "inputs": {"sales": "retail/sales"},
        "register": {"train": "retail/demand"},
        **extra,
    }
    return Pipeline("retrain", project="retail", **fields)  # type: ignore[arg-type]


@step
def loop_a(loop_b: Dataset) -> Dataset:
    return loop_b


@step
def loop_b(loop_a: Dataset) -> Dataset:
    return loop_a


@step
def start() -> Dataset:
    return pa.table({"x": [1, 2, 3]})


@step
def not_a_table(start: Dataset) -> Dataset:
    return {"x": [1, 2, 3]}  # type: ignore[return-value]


@step(retries=3)
def flaky(start: Dataset, marker: str = "") -> Dataset:
    """Fails until it has been tried twice (the marker file counts the attempts)."""
    path = Path(marker)
    tries = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(tries))
    if tries < 2:
        raise ConnectionError("the feature store timed out")
    return start


@step(timeout_s=1)
def slow(start: Dataset) -> Dataset:
    time.sleep(30)
    return start


RETRAIN = retrain(source="tests.pipelines.steps:RETRAIN")
