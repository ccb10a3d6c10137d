"""Labels that arrive later, realised metrics per version and segment, monitors with alerts,
webhooks and automatic rollback, scheduled checks claimed once."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passline.core.clock import utcnow
from passline.data.connectors.memory import TableConnector
from passline.errors import Conflict, InvalidInput, NotFound
from passline.services.monitors import run_due_monitors
from passline.services.workspace import Services, Workspace
from tests.serving.conftest import MODEL, flush, records, transactions

URL = f"/v1/models/{MODEL}@production/predict"
ENDPOINT = "shop/scorer-production"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def predict(gateway: TestClient, token: str, rows: list[dict], **extra: Any) -> dict:
    answer = gateway.post(URL, json={"records": rows, **extra}, headers=auth(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_labels_for_unknown_request_ids_are_reported_not_stored(
    gateway: TestClient, token: str, served: Services
) -> None:
    rid = predict(gateway, token, records(1))["request_id"]
    flush(gateway)
    answer = gateway.post(
        "/v1/labels",
        json={"labels": [{"request_id": rid, "label": 1}, {"request_id": "req_nope", "label": 0}]},
        headers=auth(token),
    ).json()
    assert answer == {"accepted": 1, "unknown": ["req_nope"], "unknown_count": 1}
    only_unknown = gateway.post(
        "/v1/labels", json={"labels": [{"request_id": "req_x", "label": 1}]}, headers=auth(token)
    )
    assert only_unknown.status_code == 404 and "req_x" in only_unknown.json()["message"]
    malformed = gateway.post("/v1/labels", json={"labels": [{"label": 1}]}, headers=auth(token))
    assert malformed.status_code == 422 and "request_id" in malformed.json()["message"]
    with pytest.raises(InvalidInput, match="non-empty|Send"):
        served.monitoring.add_labels([])


def test_realised_metrics_per_version_and_segment_with_disparity(
    gateway: TestClient, token: str, served: Services
) -> None:
    rows = records(120, seed=5)
    answer = predict(gateway, token, rows)
    flush(gateway)
    # Labels that say every "web" transaction is fraud: the web segment's false-positive
    # rate is 0 by construction, the others' is what the model predicts as positive.
    truth = [1 if r["channel"] == "web" else 0 for r in rows]
    served.monitoring.add_labels([{"request_id": answer["request_id"], "labels": truth}])
    report = served.monitoring.realised(ENDPOINT, "1h", segment="channel")
    v1 = report["versions"]["v1"]
    assert report["labelled_rows"] == 120 and v1["rows"] == 120
    predictions = answer["predictions"]
    negatives = [p for p, t in zip(predictions, truth, strict=True) if t == 0]
    assert v1["false_positive_rate"] == pytest.approx(sum(negatives) / len(negatives))
    assert set(v1["segments"]) == {"web", "store", "app"}
    assert v1["segments"]["web"]["false_positive_rate"] is None  # no negatives there
    accuracy = v1["disparity"]["accuracy"]
    assert accuracy["highest"]["value"] >= accuracy["lowest"]["value"]


def test_labels_from_a_dataset_joined_on_keys(
    gateway: TestClient, token: str, served: Services
) -> None:
    table = transactions(30, seed=9)
    rows = table.select(["amount", "hour", "channel"]).to_pylist()
    predict(gateway, token, rows[:20], keys=table.column("txn_id").to_pylist()[:20])
    predict(gateway, token, rows[20:])  # no keys: cannot be joined
    flush(gateway)
    served.ingest.ingest("shop/outcomes", TableConnector(table.select(["txn_id", "is_fraud"])))
    result = served.monitoring.labels_from_dataset(
        ENDPOINT, "shop/outcomes@v1", "txn_id", "is_fraud"
    )
    assert result["accepted"] == 1 and result["matched_rows"] == 20
    assert served.monitoring.realised(ENDPOINT, "1h")["labelled_rows"] == 20
    with pytest.raises(InvalidInput, match="no column 'label'"):
        served.monitoring.labels_from_dataset(ENDPOINT, "shop/outcomes@v1", "txn_id", "label")


def test_empty_windows_give_empty_answers(served: Services) -> None:
    served.endpoints.create("shop", "quiet", MODEL)
    board = served.monitoring.dashboard("shop/quiet", "15m")
    assert board["series"] == [] and board["totals"]["requests"] == 0
    assert board["totals"]["p95_ms"] is None
    assert served.monitoring.realised("shop/quiet", "1d")["versions"] == {}
    assert served.monitoring.predictions("shop/quiet", "1d")["rows"] == 0
    served.monitors.add("shop/quiet", "quiet-errors", "error_rate", 0.1)
    assert served.monitors.run("shop/quiet-errors")["status"] == "no_data"
    with pytest.raises(InvalidInput, match="15m, 24h or 7d"):
        served.monitoring.dashboard("shop/quiet", "soon")


def test_bad_monitors_are_refused(served: Services) -> None:
    served.endpoints.create("shop", "checkout", MODEL)
    cases = [
        ({"metric": "happiness"}, "Unknown metric"),
        ({"window": "2 weeks"}, "15m, 24h or 7d"),
        ({"role": "shadow"}, "primary' or 'canary"),
        ({"action": "page-everyone"}, "notify' or 'rollback"),
        ({"webhook_url": "file:///etc/passwd"}, "http"),
        ({"min_rows": 0}, "at least 1"),
        ({"schedule": "every minute"}, "cron"),
    ]
    for change, message in cases:
        options = {"metric": "error_rate", "threshold": 0.1, **change}
        with pytest.raises(InvalidInput, match=message):
            served.monitors.add("shop/checkout", "m", **options)
    with pytest.raises(NotFound, match="no endpoint named 'nope'"):
        served.monitors.add("shop/nope", "m", "error_rate", 0.1)
    served.monitors.add("shop/checkout", "m", "error_rate", 0.1)
    with pytest.raises(Conflict):
        served.monitors.add("shop/checkout", "m", "error_rate", 0.1)
    with pytest.raises(NotFound):
        served.monitors.run("shop/other")


class _Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Any:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook.received
    server.shutdown()
    server.server_close()


def test_a_failing_canary_is_rolled_back_with_an_alert_and_a_webhook(
    gateway: TestClient, token: str, served: Services, webhook: Any
) -> None:
    url, received = webhook
    served.endpoints.create("shop", "checkout", MODEL)
    served.endpoints.configure("shop/checkout", canary_version=3, canary_percent=50)
    served.monitors.add(
        "shop/checkout",
        "canary-errors",
        "error_rate",
        0.05,
        role="canary",
        min_rows=5,
        action="rollback",
        webhook_url=url,
    )
    time.sleep(1.05)
    statuses = [
        gateway.post(
            "/v1/endpoints/shop/checkout/predict", json=records(1), headers=auth(token)
        ).status_code
        for _ in range(40)
    ]
    assert 500 in statuses and 200 in statuses
    flush(gateway)
    outcome = served.monitors.run("shop/canary-errors")
    assert outcome["status"] == "alert" and outcome["value"] == 1.0
    action = outcome["alert"]["action"]
    assert action["kind"] == "canary_removed" and action["version"] == 3
    assert action["time_to_rollback_ms"] > 0
    assert served.endpoints.get("shop/checkout").canary_version is None
    time.sleep(1.05)
    after = [
        gateway.post(
            "/v1/endpoints/shop/checkout/predict", json=records(1), headers=auth(token)
        ).status_code
        for _ in range(20)
    ]
    assert set(after) == {200}
    assert received and received[0]["monitor"] == "shop/canary-errors"
    assert served.monitors.alerts("shop")[0].delivered == {"webhook": "sent", "status": 204}
    audit = served.audit.log(action="monitor.rollback", project="shop")
    assert audit and audit[0].changes["reason"].startswith("error_rate of shop/checkout (canary)")


def test_a_broken_primary_rule_moves_the_alias_back(
    gateway: TestClient, token: str, served: Services
) -> None:
    served.registry.set_alias(MODEL, "production", 3)  # the bad version goes live
    time.sleep(1.05)
    for _ in range(6):
        gateway.post(URL, json=records(1), headers=auth(token))
    flush(gateway)
    served.monitors.add(ENDPOINT, "errors", "error_rate", 0.2, min_rows=5, action="rollback")
    outcome = served.monitors.run("shop/errors")
    assert outcome["alert"]["action"]["kind"] == "alias_rollback"
    assert (outcome["alert"]["action"]["from"], outcome["alert"]["action"]["to"]) == (3, 1)
    assert served.registry.version(MODEL, "production").version == 1
    assert served.registry.history(MODEL, "production")[0].kind == "rollback"


def test_due_monitors_are_claimed_once(served: Services, workspace: Workspace) -> None:
    served.endpoints.create("shop", "checkout", MODEL)
    served.monitors.add("shop/checkout", "latency", "p95_latency_ms", 250)
    later = utcnow() + timedelta(minutes=2)
    assert run_due_monitors(workspace, later) == [("shop/latency", "no_data")]
    assert run_due_monitors(workspace, later) == []
    assert served.monitors.list("shop")[0].last_status == "no_data"


def test_windows_segments_and_alert_filters_are_checked(
    gateway: TestClient, token: str, served: Services
) -> None:
    with pytest.raises(InvalidInput, match="at most 400 days"):
        served.monitoring.dashboard(ENDPOINT, "9999999d")
    answer = predict(gateway, token, records(4))
    flush(gateway)
    served.monitoring.add_labels([{"request_id": answer["request_id"], "labels": [0, 1, 0, 1]}])
    with pytest.raises(InvalidInput, match="No logged input is named 'colour'"):
        served.monitoring.realised(ENDPOINT, "1h", segment="colour")
    board = served.monitoring.dashboard(ENDPOINT, "1h")
    assert board["roles"]["primary"]["requests"] == board["totals"]["requests"] == 1
    assert served.monitors.alerts(endpoint=ENDPOINT) == []
