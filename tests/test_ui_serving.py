"""The serving and monitoring pages, in-process, on real traffic.

``populate_serving`` trains scikit-learn pipelines, registers them, sends real requests
through the gateway (primary, then a failing canary and a shadow), labels the answers,
and runs monitors (one rolls the canary back). The browser test (``test_browser.py``)
reuses it for its screenshots. It is built once for this module: the tests only read it.
"""

from __future__ import annotations

import io
import json
import pickle
import random
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from passline.data.connectors.memory import TableConnector
from passline.server.app import create_app
from passline.server.charts import Series, line_chart, time_ticks
from passline.server.ui import BLOCKS, DISPARITY_FLAG, action_text, endpoint_url, ms_text
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from tests.serving.conftest import FEATURES, Exploding, pipeline, transactions
from tests.test_ui import login
from tests.test_ui import text_of as tags_stripped

PROJECT = "checkout"
MODEL = f"{PROJECT}/fraud"
ENDPOINT = f"{PROJECT}/scoring"
QUIET = f"{PROJECT}/quiet"  # serves an alias no version holds: never any traffic
HIDDEN = "vault"
HIDDEN_ENDPOINT = f"{HIDDEN}/payroll-scorer"
MEMBER, OUTSIDER = "olga", "omar"
HOSTILE = "<script>alert('seg')</script>"


@dataclass
class Sent:
    """A request sent through the gateway and what came back."""

    status: int
    body: dict[str, Any]
    truth: list[int]
    phase: int  # 1: primary only; 2: with the canary and the shadow


@dataclass
class ServingWorld:
    """What ``populate_serving`` made."""

    token: str  # the workspace admin's
    member_token: str  # a viewer of checkout, in no other project
    outsider_token: str  # a user in no project
    sent: list[Sent] = field(default_factory=list)

    @property
    def answered(self) -> list[Sent]:
        return [s for s in self.sent if s.status == 200]

    @property
    def failed(self) -> list[Sent]:
        return [s for s in self.sent if s.status != 200]

    @property
    def shadow_calls(self) -> int:
        """The shadow answers a copy of each request the primary answered in phase 2."""
        return sum(1 for s in self.answered if s.phase == 2)

    @property
    def labelled_rows(self) -> int:
        return sum(len(s.truth) for s in self.answered)

    @property
    def accuracy(self) -> float:
        pairs = [
            pair for s in self.answered for pair in zip(s.body["predictions"], s.truth, strict=True)
        ]
        return sum(p == t for p, t in pairs) / len(pairs)


def _register(svc: Services, model: str, fitted: Any) -> int:
    project = model.split("/")[0]
    run = svc.tracking.start_run(svc.tracking.ensure_experiment(project, "scoring").id)
    svc.tracking.log_input(run.id, f"{project}/transactions@v1")
    svc.tracking.log_params(run.id, {"target": "is_fraud", "features": ",".join(FEATURES)})
    svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(fitted)))
    svc.tracking.end_run(run.id)
    return svc.registry.register(model, f"runs:/{run.id}/model").version


def _batch(seed: int, rows: int = 4, hostile: bool = False) -> tuple[list[dict], list[int]]:
    table = transactions(rows, seed).to_pylist()
    if hostile:
        table[0]["channel"] = HOSTILE
    return [{k: r[k] for k in FEATURES} for r in table], [r["is_fraud"] for r in table]


def _send(
    workspace: Workspace, token: str, endpoint: str, batches: list[tuple], phase: int
) -> list[Sent]:
    """Requests through a fresh gateway; leaving it writes the whole log (shadows too)."""
    from passline.serving.gateway import create_gateway_app

    sent = []
    url = f"/v1/endpoints/{endpoint}/predict"
    with TestClient(create_gateway_app(workspace, flush_s=0.05)) as gateway:
        for records, truth in batches:
            answer = gateway.post(
                url, json={"records": records}, headers={"Authorization": f"Bearer {token}"}
            )
            sent.append(Sent(answer.status_code, answer.json(), truth, phase))
    return sent


def populate_serving(workspace: Workspace) -> ServingWorld:
    """Project checkout: fraud v1, v2 and v3 (whose predict raises); endpoint scoring on
    production (v1) answers 11 requests (one with a hostile channel), then 30 more with v3
    as a 30% canary (it fails, 5 times at most before the gateway stops routing to it) and
    v2 as shadow; the answers are labelled; monitors run: canary errors (rollback, which
    takes v3 out), latency (ok), accuracy (alert), recall (never run); then v2 becomes a
    10% canary. Endpoint quiet serves staging, which no version holds. Project vault, with
    an endpoint and an alerting monitor, is seen only by the admin."""
    admin = workspace.services(workspace.local_context("sdk"))
    existing = {u.name for u in admin.identity.list_users()}
    for user in (MEMBER, OUTSIDER):
        if user not in existing:
            admin.identity.create_user(user)
    table = transactions()
    frame = table.to_pandas()
    for project in (PROJECT, HIDDEN):
        admin.projects.create(project, f"{project.title()} fraud scoring.")
        admin.ingest.ingest(f"{project}/transactions", TableConnector(table))
    for c in (1.0, 0.01):
        _register(admin, MODEL, pipeline(c).fit(frame[FEATURES], frame["is_fraud"]))
    _register(admin, MODEL, Exploding())
    _register(admin, f"{HIDDEN}/scorer", pipeline().fit(frame[FEATURES], frame["is_fraud"]))
    admin.registry.set_alias(MODEL, "production", 1)
    admin.registry.set_alias(f"{HIDDEN}/scorer", "production", 1)
    admin.projects.add_member(PROJECT, MEMBER, "viewer")

    admin.endpoints.create(PROJECT, "scoring", MODEL)
    admin.endpoints.create(PROJECT, "quiet", MODEL, alias="staging")
    admin.endpoints.create(HIDDEN, "payroll-scorer", f"{HIDDEN}/scorer", redact=["amount"])
    token = admin.identity.create_token("ui-serving").secret
    first = [_batch(0, hostile=True)] + [_batch(seed) for seed in range(1, 11)]
    sent = _send(workspace, token, ENDPOINT, first, phase=1)
    admin.endpoints.configure(ENDPOINT, canary_version=3, canary_percent=30, shadow_version=2)
    random.seed(5)  # the gateway draws the canary's share from the global generator
    sent += _send(workspace, token, ENDPOINT, [_batch(s) for s in range(11, 41)], phase=2)
    _send(workspace, token, HIDDEN_ENDPOINT, [_batch(s) for s in range(3)], phase=1)
    admin.monitoring.add_labels(
        [{"request_id": s.body["request_id"], "labels": s.truth} for s in sent if s.status == 200]
    )

    monitors = [
        ("canary-errors", "error_rate", 0.05, "canary", "rollback"),
        ("latency", "p95_latency_ms", 10_000, "primary", "notify"),
        ("accuracy", "accuracy", 0.99, "primary", "notify"),
    ]
    for name, metric, threshold, role, action in monitors:
        admin.monitors.add(ENDPOINT, name, metric, threshold, "1h", role, 1, action=action)
        admin.monitors.run(f"{PROJECT}/{name}")
    admin.monitors.add(ENDPOINT, "recall", "recall", 0.5, "1h", "primary", 20)
    admin.monitors.add(HIDDEN_ENDPOINT, "slow", "p95_latency_ms", 0, "1h", "primary", 1)
    admin.monitors.run(f"{HIDDEN}/slow")
    admin.endpoints.configure(ENDPOINT, canary_version=2, canary_percent=10)

    return ServingWorld(
        token=token,
        member_token=admin.identity.create_token("olga-ui", user=MEMBER).secret,
        outsider_token=admin.identity.create_token("omar-ui", user=OUTSIDER).secret,
        sent=sent,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, ServingWorld]]:
    pytest.importorskip("sklearn")
    workspace = Workspace.open(Settings(home=tmp_path_factory.mktemp("serving") / "home"))
    world = populate_serving(workspace)
    yield create_app(workspace=workspace), world
    workspace.close()


@pytest.fixture
def world(built: tuple[FastAPI, ServingWorld]) -> ServingWorld:
    return built[1]


@pytest.fixture
def admin_svc(built: tuple[FastAPI, ServingWorld]) -> Services:
    workspace = built[0].state.workspace
    return workspace.services(workspace.local_context("sdk"))


@pytest.fixture
def anonymous(built: tuple[FastAPI, ServingWorld]) -> Iterator[TestClient]:
    with TestClient(built[0]) as client:
        yield client


@pytest.fixture
def ui(anonymous: TestClient, world: ServingWorld) -> TestClient:
    """Logged in as the workspace admin."""
    login(anonymous, world.token)
    return anonymous


def text_of(page: str) -> str:
    """The page's visible text (a ``<wbr>`` line-break hint is not a space)."""
    return tags_stripped(page.replace("<wbr>", ""))


def section(page: str, start: str, end: str = "</section>") -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def row(page: str, row_id: str) -> str:
    """The table row with this id (its attributes and cells)."""
    return section(page, f'id="{row_id}"', "</tr>")


# --- the world is what the tests think it is -----------------------------------------------


def test_the_traffic_went_where_the_tests_expect(world: ServingWorld, admin_svc: Services) -> None:
    assert len(world.sent) == 41
    assert 1 <= len(world.failed) <= 5  # the canary, until the gateway stopped using it
    assert {s.body["code"] for s in world.failed} == {"model_error"}
    assert {s.body["role"] for s in world.answered} == {"primary"}
    totals = admin_svc.monitoring.dashboard(ENDPOINT, "15m")["totals"]
    assert totals["requests"] == len(world.sent) + world.shadow_calls
    assert totals["errors"] == len(world.failed)


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/serving", f"/serving/{ENDPOINT}?window=15m", "/monitoring?project=checkout"]
)
def test_pages_redirect_to_login_without_a_session(anonymous: TestClient, path: str) -> None:
    response = anonymous.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?" + urlencode({"next": path})


def test_serving_and_monitoring_are_built_blocks(ui: TestClient) -> None:
    assert "serving" not in BLOCKS and "monitoring" not in BLOCKS
    body = ui.get("/").text
    assert '<a href="/serving">Serving</a>' in body
    assert '<a href="/monitoring">Monitoring</a>' in body
    for path in ("/serving", "/monitoring", f"/serving/{ENDPOINT}"):
        page = ui.get(path)
        assert page.status_code == 200 and "This block is not built yet." not in page.text
        assert 'aria-current="page">' in page.text


def test_a_member_sees_only_the_endpoints_of_their_projects(
    anonymous: TestClient, world: ServingWorld
) -> None:
    login(anonymous, world.member_token)
    listed = anonymous.get("/serving")
    assert listed.status_code == 200
    assert f'id="endpoint-{PROJECT}-scoring"' in listed.text
    assert HIDDEN not in text_of(listed.text) and "payroll" not in listed.text
    denied = anonymous.get(f"/serving/{HIDDEN_ENDPOINT}")
    assert denied.status_code == 403 and f"{HIDDEN}/scorer" not in denied.text
    monitoring = anonymous.get("/monitoring")
    assert monitoring.status_code == 200
    assert f"{PROJECT}/canary-errors" in text_of(monitoring.text)
    assert f"{HIDDEN}/slow" not in monitoring.text and HIDDEN not in text_of(monitoring.text)


def test_a_user_in_no_project_sees_no_endpoint(anonymous: TestClient, world: ServingWorld) -> None:
    login(anonymous, world.outsider_token)
    page = text_of(anonymous.get("/serving").text)
    assert "No endpoints yet." in page and "scoring" not in page
    assert anonymous.get(f"/serving/{ENDPOINT}").status_code == 403
    monitoring = text_of(anonymous.get("/monitoring").text)
    assert "No monitors." in monitoring and "No alerts:" in monitoring


# --- the serving page -----------------------------------------------------------------------


def test_serving_lists_every_endpoint_with_its_last_hour(
    ui: TestClient, world: ServingWorld
) -> None:
    response = ui.get("/serving")
    assert response.status_code == 200
    scoring = text_of(row(response.text, f"endpoint-{PROJECT}-scoring"))
    assert "checkout/ scoring" in scoring and MODEL in scoring
    assert "production → v1" in scoring
    assert "v2 · 10%" in scoring  # the canary after the rollback took v3 out
    calls = len(world.sent) + world.shadow_calls
    errors = len(world.failed) / calls
    assert f"{calls:,} incl. {world.shadow_calls} shadow" in scoring
    assert f"{errors * 100:.1f}%".replace(".0%", "%") in scoring
    assert re.search(r"\d+ ms", scoring)  # p95, from the latency histogram
    quiet = text_of(row(response.text, f"endpoint-{PROJECT}-quiet"))
    assert "staging → no version" in quiet and "No traffic in the last hour" in quiet
    assert f'href="{endpoint_url(ENDPOINT)}"' in response.text
    hidden = text_of(row(response.text, f"endpoint-{HIDDEN}-payroll-scorer"))
    assert "3" in hidden and "none" in hidden  # the admin sees every project


def test_serving_can_be_filtered_by_project(ui: TestClient) -> None:
    page = ui.get("/serving", params={"project": HIDDEN}).text
    assert f"endpoint-{HIDDEN}-payroll-scorer" in page and "endpoint-checkout" not in page
    assert ui.get("/serving", params={"project": "nope"}).status_code == 404


# --- an endpoint's page ---------------------------------------------------------------------


def test_endpoint_page_shows_the_windows_totals_and_roles(
    ui: TestClient, world: ServingWorld
) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"window": "15m"})
    assert response.status_code == 200
    page = response.text
    calls = len(world.sent) + world.shadow_calls
    assert text_of(section(page, 'id="stat-requests"', "</div></div>")).endswith(f"{calls:,}")
    assert text_of(section(page, 'id="stat-errors"', "</div></div>")).endswith(
        str(len(world.failed))
    )
    primary, canary = row(page, "role-primary"), row(page, "role-canary")
    assert f">{len(world.answered)}</td>" in primary and "v1" in primary
    assert f">{len(world.failed)}</td>" in canary and "100%" in canary and "v3" in canary
    assert f">{world.shadow_calls}</td>" in row(page, "role-shadow")


def test_latency_throughput_and_error_rate_are_drawn_per_role(ui: TestClient) -> None:
    page = ui.get(f"/serving/{ENDPOINT}", params={"window": "15m"}).text
    for role in ("primary", "canary", "shadow"):
        chart = section(page, f'id="latency-{role}"')
        assert f"Latency · {role}" in chart
        assert [n for n in re.findall(r'class="swatch"[^>]*></span>(\w+)', chart)] == [
            "p50",
            "p95",
            "p99",
        ]
        assert "<circle" in chart  # at least one minute drawn
    throughput = section(page, 'id="throughput"')
    assert re.findall(r'class="swatch"[^>]*></span>(\w+)', throughput) == [
        "primary",
        "canary",
        "shadow",
    ]
    # Every minute of the window is a point (quiet ones at 0): a line, not scattered dots.
    assert throughput.count('<polyline class="line"') == 3
    assert "x: time (UTC)" in throughput
    assert re.search(r'<text class="tick"[^>]*>\d\d:\d\d</text>', throughput)
    errors = section(page, 'id="error-rate"')
    assert "canary · 20" in errors and ": 100</title>" in errors  # every canary call failed


def test_the_window_selector_keeps_the_segment(ui: TestClient) -> None:
    page = ui.get(f"/serving/{ENDPOINT}", params={"window": "24h", "segment": "channel"}).text
    selector = section(page, '<nav class="windows"', "</nav>")
    for window in ("15m", "1h", "24h", "7d"):
        href = endpoint_url(ENDPOINT, window=window, segment="channel").replace("&", "&amp;")
        assert f'href="{href}"' in selector
    assert re.search(r'class="active" aria-current="true">24h</a>', selector)
    assert "Traffic over the last 24h" in page
    custom = ui.get(f"/serving/{ENDPOINT}", params={"window": "3h"}).text
    assert re.search(r'class="active" aria-current="true">3h</a>', custom)


def test_a_bad_window_shows_the_services_message_with_422(ui: TestClient) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"window": "soon"})
    assert response.status_code == 422
    page = text_of(response.text)
    assert "A window looks like 15m, 24h or 7d. Got 'soon' instead." in page
    assert 'id="traffic"' not in response.text and "<svg" not in response.text
    selector = section(response.text, '<nav class="windows"', "</nav>")
    assert "soon" not in selector and "active" not in selector  # pick another from here
    hostile = ui.get(f"/serving/{ENDPOINT}", params={"window": "<b>x</b>"})
    assert hostile.status_code == 422
    assert "<b>x</b>" not in hostile.text and "&lt;b&gt;x&lt;/b&gt;" in hostile.text


def test_an_unknown_endpoint_is_a_404_page(ui: TestClient) -> None:
    response = ui.get(f"/serving/{PROJECT}/nope")
    assert response.status_code == 404
    page = text_of(response.text)
    assert "Project 'checkout' has no endpoint named 'nope'." in page and "Back to serving" in page
    assert ui.get("/serving/nowhere/scoring").status_code == 404


def test_an_endpoint_without_traffic_says_so(ui: TestClient) -> None:
    response = ui.get(f"/serving/{QUIET}", params={"window": "15m"})
    assert response.status_code == 200
    page = text_of(response.text)
    assert "No traffic in the last 15m." in page
    assert "No predictions in the last 15m." in page
    assert "No labelled predictions in the last 15m." in page
    assert "which points at no version" in page
    assert "No monitors on this endpoint." in page and "No alerts for this endpoint" in page
    assert "<svg" not in response.text


def test_the_prediction_distribution(
    ui: TestClient, world: ServingWorld, admin_svc: Services
) -> None:
    found = admin_svc.monitoring.predictions(ENDPOINT, "1h")
    predicted = [p for s in world.answered for p in s.body["predictions"]]
    assert found["rows"] == len(predicted)  # answers callers got: no shadow's
    chart = section(ui.get(f"/serving/{ENDPOINT}").text, 'id="predictions"')
    assert f"{found['rows']:,} predictions in the last 1h" in text_of(chart)
    assert 'class="chart chart-top"' in chart
    counts = found["distribution"]["counts"]
    for value, count in counts.items():
        share = count / found["rows"]
        assert f"<title>{value}: {count:,} rows ({share:.0%})</title>" in chart
    assert "a shadow's answers are left out" in text_of(chart)


def test_realised_performance_per_version(ui: TestClient, world: ServingWorld) -> None:
    page = ui.get(f"/serving/{ENDPOINT}").text
    v1 = text_of(row(page, "perf-v1"))
    assert f"v1 {world.labelled_rows} {world.accuracy:.4g}" in v1
    header = text_of(section(page, '<table class="performance">', "</thead>")).strip()
    assert header == "Version Labelled rows accuracy precision recall false positive rate"
    assert "perf-v3" not in page  # the canary never answered: nothing of it is labelled
    assert 'id="segments-v1"' not in page  # no segment asked for


def test_segments_show_per_segment_metrics_and_flag_disparity(
    ui: TestClient, admin_svc: Services
) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"segment": "channel", "window": "1h"})
    assert response.status_code == 200
    page = response.text
    options = section(page, '<select name="segment">', "</select>")
    assert re.findall(r'<option value="(\w*)"', options) == ["", "amount", "hour", "channel"]
    assert '<option value="channel" selected>' in options
    report = admin_svc.monitoring.realised(ENDPOINT, "1h", segment="channel")["versions"]["v1"]
    segments = section(page, '<table class="segments">', "</table>")
    for value, metrics in report["segments"].items():
        assert f"{metrics['rows']:,}" in segments
        assert str(value) in text_of(segments)
    disparity = section(page, '<table class="disparity" id="disparity-v1">', "</table>")
    flagged = 0
    for metric, found in report["disparity"].items():
        line = row(disparity, f"disparity-v1-{metric}")
        far = found["ratio"] is None or found["ratio"] >= DISPARITY_FLAG
        flagged += far
        assert ('class="flagged"' in line) == far, (metric, found)
        assert ("far from 1" in line) == far
        if found["ratio"] is not None:
            assert f"{found['ratio']:.2f}×" in line
        else:
            assert "∞" in line
    assert flagged  # the one-row hostile segment is either all right or all wrong


def test_html_in_a_segment_value_is_escaped(ui: TestClient) -> None:
    page = ui.get(f"/serving/{ENDPOINT}", params={"segment": "channel"}).text
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#39;seg&#39;)&lt;/script&gt;" in page


def test_an_unknown_segment_is_refused_with_422(ui: TestClient) -> None:
    response = ui.get(f"/serving/{ENDPOINT}", params={"segment": "<i>zip</i>"})
    assert response.status_code == 422
    error = text_of(section(response.text, 'id="segment-error"', "</p>"))
    assert (
        "The segment must be one of the served version's inputs: amount, hour, channel. "
        "Got '<i>zip</i>' instead." in error
    )
    assert "<i>zip</i>" not in response.text
    assert 'id="perf-v1"' in response.text  # the unsegmented metrics are still shown
    nothing = ui.get(f"/serving/{QUIET}", params={"segment": "channel"})
    assert nothing.status_code == 422
    assert "There is no input to segment by: the alias holds no version." in text_of(nothing.text)


def test_redacted_inputs_cannot_be_segments(ui: TestClient) -> None:
    page = ui.get(f"/serving/{HIDDEN_ENDPOINT}").text
    options = section(page, '<select name="segment">', "</select>")
    assert re.findall(r'<option value="(\w*)"', options) == ["", "hour", "channel"]
    assert "<code>amount</code>" in section(page, "<dt>Not logged</dt>", "</dd>")


def test_monitors_and_alerts_of_the_endpoint(ui: TestClient) -> None:
    page = ui.get(f"/serving/{ENDPOINT}").text
    monitors = section(page, 'id="monitors"')
    canary = text_of(row(monitors, f"monitor-{PROJECT}-canary-errors"))
    assert "error_rate (canary) > 0.05 over 1h" in canary and "alert" in canary
    assert "rollback" in canary and "1" in canary
    assert "ok" in text_of(row(monitors, f"monitor-{PROJECT}-latency"))
    assert "never run" in text_of(row(monitors, f"monitor-{PROJECT}-recall"))
    alerts = section(page, 'id="alerts"')
    rollback = re.search(r'<tr id="alert-[^"]+" class="rollback">(.*?)</tr>', alerts, re.S)
    assert rollback is not None
    assert re.search(r"Canary v3 taken out of the traffic in [\d.]+ ms", text_of(rollback[1]))
    assert 'class="kind-notify"' in alerts and "accuracy of checkout/scoring" in alerts
    assert HIDDEN not in text_of(alerts)


def test_the_drift_section_holds_the_report(ui: TestClient) -> None:
    # The report itself is tested in test_ui_drift.py.
    page = ui.get(f"/serving/{ENDPOINT}").text
    assert '<section class="card" id="drift">' in page and 'id="drift-verdict"' in page


def test_the_call_example_is_a_request_the_gateway_answers(
    ui: TestClient, built: tuple[FastAPI, ServingWorld], world: ServingWorld
) -> None:
    from passline.serving.gateway import create_gateway_app

    page = ui.get(f"/serving/{HIDDEN_ENDPOINT}").text
    command = text_of(section(page, '<pre class="call mono">', "</pre>")).replace("\\ ", "")
    words = shlex.split(command)
    url = words[words.index("-X") + 2]
    assert url == f"http://127.0.0.1:8766/v1/endpoints/{HIDDEN_ENDPOINT}/predict"
    body = json.loads(words[words.index("-d") + 1])
    assert body == {"records": [{"amount": 0.0, "hour": 0, "channel": ""}]}
    with TestClient(create_gateway_app(built[0].state.workspace, flush_s=0.05)) as gateway:
        answer = gateway.post(
            url.removeprefix("http://127.0.0.1:8766"),
            json=body,
            headers={"Authorization": f"Bearer {world.token}"},
        )
    assert answer.status_code == 200, answer.text


# --- the monitoring page --------------------------------------------------------------------


def test_monitoring_lists_monitors_and_alerts_with_rollbacks_highlighted(ui: TestClient) -> None:
    response = ui.get("/monitoring")
    assert response.status_code == 200
    page = response.text
    summary = text_of(section(page, 'id="summary"', "</div>"))
    assert "5 monitors" in summary and "3 alerting now" in summary and "1 rollback" in summary
    monitors = section(page, '<table class="monitors">', "</table>")
    slow = text_of(row(monitors, f"monitor-{HIDDEN}-slow"))
    assert "p95_latency_ms (primary) > 0.0 over 1h" in slow and HIDDEN_ENDPOINT in slow
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", slow)  # when it last ran
    alerts = section(page, '<table class="alerts">', "</table>")
    assert alerts.count('class="rollback"') == 1
    assert f'href="{endpoint_url(ENDPOINT)}"' in alerts


def test_monitoring_can_be_filtered_by_project(ui: TestClient) -> None:
    page = text_of(ui.get("/monitoring", params={"project": HIDDEN}).text)
    assert f"{HIDDEN}/slow" in page and "canary-errors" not in page
    assert "1 monitor " in page and "1 recent alert " in page


# --- helpers and chart geometry -------------------------------------------------------------


def test_action_texts() -> None:
    removed = {"kind": "canary_removed", "version": 3, "time_to_rollback_ms": 12.5}
    assert action_text(removed) == "Canary v3 taken out of the traffic in 12.5 ms"
    moved = {"kind": "alias_rollback", "alias": "production", "from": 2, "to": 1}
    assert action_text(moved) == "production moved back from v2 to v1"
    failed = {"kind": "rollback_failed", "error": "no previous version"}
    assert action_text(failed) == "Rollback failed: no previous version"
    assert action_text({"kind": "notify"}) == "Notified"
    assert ms_text(25.0) == "25 ms" and ms_text(None) == "—"


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_time_ticks_fall_on_round_clock_times() -> None:
    ticks, step = time_ticks(_epoch("2026-11-30 07:03:20"), _epoch("2026-11-30 08:03:20"))
    assert step == 600
    assert [datetime.fromtimestamp(t, UTC).strftime("%H:%M") for t in ticks] == [
        "07:10",
        "07:20",
        "07:30",
        "07:40",
        "07:50",
        "08:00",
    ]
    _, day = time_ticks(_epoch("2026-11-29 08:00:00"), _epoch("2026-11-30 08:00:00"))
    assert day == 6 * 3600
    _, week = time_ticks(_epoch("2026-11-23 08:00:00"), _epoch("2026-11-30 08:00:00"))
    assert week == 2 * 86400


def test_a_time_axis_is_labelled_by_the_clock_and_spans_the_window() -> None:
    start, end = _epoch("2026-11-29 20:00:00"), _epoch("2026-11-30 20:00:00")
    minute = _epoch("2026-11-30 07:41:00")
    chart = line_chart(
        [Series("primary", [(minute, 4.0), (minute + 60, 6.0), (start - 60, 9.0)])],
        x_title="time (UTC)",
        x_span=(start, end),
        time_axis=True,
        from_zero=True,
    )
    # Every 6 hours over a day; midnight is labelled by its date.
    assert [label.text for label in chart.x_labels] == ["11-30", "06:00", "12:00", "18:00"]
    assert chart.lines[0].drawn == 2  # the point before the window is left out
    left, right = chart.plot.left, chart.plot.right
    first_x = chart.lines[0].points[0][0]
    expected = left + (minute - start) / (end - start) * (right - left)
    assert first_x == pytest.approx(expected, abs=0.01)
    assert chart.lines[0].markers[0].title == "primary · 2026-11-30 07:41 UTC: 4"
    assert chart.y_labels[0].text == "0"  # from zero, not from 4


def test_from_zero_gives_an_all_zero_line_a_0_to_1_axis() -> None:
    chart = line_chart([Series("errors", [(0, 0.0), (1, 0.0)])], from_zero=True)
    values = [float(label.text) for label in chart.y_labels]
    assert values[0] == 0 and values[-1] == 1
    plain = line_chart([Series("errors", [(0, 0.0), (1, 0.0)])])
    assert plain.y_labels[0].text.startswith("-")  # unchanged without it
