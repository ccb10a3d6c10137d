"""Prometheus metrics of the gateway: requests, errors and latency per model version.

One worker keeps its counters in memory. ``passline serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so each writes its counters to files
there and ``/metrics``, whichever worker answers, reports the sum over all of them
(prometheus_client's multiprocess mode). Replicas on other machines are scraped one by one.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

__all__ = ["GatewayMetrics"]

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("model", "version", "role")
        self.requests = Counter(
            "passline_requests", "Prediction requests", (*labels, "status"), registry=self.registry
        )
        self.errors = Counter(
            "passline_errors",
            "Prediction requests that failed in the model",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "passline_latency_seconds",
            "Time in the model and its logging",
            labels,
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe(self, model: str, version: int, role: str, status: int, seconds: float) -> None:
        values = (model, str(version), role)
        self.requests.labels(*values, str(status)).inc()
        if status >= 500:
            self.errors.labels(*values).inc()
        self.latency.labels(*values).observe(seconds)

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
