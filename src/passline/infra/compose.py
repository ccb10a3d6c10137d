"""``docker-compose.yml``: PostgreSQL, ``passline up`` and ``passline serve`` on one host.

Secrets stay out of the file: the database URL, the PostgreSQL password and the audit key
come from ``passline.env``, which the user writes from ``passline.env.example``.
"""

from __future__ import annotations

from typing import Any

from passline.infra.spec import HOME, Component, DeploySpec
from passline.infra.yamltext import dump

__all__ = ["ENV_FILE", "compose_files"]

ENV_FILE = "passline.env"
ENV_EXAMPLE = """\
# Copy to passline.env and replace every change-me; keep passline.env out of version control.
POSTGRES_PASSWORD=change-me
PASSLINE_DATABASE_URL=postgresql+psycopg://passline:change-me@postgres:5432/passline
# HMAC key of the audit chain, shared by both services: openssl rand -hex 32
PASSLINE_AUDIT_KEY=change-me
"""
S3_EXAMPLE = """\
# The object store of PASSLINE_ARTIFACT_ROOT
AWS_ACCESS_KEY_ID=change-me
AWS_SECRET_ACCESS_KEY=change-me
"""


def compose_files(spec: DeploySpec) -> dict[str, str]:
    """``docker-compose.yml`` and ``passline.env.example``, as text by file name."""
    volumes = ["postgres-data", "passline-data"] + (["passline-artifacts"] * spec.uses_volume)
    document = {
        "name": "passline",
        "services": {
            "postgres": _postgres(),
            "passline-server": _service(spec, spec.server, {"postgres": "service_healthy"}),
            "passline-gateway": _service(
                spec,
                spec.gateway,
                {"postgres": "service_healthy", "passline-server": "service_healthy"},
            ),
        },
        "volumes": {name: {} for name in volumes},
    }
    header = "# Written by `passline infra export --target compose`; see docs/infra.md.\n"
    example = ENV_EXAMPLE + (S3_EXAMPLE if spec.resolved_artifact_root.startswith("s3://") else "")
    return {
        "docker-compose.yml": header + dump(document),
        f"{ENV_FILE}.example": example,
    }


def _postgres() -> dict[str, Any]:
    return {
        "image": "postgres:16",
        "restart": "unless-stopped",
        "environment": {"POSTGRES_USER": "passline", "POSTGRES_DB": "passline"},
        "env_file": [ENV_FILE],
        "volumes": ["postgres-data:/var/lib/postgresql/data"],
        "healthcheck": {
            "test": ["CMD-SHELL", "pg_isready -U passline -d passline"],
            "interval": "5s",
            "timeout": "5s",
            "retries": 10,
        },
    }


def _volumes(spec: DeploySpec) -> list[str]:
    """The home, and the artifacts on their own volume unless they go to an object store."""
    volumes = [f"passline-data:{HOME}"]
    if spec.uses_volume:
        volumes.append(f"passline-artifacts:{spec.resolved_artifact_root}")
    return volumes


def _service(spec: DeploySpec, component: Component, after: dict[str, str]) -> dict[str, Any]:
    url = f"http://127.0.0.1:{component.port}{component.health_path}"
    probe = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    return {
        "image": spec.image,
        "restart": "unless-stopped",
        "entrypoint": ["passline"],
        "command": list(component.args),
        "env_file": [ENV_FILE],
        "environment": spec.config,
        "volumes": _volumes(spec),
        "ports": [f"{component.port}:{component.port}"],
        "depends_on": {name: {"condition": condition} for name, condition in after.items()},
        "healthcheck": {
            "test": ["CMD", "python", "-c", probe],
            "interval": "10s",
            "timeout": "5s",
            "retries": 5,
            "start_period": "30s",
        },
    }
