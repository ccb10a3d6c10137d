"""The MLflow-compatible routes in-process (no mlflow package): error shapes, the token,
project mapping, batch limits, search pages, artifacts, registry and logged models."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passline.server.app import create_app
from passline.services.workspace import Services, Workspace

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


class Mlflow:
    """A bare HTTP client speaking MLflow's JSON, with a token."""

    def __init__(self, http: TestClient, token: str | None) -> None:
        self.http = http
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, route: str, body: Any = None, status: int = 200) -> Any:
        url = route if route.startswith("/") else f"{API}/{route}"
        if method == "GET":
            response = self.http.get(url, params=body, headers=self.headers)
        else:
            response = self.http.request(method, url, json=body, headers=self.headers)
        assert response.status_code == status, response.text
        return response.json()

    def get(self, route: str, status: int = 200, **params: Any) -> Any:
        return self.call("GET", route, params, status)

    def post(self, route: str, body: Any = None, status: int = 200) -> Any:
        return self.call("POST", route, body or {}, status)

    def run(self, experiment: str = "fraud/scoring", **fields: Any) -> str:
        experiment_id = self.experiment(experiment)
        body = {"experiment_id": experiment_id, **fields}
        return str(self.post("runs/create", body)["run"]["info"]["run_id"])

    def experiment(self, name: str) -> str:
        found = self.http.get(
            f"{API}/experiments/get-by-name", params={"experiment_name": name}, headers=self.headers
        )
        if found.status_code == 200:
            return str(found.json()["experiment"]["experiment_id"])
        return str(self.post("experiments/create", {"name": name})["experiment_id"])


@pytest.fixture
def http(workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace=workspace), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def ml(http: TestClient, admin_token: str) -> Mlflow:
    return Mlflow(http, admin_token)


def error_of(body: dict[str, Any]) -> str:
    assert set(body) <= {"error_code", "message", "details"}, body
    assert body["message"]
    return str(body["error_code"])


# -- the token and the error shape ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{API}/experiments/get-by-name?experiment_name=x"),
        ("POST", f"{API}/runs/create"),
        ("POST", f"{API}/runs/log-batch"),
        ("GET", f"{API}/registered-models/alias?name=x&alias=y"),
        ("POST", f"{API}/logged-models"),
        ("GET", f"{ARTIFACTS}?path=runs/x"),
        ("PUT", f"{ARTIFACTS}/runs/x/file.txt"),
        ("GET", "/api/3.0/mlflow/server-info"),
        ("GET", f"{API}/no-such-route"),
    ],
)
def test_every_route_needs_a_token(http: TestClient, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer tok_not-a-real-token"}):
        response = http.request(method, path, headers=headers)
        assert response.status_code == 401
        assert error_of(response.json()) == "UNAUTHENTICATED"
        assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{API}/nope"),
        ("POST", f"{API}/experiments/set-experiment-tag"),
        ("GET", f"{API}/metrics/get-history-bulk-interval"),
        ("DELETE", f"{API}/logged-models/m-x-1"),
        ("GET", "/ajax-api/2.0/mlflow/unknown/route"),
        ("POST", "/api/3.0/mlflow/traces"),
        ("DELETE", f"{ARTIFACTS}/runs/x/file.txt"),
    ],
)
def test_unknown_routes_answer_endpoint_not_found(ml: Mlflow, method: str, path: str) -> None:
    body = ml.call(method, path, {} if method != "GET" else None, status=404)
    assert error_of(body) == "ENDPOINT_NOT_FOUND"
    assert path.split("?")[0] in body["message"]


def test_the_routes_stay_out_of_passlines_openapi_schema(workspace: Workspace) -> None:
    paths = create_app(workspace=workspace).openapi()["paths"]
    assert not [p for p in paths if "mlflow" in p]


def test_bad_requests_get_mlflow_errors_and_never_a_500(ml: Mlflow, http: TestClient) -> None:
    run_id = ml.run()
    bad = http.post(f"{API}/runs/log-metric", content=b"{not json", headers=ml.headers)
    assert bad.status_code == 400 and error_of(bad.json()) == "BAD_REQUEST"
    body = ml.post("runs/log-metric", {"run_id": run_id, "key": "auc"}, status=400)
    assert error_of(body) == "INVALID_PARAMETER_VALUE" and "'value'" in body["message"]
    body = ml.post("runs/log-parameter", {"key": "a", "value": "1"}, status=400)
    assert "'run_id'" in body["message"]
    cases = [
        ("runs/log-metric", {"run_id": run_id, "key": "x", "value": "high"}),
        ("runs/log-metric", {"run_id": run_id, "key": "x", "value": 1, "step": "two"}),
        ("runs/log-batch", {"run_id": run_id, "metrics": "not a list"}),
        ("runs/log-batch", {"run_id": run_id, "params": [{"value": "no key"}]}),
        ("runs/update", {"run_id": run_id, "status": "SLEEPING"}),
        ("runs/search", {"experiment_ids": [], "filter": "metrics.auc >"}),
        ("runs/search", {"experiment_ids": [], "max_results": 0}),
        ("runs/search", {"experiment_ids": [], "page_token": "garbage"}),
        ("runs/set-tag", {"run_id": run_id, "key": "passline.logged_model.x", "value": "1"}),
        ("experiments/create", {"name": ""}),
        ("experiments/create", {"name": "x", "artifact_location": "s3://bucket/x"}),
        ("model-versions/create", {"name": "scorer", "source": "s3://bucket/model"}),
        ("registered-models/create", {"name": "Not A Valid Name"}),
        ("logged-models/search", {"experiment_ids": [], "filter": "metrics.auc > 1"}),
    ]
    for path, payload in cases:
        assert error_of(ml.post(path, payload, status=400)) in ("INVALID_PARAMETER_VALUE",), path
    assert error_of(ml.get("runs/get", 404, run_id="run_missing")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_of(ml.get("logged-models/not-a-model-id", 404)) == "RESOURCE_DOES_NOT_EXIST"


# -- experiments and projects ---------------------------------------------------------------


def test_experiment_names_choose_the_project(ml: Mlflow, admin: Services) -> None:
    ids = {name: ml.experiment(name) for name in ("fraud/baseline", "churn", "Team A/x")}
    assert admin.tracking.get_experiment(ids["fraud/baseline"]).project == "fraud"
    assert admin.tracking.get_experiment(ids["fraud/baseline"]).name == "baseline"
    assert admin.tracking.get_experiment(ids["churn"]).project == "mlflow"
    assert admin.tracking.get_experiment(ids["Team A/x"]).name == "Team A/x"
    for name, experiment_id in ids.items():
        got = ml.get("experiments/get", experiment_id=experiment_id)["experiment"]
        assert got["name"] == name and got["lifecycle_stage"] == "active"
    again = ml.post("experiments/create", {"name": "fraud/baseline"}, status=400)
    assert error_of(again) == "RESOURCE_ALREADY_EXISTS"
    found = ml.post("experiments/search", {"filter": "name LIKE 'fraud/%'"})["experiments"]
    assert [e["name"] for e in found] == ["fraud/baseline"]


def test_the_default_experiment_is_created_on_first_use(ml: Mlflow, admin: Services) -> None:
    run = ml.post("runs/create", {"experiment_id": "0"})["run"]
    experiment = admin.tracking.get_experiment(run["info"]["experiment_id"])
    assert (experiment.project, experiment.name) == ("mlflow", "Default")
    assert ml.get("experiments/get", experiment_id="0")["experiment"]["name"] == "Default"
    ajax = ml.get("/ajax-api/2.0/mlflow/runs/get", run_id=run["info"]["run_id"])  # the UI prefix
    assert ajax["run"]["info"] == run["info"]


def test_a_project_that_does_not_admit_the_caller_is_refused(
    http: TestClient, admin: Services
) -> None:
    admin.projects.create("fraud")
    admin.identity.create_user("eve")
    eve = Mlflow(http, admin.identity.create_token("eve", user="eve").secret)
    body = eve.get("experiments/get-by-name", 403, experiment_name="fraud/baseline")
    assert error_of(body) == "PERMISSION_DENIED"
    assert "fraud" in body["message"]


# -- runs, metrics, batches, search ---------------------------------------------------------


def test_a_run_round_trips_params_metrics_tags_and_nan(ml: Mlflow, admin: Services) -> None:
    run_id = ml.run(run_name="draft", tags=[{"key": "mlflow.source.name", "value": "train.py"}])
    ml.post("runs/log-parameter", {"run_id": run_id, "key": "C", "value": "0.5"})
    ml.post("runs/log-parameter", {"run_id": run_id, "key": "C", "value": "0.5"})  # same: fine
    changed = ml.post("runs/log-parameter", {"run_id": run_id, "key": "C", "value": "2"}, 400)
    assert error_of(changed) == "INVALID_PARAMETER_VALUE" and "immutable" in changed["message"]
    for step, value in enumerate([0.4, "NaN", "Infinity"]):
        ml.post("runs/log-metric", {"run_id": run_id, "key": "loss", "value": value, "step": step})
    ml.post("runs/set-tag", {"run_id": run_id, "key": "team", "value": "risk"})
    ml.post("runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 1700000000000})
    rename = {
        "run_id": run_id,
        "run_name": "first",
        "status": "FINISHED",
    }  # MlflowClient.update_run
    ml.post("runs/update", rename | {"end_time": 1700000000000})
    ml.post("runs/update", rename)
    run = ml.get("runs/get", run_id=run_id)["run"]
    assert run["info"]["status"] == "FINISHED" and run["info"]["end_time"] == 1700000000000
    assert run["data"]["params"] == [{"key": "C", "value": "0.5"}]
    assert [(m["key"], m["value"]) for m in run["data"]["metrics"]] == [("loss", "Infinity")]
    assert {"key": "team", "value": "risk"} in run["data"]["tags"]
    history = ml.get("metrics/get-history", run_id=run_id, metric_key="loss")["metrics"]
    assert [(m["step"], m["value"]) for m in history] == [(0, 0.4), (1, "NaN"), (2, "Infinity")]
    stored = admin.tracking.get_run(run_id)
    assert stored.name == "first" and stored.entry_point == "train.py"
    assert [p.value for p in admin.tracking.metric_history(run_id, "loss")] == [
        0.4,
        "NaN",
        "Infinity",
    ]


def batch(run_id: str, metrics: int = 0, params: int = 0, tags: int = 0) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "metrics": [
            {"key": f"m{i}", "value": i, "timestamp": 1, "step": 0} for i in range(metrics)
        ],
        "params": [{"key": f"p{i}", "value": str(i)} for i in range(params)],
        "tags": [{"key": f"t{i}", "value": str(i)} for i in range(tags)],
    }


def test_log_batch_enforces_mlflows_limits(ml: Mlflow, admin: Services) -> None:
    run_id = ml.run()
    for too_many, word in (
        (batch(run_id, metrics=1001), "1000 metrics"),
        (batch(run_id, params=101), "100 params"),
        (batch(run_id, tags=101), "100 tags"),
        (batch(run_id, metrics=950, params=100), "1000 metrics, params and tags"),
    ):
        assert word in ml.post("runs/log-batch", too_many, 400)["message"]
    twice = batch(run_id) | {"params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}
    ml.post("runs/log-batch", twice, 400)
    assert admin.tracking.get_run(run_id).params == {}  # refused batches wrote nothing
    ml.post("runs/log-batch", batch(run_id, metrics=1000))
    ml.post("runs/log-batch", batch(run_id, metrics=800, params=100, tags=100))
    run = admin.tracking.get_run(run_id)
    assert len(run.metrics) == 1000 and len(run.params) == 100 and len(run.tags) == 100


def test_metrics_a_logged_model_relinks_are_not_duplicated(ml: Mlflow, admin: Services) -> None:
    run_id = ml.run()
    point = {"key": "auc", "value": 0.9, "timestamp": 5, "step": 0}
    ml.post("runs/log-batch", {"run_id": run_id, "metrics": [point]})
    linked = {**point, "model_id": "m-any"}
    ml.post("runs/log-batch", {"run_id": run_id, "metrics": [linked, {**linked, "step": 1}]})
    assert [(m.step, m.value) for m in admin.tracking.metric_history(run_id, "auc")] == [
        (0, 0.9),
        (1, 0.9),
    ]


def test_search_runs_filters_orders_and_pages(ml: Mlflow) -> None:
    experiment_id = ml.experiment("fraud/search")
    ids = []
    for i in range(5):
        run_id = ml.run("fraud/search", run_name=f"r{i}")
        ml.post("runs/log-metric", {"run_id": run_id, "key": "auc", "value": i / 10, "step": 0})
        ids.append(run_id)
    seen, token, pages = [], None, 0
    while True:
        body = {
            "experiment_ids": [experiment_id],
            "filter": "metrics.auc >= 0.1",
            "order_by": ["metrics.auc DESC"],
            "max_results": 2,
        }
        if token:
            body["page_token"] = token
        page = ml.post("runs/search", body)
        seen += [r["info"]["run_id"] for r in page["runs"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert pages == 2 and seen == ids[:0:-1]  # auc 0.4, 0.3, 0.2, 0.1: two pages of two


# -- artifacts --------------------------------------------------------------------------------


def test_artifacts_upload_list_and_download_with_digests(
    ml: Mlflow, http: TestClient, admin: Services
) -> None:
    run_id = ml.run()
    content = b"hello artifacts\n" * 1000
    for path in ("notes.txt", "docs/a.txt", "docs/deep/b.txt"):
        put = http.put(f"{ARTIFACTS}/runs/{run_id}/{path}", content=content, headers=ml.headers)
        assert put.status_code == 200 and put.json() == {}
    listing = ml.get(f"{ARTIFACTS}", path=f"runs/{run_id}")["files"]
    assert listing == [
        {"path": "docs", "is_dir": True},
        {"path": "notes.txt", "is_dir": False, "file_size": len(content)},
    ]
    assert [f["path"] for f in ml.get(ARTIFACTS, path=f"runs/{run_id}/docs")["files"]] == [
        "a.txt",
        "deep",
    ]
    tracking_list = ml.get("artifacts/list", run_id=run_id, path="docs")["files"]
    assert [f["path"] for f in tracking_list] == ["docs/a.txt", "docs/deep"]
    got = http.get(f"{ARTIFACTS}/runs/{run_id}/docs/deep/b.txt", headers=ml.headers)
    digest = hashlib.sha256(content).hexdigest()
    assert got.content == content and got.headers["X-Passline-Digest"] == digest
    assert {a["path"]: a["digest"] for a in admin.tracking.get_run(run_id).artifacts} == {
        "notes.txt": digest,
        "docs/a.txt": digest,
        "docs/deep/b.txt": digest,
    }
    escape = http.put(
        f"{ARTIFACTS}/runs/{run_id}/a/%2E%2E/%2E%2E/x", content=b"x", headers=ml.headers
    )
    assert escape.status_code == 400
    missing = http.get(f"{ARTIFACTS}/runs/{run_id}/nope.txt", headers=ml.headers)
    assert missing.status_code == 404 and error_of(missing.json()) == "RESOURCE_DOES_NOT_EXIST"


# -- registry and logged models -------------------------------------------------------------


def model_run(ml: Mlflow, http: TestClient, experiment: str = "fraud/scoring") -> str:
    run_id = ml.run(experiment)
    for name, data in (("MLmodel", b"flavors: {}\n"), ("model.pkl", b"not really a pickle")):
        http.put(f"{ARTIFACTS}/runs/{run_id}/model/{name}", content=data, headers=ml.headers)
    return run_id


def test_registered_models_versions_and_aliases(
    ml: Mlflow, http: TestClient, admin: Services
) -> None:
    run_id = model_run(ml, http)
    ml.post("registered-models/create", {"name": "scorer"})
    missing = ml.get("registered-models/get", 404, name="scorer")  # created by its first version
    assert error_of(missing) == "RESOURCE_DOES_NOT_EXIST"
    body = {"name": "scorer", "source": f"runs:/{run_id}/model", "run_id": run_id}
    version = ml.post("model-versions/create", body)["model_version"]
    assert version["version"] == "1" and version["status"] == "READY"
    again = ml.post("registered-models/create", {"name": "scorer"}, 400)
    assert error_of(again) == "RESOURCE_ALREADY_EXISTS"
    ml.post("registered-models/alias", {"name": "scorer", "alias": "champion", "version": "1"})
    by_alias = ml.get("registered-models/alias", name="scorer", alias="champion")
    assert by_alias["model_version"]["aliases"] == ["champion"]
    model = ml.get("registered-models/get", name="scorer")["registered_model"]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    assert model["latest_versions"][0]["run_id"] == run_id
    uri = ml.get("model-versions/get-download-uri", name="scorer", version="1")["artifact_uri"]
    assert uri == "mlflow-artifacts:/registry/fraud/scorer/1"
    files = ml.get(ARTIFACTS, path="registry/fraud/scorer/1")["files"]
    assert [f["path"] for f in files] == ["MLmodel", "model.pkl"]
    got = http.get(f"{ARTIFACTS}/registry/fraud/scorer/1/model.pkl", headers=ml.headers)
    assert got.content == b"not really a pickle"
    stored = admin.registry.version("fraud/scorer", 1)
    assert stored.run_id == run_id and stored.format == "mlflow" and stored.aliases == ["champion"]
    assert f"run:{run_id}" in {n.ref for n in admin.lineage.graph(stored.ref, "up").nodes}
    searched = ml.get("model-versions/search", filter=f"run_id = '{run_id}'")["model_versions"]
    assert [v["version"] for v in searched] == ["1"]
    ml.call("DELETE", "registered-models/alias", {"name": "scorer", "alias": "champion"})
    assert admin.registry.get_model("fraud/scorer").aliases == {}
    # What the client sends for runs:/<run>/model when the folder holds an MLmodel file.
    proxied = {"name": "scorer", "source": f"mlflow-artifacts:/runs/{run_id}/model"}
    assert ml.post("model-versions/create", proxied)["model_version"]["version"] == "2"
    latest = ml.call("POST", "registered-models/get-latest-versions", {"name": "scorer"})
    assert [v["version"] for v in latest["model_versions"]] == ["2"]
    models = ml.get("registered-models/search", filter="name LIKE 'sco%'")["registered_models"]
    assert [(m["name"], m["latest_versions"][0]["version"]) for m in models] == [("scorer", "2")]


def test_a_release_policy_refusal_is_permission_denied_with_what_is_missing(
    ml: Mlflow, http: TestClient, admin: Services
) -> None:
    run_id = model_run(ml, http)
    body = {"name": "scorer", "source": f"runs:/{run_id}/model"}
    ml.post("model-versions/create", body)
    admin.registry.set_policy("fraud", "production", require_approval=True)
    refused = ml.post(
        "registered-models/alias", {"name": "scorer", "alias": "production", "version": 1}, 403
    )
    assert error_of(refused) == "PERMISSION_DENIED"
    assert refused["details"]["missing"] and "approval" in refused["details"]["missing"][0]


def test_a_version_is_registered_in_its_runs_project(ml: Mlflow, http: TestClient) -> None:
    ml.post("registered-models/create", {"name": "mlflow/ranker"})
    run_id = model_run(ml, http, "fraud/scoring")
    body = {"name": "ranker", "source": f"runs:/{run_id}/model"}
    refused = ml.post("model-versions/create", body, 400)
    assert "project 'mlflow'" in refused["message"] and "'fraud'" in refused["message"]


def test_logged_models_live_in_their_run(ml: Mlflow, http: TestClient, admin: Services) -> None:
    experiment_id = ml.experiment("fraud/scoring")
    run_id = ml.run()
    created = ml.post(
        "logged-models",
        {
            "experiment_id": experiment_id,
            "name": "model",
            "source_run_id": run_id,
            "params": [{"key": "C", "value": "1"}],
            "tags": [{"key": "flavor", "value": "sklearn"}],
        },
    )["model"]
    model_id = created["info"]["model_id"]
    assert created["info"]["status"] == "LOGGED_MODEL_PENDING"
    assert created["info"]["artifact_uri"] == f"mlflow-artifacts:/runs/{run_id}/models/{model_id}"
    http.put(
        f"{ARTIFACTS}/runs/{run_id}/models/{model_id}/MLmodel", content=b"x", headers=ml.headers
    )
    ml.call("PATCH", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"})
    ml.call("PATCH", f"logged-models/{model_id}/tags", {"tags": [{"key": "k", "value": "v"}]})
    ml.call("DELETE", f"logged-models/{model_id}/tags/flavor")
    ml.post("runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": 3}]})
    got = ml.get(f"logged-models/{model_id}")["model"]
    assert got["info"]["status"] == "LOGGED_MODEL_READY"
    assert got["info"]["tags"] == [{"key": "k", "value": "v"}]
    assert got["data"]["params"] == [{"key": "C", "value": "1"}]
    search = {
        "experiment_ids": [experiment_id],
        "filter": f"name = 'model' AND source_run_id = '{run_id}'",
    }
    assert [m["info"]["model_id"] for m in ml.post("logged-models/search", search)["models"]] == [
        model_id
    ]
    run = ml.get("runs/get", run_id=run_id)["run"]
    assert run["outputs"]["model_outputs"] == [{"model_id": model_id, "step": 3}]
    assert not [t for t in run["data"]["tags"] if t["key"].startswith("passline.")]
    body = {"name": "scorer", "source": f"models:/{model_id}", "model_id": model_id}
    version = ml.post("model-versions/create", body)["model_version"]
    assert version["model_id"] == model_id and version["run_id"] == run_id
    assert admin.registry.version("fraud/scorer", 1).source == f"runs:/{run_id}/models/{model_id}"


def test_a_logged_model_without_a_run_gets_a_run_of_its_own(ml: Mlflow, admin: Services) -> None:
    experiment_id = ml.experiment("churn")
    model = ml.post("logged-models", {"experiment_id": experiment_id, "name": "agent"})["model"]
    holder = admin.tracking.get_run(model["info"]["source_run_id"])
    assert holder.experiment_id == experiment_id and holder.status == "FINISHED"
    assert holder.name == "logged model agent"


def test_server_info_says_uploads_go_through_this_server(ml: Mlflow) -> None:
    info = ml.get("/api/3.0/mlflow/server-info")
    assert info["multipart_uploads_enabled"] is False and info["workspaces_enabled"] is False


def test_artifact_bytes_reach_the_store_streamed(ml: Mlflow, http: TestClient) -> None:
    run_id = ml.run()
    big = io.BytesIO(b"\x00\x01" * (3 << 20))  # 6 MiB: more than the in-memory spool
    put = http.put(f"{ARTIFACTS}/runs/{run_id}/big.bin", content=big.getvalue(), headers=ml.headers)
    assert put.status_code == 200
    got = http.get(f"{ARTIFACTS}/runs/{run_id}/big.bin", headers=ml.headers)
    assert got.headers["Content-Length"] == str(6 << 20) and got.content == big.getvalue()
