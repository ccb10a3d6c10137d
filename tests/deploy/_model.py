"""A picklable model the gateway replicas can import (``tests.deploy._model``)."""

from __future__ import annotations

from typing import Any

SIGNATURE = {"inputs": [{"name": "x", "type": "double"}], "outputs": []}


class Doubler:
    """Predicts twice the ``x`` column; stands in for a trained model."""

    def predict(self, frame: Any) -> list[float]:
        column = frame["x"]
        values = column.to_pylist() if hasattr(column, "to_pylist") else list(column)
        return [2.0 * float(v) for v in values]

    def predict_table(self, table: Any) -> list[float]:
        """The gateway hands models with this method its Arrow table as is."""
        return self.predict(table)
