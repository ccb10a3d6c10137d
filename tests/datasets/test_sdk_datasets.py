"""The data block through the SDK, on both transports (in-process and HTTP)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.sdk.client import Client


@pytest.fixture
def pl(sdk: Client) -> Client:
    sdk.create_project("retail")
    return sdk


def test_ingest_a_csv_file_and_read_it_back(pl: Client, tmp_path: Path) -> None:
    csv = tmp_path / "sales.csv"
    csv.write_text("week,store,units\n1,a,10\n1,b,12\n2,a,9\n")
    version = pl.datasets.ingest("retail/sales", path=csv)
    assert version.number == 1 and version.rows == 3
    handle = pl.datasets.get("retail/sales@latest")
    assert handle.to_arrow().column("units").to_pylist() == [10, 12, 9]
    assert list(handle.to_pandas()["store"]) == ["a", "b", "a"]
    assert pl.datasets.get("sales@v1").version.id == version.id
    assert handle.profile()["units"]["max"] == 12


def test_ingest_in_memory_data_append_and_versions(pl: Client) -> None:
    pl.datasets.ingest("retail/events", data=[{"id": 1, "kind": "view"}, {"id": 2, "kind": "buy"}])
    second = pl.datasets.ingest(
        "retail/events", data=pa.table({"id": [3], "kind": ["view"]}), mode="append"
    )
    assert second.rows == 3 and second.mode == "append"
    assert [v.number for v in pl.datasets.versions("retail/events")] == [2, 1]
    assert pl.datasets.read("retail/events@v2", columns=["id"]).column("id").to_pylist() == [
        1,
        2,
        3,
    ]


def test_catalog_settings_grants_diff(pl: Client) -> None:
    pl.datasets.ingest("retail/stock", data=[{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}])
    pl.datasets.ingest("retail/stock", data=[{"sku": "a", "qty": 5}, {"sku": "c", "qty": 1}])
    pl.datasets.configure("retail/stock", description="Stock per SKU", key=["sku"], tags=["erp"])
    assert [d.name for d in pl.datasets.search(tag="erp")] == ["stock"]
    assert [d.name for d in pl.datasets.search(column="qty")] == ["stock"]
    diff = pl.datasets.diff("retail/stock@v1", "retail/stock@v2")
    assert diff["row_diff"]["added"] == 1 and diff["row_diff"]["removed"] == 1
    assert diff["row_diff"]["changed"] == 1
    pl.create_user("ann")
    pl.datasets.set_sensitivity("retail/stock", "restricted")
    grant = pl.datasets.grant("retail/stock", "ann", "audit")
    assert grant.user == "ann" and [g.user for g in pl.datasets.grants("retail/stock")] == ["ann"]
    pl.datasets.revoke("retail/stock", "ann")
    assert pl.datasets.grants("retail/stock") == []
    assert pl.datasets.tag_column("retail/stock", "sku", ["id"]).column_tags == {"sku": ["id"]}


def test_errors_are_the_same_on_both_transports(pl: Client, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="No dataset named 'ghost'"):
        pl.datasets.get("retail/ghost")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(InvalidInput, match="line 3"):
        pl.datasets.ingest("retail/bad", path=bad)
    with pytest.raises(InvalidInput, match="either data"):
        pl.datasets.ingest("retail/x")
    with pytest.raises(InvalidInput, match="sensitivity must be one of"):
        pl.datasets.ingest("retail/y", data=[{"a": 1}]) and pl.datasets.set_sensitivity(
            "retail/y", "secret"
        )


def test_http_push_appends_records(app_client, admin_token: str, admin) -> None:  # type: ignore[no-untyped-def]
    admin.projects.create("iot")
    headers = {"Authorization": f"Bearer {admin_token}"}
    first = app_client.post(
        "/api/v1/datasets/iot/sensors/records",
        json=[{"sensor": "t1", "value": 20.5}],
        headers=headers,
    )
    assert first.status_code == 201 and first.json()["rows"] == 1
    second = app_client.post(
        "/api/v1/datasets/iot/sensors/records",
        json=[{"sensor": "t2", "value": 19.0}],
        headers=headers,
    )
    assert second.json()["rows"] == 2 and second.json()["number"] == 2
    empty = app_client.post("/api/v1/datasets/iot/sensors/records", json=[], headers=headers)
    assert empty.status_code == 422
    wrong = app_client.post(
        "/api/v1/datasets/iot/sensors/records",
        json=[{"sensor": "t3", "value": "hot"}],
        headers=headers,
    )
    assert wrong.status_code == 422 and "append" in wrong.json()["message"]
    _ = PermissionDenied
