"""Ingestion end to end through the services: versions, dedupe, append, schema rules,
quality quarantine, profiles, lineage, audit."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from passline.data.connectors import FileConnector
from passline.data.connectors.memory import TableConnector
from passline.errors import InvalidInput, NotFound
from passline.services.ingest import IngestOptions
from passline.services.workspace import Services, Workspace
from passline.store.models import DatasetVersionRow


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context("sdk"))
    services.projects.create("retail")
    return services


def sales(n: int, start: int = 0) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(start, start + n), pa.int64()),
            "store": pa.array([f"s{i % 3}" for i in range(start, start + n)]),
            "units": pa.array([float(i % 17) for i in range(start, start + n)]),
        }
    )


def ingest(svc: Services, table: pa.Table, **options: object):  # type: ignore[no-untyped-def]
    return svc.ingest.ingest("retail/sales", TableConnector(table), IngestOptions(**options))


def test_first_ingest_creates_the_dataset_and_version_1(svc: Services) -> None:
    version = ingest(svc, sales(1000))
    assert version.number == 1 and version.status == "ok" and version.is_latest
    assert version.rows == 1000 and [c["name"] for c in version.columns] == ["id", "store", "units"]
    assert svc.datasets.read("retail/sales").equals(sales(1000))
    assert svc.datasets.get("sales").owner == svc.ctx.actor.name
    profile = svc.datasets.profile("retail/sales@v1")
    assert profile["units"]["rows"] == 1000 and profile["store"]["distinct"] == 3


def test_same_content_same_version_and_nothing_new_stored(svc: Services) -> None:
    first = ingest(svc, sales(500))
    again = ingest(svc, sales(500))
    assert again.id == first.id and again.unchanged
    assert [v.number for v in svc.datasets.versions("retail/sales")] == [1]


def test_append_stores_only_the_new_rows_and_merges_the_profile(svc: Services) -> None:
    base = ingest(svc, sales(10_000))
    appended = ingest(svc, sales(100, start=10_000), mode="append")
    assert appended.number == 2 and appended.rows == 10_100 and appended.parent == base.id
    assert appended.new_bytes < base.bytes / 10
    assert svc.datasets.read("retail/sales").num_rows == 10_100
    profile = svc.datasets.profile("retail/sales")
    assert profile["id"]["max"] == 10_099 and profile["id"]["rows"] == 10_100
    # appending the same rows again changes nothing
    assert ingest(svc, sales(100, start=10_000), mode="append").unchanged


def test_append_with_another_schema_is_refused_and_nothing_changes(svc: Services) -> None:
    ingest(svc, sales(10))
    wider = sales(5).append_column("promo", pa.array([True] * 5))
    with pytest.raises(InvalidInput, match="Cannot append to sales") as caught:
        ingest(svc, wider, mode="append")
    assert "promo" in str(caught.value)
    assert [v.number for v in svc.datasets.versions("retail/sales")] == [1]


def test_additive_change_passes_breaking_needs_allow_breaking(svc: Services) -> None:
    ingest(svc, sales(10))
    wider = sales(10).append_column("promo", pa.array([False] * 10))
    assert ingest(svc, wider).number == 2
    narrower = sales(10).drop_columns(["units"])
    with pytest.raises(InvalidInput, match="breaks the latest version") as caught:
        ingest(svc, narrower)
    assert "units" in str(caught.value) and "--allow-breaking" in str(caught.value)
    assert ingest(svc, narrower, allow_breaking=True).number == 3


def test_failed_error_expectation_quarantines_the_version(svc: Services) -> None:
    ingest(svc, sales(10))
    svc.datasets.configure(
        "retail/sales",
        expectations=(
            "expectations:\n"
            "  - {type: range, column: units, min: 0, max: 10}\n"
            "  - {type: unique, column: id, level: warning}\n"
        ),
    )
    bad = ingest(svc, sales(30))
    assert bad.status == "quarantined" and not bad.is_latest
    failed = [r for r in bad.quality if not r["passed"]]
    assert failed[0]["type"] == "range" and "units" in failed[0]["message"]
    assert svc.datasets.version("retail/sales").number == 1  # latest stays on the good one
    assert svc.datasets.version("retail/sales@v2").status == "quarantined"


def test_bad_yaml_is_refused_when_set(svc: Services) -> None:
    ingest(svc, sales(10))
    with pytest.raises(InvalidInput):
        svc.datasets.configure("retail/sales", expectations="expectations: [{type: nope}]")


def test_lineage_links_source_versions_and_inputs(svc: Services, tmp_path: Path) -> None:
    csv = tmp_path / "stores.csv"
    csv.write_text("store,region\ns0,north\ns1,south\ns2,east\n")
    stores = svc.ingest.ingest("retail/stores", FileConnector(str(csv)))
    v1 = ingest(svc, sales(10))
    v2 = ingest(svc, sales(20), inputs=["retail/stores@v1"])
    graph = svc.lineage.graph(v2.ref, "up")
    kinds = {(e.src.split(":")[0], e.type) for e in graph.edges}
    assert ("dataset_version", "next_version") in kinds and (
        "dataset_version",
        "derived_into",
    ) in kinds
    assert any(n.ref == stores.ref for n in graph.nodes) and any(
        n.ref == v1.ref for n in graph.nodes
    )
    source = svc.lineage.graph(stores.ref, "up").nodes[0]
    assert source.kind == "source" and "stores.csv" in source.label


def test_sensitivity_propagates_to_derived_data(svc: Services) -> None:
    ingest(svc, sales(10))
    svc.datasets.set_sensitivity("retail/sales", "confidential")
    derived = svc.ingest.ingest(
        "retail/weekly", TableConnector(sales(5)), IngestOptions(inputs=["retail/sales"])
    )
    assert svc.datasets.get("retail/weekly").sensitivity == "confidential"
    with pytest.raises(InvalidInput, match="needs a reason"):
        svc.datasets.set_sensitivity("retail/weekly", "internal")
    lowered = svc.datasets.set_sensitivity("retail/weekly", "internal", reason="aggregated, no ids")
    assert lowered.sensitivity == "internal" and derived.number == 1
    entry = svc.audit.log(action="dataset.sensitivity.set", limit=1)[0]
    assert entry.changes["reason"] == "aggregated, no ids"


def test_restricted_data_is_encrypted_and_needs_a_grant(
    any_workspace: Workspace, svc: Services
) -> None:
    from tests.conftest import services_as

    ingest(svc, sales(50))
    svc.datasets.set_sensitivity("retail/sales", "restricted")
    v2 = ingest(svc, sales(60))
    assert v2.encrypted and svc.datasets.version("retail/sales@v1").encrypted
    with any_workspace.db.read() as session:
        parts = [p for row in session.query(DatasetVersionRow) for p in row.parts]
    assert len(parts) == 2
    for part in parts:  # what lies on disk is ciphertext, not Parquet
        stored = b"".join(any_workspace.blobs.iter_verified(part["digest"]))
        assert stored.startswith(b"PLENC1") and b"PAR1" not in stored[:64]
    svc.identity.create_user("ann")
    svc.projects.add_member("retail", "ann", "viewer")
    ann = services_as(any_workspace, "ann")
    with pytest.raises(Exception, match="restricted"):
        ann.datasets.read("retail/sales")
    assert "hidden" in ann.datasets.profile("retail/sales")["units"]
    svc.datasets.grant("retail/sales", "ann", reason="fraud investigation #42")
    assert ann.datasets.read("retail/sales").num_rows == 60
    assert ann.datasets.read("retail/sales@v1").num_rows == 50


def test_unknown_refs_and_bad_names(svc: Services) -> None:
    with pytest.raises(NotFound, match="No dataset named 'ghost'"):
        svc.datasets.read("ghost")
    with pytest.raises(InvalidInput, match="dataset reference"):
        svc.ingest.ingest("retail/../etc", TableConnector(sales(1)))
    with pytest.raises(InvalidInput, match="Name the project"):
        svc.ingest.ingest("sales", TableConnector(sales(1)))
    ingest(svc, sales(3))
    with pytest.raises(NotFound, match="no version 'v9'"):
        svc.datasets.read("retail/sales@v9")


class _Idle(TableConnector):
    """A stream with nothing new: yields no batches at all."""

    def batches(self):  # type: ignore[no-untyped-def]
        yield from ()


def test_a_source_with_nothing_new_keeps_the_latest_version(svc: Services) -> None:
    with pytest.raises(InvalidInput, match="no rows and no columns"):
        svc.ingest.ingest("retail/idle", _Idle(sales(1)))
    first = ingest(svc, sales(5))
    again = svc.ingest.ingest("retail/sales", _Idle(sales(1)), IngestOptions(mode="append"))
    assert again.id == first.id and again.unchanged


def test_reingesting_the_same_file_stops_before_reading_it(svc: Services, tmp_path: Path) -> None:
    csv = tmp_path / "sales.csv"
    csv.write_text("id,store,units\n1,a,10\n2,b,12\n")
    first = svc.ingest.ingest("retail/sales", FileConnector(str(csv)))
    blobs = svc.workspace.settings.home / "artifacts" / "sha256"
    before = sorted(p.name for p in blobs.rglob("*") if p.is_file())
    again = svc.ingest.ingest("retail/sales", FileConnector(str(csv)), IngestOptions(mode="append"))
    assert again.unchanged and again.id == first.id and again.new_bytes == 0
    assert sorted(p.name for p in blobs.rglob("*") if p.is_file()) == before
    assert (
        first.source["fingerprint"] and again.source["fingerprint"] == first.source["fingerprint"]
    )


def test_a_failed_first_ingest_leaves_no_dataset(svc: Services, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(InvalidInput):
        svc.ingest.ingest("retail/never", FileConnector(str(bad)))
    assert svc.datasets.search(text="never") == []


def test_restricted_versions_hide_quoted_values_from_viewers_without_a_grant(
    any_workspace: Workspace, svc: Services
) -> None:
    from tests.conftest import services_as

    rows = [{"id": i, "email": f"u{i}@example.com"} for i in range(20)]
    svc.ingest.ingest("retail/people", TableConnector(rows))
    svc.datasets.configure(
        "retail/people",
        expectations=("expectations:\n  - {type: regex, column: email, pattern: '^a'}\n"),
    )
    svc.ingest.ingest("retail/people", TableConnector(rows[:10]))
    svc.datasets.set_sensitivity("retail/people", "restricted")
    svc.identity.create_user("vic")
    svc.projects.add_member("retail", "vic", "viewer")
    vic = services_as(any_workspace, "vic")
    assert not vic.datasets.can_read("retail/people") and svc.datasets.can_read("retail/people")
    seen = str([v.model_dump() for v in vic.datasets.versions("retail/people")])
    assert "@example.com" not in seen and "u1" not in seen and "e***" not in seen
    assert "@example.com" in str(svc.datasets.version("retail/people@v2").quality)
