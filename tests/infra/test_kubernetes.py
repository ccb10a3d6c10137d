"""passline.yaml: objects that reference each other correctly and probe the real routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from passline.infra import HEALTH_PATHS, DeploySpec, export_files
from passline.settings import Settings

Docs = list[dict[str, Any]]


def of_kind(docs: Docs, kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def test_every_document_is_named_and_namespaced(k8s_docs: Docs) -> None:
    kinds = [d["kind"] for d in k8s_docs]
    assert kinds[:2] == ["Namespace", "ConfigMap"]
    assert kinds.count("Deployment") == 2 and kinds.count("Service") == 2
    assert "HorizontalPodAutoscaler" in kinds and "Secret" not in kinds
    for doc in k8s_docs:
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "passline"


def test_selectors_match_pod_labels_and_ports(k8s_docs: Docs) -> None:
    deployments = of_kind(k8s_docs, "Deployment")
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
    for service in of_kind(k8s_docs, "Service"):
        selector = service["spec"]["selector"]
        matched = [
            d
            for d in deployments
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, service["metadata"]["name"]
        ports = {p["containerPort"] for c in containers(matched[0]) for p in c.get("ports", [])}
        assert all(p["targetPort"] in ports for p in service["spec"]["ports"])


def test_probes_hit_the_health_routes_on_the_container_port(k8s_docs: Docs) -> None:
    paths = {}
    for deployment in of_kind(k8s_docs, "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        port = container["ports"][0]["containerPort"]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["port"] == port
        assert container["readinessProbe"]["httpGet"] == container["livenessProbe"]["httpGet"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        paths[container["name"]] = (container["readinessProbe"]["httpGet"]["path"], port)
    assert paths == {"server": ("/api/v1/health", 8765), "gateway": ("/v1/health", 8766)}


def test_the_health_paths_answer_200_on_the_real_apps(tmp_path: Path) -> None:
    from passline.server.app import create_app
    from passline.services.workspace import Workspace
    from passline.serving.gateway import create_gateway_app

    server = create_app(Settings(home=tmp_path / "home"))
    try:
        with TestClient(server) as http:
            assert http.get(HEALTH_PATHS["server"]).status_code == 200
        workspace: Workspace = server.state.workspace
        with TestClient(create_gateway_app(workspace, flush_s=0.05)) as http:
            response = http.get(HEALTH_PATHS["gateway"])
            assert response.status_code == 200 and response.json()["status"] == "ok"
    finally:
        server.state.workspace.close()


def test_secrets_by_reference_and_config_keys_exist(k8s_docs: Docs) -> None:
    (config,) = of_kind(k8s_docs, "ConfigMap")
    for deployment in of_kind(k8s_docs, "Deployment"):
        for container in containers(deployment):
            env = {e["name"]: e["valueFrom"] for e in container["env"]}
            assert all("value" not in e for e in container["env"])
            assert env["PASSLINE_DATABASE_URL"] == {
                "secretKeyRef": {"name": "passline", "key": "database-url"}
            }
            assert env["PASSLINE_AUDIT_KEY"]["secretKeyRef"]["key"] == "audit-key"
            for ref in env.values():
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["name"] == config["metadata"]["name"]
                    assert ref["configMapKeyRef"]["key"] in config["data"]
    assert not any("postgres" in str(v) for v in config["data"].values())


def test_migrations_run_before_the_server(k8s_docs: Docs) -> None:
    server = next(
        d for d in of_kind(k8s_docs, "Deployment") if d["metadata"]["name"].endswith("server")
    )
    (init,) = server["spec"]["template"]["spec"]["initContainers"]
    assert [*init["command"], *init["args"]] == ["passline", "db", "upgrade"]


def test_the_autoscaler_targets_the_gateway(k8s_docs: Docs) -> None:
    (hpa,) = of_kind(k8s_docs, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    gateway = next(
        d for d in of_kind(k8s_docs, "Deployment") if d["metadata"]["name"] == target["name"]
    )
    assert target["kind"] == "Deployment" and containers(gateway)[0]["name"] == "gateway"
    assert hpa["spec"]["minReplicas"] == gateway["spec"]["replicas"] == 3
    assert hpa["spec"]["maxReplicas"] == 12


def test_artifacts_on_a_shared_claim_or_an_object_store(k8s_docs: Docs) -> None:
    (claim,) = of_kind(k8s_docs, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    import yaml

    spec = DeploySpec(artifact_root="s3://bucket/p", secret_name="creds")
    docs = list(yaml.safe_load_all(export_files("kubernetes", spec)["passline.yaml"]))
    assert not of_kind(docs, "PersistentVolumeClaim")
    env = containers(of_kind(docs, "Deployment")[0])[0]["env"]
    keys = {e["name"]: e["valueFrom"].get("secretKeyRef") for e in env}
    assert keys["AWS_ACCESS_KEY_ID"] == {
        "name": "creds",
        "key": "aws-access-key-id",
        "optional": True,
    }


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"gateway_replicas": 0}, r"'gateway_replicas' parameter must be an int in \[1, 100\]"),
        ({"server_replicas": -1}, r"'server_replicas' .* Got -1"),
        ({"namespace": "Bad_NS"}, r"'namespace' parameter must be a Kubernetes name"),
        ({"image": "my image"}, r"'image' parameter"),
        ({"artifact_root": "relative/path"}, r"'artifact_root' parameter must be an absolute"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], match: str) -> None:
    from passline.errors import InvalidInput

    with pytest.raises(InvalidInput, match=match):
        DeploySpec(**options)


def test_unknown_target_lists_the_valid_ones() -> None:
    from passline.errors import InvalidInput

    with pytest.raises(InvalidInput, match="one of compose, kubernetes, terraform. Got 'helm'"):
        export_files("helm", DeploySpec())
