"""The drift report in the UI, in-process, on real traffic: an endpoint's section and /drift.

``populate_drift`` trains a scikit-learn pipeline on ``shop/transactions@v1``, serves it
(with its retrained twin as a 50% canary) and sends it traffic whose amounts are larger
(``shift=1.5``) and whose hours are all at night, so two of its three inputs drift; a
second version of the dataset is shifted the same way, for ``/drift``. Built once for the
module: the tests only read it.
"""

from __future__ import annotations

import io
import pickle
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from passline.data.connectors.memory import TableConnector
from passline.server.app import create_app
from passline.server.drift_view import OTHER_LABEL, drift_view
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from tests.serving.conftest import FEATURES, pipeline, transactions
from tests.test_ui import login
from tests.test_ui import text_of as tags_stripped

PROJECT, VAULT = "shop", "vault"
MODEL, ORPHAN = f"{PROJECT}/scorer", f"{PROJECT}/orphan"
ENDPOINT = f"{PROJECT}/scoring"  # shifted traffic, primary v1 and canary v2
QUIET = f"{PROJECT}/quiet"  # the same model, never called
NO_LINEAGE = f"{PROJECT}/no-lineage"  # a model registered from a run with no input
VAULT_ENDPOINT = f"{VAULT}/payroll"
DATASET = f"{PROJECT}/transactions"
V1, V2 = f"{DATASET}@v1", f"{DATASET}@v2"
HOSTILE = "<script>alert('drift')</script>"
MEMBER, OUTSIDER = "mira", "oskar"


@dataclass
class DriftWorld:
    token: str  # the workspace admin's
    member_token: str  # a viewer of shop, in no other project, without grants
    outsider_token: str  # a user in no project
    answered: int  # rows answered by the primary


def _register(svc: Services, model: str, fitted: Any, dataset: str | None) -> int:
    project = model.split("/")[0]
    run = svc.tracking.start_run(svc.tracking.ensure_experiment(project, "scoring").id)
    if dataset:
        svc.tracking.log_input(run.id, dataset)
    svc.tracking.log_params(run.id, {"target": "is_fraud", "features": ",".join(FEATURES)})
    svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(fitted)))
    svc.tracking.end_run(run.id)
    return svc.registry.register(model, f"runs:/{run.id}/model").version


def shifted(n: int, seed: int) -> Any:
    """Transactions with larger amounts, all between midnight and 6 in the morning."""
    table = transactions(n, seed, shift=1.5)
    night = [h % 6 for h in table.column("hour").to_pylist()]
    return table.set_column(2, "hour", [night])


def _send(workspace: Workspace, token: str, endpoint: str, batches: list[list[dict]]) -> int:
    from passline.serving.gateway import create_gateway_app

    primary = 0
    with TestClient(create_gateway_app(workspace, flush_s=0.05)) as gateway:
        for records in batches:
            answer = gateway.post(
                f"/v1/endpoints/{endpoint}/predict",
                json={"records": records},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            primary += len(records) if answer.json()["role"] == "primary" else 0
        gateway.app.state.gateway.log.flush()  # type: ignore[attr-defined]
    return primary


def populate_drift(workspace: Workspace) -> DriftWorld:
    admin = workspace.services(workspace.local_context("sdk"))
    for user in (MEMBER, OUTSIDER):
        admin.identity.create_user(user)
    training = transactions(400, 0)
    frame = training.to_pandas()
    for project in (PROJECT, VAULT):
        admin.projects.create(project)
        admin.ingest.ingest(f"{project}/transactions", TableConnector(training))
    admin.ingest.ingest(DATASET, TableConnector(shifted(400, 7)))  # v2, for /drift
    for c in (1.0, 0.01):
        _register(admin, MODEL, pipeline(c).fit(frame[FEATURES], frame["is_fraud"]), V1)
    _register(admin, ORPHAN, pipeline().fit(frame[FEATURES], frame["is_fraud"]), None)
    _register(
        admin,
        f"{VAULT}/scorer",
        pipeline().fit(frame[FEATURES], frame["is_fraud"]),
        f"{VAULT}/transactions@v1",
    )
    for model in (MODEL, ORPHAN, f"{VAULT}/scorer"):
        admin.registry.set_alias(model, "production", 1)
    admin.endpoints.create(PROJECT, "scoring", MODEL)
    admin.endpoints.configure(ENDPOINT, canary_version=2, canary_percent=50)
    admin.endpoints.create(PROJECT, "quiet", MODEL)
    admin.endpoints.create(PROJECT, "no-lineage", ORPHAN)
    admin.endpoints.create(VAULT, "payroll", f"{VAULT}/scorer")
    admin.projects.add_member(PROJECT, MEMBER, "viewer")
    token = admin.identity.create_token("ui-drift").secret

    batches = [shifted(10, seed).select(FEATURES).to_pylist() for seed in range(1, 41)]
    random.seed(3)  # the gateway draws the canary's share from the global generator
    answered = _send(workspace, token, ENDPOINT, batches)
    # A category no training row had, sent to the canary only: the primary's report stays
    # as the shift made it, the canary's shows the value (escaped).
    admin.endpoints.configure(ENDPOINT, canary_percent=100)
    hostile = shifted(4, 50).select(FEATURES).to_pylist()
    hostile[0]["channel"] = HOSTILE
    answered += _send(workspace, token, ENDPOINT, [hostile])
    admin.endpoints.configure(ENDPOINT, canary_percent=50)
    _send(workspace, token, VAULT_ENDPOINT, [shifted(10, 99).select(FEATURES).to_pylist()])
    return DriftWorld(
        token=token,
        member_token=admin.identity.create_token("mira-ui", user=MEMBER).secret,
        outsider_token=admin.identity.create_token("oskar-ui", user=OUTSIDER).secret,
        answered=answered,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, DriftWorld]]:
    pytest.importorskip("sklearn")
    workspace = Workspace.open(Settings(home=tmp_path_factory.mktemp("drift") / "home"))
    world = populate_drift(workspace)
    yield create_app(workspace=workspace), world
    workspace.close()


@pytest.fixture
def world(built: tuple[FastAPI, DriftWorld]) -> DriftWorld:
    return built[1]


@pytest.fixture
def admin_svc(built: tuple[FastAPI, DriftWorld]) -> Services:
    workspace = built[0].state.workspace
    return workspace.services(workspace.local_context("sdk"))


@pytest.fixture
def anonymous(built: tuple[FastAPI, DriftWorld]) -> Iterator[TestClient]:
    with TestClient(built[0]) as client:
        yield client


@pytest.fixture
def ui(anonymous: TestClient, world: DriftWorld) -> TestClient:
    login(anonymous, world.token)
    return anonymous


def text_of(page: str) -> str:
    return tags_stripped(page.replace("<wbr>", ""))


def section(page: str, start: str, end: str = "</section>") -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def drift_section(page: str) -> str:
    return section(page, '<section class="card" id="drift">', "<h2>Monitors")


def table_row(page: str, column: str) -> str:
    """The drift table's row of ``column``: its attributes and cells."""
    match = re.search(
        rf'<tr id="drift-row-\d+" data-column="{re.escape(column)}"(.*?)</tr>', page, re.S
    )
    assert match, f"no row for {column}"
    return match[1]


def chart_card(page: str, column: str) -> str:
    match = re.search(
        rf'<section class="card drift-col[^"]*" id="drift-col-\d+" '
        rf'data-column="{re.escape(column)}">(.*?)</section>',
        page,
        re.S,
    )
    assert match, f"no chart for {column}"
    return match[0]


def bars(svg: str, side: str) -> list[str]:
    """The hover titles of one side's bars in a paired chart."""
    group = section(svg, f'<g class="side {side}">', "</g>")
    return re.findall(r"<title>([^<]*)</title></rect>", group)


# --- the world is what the tests think it is -------------------------------------------------


def test_the_shifted_inputs_drift_in_the_service(admin_svc: Services, world: DriftWorld) -> None:
    report = admin_svc.drift.endpoint_drift(ENDPOINT, "1h")
    assert report["rows"] == world.answered > 100
    drifted = {name for name, c in report["columns"].items() if c["drifted"]}
    assert drifted == {"amount", "hour"} and report["drifted"]
    assert report["prediction"]["status"] == "checked"


# --- the endpoint's drift section ------------------------------------------------------------


def test_the_verdict_names_the_share_the_threshold_and_both_sides(
    ui: TestClient, admin_svc: Services, world: DriftWorld
) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"window": "1h"})
    assert response.status_code == 200
    drift = drift_section(response.text)
    verdict = section(drift, '<div class="verdict drifted" id="drift-verdict"', "</div>")
    words = text_of(verdict)
    assert "Drift detected" in words
    assert "2 of 3 columns drifted: share 66.7% ≥ threshold 50%" in words
    assert f"Reference {V1} (400 rows)" in words
    assert f"primary traffic of the last 1h (v1) ({world.answered:,} rows)" in words
    assert 'href="/data/shop/transactions/v/v1"' in verdict


def test_drifted_columns_are_highlighted_first_in_the_table(ui: TestClient) -> None:
    drift = drift_section(ui.get(f"/serving/{ENDPOINT}", params={"window": "1h"}).text)
    table = section(drift, '<table class="drift-columns">', "</table>")
    order = re.findall(r'data-column="([^"]+)"', table)
    assert order[:2] == ["amount", "hour"] and order[2] == "channel"
    header = text_of(section(table, "<thead>", "</thead>")).split()
    assert header == "Column Kind Test Statistic p-value Drifted when Drifted PSI".split()
    amount = table_row(table, "amount")
    assert amount.startswith(' class="drifted"')
    cells = [text_of(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", amount, re.S)]
    assert cells[1:3] == ["numeric", "ks"] and cells[5:7] == ["p < 0.05", "yes"]
    assert 'class="num bad"' in amount  # the PSI of so large a shift is significant
    assert ' class="checked"' in table_row(table, "channel")
    assert text_of(re.findall(r"<td[^>]*>(.*?)</td>", table_row(table, "channel"), re.S)[6]) == "no"


def test_each_column_draws_both_sides_on_shared_bins(ui: TestClient, admin_svc: Services) -> None:
    drift = drift_section(ui.get(f"/serving/{ENDPOINT}", params={"window": "1h"}).text)
    report = admin_svc.drift.endpoint_drift(ENDPOINT, "1h")
    amount = chart_card(drift, "amount")
    assert 'class="card drift-col drifted"' in amount and "drifted</span>" in amount
    assert '<svg class="chart chart-paired chart-paired-histogram"' in amount
    distribution = report["columns"]["amount"]["distribution"]
    reference, current = bars(amount, "reference"), bars(amount, "current")
    assert len(reference) == sum(1 for n in distribution["reference"] if n)
    assert len(current) == sum(1 for n in distribution["current"] if n)
    assert all(" · reference: " in t for t in reference)
    assert all(" · current: " in t for t in current)
    legend = text_of(section(amount, '<ul class="legend">', "</ul>"))
    assert legend.split() == "training data last 1h · primary v1".split()
    # The current side's amounts are larger: its rows sit in later bins than the reference's.
    first = distribution["current"].index(next(n for n in distribution["current"] if n))
    assert first >= distribution["reference"].index(next(n for n in distribution["reference"] if n))
    channel = chart_card(drift, "channel")
    assert '<svg class="chart chart-paired chart-paired-bars"' in channel
    shares = report["columns"]["channel"]["distribution"]["categories"]
    assert {"web", "store", "app"} <= set(shares)
    for value in ("web", "store", "app"):
        assert f"{value} · reference: " in channel and f"{value} · current: " in channel


def test_prediction_drift_is_drawn_from_both_sides(ui: TestClient, admin_svc: Services) -> None:
    drift = drift_section(ui.get(f"/serving/{ENDPOINT}", params={"window": "1h"}).text)
    prediction = admin_svc.drift.endpoint_drift(ENDPOINT, "1h")["prediction"]
    card = section(drift, 'id="drift-prediction">', "</section>")
    words = text_of(card)
    assert "Prediction drift" in words and prediction["test"]["type"] in words
    assert ("drifted" in words) == prediction["drifted"]
    assert bars(card, "reference") and bars(card, "current")
    assert "model on its training data" in text_of(section(card, '<ul class="legend">', "</ul>"))


def test_the_canary_has_its_own_report(ui: TestClient, admin_svc: Services) -> None:
    page = ui.get(f"/serving/{ENDPOINT}", params={"window": "1h"}).text
    roles = section(drift_section(page), '<nav class="roles"', "</nav>")
    assert re.findall(r">(primary|canary v2)</a>", roles) == ["primary", "canary v2"]
    assert 'href="/serving/shop/scoring?window=1h&amp;role=canary#drift"' in roles
    canary = ui.get(f"/serving/{ENDPOINT}", params={"window": "1h", "role": "canary"})
    assert canary.status_code == 200
    drift = drift_section(canary.text)
    rows = admin_svc.drift.endpoint_drift(ENDPOINT, "1h", role="canary")["rows"]
    assert f"canary traffic of the last 1h (v2) ({rows:,} rows)" in text_of(drift)
    assert re.search(r'class="active" aria-current="true">canary v2</a>', drift)
    # The window selector keeps the role.
    windows = section(canary.text, '<nav class="windows" aria-label="Window">', "</nav>")
    assert "role=canary" in windows


def test_an_unknown_role_is_refused_with_422(ui: TestClient) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"role": "<b>shadow</b>"})
    assert response.status_code == 422
    error = section(response.text, 'id="drift-error">', "</p>")
    assert "The drift role must be one of primary, canary." in text_of(error)
    assert "<b>shadow</b>" not in response.text
    assert 'id="stat-requests"' in response.text  # the rest of the page still stands


def test_an_empty_window_says_so(ui: TestClient) -> None:
    response = ui.get(f"/serving/{QUIET}", params={"window": "15m"})
    assert response.status_code == 200
    drift = drift_section(response.text)
    assert "No primary traffic in the last 15m." in text_of(drift)
    assert "<svg" not in drift and "drift-verdict" not in drift
    assert 'nav class="roles"' not in drift  # no canary: no switch


def test_a_model_without_training_data_in_its_lineage_is_a_message(ui: TestClient) -> None:
    response = ui.get(f"/serving/{NO_LINEAGE}")
    assert response.status_code == 200
    error = text_of(section(drift_section(response.text), 'id="drift-error">', "</p>"))
    assert "has no training dataset in its lineage to compare with." in error
    assert "--reference" not in error  # the CLI's hint is not for this page


def test_a_bad_window_draws_no_drift(ui: TestClient) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"window": "soon"})
    assert response.status_code == 422
    assert "Pick a window above" in text_of(drift_section(response.text))


def test_html_in_a_served_category_is_escaped(ui: TestClient) -> None:
    page = ui.get(f"/serving/{ENDPOINT}", params={"window": "1h", "role": "canary"}).text
    assert HOSTILE not in page
    channel = chart_card(drift_section(page), "channel")
    assert "&lt;script&gt;alert(&#39;drift&#39;)&lt;/script&gt; · current:" in channel
    assert "drifted</span>" in channel  # a value the training data never had


def test_the_section_is_fast(ui: TestClient) -> None:
    import time

    ui.get(f"/serving/{ENDPOINT}", params={"window": "24h"})  # the model's own predictions, cached
    started = time.perf_counter()
    assert ui.get(f"/serving/{ENDPOINT}", params={"window": "24h"}).status_code == 200
    assert time.perf_counter() - started < 2.0


# --- /drift: two dataset versions --------------------------------------------------------------


def test_two_versions_are_compared_with_the_same_components(ui: TestClient) -> None:
    response = ui.get("/drift", params={"reference": V1, "current": V2})
    assert response.status_code == 200
    page = response.text
    assert f'value="{V1}"' in page and f'value="{V2}"' in page
    verdict = text_of(section(page, 'id="drift-verdict"', "</div>"))
    assert "Drift detected" in verdict
    assert f"Reference {V1} (400 rows) against {V2} (400 rows)" in verdict
    assert 'href="/data/shop/transactions/v/v2"' in page
    table = section(page, '<table class="drift-columns">', "</table>")
    assert ' class="drifted"' in table_row(table, "amount")
    assert ' class="drifted"' in table_row(table, "hour")
    for column in ("amount", "hour", "channel", "is_fraud"):
        card = chart_card(page, column)
        assert bars(card, "reference") and bars(card, "current")
    assert "drift-prediction" not in page  # versions have no predictions
    legend = text_of(section(chart_card(page, "amount"), '<ul class="legend">', "</ul>"))
    assert legend.strip() == f"reference · {V1} current · {V2}"


def test_a_version_page_links_to_the_comparison(ui: TestClient) -> None:
    page = ui.get(f"/data/{PROJECT}/transactions/v/v2").text
    link = re.search(r'<a href="([^"]+)" id="compare-with">Compare with…</a>', page)
    assert link and link[1] == "/drift?current=shop/transactions%40v2"
    chooser = ui.get(link[1].replace("%40", "@"))
    assert chooser.status_code == 200
    pick = section(chooser.text, 'id="drift-pick">', "</p>")
    assert "Choose the reference version to compare with" in text_of(pick)
    href = "/drift?" + urlencode({"reference": V1, "current": V2})
    assert f'href="{href.replace("&", "&amp;")}"' in pick
    assert f'<option value="{V1}">' in chooser.text


def test_the_form_alone_explains_itself(ui: TestClient) -> None:
    response = ui.get("/drift")
    assert response.status_code == 200
    assert "Name two versions" in text_of(response.text) and "drift-error" not in response.text


@pytest.mark.parametrize(
    ("reference", "current", "status", "message"),
    [
        ("shop/transactions", V2, 422, "Name a dataset version as project/name@vN."),
        (f"{DATASET}@v9", V2, 404, "has no version 'v9'"),
        ("shop/nothing@v1", V2, 404, "nothing"),
        ("<b>x</b>@v1", V2, None, None),
    ],
)
def test_a_bad_version_is_a_clear_message(
    ui: TestClient, reference: str, current: str, status: int | None, message: str | None
) -> None:
    response = ui.get("/drift", params={"reference": reference, "current": current})
    assert response.status_code in ((status,) if status else (404, 422))
    error = text_of(section(response.text, 'id="drift-error">', "</p>"))
    assert error and (message is None or message in error)
    assert "<b>x</b>" not in response.text
    assert f'value="{current}"' in response.text  # the form keeps what was typed


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/serving/{ENDPOINT}?role=canary", f"/drift?reference={V1}"])
def test_pages_redirect_to_login_without_a_session(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?" + urlencode({"next": path})


def test_a_non_member_sees_no_report_of_another_project(
    anonymous: TestClient, world: DriftWorld
) -> None:
    login(anonymous, world.member_token)
    assert anonymous.get(f"/serving/{ENDPOINT}").status_code == 200  # their own project
    denied = anonymous.get(f"/serving/{VAULT_ENDPOINT}")
    assert denied.status_code == 403 and "drift-verdict" not in denied.text
    versions = anonymous.get(
        "/drift", params={"reference": f"{VAULT}/transactions@v1", "current": V1}
    )
    assert versions.status_code in (403, 404)
    assert "drift-verdict" not in versions.text and "<svg" not in versions.text
    assert text_of(section(versions.text, 'id="drift-error">', "</p>"))


def test_a_user_in_no_project_sees_no_report(anonymous: TestClient, world: DriftWorld) -> None:
    login(anonymous, world.outsider_token)
    assert anonymous.get(f"/serving/{ENDPOINT}").status_code == 403
    response = anonymous.get("/drift", params={"reference": V1, "current": V2})
    assert response.status_code in (403, 404) and "<svg" not in response.text


def test_a_restricted_reference_is_not_drawn_for_a_viewer_without_a_grant(
    anonymous: TestClient, world: DriftWorld, admin_svc: Services
) -> None:
    admin_svc.datasets.set_sensitivity(DATASET, "restricted", reason="tests")
    try:
        login(anonymous, world.member_token)
        response = anonymous.get(f"/serving/{ENDPOINT}", params={"window": "1h"})
        assert response.status_code == 200
        drift = drift_section(response.text)
        assert 'id="drift-error"' in drift and "<svg" not in drift
        versions = anonymous.get("/drift", params={"reference": V1, "current": V2})
        assert versions.status_code == 403 and "<svg" not in versions.text
    finally:
        admin_svc.datasets.set_sensitivity(DATASET, "internal", reason="tests")


# --- the view ---------------------------------------------------------------------------------


def test_the_view_names_the_other_bucket_and_keeps_untested_columns() -> None:
    report = {
        "rows": 10,
        "columns": {
            "plan": {
                "column": "plan",
                "kind": "categorical",
                "status": "checked",
                "test": {"type": "jensenshannon", "threshold": 0.1},
                "statistic": 0.2,
                "p_value": None,
                "threshold": 0.1,
                "drifted": True,
                "exact": True,
                "psi": {"value": 0.3, "threshold": 0.2, "significant": True},
                "reference": {"values": 100},
                "current": {"values": 10},
                "distribution": {"categories": {"free": [0.9, 0.5], "__other__": [0.1, 0.5]}},
            },
            "tags": {
                "column": "tags",
                "kind": "other",
                "status": "unsupported",
                "message": "Columns of this type (lists, structs, binary) are not tested.",
                "drifted": False,
            },
        },
        "missing_columns": {"zip": "current"},
    }
    view = drift_view(report)
    plan, tags = view.columns
    assert plan.rule == "≥ 0.1" and plan.psi_significant and plan.chart is not None
    assert [label.text for label in plan.chart.labels][2] == OTHER_LABEL
    assert plan.chart.current[1].title == f"{OTHER_LABEL} · current: 50% (5 rows)"
    assert not tags.checked and tags.chart is None and tags.rule == ""
    assert view.missing == [("zip", "current")] and view.prediction is None
