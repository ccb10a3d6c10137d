"""The data pages, in-process: catalog and search, dataset, version, restricted data, errors.

``populate`` builds a small shop of datasets through the services; the browser test
(``test_browser.py``) reuses it for its screenshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passline.core.entities import DatasetVersion
from passline.data.connectors.memory import TableConnector
from passline.errors import InvalidInput
from passline.server.ui import duration_text, percent, temporal_text
from passline.services.ingest import IngestOptions
from passline.services.workspace import Services, Workspace
from tests.test_ui import login, text_of

PROJECT = "shop"
EXPECTATIONS = """\
expectations:
  - {type: range, column: units, min: 0, max: 20}
  - {type: unique, column: id, level: warning}
  - {type: not_null, column: email}
"""
STORES_CSV = "store,city,opened\ns0,Lyon,2019\ns1,Nantes,2021\ns1,Lille,2022,extra\ns2,Brest,2023\n"


@dataclass
class Shop:
    """What ``populate`` made: the owner and the versions the tests look at."""

    owner: str
    sales: list[DatasetVersion]  # v1, v2 (latest), v3 (quarantined)
    stores: DatasetVersion
    payroll: DatasetVersion


def sales_rows(n: int, start: int = 0, units_up_to: int = 17) -> list[dict[str, Any]]:
    day = datetime(2026, 3, 1)
    return [
        {
            "id": i,
            "store": f"s{i % 3}" if i % 10 else "s0",
            "units": float(i % units_up_to),
            "email": f"customer{i}@example.com",
            "sold_at": day + timedelta(hours=7 * i),
            "promo": i % 4 == 0,
        }
        for i in range(start, start + n)
    ]


def populate(svc: Services, tmp: Path) -> Shop:
    """A project with a checked dataset (one quarantined version), a CSV source whose bad
    line was set aside, a restricted dataset with a grant, and a source not yet run."""
    svc.projects.create(PROJECT, "The web shop's data.")
    sales = [_ingest(svc, "sales", sales_rows(200), "Daily sales per store, one row a sale.")]
    svc.datasets.configure(
        f"{PROJECT}/sales", key=["id"], tags=["retail", "daily"], expectations=EXPECTATIONS
    )
    svc.datasets.tag_column(f"{PROJECT}/sales", "email", ["pii"])
    sales.append(_ingest(svc, "sales", sales_rows(300)))
    sales.append(_ingest(svc, "sales", sales_rows(300, units_up_to=40)))  # units > 20
    stores = _stores_from_a_source(svc, tmp)
    payroll = _ingest(
        svc,
        "payroll",
        [{"employee": f"e{i}", "salary": 40_000.0 + 1_000 * i} for i in range(12)],
        "Monthly salaries.",
    )
    svc.datasets.set_sensitivity(f"{PROJECT}/payroll", "restricted", "salaries")
    svc.identity.create_user("gina", "Gina Grantee")
    svc.projects.add_member(PROJECT, "gina", "viewer")
    svc.datasets.grant(f"{PROJECT}/payroll", "gina", reason="annual pay review")
    svc.sources.add(
        PROJECT,
        "erp-orders",
        "sql",
        {"url": "postgresql://erp.internal/shop", "query": "select * from orders"}
        | {"password_ref": "env:ERP_PASSWORD"},
        "orders",
        mode="append",
    )
    return Shop(svc.ctx.actor.name, sales, stores, payroll)


def _ingest(
    svc: Services, name: str, rows: list[dict[str, Any]], description: str | None = None
) -> DatasetVersion:
    options = IngestOptions(description=description)
    return svc.ingest.ingest(f"{PROJECT}/{name}", TableConnector(rows), options)


def _stores_from_a_source(svc: Services, tmp: Path) -> DatasetVersion:
    csv = tmp / "stores.csv"
    csv.write_text(STORES_CSV)
    config = {"path": str(csv), "on_bad_lines": "quarantine"}
    svc.sources.add(PROJECT, "stores-csv", "file", config, "stores", schedule="0 6 * * *")
    version = svc.sources.run(PROJECT, "stores-csv")
    svc.datasets.configure(f"{PROJECT}/stores", description="Our stores.", tags=["reference"])
    svc.datasets.set_sensitivity(f"{PROJECT}/stores", "public")
    return version


@pytest.fixture
def shop(admin: Services, tmp_path: Path) -> Shop:
    return populate(admin, tmp_path)


@pytest.fixture
def ui(app_client: TestClient, admin: Services, shop: Shop) -> TestClient:
    """Logged in as the workspace admin, who owns every dataset of the shop."""
    login(app_client, admin.identity.create_token("ui-tests").secret)
    return app_client


def client_as(app_client: TestClient, admin: Services, user: str) -> TestClient:
    """Logged in as ``user``, a viewer of the shop (created unless it exists)."""
    if user not in {u.name for u in admin.identity.list_users()}:
        admin.identity.create_user(user)
        admin.projects.add_member(PROJECT, user, "viewer")
    login(app_client, admin.identity.create_token(f"{user}-ui", user=user).secret)
    return app_client


def catalog_names(page: str) -> list[str]:
    """The datasets in the catalog table (the sources table below links to datasets too)."""
    table = page.split('<table class="catalog">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/data/shop/([a-z]+)">', table)


def svg_charts(page: str, kind: str) -> list[str]:
    return re.findall(rf'<svg class="chart chart-{kind}".*?</svg>', page, re.S)


# --- catalog --------------------------------------------------------------------------------


def test_catalog_lists_datasets_with_their_latest_version(ui: TestClient, shop: Shop) -> None:
    response = ui.get("/data")
    assert response.status_code == 200
    assert catalog_names(response.text) == ["payroll", "sales", "stores"]
    page = text_of(response.text)
    assert "shop/ sales Daily sales per store, one row a sale." in page
    assert f"{shop.owner} internal retail daily v2 300" in page  # v3 is quarantined
    assert 'class="badge restricted"' in response.text and 'class="badge public"' in response.text
    assert 'href="/data/shop/sales/v/v2"' in response.text
    assert 'href="/data?tag=retail"' in response.text


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tag": "retail"}, ["sales"]),
        ({"tag": "pii"}, ["sales"]),  # a column tag counts too
        ({"sensitivity": "restricted"}, ["payroll"]),
        ({"sensitivity": "public"}, ["stores"]),
        ({"text": "salar"}, ["payroll"]),
        ({"text": "STORE"}, ["sales", "stores"]),  # descriptions, any case
        ({"column": "city"}, ["stores"]),
        ({"project": PROJECT, "sensitivity": "internal"}, ["sales"]),
        ({"owner": "nobody"}, []),
    ],
)
def test_catalog_search(ui: TestClient, params: dict[str, str], expected: list[str]) -> None:
    response = ui.get("/data", params=params)
    assert catalog_names(response.text) == expected
    for value in params.values():
        assert f'value="{value}"' in response.text  # the form keeps what was asked
    if not expected:
        assert "No dataset matches this search." in response.text


def test_catalog_lists_saved_sources_with_their_last_run(ui: TestClient) -> None:
    sources = text_of(ui.get("/data").text.split("<h2>Sources", 1)[1])
    assert "shop/ stores-csv file stores replace 0 6 * * *" in sources
    assert "ok shop/stores@v1: 3 rows" in sources
    assert "shop/ erp-orders sql orders append on demand never" in sources


def test_a_bad_sensitivity_is_a_422_page(ui: TestClient) -> None:
    response = ui.get("/data", params={"sensitivity": "secret"})
    assert response.status_code == 422
    assert "The sensitivity must be one of public, internal" in text_of(response.text)


# --- dataset page ---------------------------------------------------------------------------


def test_dataset_page_lists_versions_with_the_quarantined_one_marked(
    ui: TestClient, shop: Shop
) -> None:
    response = ui.get("/data/shop/sales")
    assert response.status_code == 200
    rows = re.findall(r'<tr class="([^"]+)" id="v(\d)">(.*?)</tr>', response.text, re.S)
    assert [(cls, n) for cls, n, _ in rows] == [
        ("status-quarantined", "3"),
        ("status-ok selected", "2"),  # the latest is the one whose schema is shown
        ("status-ok", "1"),
    ]
    assert 'class="badge quarantined">quarantined' in rows[0][2]
    assert "latest" in text_of(rows[1][2]) and "latest" not in text_of(rows[0][2])
    assert "300" in text_of(rows[0][2]) and "in-memory table" in text_of(rows[0][2])
    v2 = shop.sales[1]
    assert f'href="/lineage?ref=dataset_version%3A{v2.id}&amp;direction=both' in response.text


def test_dataset_page_shows_header_schema_pii_and_expectations(ui: TestClient, shop: Shop) -> None:
    response = ui.get("/data/shop/sales")
    page = text_of(response.text)
    assert "sales internal" in page and "Daily sales per store" in page
    assert f"Owner {shop.owner}" in page and "Key columns id" in page
    assert "Tags retail daily" in page
    schema = text_of(response.text.split('id="schema"', 1)[1].split("</table>", 1)[0])
    assert "email string yes pii email · 100%" in schema  # tag set by a person, then the scan
    assert "e.g. c***@e***.com" in schema  # masked by the scanner
    assert "customer1@example.com" not in response.text
    assert "sold_at timestamp[us]" in schema
    assert "{type: range, column: units, min: 0, max: 20}" in page
    assert re.search(r'<pre class="yaml">expectations:', response.text)
    assert "Every member of shop can read this internal dataset" in page


def test_dataset_page_can_show_another_versions_schema(ui: TestClient) -> None:
    response = ui.get("/data/shop/sales", params={"v": "v3"})
    assert re.search(r'<tr class="status-quarantined selected" id="v3">', response.text)
    assert "Schema of v3 quarantined" in text_of(response.text)


def test_restricted_dataset_page_lists_grants(ui: TestClient, shop: Shop) -> None:
    page = text_of(ui.get("/data/shop/payroll").text)
    assert "payroll restricted" in page and "salaries" in page  # level and its reason
    assert "Restricted. The data is encrypted at rest" in page and "You can read it." in page
    assert f"gina {shop.owner} annual pay review" in page


def test_a_failed_first_ingest_leaves_nothing_in_the_catalog(
    ui: TestClient, admin: Services
) -> None:
    with pytest.raises(InvalidInput):
        admin.ingest.ingest(f"{PROJECT}/empty", _Nothing([{"a": 1}]))
    assert "shop/ empty" not in text_of(ui.get("/data").text)
    assert ui.get("/data/shop/empty").status_code == 404


class _Nothing(TableConnector):
    """A source that yields no batch at all."""

    def batches(self):  # type: ignore[no-untyped-def]
        yield from ()


# --- version page ---------------------------------------------------------------------------


def test_version_page_shows_metadata_quality_and_histograms(ui: TestClient, shop: Shop) -> None:
    response = ui.get("/data/shop/sales/v/v3")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "sales v3 quarantined" in page and "Quarantined: this version failed" in page
    assert "shop/sales@v3" in page and shop.sales[2].id in page
    assert "Parent v2" in page and 'href="/data/shop/sales/v/v2"' in response.text
    assert "Encrypted no" in page
    quality = text_of(response.text.split('<table class="quality">', 1)[1].split("</table>")[0])
    assert quality.startswith(" Result Check Column Level Message Observed fail range units error")
    assert "values outside [0, 20], e.g." in quality
    assert "pass unique id warning id: all 300 non-null values are distinct" in quality
    histograms = svg_charts(response.text, "histogram")
    assert len(histograms) == 3  # id, units, sold_at
    assert all(h.count('<rect class="bar"') == 20 for h in histograms)
    assert "<title>Histogram of units</title>" in response.text
    top = svg_charts(response.text, "top")
    assert len(top) == 3  # store, email, promo
    assert "<title>s0: 120 rows (40%)</title>" in top[0]


def test_version_page_numbers_per_column(ui: TestClient) -> None:
    response = ui.get("/data/shop/sales/v/v2")
    card = text_of(re.search(r'id="col-units".*?</section>', response.text, re.S).group(0))
    assert "rows 300 nulls 0 distinct ≈ 17" in card
    assert "mean 7.89 std 4.887" in card
    assert "min 0 p01 0 p05 0 p25 4 median 8 p75 12 p95 16 p99 16 max 16" in card
    sold_at = re.search(r'id="col-sold_at".*?</section>', response.text, re.S).group(0)
    times = text_of(sold_at)
    assert "mean 2026-04-13 14:30:00 std 25.3 days" in times
    assert "min 2026-03-01 p01 2026-03-01" in times and "max 2026-05-27" in times  # dates
    assert 'title="2026-05-27 05:00:00">2026-05-27<' in sold_at  # 299 steps of 7 h
    promo = text_of(re.search(r'id="col-promo".*?</section>', response.text, re.S).group(0))
    assert "true 25%" in promo
    email = text_of(re.search(r'id="col-email".*?</section>', response.text, re.S).group(0))
    assert "pii" in email and "email? 100%" in email
    assert re.search(r"The 10 most frequent of ≈\d{3} distinct values\.", email)


def test_version_page_by_id_and_latest(ui: TestClient, shop: Shop) -> None:
    by_id = text_of(ui.get(f"/data/shop/sales/v/{shop.sales[0].id}").text)
    assert "sales v1" in by_id and "No expectations were checked for this version." in by_id
    latest = text_of(ui.get("/data/shop/sales/v/latest").text)
    assert "sales v2 ok latest" in latest


def test_version_page_shows_the_source_and_bad_lines(ui: TestClient, tmp_path: Path) -> None:
    page = text_of(ui.get("/data/shop/stores/v/v1").text)
    assert f"location {tmp_path / 'stores.csv'}" in page and "format csv" in page
    assert "Bad rows 1 set aside (line 4)" in page


# --- restricted data ------------------------------------------------------------------------


def test_a_viewer_without_grant_sees_counts_but_no_values(
    app_client: TestClient, admin: Services, shop: Shop
) -> None:
    vera = client_as(app_client, admin, "vera")
    response = vera.get("/data/shop/payroll/v/v1")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Values hidden: restricted dataset, ask the owner" in page
    assert f"ask the owner ({shop.owner}) for a grant" in page
    salary = text_of(re.search(r'id="col-salary".*?</section>', response.text, re.S).group(0))
    assert "rows 12 nulls 0" in salary and "Values hidden (restricted)." in salary
    for secret in ("mean", "median", "51,000", "40,000", "e11"):
        assert secret not in salary, secret
    assert "<svg" not in response.text
    dataset = text_of(vera.get("/data/shop/payroll").text)
    assert "You have no grant: profiles show counts only." in dataset


def test_a_grantee_sees_the_values(app_client: TestClient, admin: Services, shop: Shop) -> None:
    gina = client_as(app_client, admin, "gina")
    response = gina.get("/data/shop/payroll/v/v1")
    assert "Values hidden" not in response.text
    salary = text_of(re.search(r'id="col-salary".*?</section>', response.text, re.S).group(0))
    assert "mean 45,500" in salary and "min 40,000" in salary and "max 51,000" in salary
    assert len(svg_charts(response.text, "histogram")) == 1


def test_a_viewer_without_grant_gets_no_quality_samples(
    app_client: TestClient, admin: Services, shop: Shop
) -> None:
    admin.datasets.set_sensitivity(f"{PROJECT}/sales", "restricted")
    vera = client_as(app_client, admin, "vera")
    response = vera.get("/data/shop/sales/v/v3")
    page = text_of(response.text)
    assert "Details hidden: they quote values of a restricted dataset." in page
    assert "unexpected of 300 rows" in page
    assert "e.g." not in page and "customer" not in page and "@e***" not in page


# --- escaping and errors --------------------------------------------------------------------


def test_html_in_a_description_is_escaped(ui: TestClient, admin: Services) -> None:
    admin.datasets.configure(f"{PROJECT}/sales", description="<script>alert('x')</script> & co")
    for path in ("/data", "/data/shop/sales", "/data?text=script"):
        body = ui.get(path).text
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co" in body


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/data/shop/ghost", 404, "No dataset named 'ghost' in project 'shop'."),
        ("/data/shop/ghost/v/v1", 404, "No dataset named 'ghost' in project 'shop'."),
        ("/data/nope/sales", 404, "No dataset named 'sales' in project 'nope'."),
        ("/data/shop/sales/v/v9", 404, "Dataset 'sales' has no version 'v9'."),
        (f"/data/shop/sales/v/dsv_{'0' * 24}", 404, "has no version 'dsv_000"),
        ("/data/shop/sales?v=v9", 404, "Dataset 'sales' has no version 'v9'."),
        ("/data/shop/sales/v/nine", 422, "A dataset reference looks like"),
        ("/data/shop/sales@v2", 422, "is not a dataset name; open a version at"),
    ],
)
def test_unknown_datasets_and_versions_are_error_pages(
    ui: TestClient, path: str, status: int, message: str
) -> None:
    response = ui.get(path)
    assert response.status_code == status
    page = text_of(response.text)
    assert message in page and "Back to the data catalog" in page
    assert "Traceback" not in page


def test_a_non_member_cannot_see_the_projects_datasets(
    workspace: Workspace, app_client: TestClient, admin: Services, shop: Shop
) -> None:
    admin.identity.create_user("olga")
    login(app_client, admin.identity.create_token("olga-ui", user="olga").secret)
    catalog = app_client.get("/data")
    assert catalog_names(catalog.text) == []
    assert "stores-csv" not in catalog.text
    assert app_client.get("/data/shop/sales").status_code == 404  # not even its name leaks


def test_navigation_marks_data_as_built_and_active(ui: TestClient) -> None:
    body = ui.get("/data/shop/sales/v/v1").text
    assert '<a href="/data" class="active" aria-current="page">Data</a>' in body


# --- formatting -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "arrow_type", "text"),
    [
        (1_772_323_200_000_000, "timestamp[us]", "2026-03-01 00:00:00"),
        (1_772_323_200_500_000_000, "timestamp[ns, tz=UTC]", "2026-03-01 00:00:00"),
        (1_772_323_200, "timestamp[s]", "2026-03-01 00:00:00"),
        (20_513, "date32[day]", "2026-03-01"),
        (1_772_323_200_000, "date64[ms]", "2026-03-01"),
        ("2026-03-01T06:30:00", "timestamp[us]", "2026-03-01 06:30:00"),  # extremes: ISO
        (45_000_000, "time64[us]", "45,000,000"),  # a time of day stays a number
        (1e30, "timestamp[us]", "1e+30"),  # out of range: the number, not an error
    ],
)
def test_temporal_text(value: object, arrow_type: str, text: str) -> None:
    assert temporal_text(value, arrow_type) == text


@pytest.mark.parametrize(
    ("value", "arrow_type", "text"),
    [
        (30_000_000, "timestamp[us]", "30 s"),
        (90, "timestamp[s]", "1.5 min"),
        (3 * 3600 * 1000, "timestamp[ms]", "3.0 h"),
        (2.5, "date32[day]", "2.5 days"),
        (12, "duration[s]", "12"),
    ],
)
def test_duration_text(value: float, arrow_type: str, text: str) -> None:
    assert duration_text(value, arrow_type) == text


def test_percent() -> None:
    assert percent(1.0) == "100%" and percent(0.25) == "25%" and percent(0.1234) == "12.3%"
    assert percent(0.0004) == "<0.1%" and percent(0.0) == "0%" and percent(None) == ""
