"""Endpoints, labels, dashboards, monitors and alerts from Python (``client.endpoints``,
``client.monitoring``); predictions themselves go to the gateway (``passline serve``)."""

from __future__ import annotations

from typing import Any

from passline.sdk.tracking import _Namespace
from passline.services.endpoints import Endpoint
from passline.services.monitors import Alert, Monitor

__all__ = ["EndpointsAPI", "MonitoringAPI"]


class EndpointsAPI(_Namespace):
    """A name that serves a model's alias, with an optional canary and shadow version."""

    def list(self, project: str | None = None) -> list[Endpoint]:
        return self._call("endpoints.list", list[Endpoint], project=project)

    def get(self, endpoint: str) -> Endpoint:
        return self._call("endpoints.get", Endpoint, endpoint=endpoint)

    def create(
        self,
        endpoint: str,
        model: str,
        alias: str = "production",
        redact: list[str] | None = None,
    ) -> Endpoint:
        """``endpoint`` is ``project/name``; ``redact`` lists inputs the log must not keep."""
        project, _, name = endpoint.partition("/")
        return self._call(
            "endpoints.create",
            Endpoint,
            project=project,
            name=name,
            model=model,
            alias=alias,
            redact=redact or [],
        )

    def configure(self, endpoint: str, **changes: Any) -> Endpoint:
        """``alias``, ``canary_version``, ``canary_percent``, ``shadow_version``,
        ``clear_canary``, ``clear_shadow``, ``redact``; every gateway sees it within 1 s."""
        return self._call("endpoints.configure", Endpoint, endpoint=endpoint, **changes)

    def canary(self, endpoint: str, version: int, percent: int) -> Endpoint:
        """Send ``percent`` of the traffic to ``version``."""
        return self.configure(endpoint, canary_version=version, canary_percent=percent)

    def shadow(self, endpoint: str, version: int) -> Endpoint:
        """Copy every request to ``version``; its answers are logged, never returned."""
        return self.configure(endpoint, shadow_version=version)


class MonitoringAPI(_Namespace):
    """Labels, realised metrics, dashboards, monitors and alerts."""

    def dashboard(self, endpoint: str, window: str = "1h") -> dict[str, Any]:
        return self._call("monitoring.dashboard", None, endpoint=endpoint, window=window)

    def predictions(self, endpoint: str, window: str = "24h") -> dict[str, Any]:
        return self._call("monitoring.predictions", None, endpoint=endpoint, window=window)

    def performance(
        self,
        endpoint: str,
        window: str = "7d",
        segment: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> dict[str, Any]:
        """Realised metrics per version (and per segment, with disparity ratios); ``start``
        and ``end`` (ISO 8601) pick a span instead of the last ``window``."""
        return self._call(
            "monitoring.realised",
            None,
            endpoint=endpoint,
            window=window,
            segment=segment,
            start=start,
            end=end,
        )

    def add_labels(self, labels: list[dict[str, Any]], source: str = "api") -> dict[str, Any]:
        """``[{"request_id": ..., "label": ...}]``; unknown request ids are reported back."""
        return self._call("monitoring.add_labels", None, labels=labels, source=source)

    def labels_from_dataset(
        self, endpoint: str, dataset: str, key: str, label: str, window: str = "30d"
    ) -> dict[str, Any]:
        """Labels from a dataset version, joined to the keys sent with the predictions."""
        return self._call(
            "monitoring.labels_from_dataset",
            None,
            endpoint=endpoint,
            dataset=dataset,
            key=key,
            label=label,
            window=window,
        )

    def drift(
        self,
        reference: str,
        current: str,
        columns: list[str] | None = None,
        tests: dict[str, Any] | None = None,
        drift_share: float = 0.5,
    ) -> dict[str, Any]:
        """Two dataset versions (``DS@V``) compared from their stored profiles."""
        return self._call(
            "drift.compare",
            None,
            reference=reference,
            current=current,
            columns=columns,
            tests=tests,
            drift_share=drift_share,
        )

    def endpoint_drift(
        self,
        endpoint: str,
        window: str = "24h",
        role: str = "primary",
        reference: str | None = None,
    ) -> dict[str, Any]:
        """An endpoint's traffic against its training data, with prediction drift."""
        return self._call(
            "drift.endpoint_drift",
            None,
            endpoint=endpoint,
            window=window,
            role=role,
            reference=reference,
        )

    def drift_of_file(
        self,
        reference: str,
        path: str,
        columns: list[str] | None = None,
        drift_share: float = 0.5,
    ) -> dict[str, Any]:
        """A local file (CSV, Parquet, JSON lines, Excel) against a dataset version: the file
        is profiled here, in a stream, and compared with the version's stored sketches."""
        from passline.data.connectors import FileConnector
        from passline.data.drift import drift_report
        from passline.data.profile import DatasetProfile

        reference_profile = DatasetProfile.from_dict(
            self._client.datasets.profile_sketches(reference)
        )
        current = None
        for batch in FileConnector(path).batches():
            current = current or DatasetProfile.for_schema(batch.schema)
            current.update(batch)
        if current is None:
            from passline.errors import InvalidInput

            raise InvalidInput(f"{path} has no rows: there is nothing to compare.")
        report = drift_report(reference_profile, current, columns, drift_share=drift_share)
        return {"reference": reference, "current": str(path), **report.to_dict()}

    def monitors(self, project: str | None = None) -> list[Monitor]:
        return self._call("monitors.list", list[Monitor], project=project)

    def add_monitor(
        self, endpoint: str, name: str, metric: str, threshold: float, **options: Any
    ) -> Monitor:
        """``window``, ``role`` (primary|canary), ``min_rows``, ``schedule`` (cron),
        ``action`` (notify|rollback), ``webhook_url``."""
        return self._call(
            "monitors.add",
            Monitor,
            endpoint=endpoint,
            name=name,
            metric=metric,
            threshold=threshold,
            **options,
        )

    def run_monitor(self, monitor: str) -> dict[str, Any]:
        return self._call("monitors.run", None, monitor=monitor)

    def alerts(self, project: str | None = None, limit: int = 100) -> list[Alert]:
        return self._call("monitors.alerts", list[Alert], project=project, limit=limit)
