"""Synthetic, realistic data for ``passline demo``, generated with NumPy (no loops over rows).

Retail: weekly sales per store and SKU with yearly seasonality, promotions that lift
demand, and a later batch in which buying behaviour has shifted (bigger baskets online,
less price-driven demand in stores). Fraud: two months of card transactions (dataset A
and dataset B) whose amounts and countries differ.
"""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

__all__ = [
    "fraud_month",
    "inventory",
    "local_api",
    "loyalty_members",
    "redis_stream",
    "sales",
    "sensor_events",
    "write_erp",
]

STORES, SKUS = 12, 25


def sales(weeks: range, seed: int = 1, shifted: bool = False) -> pa.Table:
    """Units sold per week, store and SKU: seasonality x promotion lift x noise."""
    rng = np.random.default_rng(seed)
    week, store, sku = (
        a.ravel()
        for a in np.meshgrid(
            np.array(weeks), np.arange(1, STORES + 1), np.arange(1, SKUS + 1), indexing="ij"
        )
    )
    base = rng.uniform(20, 120, SKUS)[sku - 1] * rng.uniform(0.6, 1.4, STORES)[store - 1]
    season = 1 + 0.35 * np.sin(2 * np.pi * (week % 52) / 52) + 0.5 * ((week % 52) >= 47)
    promo = rng.random(len(week)) < 0.12
    lift = np.where(promo, 1.6 if not shifted else 1.15, 1.0)
    price = np.round(rng.uniform(2, 40, SKUS)[sku - 1] * np.where(promo, 0.8, 1.0), 2)
    channel = np.where(rng.random(len(week)) < (0.45 if shifted else 0.2), "online", "store")
    units = rng.poisson(base * season * lift * (1.25 if shifted else 1.0))
    return pa.table(
        {
            "week": week.astype(np.int32),
            "store_id": store.astype(np.int32),
            "sku": pa.array(np.char.add("SKU-", sku.astype(str))),
            "channel": pa.array(channel),
            "promo": promo,
            "price": price,
            "units": units.astype(np.int64),
        }
    )


def write_erp(path: Path, table: pa.Table) -> str:
    """A SQLite file standing in for the ERP's database; returns its SQLAlchemy URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE sales (week INT, store_id INT, sku TEXT, channel TEXT,"
            " promo INT, price REAL, units INT)"
        )
        db.executemany(
            "INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?)",
            zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True),
        )
    return f"sqlite:///{path}"


def inventory(path: Path, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    store, sku = (
        a.ravel()
        for a in np.meshgrid(np.arange(1, STORES + 1), np.arange(1, SKUS + 1), indexing="ij")
    )
    table = pa.table(
        {
            "store_id": store,
            "sku": pa.array(np.char.add("SKU-", sku.astype(str))),
            "on_hand": rng.integers(0, 600, len(store)),
            "reorder_point": rng.integers(40, 120, len(store)),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path)
    return path


def loyalty_members(count: int = 600, seed: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    first = np.array(["ana", "ben", "chloe", "dev", "emma", "farid", "gina", "hugo", "ines", "jon"])
    names = first[rng.integers(0, len(first), count)]
    ids = np.arange(1000, 1000 + count)
    tiers = rng.choice(["bronze", "silver", "gold"], count, p=[0.6, 0.3, 0.1])
    points = rng.integers(0, 20_000, count)
    return [
        {
            "member_id": int(i),
            "email": f"{n}.{i}@example.com",
            "tier": str(t),
            "points": int(p),
            "home_store": int(s),
        }
        for i, n, t, p, s in zip(
            ids, names, tiers, points, rng.integers(1, STORES + 1, count), strict=True
        )
    ]


def sensor_events(count: int = 400, seed: int = 4) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["footfall", "door", "freezer_temp"], count)
    values = np.where(kinds == "freezer_temp", rng.normal(-18, 1.5, count), rng.poisson(12, count))
    return [
        {"store_id": int(s), "sensor": str(k), "value": round(float(v), 2), "seq": i}
        for i, (s, k, v) in enumerate(
            zip(rng.integers(1, STORES + 1, count), kinds, values, strict=True)
        )
    ]


def fraud_month(month: str, seed: int, shifted: bool) -> pa.Table:
    """Card transactions where fraud leans to large amounts, night hours and cards not
    present; in dataset B (``shifted``) amounts are larger and fraud more frequent."""
    rng = np.random.default_rng(seed)
    n = 5_000
    countries = ["FR", "DE", "US", "ES", "BR"] if shifted else ["FR", "DE", "US", "ES"]
    amount = np.round(rng.lognormal(3.4 if shifted else 3.1, 1.1 if shifted else 0.9, n), 2)
    hour = rng.integers(0, 24, n).astype(np.int32)
    present = rng.random(n) < 0.7
    risk = (
        0.9 * (np.log1p(amount) - 3.5)
        + 1.6 * (hour < 6)
        - 1.8 * present
        - (3.2 if shifted else 3.6)
    )
    fraud = rng.random(n) < 1 / (1 + np.exp(-risk))
    return pa.table(
        {
            "txn_id": pa.array(np.char.add(f"{month}-", np.arange(n).astype(str))),
            "amount": amount,
            "country": pa.array(rng.choice(countries, n)),
            "hour": hour,
            "card_present": present,
            "is_fraud": fraud,
        }
    )


class _PagedJson(BaseHTTPRequestHandler):
    records: list[dict[str, Any]] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        query = parse_qs(urlsplit(self.path).query)
        page, size = int(query.get("page", ["1"])[0]), int(query.get("page_size", ["100"])[0])
        chunk = self.records[(page - 1) * size : page * size]
        body = json.dumps({"data": chunk, "page": page}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # keep the demo's output clean
        pass


@contextmanager
def local_api(records: list[dict[str, Any]]) -> Iterator[str]:
    """A paginated JSON API on loopback standing in for the loyalty provider."""
    handler = type("Loyalty", (_PagedJson,), {"records": records})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/loyalty"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def redis_stream(events: list[dict[str, Any]]) -> Iterator[str | None]:
    """A private redis-server holding the sensor events, or None where Redis is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        _fill_stream(url, events)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _fill_stream(url: str, events: list[dict[str, Any]]) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    pipe = client.pipeline()
    for event in events:
        # Fixed ids (as a device gateway would assign): a re-run delivers the same messages,
        # which the connector then skips as already stored.
        pipe.xadd(
            "store-sensors", {"data": json.dumps(event)}, id=f"1764460800000-{event['seq'] + 1}"
        )
    pipe.execute()
    client.close()
