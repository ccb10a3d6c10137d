"""What every export target describes: two processes, their settings and their secrets.

``DeploySpec`` holds the export's options as given (checked, never rewritten); the
targets (``compose``, ``kubernetes``, ``terraform``) turn the same spec into their own files,
so the three describe one deployment: ``passline up`` (REST API and UI) and ``passline
serve`` (the model gateway) on a shared database, artifact root and audit key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from passline.errors import InvalidInput
from passline.settings import Settings

__all__ = ["HEALTH_PATHS", "Component", "DeploySpec", "EnvVar"]

#: The unauthenticated health routes: ``passline.server.app`` and ``passline.serving.gateway``.
HEALTH_PATHS = {"server": "/api/v1/health", "gateway": "/v1/health"}
HOME = "/var/lib/passline"
ARTIFACTS = f"{HOME}/artifacts"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")
MAX_REPLICAS = 100


@dataclass(frozen=True)
class EnvVar:
    """An environment variable read from the ConfigMap or from the user's Secret."""

    name: str
    config_key: str | None = None
    secret_key: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class Component:
    """One long-running process: its command, port, health route, size and replicas."""

    name: str
    args: tuple[str, ...]
    port: int
    health_path: str
    replicas: int
    requests: dict[str, str]
    limits: dict[str, str]

    @property
    def full_name(self) -> str:
        return f"passline-{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        """The pod labels; Deployment selectors and Services select on exactly these."""
        return {"app.kubernetes.io/name": "passline", "app.kubernetes.io/component": self.name}


@dataclass(frozen=True)
class DeploySpec:
    """The options of ``passline infra export``, checked; defaults from ``Settings``."""

    image: str = "passline:latest"
    namespace: str = "passline"
    secret_name: str = "passline"
    artifact_root: str | None = None
    server_replicas: int = 1
    gateway_replicas: int = 2
    port: int = 8765
    gateway_port: int = 8766
    log_level: str = "warning"

    def __post_init__(self) -> None:
        if not IMAGE.match(self.image):
            raise InvalidInput(
                f"The 'image' parameter must be an image reference like "
                f"registry.example.com/passline:0.1. Got {self.image!r} instead."
            )
        for name in ("namespace", "secret_name"):
            value = getattr(self, name)
            if not DNS_LABEL.match(value):
                raise InvalidInput(
                    f"The '{name}' parameter must be a Kubernetes name (lowercase letters, "
                    f"digits and '-', at most 63). Got {value!r} instead."
                )
        for name in ("server_replicas", "gateway_replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidInput(f"The '{name}' parameter must be an int. Got {value!r}.")
            if not 1 <= value <= MAX_REPLICAS:
                raise InvalidInput(
                    f"The '{name}' parameter must be an int in [1, {MAX_REPLICAS}]. "
                    f"Got {value} instead."
                )
        self._check_artifact_root()

    def _check_artifact_root(self) -> None:
        root = self.artifact_root
        if root is None:
            return
        if not (root.startswith("/") or re.match(r"^[a-z][a-z0-9+.-]*://\S+$", root)):
            raise InvalidInput(
                "The 'artifact_root' parameter must be an absolute path or a URL like "
                f"s3://bucket/prefix. Got {root!r} instead."
            )
        if any(c in root for c in "\"'\\$`\n"):
            raise InvalidInput(
                f"The 'artifact_root' must not contain quotes, '$' or '\\': {root!r}."
            )

    @classmethod
    def from_settings(cls, settings: Settings, **options: object) -> DeploySpec:
        """The spec with ports and log level from ``settings``; ``None`` options are defaults."""
        base = {
            "port": settings.port,
            "gateway_port": settings.gateway_port,
            "log_level": settings.log_level.lower(),
        }
        return cls(**{**base, **{k: v for k, v in options.items() if v is not None}})  # type: ignore[arg-type]

    @property
    def uses_volume(self) -> bool:
        """Artifacts on a shared volume (no root, or a path) rather than an object store."""
        return self.artifact_root is None or self.artifact_root.startswith("/")

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_root or ARTIFACTS

    @property
    def gateway_max_replicas(self) -> int:
        return min(MAX_REPLICAS, self.gateway_replicas * 4)

    @property
    def server(self) -> Component:
        return Component(
            "server",
            ("up", "--host", "0.0.0.0", "--port", str(self.port)),
            self.port,
            HEALTH_PATHS["server"],
            self.server_replicas,
            {"cpu": "250m", "memory": "512Mi"},
            {"cpu": "1", "memory": "1Gi"},
        )

    @property
    def gateway(self) -> Component:
        return Component(
            "gateway",
            ("serve", "--host", "0.0.0.0", "--port", str(self.gateway_port)),
            self.gateway_port,
            HEALTH_PATHS["gateway"],
            self.gateway_replicas,
            {"cpu": "500m", "memory": "512Mi"},
            {"cpu": "2", "memory": "2Gi"},
        )

    @property
    def config(self) -> dict[str, str]:
        """The non-secret settings, as the ConfigMap holds them."""
        return {
            "PASSLINE_HOME": HOME,
            "PASSLINE_ARTIFACT_ROOT": self.resolved_artifact_root,
            "PASSLINE_LOG_LEVEL": self.log_level,
        }

    @property
    def env(self) -> list[EnvVar]:
        """Every variable the containers read: settings from the ConfigMap, secrets by key."""
        found = [EnvVar(name, config_key=name) for name in self.config]
        found += [
            EnvVar("PASSLINE_DATABASE_URL", secret_key="database-url"),
            EnvVar("PASSLINE_AUDIT_KEY", secret_key="audit-key"),
        ]
        if self.resolved_artifact_root.startswith("s3://"):
            found += [
                EnvVar("AWS_ACCESS_KEY_ID", secret_key="aws-access-key-id", optional=True),
                EnvVar("AWS_SECRET_ACCESS_KEY", secret_key="aws-secret-access-key", optional=True),
            ]
        return found
