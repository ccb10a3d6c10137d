"""The data part of ``passline demo``: the retail and fraud scenarios, ingested for real.

Retail pulls sales from a SQLite "ERP" (a saved SQL source), inventory from a CSV drop (a
saved file source on a daily schedule), loyalty members from a paginated JSON API on
loopback, and store-sensor events from a Redis stream (a private redis-server when one is
installed; otherwise the events arrive by HTTP push). A later sales batch, with shifted
buying behaviour, is appended as version 2. Fraud ingests dataset A and dataset B.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from passline.core.entities import DatasetVersion
from passline.data.connectors import HttpJsonConnector, SqlConnector
from passline.data.connectors.memory import TableConnector
from passline.demo_data import (
    fraud_month,
    inventory,
    local_api,
    loyalty_members,
    redis_stream,
    sales,
    sensor_events,
    write_erp,
)
from passline.errors import Conflict, NotFound
from passline.services.ingest import IngestOptions
from passline.services.workspace import Services

__all__ = ["ingest_demo_datasets"]

SALES_CHECKS = """\
expectations:
  - {type: not_null, column: store_id}
  - {type: range, column: units, min: 0, max: 5000}
  - {type: allowed_values, column: channel, values: [store, online]}
  - {type: row_count, min: 1000, level: warning}
"""


def ingest_demo_datasets(svc: Services, home: Path) -> tuple[list[DatasetVersion], list[str]]:
    """Ingest every demo dataset; return the versions made and notes for the summary."""
    folder = home / "demo"
    versions: list[DatasetVersion] = []
    notes: list[str] = []
    versions += _sales(svc, folder)
    versions.append(_inventory(svc, folder))
    versions.append(_loyalty(svc))
    sensors, note = _sensors(svc)
    versions.append(sensors)
    notes.append(note)
    versions += _fraud(svc)
    versions.append(_salaries(svc))
    return versions, notes


def _saved(svc: Services, project: str, name: str, **fields: object) -> None:
    try:
        svc.sources.add(project, name, **fields)  # type: ignore[arg-type]
    except Conflict:
        pass


def _sales(svc: Services, folder: Path) -> list[DatasetVersion]:
    erp = write_erp(folder / "erp.db", sales(range(1, 53)))
    _saved(
        svc,
        "retail-demand",
        "erp-sales",
        kind="sql",
        dataset="sales",
        config={"url": erp, "query": "SELECT * FROM sales ORDER BY week, store_id, sku"},
    )
    first = svc.sources.run("retail-demand", "erp-sales")
    svc.datasets.configure(
        "retail-demand/sales",
        description="Weekly units per store and SKU",
        key=["week", "store_id", "sku"],
        expectations=SALES_CHECKS,
        tags=["erp", "forecasting"],
    )
    # Weeks 53-60 arrive later, with shifted buying behaviour: appended as version 2.
    _append_to_erp(folder / "erp.db", sales(range(53, 61), seed=9, shifted=True))
    later = svc.ingest.ingest(
        "retail-demand/sales",
        SqlConnector(erp, "SELECT * FROM sales WHERE week > 52 ORDER BY week, store_id, sku"),
        IngestOptions(mode="append"),
    )
    return [first, later]


def _append_to_erp(path: Path, table: object) -> None:
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM sales WHERE week > 52")
        columns = table.column_names  # type: ignore[attr-defined]
        rows = zip(*(table.column(c).to_pylist() for c in columns), strict=True)  # type: ignore[attr-defined]
        db.executemany("INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _inventory(svc: Services, folder: Path) -> DatasetVersion:
    path = inventory(folder / "drops" / "inventory.csv")
    _saved(
        svc,
        "retail-demand",
        "inventory-drop",
        kind="file",
        dataset="inventory",
        config={"path": str(path)},
        schedule="0 6 * * *",
    )
    return svc.sources.run("retail-demand", "inventory-drop")


def _loyalty(svc: Services) -> DatasetVersion:
    with local_api(loyalty_members()) as url:
        connector = HttpJsonConnector(url, records_path="data", pagination="page", page_size=100)
        version = svc.ingest.ingest("retail-demand/loyalty", connector)
    if svc.datasets.get("retail-demand/loyalty").sensitivity != "confidential":
        svc.datasets.tag_column("retail-demand/loyalty", "email", ["pii", "email"])
        svc.datasets.set_sensitivity(
            "retail-demand/loyalty", "confidential", reason="member emails (PII scan)"
        )
    return version


def _sensors(svc: Services) -> tuple[DatasetVersion, str]:
    events = sensor_events()
    try:
        with redis_stream(events) as url:
            if url is not None:
                from passline.data.connectors import RedisStreamConnector

                connector = RedisStreamConnector(
                    url,
                    "store-sensors",
                    "passline",
                    "demo",
                    batch_size=200,
                    block_ms=200,
                    after_id=_last_stream_id(svc),
                )
                version = svc.ingest.ingest(
                    "retail-demand/sensor-events", connector, IngestOptions(mode="append")
                )
                return version, "sensor events: read from a Redis stream (consumer group)"
    except ModuleNotFoundError:
        pass
    connector = TableConnector(events, label="http push (no redis-server installed)")
    version = svc.ingest.ingest(
        "retail-demand/sensor-events", connector, IngestOptions(mode="append")
    )
    return version, "sensor events: pushed over HTTP (install redis-server for the stream path)"


def _last_stream_id(svc: Services) -> str | None:
    """The newest message id already stored: at-least-once delivery, made idempotent."""
    try:
        return svc.datasets.version("retail-demand/sensor-events").cursor.get("last_id")
    except NotFound:
        return None


def _fraud(svc: Services) -> list[DatasetVersion]:
    ref = "fraud-detection/transactions"
    a = svc.ingest.ingest(
        ref, TableConnector(fraud_month("2026-10", 21, False), label="card switch, Oct")
    )
    b = svc.ingest.ingest(
        ref, TableConnector(fraud_month("2026-11", 22, True), label="card switch, Nov")
    )
    svc.datasets.configure(
        ref,
        description="Card transactions: dataset A (Oct) and B (Nov)",
        key=["txn_id"],
        tags=["cards"],
    )
    return [a, b]


def _salaries(svc: Services) -> DatasetVersion:
    ref = "hr-assistant/salaries"
    rows = [
        {"employee": f"E{i:03d}", "grade": g, "salary_eur": s}
        for i, (g, s) in enumerate([("G3", 41000), ("G4", 48500), ("G5", 57000), ("G6", 69000)])
    ]
    version = svc.ingest.ingest(ref, TableConnector(rows, label="HRIS export"))
    if svc.datasets.get(ref).sensitivity != "restricted":
        svc.datasets.set_sensitivity(ref, "restricted", reason="salaries: HR only")
        svc.datasets.grant(ref, "bob", reason="HR approver for the assistant's rollout")
    return version
