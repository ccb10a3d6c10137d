"""The gateway through its HTTP interface: predictions by alias and version, bodies in JSON,
Arrow and Parquet, every bad input named, failures with request ids, hot swap, canary,
shadow, the prediction log with redaction, Prometheus metrics."""

from __future__ import annotations

import io
import json
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from passline.services.workspace import Services, Workspace
from passline.serving.gateway import MAX_BODY_BYTES, UNHEALTHY_AFTER
from passline.store.prediction_log import read_log
from tests.serving.conftest import FEATURES, MODEL, flush, records

URL = f"/v1/models/{MODEL}@production/predict"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_predicts_by_alias_and_version_with_a_request_id(gateway: TestClient, token: str) -> None:
    answer = gateway.post(URL, json={"records": records(3)}, headers=auth(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == 1 and body["role"] == "primary"
    assert len(body["predictions"]) == 3 and set(body["predictions"]) <= {0, 1}
    assert answer.headers["X-Request-Id"] == body["request_id"]
    by_version = gateway.post(f"/v1/models/{MODEL}@2/predict", json=records(2), headers=auth(token))
    assert by_version.json()["version"] == 2
    mine = gateway.post(
        URL, json={"records": records(1)}, headers={**auth(token), "X-Request-Id": "req_mine"}
    )
    assert mine.json()["request_id"] == "req_mine"


def test_arrow_and_parquet_batches(gateway: TestClient, token: str) -> None:
    table = pa.Table.from_pylist(records(50))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    arrow = gateway.post(
        URL,
        content=sink.getvalue().to_pybytes(),
        headers={**auth(token), "Content-Type": "application/vnd.apache.arrow.stream"},
    )
    assert arrow.status_code == 200, arrow.text
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    parquet = gateway.post(
        URL,
        content=buffer.getvalue(),
        headers={**auth(token), "Content-Type": "application/vnd.apache.parquet"},
    )
    assert parquet.status_code == 200
    assert parquet.json()["predictions"] == arrow.json()["predictions"]
    assert len(arrow.json()["predictions"]) == 50


def bad(gateway: TestClient, token: str, body: object, raw: bytes | None = None) -> dict:
    content = raw if raw is not None else json.dumps(body).encode()
    answer = gateway.post(
        URL, content=content, headers={**auth(token), "Content-Type": "application/json"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["request_id"]
    return answer.json()


def test_each_bad_input_is_refused_naming_the_field(gateway: TestClient, token: str) -> None:
    good = records(1)[0]
    wrong_type = bad(gateway, token, {"records": [{**good, "amount": "12 EUR"}]})
    assert wrong_type["field"] == "amount" and "must be a number" in wrong_type["message"]
    missing = bad(gateway, token, {"records": [{k: good[k] for k in ("amount", "hour")}]})
    assert missing["field"] == "channel" and "missing" in missing["message"]
    extra = bad(gateway, token, {"records": [{**good, "coupon": 1}]})
    assert extra["field"] == "coupon" and "not an input" in extra["message"]
    nan = bad(
        gateway, token, None, raw=b'{"records": [{"amount": NaN, "hour": 1, "channel": "web"}]}'
    )
    assert nan["field"] == "amount" and "finite" in nan["message"]
    assert "not JSON" in bad(gateway, token, None, raw=b"{oops")["message"]
    assert "non-empty list" in bad(gateway, token, {"records": []})["message"]
    keys = bad(gateway, token, {"records": [good], "keys": ["a", "b"]})
    assert "one string or integer per record" in keys["message"]


def test_oversized_payloads_get_413(gateway: TestClient, token: str) -> None:
    answer = gateway.post(
        URL,
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413 and "limit" in answer.json()["message"]


def test_unknown_model_alias_and_missing_token(gateway: TestClient, token: str) -> None:
    unknown_model = gateway.post(
        "/v1/models/shop/nope@production/predict", json=records(1), headers=auth(token)
    )
    assert unknown_model.status_code == 404 and "nope" in unknown_model.json()["message"]
    unknown_alias = gateway.post(
        f"/v1/models/{MODEL}@staging/predict", json=records(1), headers=auth(token)
    )
    assert unknown_alias.status_code == 404 and "staging" in unknown_alias.json()["message"]
    assert gateway.post(URL, json=records(1)).status_code == 401
    assert gateway.get("/metrics").status_code == 401


def test_a_model_that_raises_answers_500_with_its_request_id_then_is_unhealthy(
    gateway: TestClient, token: str, workspace: Workspace
) -> None:
    url = f"/v1/models/{MODEL}@3/predict"
    for _ in range(UNHEALTHY_AFTER):
        failed = gateway.post(url, json=records(1), headers=auth(token))
        assert failed.status_code == 500
        assert failed.json()["request_id"] == failed.headers["X-Request-Id"]
        assert "never saw" in failed.json()["message"]
    health = gateway.get("/v1/health").json()
    assert health["status"] == "degraded" and len(health["unhealthy_versions"]) == 1
    flush(gateway)
    endpoint = workspace.services(workspace.local_context()).endpoints.get("shop/scorer-3")
    log = read_log(workspace.settings.home, endpoint.id, *_today())
    assert set(log.column("status").to_pylist()) == {500}
    assert "ValueError" in log.column("error")[0].as_py()


def _today() -> tuple:
    from datetime import timedelta

    from passline.core.clock import utcnow

    return utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1)


def test_an_alias_move_reaches_the_gateway_within_a_second(
    gateway: TestClient, token: str, served: Services
) -> None:
    assert gateway.post(URL, json=records(1), headers=auth(token)).json()["version"] == 1
    served.registry.set_alias(MODEL, "production", 2)
    deadline = time.monotonic() + 1.5
    version = 1
    while version == 1 and time.monotonic() < deadline:
        version = gateway.post(URL, json=records(1), headers=auth(token)).json()["version"]
    assert version == 2


def test_alias_moves_under_load_fail_no_request(
    gateway: TestClient, token: str, served: Services
) -> None:
    failures: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            answer = gateway.post(URL, json=records(2), headers=auth(token))
            if answer.status_code != 200:
                failures.append(answer.status_code)

    workers = [threading.Thread(target=traffic) for _ in range(3)]
    for worker in workers:
        worker.start()
    for move in range(10):
        served.registry.set_alias(MODEL, "production", 2 if move % 2 == 0 else 1)
        time.sleep(0.15)
    stop.set()
    for worker in workers:
        worker.join()
    assert failures == []


def test_canary_and_shadow(
    gateway: TestClient, token: str, served: Services, workspace: Workspace
) -> None:
    served.endpoints.create("shop", "checkout", MODEL)
    url = "/v1/endpoints/shop/checkout/predict"
    served.endpoints.configure("shop/checkout", canary_version=2, canary_percent=100)
    time.sleep(1.05)
    answer = gateway.post(url, json=records(1), headers=auth(token)).json()
    assert (answer["version"], answer["role"]) == (2, "canary")
    served.endpoints.configure("shop/checkout", clear_canary=True, shadow_version=3)
    time.sleep(1.05)
    answer = gateway.post(url, json=records(1), headers=auth(token))
    # The shadow's failure is logged, never returned: the caller gets the primary's answer.
    assert answer.status_code == 200 and answer.json()["role"] == "primary"
    rid = answer.json()["request_id"]
    gateway.app.state.gateway._shadow_pool.submit(lambda: None).result()
    time.sleep(0.05)
    flush(gateway)
    log = read_log(workspace.settings.home, served.endpoints.get("shop/checkout").id, *_today())
    mine = log.filter(pa.compute.equal(log.column("request_id"), rid)).to_pylist()
    assert {(r["role"], r["status"]) for r in mine} == {("primary", 200), ("shadow", 500)}


def test_the_log_redacts_sensitive_inputs_and_keeps_keys(
    gateway: TestClient, token: str, served: Services, workspace: Workspace
) -> None:
    served.endpoints.create("shop", "private", MODEL, redact=["amount"])
    rows = records(2)
    answer = gateway.post(
        "/v1/endpoints/shop/private/predict",
        json={"records": rows, "keys": ["k1", "k2"]},
        headers=auth(token),
    )
    assert answer.status_code == 200
    flush(gateway)
    log = read_log(workspace.settings.home, served.endpoints.get("shop/private").id, *_today())
    inputs = [json.loads(v) for v in log.column("inputs").to_pylist()]
    assert [i["amount"] for i in inputs] == ["***", "***"]
    assert [i["channel"] for i in inputs] == [r["channel"] for r in rows]
    assert log.column("key").to_pylist() == ["k1", "k2"]
    assert str(rows[0]["amount"]) not in "".join(log.column("inputs").to_pylist())


def test_prometheus_metrics_per_version(gateway: TestClient, token: str) -> None:
    gateway.post(URL, json=records(1), headers=auth(token))
    gateway.post(f"/v1/models/{MODEL}@3/predict", json=records(1), headers=auth(token))
    text = gateway.get("/metrics", headers=auth(token)).text
    assert (
        f'passline_requests_total{{model="{MODEL}",role="primary",status="200",version="1"}}'
        in text
    )
    assert f'passline_errors_total{{model="{MODEL}",role="primary",version="3"}} 1.0' in text
    assert "passline_latency_seconds_bucket" in text


def test_summaries_feed_the_dashboard(gateway: TestClient, token: str, served: Services) -> None:
    for _ in range(4):
        gateway.post(URL, json=records(2), headers=auth(token))
    gateway.post(f"/v1/models/{MODEL}@3/predict", json=records(1), headers=auth(token))
    flush(gateway)
    board = served.monitoring.dashboard("shop/scorer-production", "1h")
    assert board["totals"]["requests"] == 4 and board["totals"]["errors"] == 0
    assert board["totals"]["p50_ms"] is not None
    failing = served.monitoring.dashboard("shop/scorer-3", "1h")["totals"]
    assert failing["error_rate"] == 1.0


def test_two_gateways_share_nothing_in_memory(
    workspace: Workspace, served: Services, token: str
) -> None:
    """Replicas: a request served by one is labelled through the other; both see a move."""
    from passline.serving.gateway import create_gateway_app

    with (
        TestClient(create_gateway_app(workspace, flush_s=0.05)) as one,
        TestClient(create_gateway_app(workspace, flush_s=0.05)) as two,
    ):
        rid = one.post(URL, json=records(2), headers=auth(token)).json()["request_id"]
        flush(one)
        labelled = two.post(
            "/v1/labels",
            json={"labels": [{"request_id": rid, "labels": [0, 1]}]},
            headers=auth(token),
        )
        assert labelled.json()["accepted"] == 1
        served.registry.set_alias(MODEL, "production", 2)
        time.sleep(1.05)
        assert {
            c.post(URL, json=records(1), headers=auth(token)).json()["version"] for c in (one, two)
        } == {2}


def test_features_match_the_signature(served: Services) -> None:
    signature = served.registry.version(MODEL, 1).signature
    assert [c["name"] for c in signature["inputs"]] == FEATURES
