"""docker-compose.yml: services that start in order, check their health and hold no secret."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from passline.infra import DeploySpec, export_files

SECRETISH = re.compile(r"PASSWORD|TOKEN|SECRET|DATABASE_URL|AUDIT_KEY|ACCESS_KEY", re.I)


def load(folder: Path) -> dict:
    return yaml.safe_load((folder / "docker-compose.yml").read_text("utf-8"))


def test_services_and_start_order(compose_dir: Path) -> None:
    services = load(compose_dir)["services"]
    assert set(services) == {"postgres", "passline-server", "passline-gateway"}
    for name, service in services.items():
        for target, rule in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on missing {target}"
            assert rule == {"condition": "service_healthy"}
            assert "healthcheck" in services[target]
    assert set(services["passline-gateway"]["depends_on"]) == {"postgres", "passline-server"}


def test_commands_and_health_probes_use_the_real_routes(compose_dir: Path) -> None:
    services = load(compose_dir)["services"]
    server, gateway = services["passline-server"], services["passline-gateway"]
    assert server["entrypoint"] == ["passline"] and server["command"][:3] == [
        "up",
        "--host",
        "0.0.0.0",
    ]
    assert gateway["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert "http://127.0.0.1:8765/api/v1/health" in " ".join(server["healthcheck"]["test"])
    assert "http://127.0.0.1:8766/v1/health" in " ".join(gateway["healthcheck"]["test"])
    assert server["ports"] == ["8765:8765"] and gateway["ports"] == ["8766:8766"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]


def test_no_secret_is_inlined(compose_dir: Path) -> None:
    document = load(compose_dir)
    for name, service in document["services"].items():
        inline = [k for k in service.get("environment", {}) if SECRETISH.search(k)]
        assert not inline, f"{name} inlines {inline}"
        assert service["env_file"] == ["passline.env"]
        env = service.get("environment", {})
        assert set(env) <= {"PASSLINE_HOME", "PASSLINE_ARTIFACT_ROOT", "PASSLINE_LOG_LEVEL"} | {
            "POSTGRES_USER",
            "POSTGRES_DB",
        }
    assert not (compose_dir / "passline.env").exists()
    example = (compose_dir / "passline.env.example").read_text("utf-8")
    values = [line.partition("=")[2] for line in example.splitlines() if "=" in line]
    assert values and all("change-me" in v for v in values)


def test_settings_and_options_flow_into_the_file() -> None:
    from passline.settings import Settings

    settings = Settings(port=9000, gateway_port=9001, log_level="INFO")
    spec = DeploySpec.from_settings(settings, artifact_root="s3://bucket/passline")
    files = export_files("compose", spec)
    services = yaml.safe_load(files["docker-compose.yml"])["services"]
    server = services["passline-server"]
    assert server["command"] == ["up", "--host", "0.0.0.0", "--port", "9000"]
    assert server["environment"]["PASSLINE_ARTIFACT_ROOT"] == "s3://bucket/passline"
    assert server["environment"]["PASSLINE_LOG_LEVEL"] == "info"
    assert "AWS_SECRET_ACCESS_KEY=change-me" in files["passline.env.example"]
    assert server["volumes"] == ["passline-data:/var/lib/passline"]


def test_artifacts_on_a_volume_both_services_share(compose_dir: Path) -> None:
    document = load(compose_dir)
    server, gateway = (
        document["services"]["passline-server"],
        document["services"]["passline-gateway"],
    )
    assert server["volumes"] == gateway["volumes"]
    assert "passline-artifacts:/var/lib/passline/artifacts" in server["volumes"]
    assert {v.split(":")[0] for v in server["volumes"]} <= set(document["volumes"])
