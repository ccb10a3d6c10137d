"""The Terraform module: parses as HCL, declares what it uses, targets the right objects."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from passline.infra import DeploySpec, export, export_files

META = {"__is_block__", "__comments__", "__inline_comments__", "__start_line__", "__end_line__"}


def plain(value: Any) -> Any:
    """hcl2's output without its metadata and with string literals unquoted (v7 and v8)."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items() if k not in META}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        if len(value) > 1 and value[0] == value[-1] == '"':  # 8.x keeps the quotes
            value = json.loads(value)
        return value.replace("$${", "${").replace("%%{", "%{")  # HCL's literal escapes
    return value


def parse(text: str) -> dict[str, Any]:
    return plain(hcl2.loads(text))  # type: ignore[no-any-return]


def resources(main: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for item in main["resource"]:
        for kind, named in item.items():
            for name, body in named.items():
                found[(kind, name)] = body
    return found


def first(blocks: Any) -> dict[str, Any]:
    return blocks[0] if isinstance(blocks, list) else blocks  # type: ignore[no-any-return]


@pytest.fixture
def module(tmp_path: Path, spec: DeploySpec) -> dict[str, dict[str, Any]]:
    export("terraform", tmp_path / "tf", spec)
    files = sorted((tmp_path / "tf").glob("*.tf"))
    assert [f.name for f in files] == ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]
    return {f.stem: {"text": f.read_text("utf-8"), **parse(f.read_text("utf-8"))} for f in files}


def test_provider_and_variables(module: dict[str, dict[str, Any]]) -> None:
    (terraform,) = module["versions"]["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["kubernetes"]["source"] == "hashicorp/kubernetes"
    declared = {
        name: body for item in module["variables"]["variable"] for name, body in item.items()
    }
    assert {"image", "namespace", "server_replicas", "gateway_replicas", "secret_name"} <= set(
        declared
    )
    assert declared["image"]["default"] == "registry.example.com/passline:0.1"
    assert declared["gateway_replicas"]["default"] == 3
    used = set()
    for name in ("main", "outputs"):
        used |= set(re.findall(r"\bvar\.(\w+)", module[name]["text"]))
    assert used and used <= set(declared), used - set(declared)


def test_resources_of_the_expected_types(module: dict[str, dict[str, Any]]) -> None:
    found = resources(module["main"])
    assert {
        ("kubernetes_config_map_v1", "passline"),
        ("kubernetes_deployment_v1", "server"),
        ("kubernetes_deployment_v1", "gateway"),
        ("kubernetes_service_v1", "server"),
        ("kubernetes_service_v1", "gateway"),
        ("kubernetes_horizontal_pod_autoscaler_v2", "gateway"),
    } <= set(found)
    outputs = {name for item in module["outputs"]["output"] for name in item}
    assert outputs == {"server_service_name", "gateway_service_name"}


def test_the_autoscaler_targets_the_gateway_deployment(module: dict[str, dict[str, Any]]) -> None:
    found = resources(module["main"])
    hpa = first(found[("kubernetes_horizontal_pod_autoscaler_v2", "gateway")]["spec"])
    target = first(hpa["scale_target_ref"])
    assert target["kind"] == "Deployment"
    assert "kubernetes_deployment_v1.gateway.metadata[0].name" in target["name"]
    assert "var.gateway_replicas" in hpa["min_replicas"]


def test_deployments_probe_health_and_read_secrets_by_reference(
    module: dict[str, dict[str, Any]],
) -> None:
    found = resources(module["main"])
    paths = {}
    for name in ("server", "gateway"):
        deployment = first(found[("kubernetes_deployment_v1", name)]["spec"])
        labels = first(first(deployment["template"])["metadata"])["labels"]
        assert first(deployment["selector"])["match_labels"].items() <= labels.items()
        service = first(found[("kubernetes_service_v1", name)]["spec"])
        assert service["selector"] == labels
        pod = first(first(deployment["template"])["spec"])
        container = first(pod["container"])
        port = first(container["port"])["container_port"]
        assert first(service["port"])["target_port"] == port
        probe = first(first(container["readiness_probe"])["http_get"])
        assert probe["port"] == port
        paths[name] = probe["path"]
        env = {e["name"]: first(e["value_from"]) for e in container["env"]}
        secret = first(env["PASSLINE_DATABASE_URL"]["secret_key_ref"])
        assert secret["key"] == "database-url" and "var.secret_name" in secret["name"]
        assert all(set(e) == {"name", "value_from"} for e in container["env"])
    assert paths == {"server": "/api/v1/health", "gateway": "/v1/health"}
    server = first(found[("kubernetes_deployment_v1", "server")]["spec"])
    server_pod = first(first(server["template"])["spec"])
    assert first(server_pod["init_container"])["args"] == ["db", "upgrade"]


def test_an_object_store_needs_no_claim() -> None:
    files = export_files("terraform", DeploySpec(artifact_root="s3://bucket/prefix"))
    main = parse(files["main.tf"])
    assert not any(kind.endswith("volume_claim_v1") for kind, _ in resources(main))
    variables = parse(files["variables.tf"])["variable"]
    root = next(v["artifact_root"] for v in variables if "artifact_root" in v)
    assert root["default"] == "s3://bucket/prefix"


@pytest.mark.skipif(not shutil.which("terraform"), reason="terraform is not installed")
def test_terraform_fmt_leaves_the_module_unchanged(tmp_path: Path) -> None:
    export("terraform", tmp_path / "tf", DeploySpec(artifact_root="s3://b/p"))
    export("terraform", tmp_path / "tf-volume", DeploySpec())
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-recursive", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
    )
    assert result.returncode == 0, result.stdout
