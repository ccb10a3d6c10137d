"""Drift reports on stored data: datasets against datasets, served traffic against training.

The reference is a dataset version's stored profile (its sketches: the rows are never
re-read), by default the training data of the version an endpoint serves, found through
the version's lineage. The current side is another version's profile, a table the caller
holds, or a window of an endpoint's prediction log (read once per report, only the days
the window covers and only the ``inputs`` and ``prediction`` columns).

Prediction drift compares the window's predictions with the model's predictions on (a
sample of) its training data, computed once per version and process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from passline.core.clock import utcnow
from passline.data.drift import drift_report
from passline.data.profile import DatasetProfile
from passline.errors import InvalidInput, NotFound
from passline.services.base import BaseService
from passline.services.monitoring import parse_window
from passline.store.prediction_log import read_log

__all__ = ["DriftService"]

PREDICTION_SAMPLE = 20_000
_REFERENCE_PREDICTIONS: OrderedDict[str, pa.Array] = OrderedDict()
_LOCK = threading.Lock()


class DriftService(BaseService):
    def compare(
        self,
        reference: str,
        current: str | pa.Table,
        columns: list[str] | None = None,
        tests: dict[str, Any] | None = None,
        drift_share: float = 0.5,
    ) -> dict[str, Any]:
        """``reference`` is a dataset version (``DS@V``); ``current`` another one, or a table."""
        ref_profile = self._profile(reference)
        if isinstance(current, str):
            current_side: Any = self._profile(current)
            label = current
        else:
            current_side, label = current, f"table of {current.num_rows:,} rows"
        report = drift_report(ref_profile, current_side, columns, tests, drift_share=drift_share)
        return {"reference": reference, "current": label, **report.to_dict()}

    def endpoint_drift(
        self,
        endpoint: str,
        window: str = "24h",
        role: str = "primary",
        reference: str | None = None,
        columns: list[str] | None = None,
        drift_share: float = 0.5,
    ) -> dict[str, Any]:
        """The endpoint's inputs over the last ``window`` against the serving version's
        training data (or ``reference``), plus prediction drift."""
        svc = self.ws.services(self.ctx)
        info = svc.endpoints.get(endpoint)
        version = (
            svc.registry.version(info.model, info.canary_version)
            if role == "canary" and info.canary_version
            else svc.registry.version(info.model, info.alias)
        )
        reference = reference or (version.dataset_versions[0] if version.dataset_versions else None)
        if reference is None:
            raise NotFound(
                f"{version.label} has no training dataset in its lineage to compare with.",
                hint="Name a reference dataset version (project/name@vN) to compare with.",
            )
        inputs, predictions = self._window(info.id, window, role, version.version)
        base = {
            "endpoint": endpoint,
            "window": window,
            "role": role,
            "version": version.version,
            "reference": reference,
            "rows": inputs.num_rows,
        }
        if inputs.num_rows == 0:
            return {
                **base,
                "columns": {},
                "drift_share": 0.0,
                "drifted": False,
                "message": f"No {role} traffic in the last {window}.",
            }
        # Redacted inputs are logged as '***': comparing them would only measure the mask.
        names = (
            columns
            or [
                c["name"]
                for c in version.signature.get("inputs", [])
                if c["name"] not in info.redact
            ]
            or None
        )
        report = drift_report(self._profile(reference), inputs, names, drift_share=drift_share)
        return {
            **base,
            **report.to_dict(),
            "prediction": self._prediction_drift(svc, version, reference, predictions),
        }

    # -- reading ----------------------------------------------------------------------------

    def _profile(self, ref: str) -> DatasetProfile:
        if "@" not in ref:
            raise InvalidInput(f"Name a dataset version as project/name@vN. Got {ref!r}.")
        return DatasetProfile.from_dict(self.ws.services(self.ctx).datasets.profile_sketches(ref))

    def _window(
        self, endpoint_id: str, window: str, role: str, version: int
    ) -> tuple[pa.Table, pa.Array]:
        """The window's inputs as a typed table (parsed by Arrow's JSON reader, in C++) and
        its predictions, for the rows the role's version answered."""
        import pyarrow.json as pajson

        now = utcnow()
        log = read_log(self.ws.settings.home, endpoint_id, now - parse_window(window), now)
        keep = pc.and_(pc.equal(log.column("role"), role), pc.equal(log.column("status"), 200))
        keep = pc.and_(keep, pc.equal(log.column("version"), version))
        rows = log.filter(keep).select(["inputs", "prediction"])
        rows = rows.filter(pc.is_valid(rows.column("inputs")))
        if rows.num_rows == 0:
            return pa.table({}), pa.array([], pa.float64())
        inputs = pajson.read_json(pa.BufferReader(_lines(rows.column("inputs"))))
        predictions = pajson.read_json(
            pa.BufferReader(
                _lines(pc.binary_join_element_wise('{"p":', rows.column("prediction"), "}", ""))
            )
        ).column("p")
        return inputs, predictions

    def _prediction_drift(
        self, svc: Any, version: Any, reference: str, predictions: Any
    ) -> dict[str, Any]:
        try:
            baseline = self._reference_predictions(svc, version, reference)
        except Exception as exc:  # noqa: BLE001 - a model that cannot predict its own data
            return {"status": "unavailable", "message": f"{type(exc).__name__}: {exc}"}
        report = drift_report(
            pa.table({"prediction": baseline}),
            pa.table(
                {
                    "prediction": pc.cast(predictions, baseline.type)
                    if predictions.type != baseline.type
                    else predictions
                }
            ),
        )
        column = report.to_dict()["columns"]["prediction"]
        return {
            "status": column["status"],
            "test": column["test"],
            "score": column["statistic"],
            "p_value": column["p_value"],
            "drifted": column["drifted"],
            "distribution": column.get("distribution"),
        }

    def _reference_predictions(self, svc: Any, version: Any, reference: str) -> pa.Array:
        key = f"{version.id}|{reference}"
        with _LOCK:
            if key in _REFERENCE_PREDICTIONS:
                return _REFERENCE_PREDICTIONS[key]
        from passline.services.model_loading import to_model_input

        table = svc.datasets.read(reference)
        if table.num_rows > PREDICTION_SAMPLE:
            table = table.take(
                pa.array(range(0, table.num_rows, table.num_rows // PREDICTION_SAMPLE))
            )
        inputs = [c["name"] for c in version.signature.get("inputs", [])]
        model = svc.registry.load(version.model, version.version)
        values = pa.array(model.predict(to_model_input(table.select(inputs), model)))
        if pa.types.is_integer(values.type) or pa.types.is_boolean(values.type):
            values = pc.cast(values, pa.int64())
        with _LOCK:
            _REFERENCE_PREDICTIONS[key] = values
            while len(_REFERENCE_PREDICTIONS) > 16:
                _REFERENCE_PREDICTIONS.popitem(last=False)
        return values


def _lines(strings: pa.ChunkedArray | pa.Array) -> pa.Buffer:
    """Newline-joined JSON documents, joined in Arrow (no Python loop over rows)."""
    flat = strings.combine_chunks() if isinstance(strings, pa.ChunkedArray) else strings
    one_list = pa.ListArray.from_arrays(pa.array([0, len(flat)], pa.int32()), flat)
    return pa.py_buffer(pc.binary_join(one_list, "\n")[0].as_py().encode())
