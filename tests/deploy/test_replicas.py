"""Several `passline up` / `passline serve` replicas on one database, driven at once.

Each replica runs in its own process with its own home, as on separate machines; what they
share is the database, the artifact root and the audit key. Both take writes at the same
time over HTTP, and afterwards every version number is unique and contiguous, every write
is visible from both replicas, the audit chain holds, and each due source ran once.
"""

from __future__ import annotations

import json
import pickle
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from passline.core.clock import utcnow
from passline.sdk.client import Client
from passline.sdk.transports import HttpTransport
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from passline.store.models import SourceRow
from tests.deploy._model import SIGNATURE, Doubler
from tests.deploy.conftest import replicas, s3_env

AUDIT_KEY = "deploy-tests-shared-audit-key"
TASKS = 12
SOURCES = 4


class _Counting(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits[self.path] += 1
        body = json.dumps({"data": [{"path": self.path, "n": 1}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api_source() -> Iterator[tuple[str, Counter[str]]]:
    """A loopback HTTP API that counts how often each path was fetched."""
    handler = type("Handler", (_Counting,), {"hits": Counter()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler.hits
    server.shutdown()
    server.server_close()


def _shared(url: str, artifacts: str) -> dict[str, str]:
    return {
        "PASSLINE_DATABASE_URL": url,
        "PASSLINE_ARTIFACT_ROOT": artifacts,
        "PASSLINE_AUDIT_KEY": AUDIT_KEY,
        "PASSLINE_SCHEDULER_INTERVAL_S": "0.3",
    }


def _settings(tmp_path: Path, url: str, artifacts: str) -> Settings:
    return Settings(
        home=tmp_path / "admin", database_url=url, artifact_root=artifacts, audit_key=AUDIT_KEY
    )


def _prepare(tmp_path: Path, url: str, artifacts: str, api: str | None = None) -> str:
    """Project, token and (optionally) sources that are due now; returns the token."""
    workspace = Workspace.open(_settings(tmp_path, url, artifacts))
    try:
        svc = workspace.services(workspace.local_context("cli"))
        svc.projects.create("shop")
        for index in range(SOURCES if api else 0):
            config = {"url": f"{api}/feed/{index}"}
            svc.sources.add(
                "shop",
                f"feed{index}",
                "http",
                config,
                f"feed{index}",
                "append",
                schedule="0 0 1 1 *",
            )
        with workspace.db.write() as session:  # due now, and not again for a year
            session.execute(update(SourceRow).values(next_run_at=utcnow() - timedelta(seconds=1)))
        return svc.identity.create_token("replicas").secret
    finally:
        workspace.close()


@contextmanager
def _clients(urls: list[str], token: str) -> Iterator[list[Client]]:
    clients = [Client(HttpTransport(url, token)) for url in urls]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def _write_everything(client: Client, index: int, model_file: Path) -> dict[str, Any]:
    """One unit of concurrent work: a run, a model version, a dataset and a prompt version."""
    run = client.start_run("shop/training", name=f"r{index}", capture_code=False)
    run.log_metrics({"loss": 1 / (index + 1), "index": float(index)})
    run.log_artifact(model_file, "model/model.pkl")
    run.end()
    model = client.models.register("shop/doubler", f"runs:/{run.id}/model", format="sklearn")
    data = client.datasets.ingest("shop/events", [{"i": index}], mode="append")
    prompt = client.prompts.create(
        "shop/greeting", f"Hello {{{{ name }}}} #{index}", {"name": "string"}
    )
    return {"run": run.id, "model": model.version, "data": data.number, "prompt": prompt.version}


def _drive(clients: list[Client], model_file: Path) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(6) as pool:
        futures = [
            pool.submit(_write_everything, clients[i % len(clients)], i, model_file)
            for i in range(TASKS)
        ]
        return [f.result() for f in futures]  # any error on any replica fails here


def _contiguous(numbers: list[int]) -> bool:
    return sorted(numbers) == list(range(1, TASKS + 1))


def _check_shared_state(clients: list[Client], results: list[dict[str, Any]]) -> None:
    assert _contiguous([r["model"] for r in results])
    assert _contiguous([r["data"] for r in results])
    assert _contiguous([r["prompt"] for r in results])
    for client in clients:  # every write is visible from every replica
        assert _contiguous([v.version for v in client.models.versions("shop/doubler")])
        assert _contiguous([v.number for v in client.datasets.versions("shop/events")])
        assert client.datasets.read("shop/events").num_rows == TASKS
        assert [e.name for e in client.runs.experiments("shop")].count("training") == 1
        for result in results[:3]:
            assert client.runs.get(result["run"]).metrics["index"] is not None
        assert client.models.load("shop/doubler", TASKS).predict({"x": [1, 2]}) == [2.0, 4.0]
        verification = client.verify_audit()
        assert verification.ok, verification.message


def _wait_for_sources(client: Client, hits: Counter[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(s.last_run_at for s in client.sources.list("shop")):
            break
        time.sleep(0.2)
    time.sleep(1.0)  # a few more ticks of both schedulers: nothing may run twice
    assert hits == Counter({f"/feed/{i}": 1 for i in range(SOURCES)})
    assert all(s.last_status == "ok" for s in client.sources.list("shop"))


def _serve_doubler(svc: Services, model_file: Path) -> None:
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("shop", "serving").id)
    with model_file.open("rb") as stream:
        svc.tracking.log_artifact(run.id, "model/model.pkl", stream)
    source = f"runs:/{run.id}/model"
    svc.registry.register("shop/served", source, format="sklearn", signature=SIGNATURE)
    svc.registry.set_alias("shop/served", "production", 1)


def _predict_through(gateways: list[str], token: str, requests: int) -> None:
    def predict(index: int) -> list[float]:
        answer = httpx.post(
            f"{gateways[index % len(gateways)]}/v1/models/shop/served@production/predict",
            json={"records": [{"x": float(index)}]},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["predictions"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(predict, range(requests))) == [[2.0 * i] for i in range(requests)]


def _wait_for_summaries(svc: Services, expected: int) -> None:
    """Both gateways flush their prediction logs; no increment may be lost."""
    deadline, total = time.monotonic() + 20, 0
    while time.monotonic() < deadline:
        total = svc.monitoring.dashboard("shop/served-production")["totals"]["requests"]
        if total >= expected:
            break
        time.sleep(0.3)
    assert total == expected


@pytest.mark.serial
@pytest.mark.postgres
def test_replicas_share_one_postgres_database_and_s3(
    tmp_path: Path,
    postgres_url: str,
    s3_root: str,
    s3_endpoint: str,
    api_source: tuple[str, Counter[str]],
) -> None:
    """The configuration at scale: PostgreSQL, S3 (moto's server), two `passline up` and
    two `passline serve` replicas, all taking requests at once."""
    api, hits = api_source
    model_file = tmp_path / "model.pkl"
    model_file.write_bytes(pickle.dumps(Doubler()))
    env = {**_shared(postgres_url, s3_root), **s3_env(s3_endpoint)}
    kinds = ("up", "up", "serve", "serve")
    # The database is empty: all four processes migrate it as they start, on one lock.
    with replicas(tmp_path, env, kinds) as urls:
        token = _prepare(tmp_path, postgres_url, s3_root, api)
        workspace = Workspace.open(_settings(tmp_path, postgres_url, s3_root))
        try:
            svc = workspace.services(workspace.local_context("cli"))
            _serve_doubler(svc, model_file)
            with _clients(urls[:2], token) as clients, ThreadPoolExecutor(2) as pool:
                predicted = pool.submit(_predict_through, urls[2:], token, 40)
                results = _drive(clients, model_file)
                predicted.result()
                _check_shared_state(clients, results)
                _wait_for_sources(clients[0], hits)
                _wait_for_summaries(svc, 40)
            assert svc.audit.verify().ok
        finally:
            workspace.close()
