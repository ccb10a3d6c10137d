"""Monitoring of served models: labels that arrive later, realised performance per version,
window and segment (with disparity between segments), and the endpoint dashboard's series.

Dashboards read the per-minute summaries the gateway's log writer keeps in the database;
realised metrics and prediction distributions read the day-partitioned Parquet log of the
window only.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from passline.core.clock import as_utc, utcnow
from passline.core.roles import Role
from passline.errors import InvalidInput, NotFound
from passline.services.base import BaseService
from passline.store.models import (
    EndpointRow,
    ModelVersionRow,
    PredictionLabelRow,
    PredictionRequestRow,
    PredictionSummaryRow,
    ProjectRow,
)
from passline.store.prediction_log import LATENCY_BUCKETS_MS, read_log

__all__ = ["MonitoringService", "parse_window"]

MAX_LABELS = 50_000
MAX_WINDOW = timedelta(days=400)


def parse_window(window: str | None, default: str = "24h") -> timedelta:
    """``15m``, ``24h``, ``7d`` as a duration."""
    text = (window or default).strip().lower()
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise InvalidInput(f"A window looks like 15m, 24h or 7d. Got {window!r} instead.")
    span = timedelta(**{units[text[-1]]: min(int(text[:-1]), 10**6)})
    if span > MAX_WINDOW:
        raise InvalidInput(f"A window is at most {MAX_WINDOW.days} days. Got {window!r}.")
    return span


class MonitoringService(BaseService):
    # -- labels ---------------------------------------------------------------------------

    def add_labels(self, labels: list[dict[str, Any]], source: str = "api") -> dict[str, Any]:
        """Ground truth by request id: ``{"request_id", "label"}`` (or ``"labels"`` for a
        request of several rows). Unknown request ids are reported, not stored."""
        if not isinstance(labels, list) or not labels:
            raise InvalidInput('Send {"labels": [{"request_id": "req_...", "label": 1}, ...]}.')
        if len(labels) > MAX_LABELS:
            raise InvalidInput(f"Send at most {MAX_LABELS} labels at once. Got {len(labels)}.")
        wanted = {_label_key(item, i): _label_values(item, i) for i, item in enumerate(labels)}
        with self.db.write() as session:
            known = self._requests(session, list(wanted))
            if not known:
                raise NotFound(
                    f"No prediction has request id {next(iter(wanted))!r}"
                    + (f" (nor {len(wanted) - 1} others)." if len(wanted) > 1 else "."),
                    hint="Labels join to the request_id the gateway returned.",
                )
            for request_id, values in wanted.items():
                if request_id in known:
                    session.merge(
                        PredictionLabelRow(
                            request_id=request_id,
                            endpoint_id=known[request_id],
                            labels=values,
                            received_at=utcnow(),
                            source=source,
                        )
                    )
        unknown = sorted(set(wanted) - set(known))
        return {"accepted": len(known), "unknown": unknown[:100], "unknown_count": len(unknown)}

    def labels_from_dataset(
        self, endpoint: str, dataset: str, key: str, label: str, window: str = "30d"
    ) -> dict[str, Any]:
        """Ground truth from a dataset version, joined to the predictions on a business key
        (the ``keys`` a caller sent with its records, such as a transaction id)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self.ws.services(self.ctx).datasets.read(dataset)
        for column in (key, label):
            if column not in table.column_names:
                raise InvalidInput(
                    f"Dataset {dataset} has no column {column!r}.",
                    hint=f"Its columns: {', '.join(table.column_names)}.",
                )
        with self.db.read() as session:
            row = self._endpoint(session, endpoint)
        log = read_log(self.ws.settings.home, row.id, utcnow() - parse_window(window), utcnow())
        log = log.filter(pc.is_valid(log.column("key"))).select(["request_id", "row", "key"])
        if log.num_rows == 0:
            raise NotFound(
                f"No prediction of {endpoint} in the last {window} carries a key.",
                hint='Send keys with the records: {"records": [...], "keys": [...]}.',
            )
        truth = pa.table(
            {"key": pc.cast(table.column(key), pa.string()), "label": table.column(label)}
        )
        joined = log.join(truth, "key", join_type="inner").sort_by(
            [("request_id", "ascending"), ("row", "ascending")]
        )
        grouped = joined.group_by("request_id", use_threads=False).aggregate(
            [("row", "list"), ("label", "list")]
        )
        labels = [
            {"request_id": r, "labels": _spread(rows, values)}
            for r, rows, values in zip(
                grouped.column("request_id").to_pylist(),
                grouped.column("row_list").to_pylist(),
                grouped.column("label_list").to_pylist(),
                strict=True,
            )
        ]
        if not labels:
            return {"accepted": 0, "unknown": [], "unknown_count": 0, "matched_rows": 0}
        result = self.add_labels(labels, source=f"dataset:{dataset}")
        return {**result, "matched_rows": joined.num_rows}

    def _requests(self, session: Any, request_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(request_ids), 500):
            chunk = request_ids[start : start + 500]
            rows = session.execute(
                select(
                    PredictionRequestRow.request_id,
                    PredictionRequestRow.endpoint_id,
                    ProjectRow.name,
                )
                .join(EndpointRow, EndpointRow.id == PredictionRequestRow.endpoint_id)
                .join(ProjectRow, ProjectRow.id == EndpointRow.project_id)
                .where(PredictionRequestRow.request_id.in_(chunk))
            ).all()
            for request_id, endpoint_id, project in rows:
                self._require(session, project, Role.CONTRIBUTOR, "add labels")
                found[request_id] = endpoint_id
        return found

    # -- endpoint lookup ------------------------------------------------------------------

    def _endpoint(self, session: Any, endpoint: str) -> EndpointRow:
        project, _, name = endpoint.partition("/")
        prj = self._require(session, project, Role.VIEWER, "monitor endpoints")
        row = session.execute(
            select(EndpointRow).where(EndpointRow.project_id == prj.id, EndpointRow.name == name)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound(f"Project {project!r} has no endpoint named {name!r}.")
        return row

    # -- dashboard ------------------------------------------------------------------------

    def dashboard(self, endpoint: str, window: str = "1h") -> dict[str, Any]:
        """Per minute and version: requests, error rate, p50/p95/p99 latency (from the
        histogram), plus totals for the window (every call, a shadow's too) and per role."""
        span = parse_window(window)
        since = (utcnow() - span).replace(second=0, microsecond=0)
        with self.db.read() as session:
            row = self._endpoint(session, endpoint)
            summaries = (
                session.execute(
                    select(PredictionSummaryRow)
                    .where(
                        PredictionSummaryRow.endpoint_id == row.id,
                        PredictionSummaryRow.minute >= since,
                    )
                    .order_by(PredictionSummaryRow.minute)
                )
                .scalars()
                .all()
            )
            numbers = dict(
                session.execute(
                    select(ModelVersionRow.id, ModelVersionRow.version).where(
                        ModelVersionRow.model_id == row.model_id
                    )
                ).all()
            )
        series = [_minute(s, numbers) for s in summaries]
        return {
            "endpoint": endpoint,
            "window": window,
            "series": series,
            "totals": _totals(summaries, numbers),
            "roles": {
                role: _totals([s for s in summaries if s.role == role], numbers)
                for role in sorted({s.role for s in summaries})
            },
        }

    def predictions(
        self, endpoint: str, window: str = "24h", limit: int = 100_000, role: str | None = None
    ) -> dict[str, Any]:
        """The prediction distribution in the window (a histogram or category counts) of
        the answers callers got (primary and canary), or of one ``role``."""
        import pyarrow.compute as pc

        with self.db.read() as session:
            row = self._endpoint(session, endpoint)
        log = read_log(self.ws.settings.home, row.id, utcnow() - parse_window(window), utcnow())
        roles = log.column("role")
        log = log.filter(pc.equal(roles, role) if role else pc.not_equal(roles, "shadow"))
        values = [
            json.loads(v) for v in log.column("prediction").to_pylist()[:limit] if v is not None
        ]
        return {"endpoint": endpoint, "rows": len(values), "distribution": _distribution(values)}

    # -- realised performance ---------------------------------------------------------------

    def realised(
        self,
        endpoint: str,
        window: str = "7d",
        segment: str | None = None,
        positive: Any = 1,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        """Metrics from labelled predictions, per version (and per segment value, with the
        ratio between the worst and best segment: a model that treats one group worse).
        ``start`` and ``end`` (ISO 8601) pick a span instead of the last ``window``."""
        since, until = _span(window, start, end)
        with self.db.read() as session:
            row = self._endpoint(session, endpoint)
            numbers = dict(
                session.execute(
                    select(ModelVersionRow.id, ModelVersionRow.version).where(
                        ModelVersionRow.model_id == row.model_id
                    )
                ).all()
            )
            labels = dict(
                session.execute(
                    select(PredictionLabelRow.request_id, PredictionLabelRow.labels)
                    .join(
                        PredictionRequestRow,
                        PredictionRequestRow.request_id == PredictionLabelRow.request_id,
                    )
                    .where(
                        PredictionLabelRow.endpoint_id == row.id,
                        PredictionRequestRow.at >= since,
                        PredictionRequestRow.at < until,
                    )
                ).all()
            )
        log = read_log(self.ws.settings.home, row.id, since, until)
        joined = _join(log, labels, segment)
        if segment and joined and all(i["segment"] == "None" for i in joined):
            raise InvalidInput(
                f"No logged input is named {segment!r}: segment by one of the model's inputs."
            )
        by_version: dict[str, Any] = {}
        for version_id, items in _group(joined, "version").items():
            entry = _metrics(
                [i["prediction"] for i in items], [i["label"] for i in items], positive
            )
            if segment:
                entry["segments"] = {
                    value: _metrics(
                        [i["prediction"] for i in group], [i["label"] for i in group], positive
                    )
                    for value, group in _group(items, "segment").items()
                }
                entry["disparity"] = _disparity(entry["segments"])
            by_version[f"v{numbers.get(version_id, '?')}"] = entry
        return {
            "endpoint": endpoint,
            "window": window,
            "start": since.isoformat(),
            "end": until.isoformat(),
            "labelled_rows": len(joined),
            "versions": by_version,
        }

    def endpoint_id(self, endpoint: str) -> str:
        with self.db.read() as session:
            return self._endpoint(session, endpoint).id


def _span(window: str, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    if start is None:
        now = utcnow()
        return now - parse_window(window), now + timedelta(seconds=1)
    try:
        since = as_utc(datetime.fromisoformat(start))
        until = as_utc(datetime.fromisoformat(end)) if end else utcnow() + timedelta(seconds=1)
    except ValueError:
        raise InvalidInput(
            f"'start' and 'end' are ISO 8601 times. Got {start!r} and {end!r}."
        ) from None
    if until <= since:
        raise InvalidInput("'end' must come after 'start'.")
    return since, until


def _label_key(item: Any, index: int) -> str:
    if not isinstance(item, dict) or not isinstance(item.get("request_id"), str):
        raise InvalidInput(f"Label {index} needs a 'request_id' string.")
    if "label" not in item and "labels" not in item:
        raise InvalidInput(
            f"Label {index} needs 'label' (or 'labels' for a request of several rows)."
        )
    return item["request_id"]


def _label_values(item: dict[str, Any], index: int) -> list[Any]:
    values = item["labels"] if "labels" in item else [item["label"]]
    if not isinstance(values, list):
        raise InvalidInput(f"The 'labels' of label {index} must be a list, one per row.")
    return values


def _spread(rows: list[int], values: list[Any]) -> list[Any]:
    """Labels in row order, with None for a request's rows the dataset did not cover."""
    out: list[Any] = [None] * (max(rows) + 1)
    for index, value in zip(rows, values, strict=True):
        out[index] = value
    return out


def _minute(summary: PredictionSummaryRow, numbers: dict[str, int]) -> dict[str, Any]:
    buckets = summary.latency_buckets or []
    return {
        "minute": as_utc(summary.minute).isoformat(),
        "version": numbers.get(summary.version_id),
        "role": summary.role,
        "requests": summary.requests,
        "errors": summary.errors,
        "error_rate": summary.errors / summary.requests if summary.requests else 0.0,
        "latency_mean_ms": summary.latency_sum_ms / summary.requests if summary.requests else 0.0,
        "p50_ms": _quantile(buckets, 0.5),
        "p95_ms": _quantile(buckets, 0.95),
        "p99_ms": _quantile(buckets, 0.99),
        "max_ms": summary.latency_max_ms,
    }


def _totals(summaries: list[PredictionSummaryRow], numbers: dict[str, int]) -> dict[str, Any]:
    requests = sum(s.requests for s in summaries)
    errors = sum(s.errors for s in summaries)
    buckets = (
        np.sum([s.latency_buckets for s in summaries if s.latency_buckets], axis=0).tolist()
        if summaries
        else []
    )
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else 0.0,
        "p50_ms": _quantile(buckets, 0.5),
        "p95_ms": _quantile(buckets, 0.95),
        "p99_ms": _quantile(buckets, 0.99),
        "versions": sorted(
            {numbers.get(s.version_id) for s in summaries if numbers.get(s.version_id)}
        ),
    }


def _quantile(buckets: list[int], q: float) -> float | None:
    """A latency quantile from the histogram: the upper bound of the bucket it falls in."""
    total = sum(buckets)
    if not total:
        return None
    threshold, running = q * total, 0
    for index, count in enumerate(buckets):
        running += count
        if running >= threshold:
            bounds = (*LATENCY_BUCKETS_MS, float("inf"))
            return (
                float(bounds[index])
                if bounds[index] != float("inf")
                else float(LATENCY_BUCKETS_MS[-1])
            )
    return float(LATENCY_BUCKETS_MS[-1])


def _distribution(values: list[Any]) -> dict[str, Any]:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if numbers and len(numbers) == len(values) and len(set(numbers)) > 10:
        counts, edges = np.histogram(np.asarray(numbers, dtype=float), bins=20)
        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "mean": float(np.mean(numbers)),
        }
    tally: dict[str, int] = {}
    for value in values:
        tally[str(value)] = tally.get(str(value), 0) + 1
    return {
        "kind": "categorical",
        "counts": dict(sorted(tally.items(), key=lambda kv: -kv[1])[:20]),
    }


def _join(log: Any, labels: dict[str, list[Any]], segment: str | None) -> list[dict[str, Any]]:
    """Primary and canary rows that have a label for their row index (shadows excluded)."""
    rows = log.select(
        ["request_id", "row", "version_id", "role", "status", "prediction", "inputs"]
    ).to_pylist()
    out = []
    for item in rows:
        values = labels.get(item["request_id"])
        if (
            values is None
            or item["role"] == "shadow"
            or item["status"] != 200
            or item["row"] >= len(values)
            or values[item["row"]] is None
        ):
            continue
        inputs = json.loads(item["inputs"]) if item["inputs"] else {}
        out.append(
            {
                "version": item["version_id"],
                "prediction": json.loads(item["prediction"]),
                "label": values[item["row"]],
                "segment": str(inputs.get(segment)) if segment else None,
            }
        )
    return out


def _group(items: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    groups: dict[Any, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item[key], []).append(item)
    return groups


def _metrics(predictions: list[Any], labels: list[Any], positive: Any) -> dict[str, Any]:
    if _is_binary(labels) and _is_binary(predictions):
        y = np.array([_as_bool(v, positive) for v in labels])
        p = np.array([_as_bool(v, positive) for v in predictions])
        tp, fp = int((p & y).sum()), int((p & ~y).sum())
        fn, tn = int((~p & y).sum()), int((~p & ~y).sum())
        return {
            "kind": "classification",
            "rows": len(y),
            "accuracy": (tp + tn) / len(y),
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "false_positive_rate": fp / (fp + tn) if fp + tn else None,
            "positives": int(y.sum()),
            "predicted_positives": int(p.sum()),
        }
    y = np.asarray(labels, dtype=float)
    p = np.asarray(predictions, dtype=float)
    error = np.abs(p - y)
    nonzero = y != 0
    return {
        "kind": "regression",
        "rows": len(y),
        "mae": float(error.mean()),
        "mape": float((error[nonzero] / np.abs(y[nonzero])).mean()) if nonzero.any() else None,
    }


def _is_binary(values: list[Any]) -> bool:
    return all(isinstance(v, bool) or v in (0, 1) for v in values)


def _as_bool(value: Any, positive: Any) -> bool:
    return bool(value == positive or value is True)


def _disparity(segments: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """For each metric, worst/best across segments with their names: 1.0 is parity."""
    out: dict[str, Any] = {}
    for metric in ("false_positive_rate", "recall", "precision", "accuracy", "mae"):
        values = {
            k: v.get(metric) for k, v in segments.items() if isinstance(v.get(metric), int | float)
        }
        if len(values) < 2:
            continue
        high, low = max(values, key=values.__getitem__), min(values, key=values.__getitem__)
        out[metric] = {
            "ratio": values[high] / values[low] if values[low] else None,
            "highest": {"segment": high, "value": values[high]},
            "lowest": {"segment": low, "value": values[low]},
        }
    return out
