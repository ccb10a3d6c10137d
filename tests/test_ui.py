"""The web UI, in-process: login, every page's content, filters, errors and escaping."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from passline.demo import DemoSummary, run_demo
from passline.server.ui import BLOCKS, human_size, when
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from passline.store.models import AuditEventRow, UserRow

PAGES = [
    "/",
    "/projects/retail-demand",
    "/lineage",
    "/audit",
    "/data",
    "/data/retail-demand/sales",
    "/data/retail-demand/sales/v/v1",
    "/experiments",
    "/models",
    "/backlog",
    "/maturity",
] + [f"/{s}" for s in BLOCKS]


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    """The demo, run once per session (it ingests real datasets: about 1.5 s)."""
    home = tmp_path_factory.mktemp("demo") / "home"
    template = Workspace.open(Settings(home=home))
    summary = run_demo(template, evaluations=False)
    template.close()
    return home, summary


@pytest.fixture
def settings(tmp_path: Path, demo_template: tuple[Path, DemoSummary]) -> Settings:
    """Each test gets its own copy of the demo workspace, so tests cannot disturb others."""
    home = tmp_path / "home"
    shutil.copytree(demo_template[0], home)
    return Settings(home=home)


@pytest.fixture
def demo(workspace: Workspace, demo_template: tuple[Path, DemoSummary]) -> DemoSummary:
    return demo_template[1]


@pytest.fixture
def ui(app_client: TestClient, demo: DemoSummary) -> TestClient:
    """The app client, logged in as the demo's workspace admin."""
    login(app_client, demo.token)
    return app_client


def login(client: TestClient, token: str) -> None:
    response = client.post("/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text


def text_of(page: str) -> str:
    """The page's visible text, tags stripped and entities decoded, for content checks."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def features_ref(demo: DemoSummary) -> str:
    return next(a.ref for a in demo.artifacts if a.name == "demand_features.csv")


def viewer_client(workspace: Workspace, admin: Services, app_client: TestClient) -> TestClient:
    admin.identity.create_user("vera", "Vera Viewer")
    admin.projects.add_member("retail-demand", "vera", "viewer")
    login(app_client, admin.identity.create_token("vera-ui", user="vera").secret)
    return app_client


# --- login --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_login_without_a_session(app_client: TestClient, path: str) -> None:
    response = app_client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?" + urlencode({"next": path})


def test_login_redirect_keeps_the_query_string(app_client: TestClient) -> None:
    response = app_client.get("/audit?actor=bob&action=token.", follow_redirects=False)
    assert response.headers["location"] == "/login?" + urlencode(
        {"next": "/audit?actor=bob&action=token."}
    )


def test_login_page_has_a_token_form(app_client: TestClient) -> None:
    page = app_client.get("/login?next=/audit")
    assert page.status_code == 200
    assert 'name="token"' in page.text and 'value="/audit"' in page.text


def test_a_bad_token_gets_401_and_says_why(app_client: TestClient) -> None:
    response = app_client.post("/login", data={"token": "tok_nope.wrong"})
    assert response.status_code == 401
    assert "The API token is invalid." in text_of(response.text)
    assert "passline_token" not in response.headers.get("set-cookie", "")


def test_a_disabled_user_is_told_so_on_the_login_form(
    workspace: Workspace, admin: Services, app_client: TestClient
) -> None:
    admin.identity.create_user("gone")
    token = admin.identity.create_token("ui", user="gone").secret
    with workspace.db.write() as session:
        session.execute(update(UserRow).where(UserRow.name == "gone").values(disabled=True))
    response = app_client.post("/login", data={"token": token})
    assert response.status_code == 403
    assert "User 'gone' is disabled." in text_of(response.text)
    assert 'name="token"' in response.text


def test_login_redirects_to_next_and_logout_ends_the_session(
    app_client: TestClient, demo: DemoSummary
) -> None:
    response = app_client.post(
        "/login", data={"token": demo.token, "next": "/audit"}, follow_redirects=False
    )
    assert response.headers["location"] == "/audit"
    assert "httponly" in response.headers["set-cookie"].lower()
    assert app_client.get("/audit").status_code == 200
    app_client.post("/logout")
    assert app_client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_login_refuses_to_redirect_off_site(
    app_client: TestClient, demo: DemoSummary, target: str
) -> None:
    response = app_client.post(
        "/login", data={"token": demo.token, "next": target}, follow_redirects=False
    )
    assert response.headers["location"] == "/"


# --- layout and blocks ---------------------------------------------------------------------


def test_navigation_names_every_block_and_the_user(ui: TestClient, demo: DemoSummary) -> None:
    page = text_of(ui.get("/").text)
    for label in ("Projects", "Data", "Experiments", "Models", "Serving", "Monitoring", "LLM"):
        assert label in page
    assert "Backlog & Gates" in page and "Audit" in page
    assert demo.admin in page and "Log out" in page


def test_data_is_a_built_block(ui: TestClient) -> None:
    assert "data" not in BLOCKS
    body = ui.get("/").text
    assert '<a href="/data">Data</a>' in body  # not marked "soon" any more
    assert ui.get("/data").status_code == 200


def test_every_demo_dataset_and_version_page_renders(ui: TestClient, admin: Services) -> None:
    # Whatever datasets the demo holds (the data pages' own tests make their own data).
    for dataset in admin.datasets.search():
        key = f"{dataset.project}/{dataset.name}"
        assert ui.get(f"/data/{key}").status_code == 200, key
        for version in admin.datasets.versions(key):
            page = ui.get(f"/data/{key}/v/v{version.number}")
            assert page.status_code == 200, version.label
            assert "Traceback" not in page.text


def test_every_demo_run_and_model_page_renders(ui: TestClient, admin: Services) -> None:
    # Whatever runs and models the demo holds (test_ui_models makes its own).
    runs = admin.tracking.search_runs(max_results=1000).runs
    assert ui.get("/experiments").status_code == 200
    for run in runs:
        page = ui.get(f"/runs/{run.id}")
        assert page.status_code == 200, run.name
        assert "Traceback" not in page.text
    if len(runs) >= 2:
        compared = ui.get("/experiments/compare", params={"run": [r.id for r in runs[:2]]})
        assert compared.status_code == 200
    assert ui.get("/models").status_code == 200
    for model in admin.registry.models():
        key = f"{model.project}/{model.name}"
        assert ui.get(f"/models/{key}").status_code == 200, key
        for version in admin.registry.versions(key):
            assert ui.get(f"/models/{key}/v/{version.version}").status_code == 200, version.label
        if model.latest_version:
            assert ui.get(f"/models/{key}/card").status_code == 200, key
            assert ui.get(f"/models/{key}/card.md").status_code == 200, key


# --- projects -------------------------------------------------------------------------------


def test_projects_page_lists_the_demo_projects(ui: TestClient) -> None:
    response = ui.get("/")
    assert response.status_code == 200
    for name in ("retail-demand", "fraud-detection", "hr-assistant"):
        assert f'href="/projects/{name}"' in response.text
    assert "Weekly demand forecast per store and product" in response.text


def test_project_page_shows_members_and_artifacts(ui: TestClient, demo: DemoSummary) -> None:
    response = ui.get("/projects/retail-demand")
    assert response.status_code == 200
    page = text_of(response.text)
    assert "Weekly demand forecast per store and product (scenario 1)." in page
    assert "alice contributor" in page and "bob approver" in page
    for artifact in (a for a in demo.artifacts if a.project == "retail-demand"):
        assert artifact.name in page
        assert artifact.digest[:12] in page
        assert human_size(artifact.size) in page
        assert f"/lineage?ref={artifact.ref.replace(':', '%3A')}" in response.text
    assert "transactions_A.csv" not in page  # another project's artifact
    assert 'href="/audit?project=retail-demand"' in response.text
    assert 'href="/data?project=retail-demand"' in response.text


def test_unknown_project_is_a_404_page(ui: TestClient) -> None:
    response = ui.get("/projects/nope")
    assert response.status_code == 404
    assert "No project named 'nope'." in text_of(response.text)


def test_a_viewer_sees_only_their_projects(
    workspace: Workspace, admin: Services, app_client: TestClient, demo: DemoSummary
) -> None:
    client = viewer_client(workspace, admin, app_client)
    projects = client.get("/").text
    assert 'href="/projects/retail-demand"' in projects
    assert "fraud-detection" not in projects and "hr-assistant" not in projects
    denied = client.get("/projects/fraud-detection")
    assert denied.status_code == 403
    assert "is not a member" in text_of(denied.text)
    assert client.get("/projects/retail-demand").status_code == 200


def test_html_in_a_description_is_escaped(ui: TestClient, admin: Services) -> None:
    admin.projects.create("xss", "<script>alert('x')</script> & more")
    for path in ("/", "/projects/xss"):
        body = ui.get(path).text
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in body


# --- lineage --------------------------------------------------------------------------------


def test_lineage_page_draws_the_graph_as_svg(ui: TestClient, demo: DemoSummary) -> None:
    ref = features_ref(demo)
    response = ui.get("/lineage", params={"ref": ref, "direction": "both", "depth": 5})
    assert response.status_code == 200
    svg = re.search(r"<svg class=\"graph\".*?</svg>", response.text, re.S)
    assert svg is not None
    drawn = text_of(svg.group(0))
    for label in (
        "demand_features.csv",
        "erp_sales_2026w1-8.csv",
        "inventory_drop.csv",
        "ERP sales (PostgreSQL)",
        "Inventory CSV drop",
    ):
        assert label in drawn
    assert "ingested_as" in drawn and "derived_into" in drawn
    assert svg.group(0).count('class="edge"') == 4
    assert svg.group(0).count(" root") == 1  # the root box is highlighted, once
    assert "upstream 2" in drawn and "root" in drawn


def test_lineage_nodes_link_to_their_own_lineage_page(ui: TestClient, demo: DemoSummary) -> None:
    response = ui.get("/lineage", params={"ref": features_ref(demo), "direction": "up"})
    assert 'href="/lineage?ref=source%3Aerp-sales&amp;direction=up&amp;depth=5"' in response.text
    followed = ui.get("/lineage?ref=source%3Aerp-sales&direction=down&depth=5")
    assert "demand_features.csv" in text_of(followed.text)


def test_lineage_tables_list_nodes_and_edges_with_actor(ui: TestClient, demo: DemoSummary) -> None:
    response = ui.get("/lineage", params={"ref": features_ref(demo), "direction": "both"})
    tables = text_of(response.text.split("</svg>", 1)[1])
    assert "Nodes" in tables and "Edges" in tables
    assert "source:inventory-sftp" in tables
    assert f"{demo.admin}" in tables
    assert "Inventory CSV drop ingested_as inventory_drop.csv" in tables


def test_lineage_edge_attributes_are_shown(ui: TestClient) -> None:
    response = ui.get("/lineage", params={"ref": "source:card-switch", "direction": "down"})
    page = text_of(response.text)
    assert "transactions_A.csv" in page and '{"month":"2026-10"}' in page


def test_lineage_without_a_ref_shows_just_the_form(ui: TestClient) -> None:
    response = ui.get("/lineage")
    assert response.status_code == 200
    assert 'name="ref"' in response.text and "<svg" not in response.text


def test_unknown_lineage_ref_is_a_404_page_with_the_message(ui: TestClient) -> None:
    response = ui.get("/lineage", params={"ref": "artifact:art_nope"})
    assert response.status_code == 404
    page = text_of(response.text)
    assert "No object 'artifact:art_nope' in the lineage graph." in page
    assert "Traceback" not in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"ref": "project:retail-demand", "direction": "sideways"}, "direction"),
        ({"ref": "project:retail-demand", "depth": 0}, "The 'depth' must be an integer"),
        ({"ref": "not a ref"}, "A reference must look like 'kind:key'"),
    ],
)
def test_bad_lineage_input_is_a_422_page(ui: TestClient, params: dict, message: str) -> None:
    response = ui.get("/lineage", params=params)
    assert response.status_code == 422
    assert message in text_of(response.text)


# --- audit ----------------------------------------------------------------------------------


def rows(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr id="seq-(\d+)">', page)]


def test_audit_page_lists_entries_newest_first(ui: TestClient, admin: Services) -> None:
    response = ui.get("/audit")
    assert response.status_code == 200
    newest = admin.audit.log(limit=50)
    assert rows(response.text) == [e.seq for e in newest]
    page = text_of(response.text)
    assert all(e.action in page for e in newest)
    # The demo's first entries are older than one page: filter to reach them.
    created = text_of(ui.get("/audit", params={"action": "project.create"}).text)
    assert "project.create" in created
    assert '"description":"Weekly demand forecast' in created  # changes as compact JSON


def test_audit_objects_in_the_graph_link_to_lineage(ui: TestClient, demo: DemoSummary) -> None:
    body = ui.get("/audit", params={"action": "artifact.put"}).text
    artifact = demo.artifacts[0].ref
    assert f'href="/lineage?ref={artifact.replace(":", "%3A")}' in body
    users = ui.get("/audit", params={"action": "user.create"}).text
    assert "user:alice" in users and "/lineage?ref=user" not in users


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"action": "lineage."}, lambda e: e.action.startswith("lineage.")),
        ({"project": "fraud-detection"}, lambda e: e.project == "fraud-detection"),
        ({"object": "project:hr-assistant"}, lambda e: e.object == "project:hr-assistant"),
        ({"actor": "nobody"}, lambda e: False),
    ],
)
def test_audit_filters(ui: TestClient, admin: Services, params: dict, check) -> None:  # type: ignore[no-untyped-def]
    response = ui.get("/audit", params=params)
    expected = [e.seq for e in admin.audit.log(**params, limit=50)]
    assert all(check(e) for e in admin.audit.log(**params, limit=50))
    assert rows(response.text) == expected
    for value in params.values():
        assert f'value="{value}"' in response.text  # the form keeps what was asked
    if not expected:
        assert "No audit entries match these filters." in response.text


def test_audit_paginates_with_older(ui: TestClient, admin: Services) -> None:
    first = ui.get("/audit", params={"limit": 5})
    seqs = rows(first.text)
    assert len(seqs) == 5
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older is not None
    url = html.unescape(older.group(1))
    assert parse_qs(urlsplit(url).query)["before_seq"] == [str(seqs[-1])]
    second = rows(ui.get(url).text)
    assert second == [s for s in range(seqs[-1] - 1, seqs[-1] - 6, -1)]


def test_admin_verifies_the_chain_in_green(ui: TestClient) -> None:
    assert "Verify chain" in ui.get("/audit").text
    response = ui.get("/audit", params={"verify": 1})
    assert re.search(r'class="ok"[^>]*>\s*Audit chain intact', response.text)


def test_a_tampered_chain_is_shown_in_red_naming_the_entry(
    ui: TestClient, workspace: Workspace
) -> None:
    with workspace.db.write() as session:
        session.execute(update(AuditEventRow).where(AuditEventRow.seq == 4).values(actor="mallory"))
    response = ui.get("/audit", params={"verify": 1})
    assert re.search(r'class="error"[^>]*>\s*Audit chain broken', response.text)
    assert "entry 4 was changed" in text_of(response.text)
    assert "#4" in text_of(response.text)


def test_non_admins_see_their_projects_entries_and_cannot_verify(
    workspace: Workspace, admin: Services, app_client: TestClient, demo: DemoSummary
) -> None:
    client = viewer_client(workspace, admin, app_client)
    page = client.get("/audit")
    assert page.status_code == 200
    assert "Verify chain" not in page.text
    projects = set(re.findall(r'<td class="nowrap"><a href="/projects/([^"]+)">', page.text))
    assert projects == {"retail-demand"}
    assert client.get("/audit", params={"verify": 1}).status_code == 403


def test_formatting_helpers() -> None:
    assert human_size(532) == "532 B"
    assert human_size(1536) == "1.5 KiB"
    assert human_size(3 * 1024**3) == "3.0 GiB"
    assert when("2026-05-01T09:30:12.123456Z") == "2026-05-01 09:30:12"
    assert when("not a time") == "not a time"
