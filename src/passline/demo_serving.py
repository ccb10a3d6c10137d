"""The serving part of ``passline demo``: real traffic through a real gateway.

The gateway runs on a free loopback port for the length of the demo, and alice's token
sends it HTTP requests, as any client would:

- retail: the forecast endpoint gets weeks 45-52 (what the model was trained for), then
  weeks 53-60, after buying behaviour changed; the weekly units arrive later as labels.
- a retrained forecast (v2, fitted on the in-store extract only) goes in as a 25% canary;
  its encoder fails on online orders, the canary monitor sees the errors and takes it out.
- fraud: October's transactions, then November's, each labelled later from the dataset
  itself (joined on the transaction id); the false-positive rate rises after the shift.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pyarrow as pa

from passline.errors import Conflict
from passline.services.workspace import Services, Workspace

__all__ = ["serve_demo_traffic"]

FORECAST = "retail-demand/forecast"
SCORING = "fraud-detection/scoring"
BATCH = 40


def serve_demo_traffic(workspace: Workspace, alice: Services, admin: Services) -> list[str]:
    """Send the demo's traffic; return lines for the summary."""
    _endpoints(alice)
    token = alice.identity.create_token(f"demo-traffic-{int(time.time())}", ttl_days=1).secret
    lines: list[str] = []
    with (
        _gateway(workspace) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http,
    ):
        lines += _retail_traffic(alice, http)
        lines += _retail_canary(alice, http)
        lines += _fraud_traffic(alice, http)
    return lines


def _endpoints(svc: Services) -> None:
    for endpoint, model in (
        (FORECAST, "retail-demand/demand-forecast"),
        (SCORING, "fraud-detection/fraud-scorer"),
    ):
        project, _, name = endpoint.partition("/")
        try:
            svc.endpoints.create(project, name, model)
        except Conflict:
            pass


@contextmanager
def _gateway(workspace: Workspace) -> Iterator[str]:
    """A real gateway (uvicorn, HTTP on loopback) for the length of the block."""
    import uvicorn

    from passline.serving.gateway import create_gateway_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_gateway_app(workspace, flush_s=0.2)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, name="passline-demo-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)  # the lifespan's exit flushes the prediction log


def _send(
    http: httpx.Client, path: str, table: pa.Table, keys: list[str] | None = None
) -> list[dict]:
    """The table in batches of JSON records; the answers (errors included)."""
    answers = []
    for start in range(0, table.num_rows, BATCH):
        chunk = table.slice(start, BATCH)
        body: dict[str, Any] = {"records": chunk.to_pylist()}
        if keys is not None:
            body["keys"] = keys[start : start + BATCH]
        response = http.post(path, json=body)
        answers.append({"status": response.status_code, **response.json(), "rows": chunk.num_rows})
    return answers


def _labels(answers: list[dict], truth: pa.Table, column: str) -> list[dict]:
    values = truth.column(column).to_pylist()
    out, start = [], 0
    for answer in answers:
        if answer["status"] == 200:
            out.append(
                {
                    "request_id": answer["request_id"],
                    "labels": values[start : start + answer["rows"]],
                }
            )
        start += answer["rows"]
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _retail_traffic(svc: Services, http: httpx.Client) -> list[str]:
    from passline.demo_models import DEMAND_FEATURES

    sales = svc.datasets.read("retail-demand/sales@v2")
    weeks = sales.column("week").to_numpy()
    path = f"/v1/endpoints/{FORECAST}/predict"
    spans = []
    for label, mask in (("weeks 45-52", (weeks > 44) & (weeks <= 52)), ("weeks 53-60", weeks > 52)):
        rows = sales.filter(pa.array(mask)).slice(0, 1_200)
        start = _now()
        answers = _send(http, path, rows.select(DEMAND_FEATURES))
        time.sleep(0.5)  # labels join to logged requests; the log writer flushes every 0.2 s
        svc.monitoring.add_labels(_labels(answers, rows, "units"), source="demo: weekly sales")
        spans.append((label, start, _now()))
    lines = []
    for label, start, end in spans:
        report = svc.monitoring.realised(FORECAST, start=start, end=end)
        mae = next(iter(report["versions"].values()), {}).get("mae")
        lines.append(
            f"serving:   {FORECAST} {label}: {report['labelled_rows']} labelled rows, "
            f"realised MAE {mae:.1f}"
            if mae is not None
            else f"serving:   {label}: no labels"
        )
    return lines


def _retail_canary(svc: Services, http: httpx.Client) -> list[str]:
    """A retrained forecast with a bug goes in as a canary; the monitor takes it out."""
    model = "retail-demand/demand-forecast"
    candidate = _bad_candidate(svc, model)
    svc.endpoints.configure(FORECAST, canary_version=candidate, canary_percent=25)
    try:
        svc.monitors.add(
            FORECAST,
            "forecast-canary-errors",
            "error_rate",
            0.05,
            window="15m",
            role="canary",
            min_rows=5,
            action="rollback",
        )
    except Conflict:
        pass
    time.sleep(1.1)  # gateways see the canary within a second
    from passline.demo_models import DEMAND_FEATURES

    rows = svc.datasets.read("retail-demand/sales@v2").slice(16_000, 1_600).select(DEMAND_FEATURES)
    answers = _send(http, f"/v1/endpoints/{FORECAST}/predict", rows)
    failed = sum(1 for a in answers if a["status"] == 500)
    time.sleep(0.5)
    outcome = svc.monitors.run("retail-demand/forecast-canary-errors")
    action = outcome.get("alert", {}).get("action", {})
    took = action.get("time_to_rollback_ms")
    return [
        f"canary:    {model} v{candidate} at 25%: {failed} of {len(answers)} requests failed "
        "before the gateway marked it unhealthy; "
        f"monitor {outcome['status']}"
        + (f", canary removed in {took:.0f} ms (audited)" if took is not None else "")
    ]


def _bad_candidate(svc: Services, model: str) -> int:
    """v2: refitted on the in-store rows only, with an encoder that refuses new categories."""
    for version in svc.registry.versions(model):
        if version.description.startswith("in-store extract"):
            return version.version
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from passline.demo_models import DEMAND_FEATURES, _run

    frame = svc.datasets.read("retail-demand/sales@v1").to_pandas()
    frame = frame[(frame["channel"] == "store") & (frame["week"] <= 44)]
    columns = ColumnTransformer(
        [("codes", OrdinalEncoder(), ["sku", "channel"])], remainder="passthrough"
    )
    estimator = make_pipeline(
        columns, GradientBoostingRegressor(n_estimators=60, max_depth=4, random_state=0)
    )
    estimator.fit(frame[DEMAND_FEATURES], frame["units"])
    run = _run(
        svc,
        "retail-demand",
        "forecast",
        "hgb-store-extract",
        "retail-demand/sales@v1",
        {
            "model": "GradientBoostingRegressor",
            "target": "units",
            "features": ",".join(DEMAND_FEATURES),
            "rows": "channel = store",
        },
        {},
        estimator,
    )
    return svc.registry.register(
        model, f"runs:/{run}/model", description="in-store extract retrain"
    ).version


def _fraud_traffic(svc: Services, http: httpx.Client) -> list[str]:
    from passline.demo_models import FRAUD_FEATURES

    path = f"/v1/endpoints/{SCORING}/predict"
    lines = []
    for label, dataset in (("October (dataset A)", "v1"), ("November (dataset B)", "v2")):
        ref = f"fraud-detection/transactions@{dataset}"
        table = svc.datasets.read(ref).slice(0, 2_000)
        start = _now()
        _send(http, path, table.select(FRAUD_FEATURES), table.column("txn_id").to_pylist())
        time.sleep(0.5)
        svc.monitoring.labels_from_dataset(SCORING, ref, "txn_id", "is_fraud", window="1h")
        report = svc.monitoring.realised(SCORING, start=start, end=_now(), segment="country")
        entry = next(iter(report["versions"].values()), {})
        rate = entry.get("false_positive_rate")
        lines.append(
            f"serving:   {SCORING} {label}: false-positive rate {rate:.3f} on "
            f"{entry.get('rows', 0)} labelled transactions"
            if rate is not None
            else f"serving:   {SCORING} {label}: no labels"
        )
    lines.append(
        f"lineage:   passline lineage endpoint:{SCORING} --up  (traffic -> model version -> "
        "run -> dataset -> source)"
    )
    return lines
