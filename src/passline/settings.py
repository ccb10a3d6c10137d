"""One settings object for the whole workspace.

Values come from, in order: keyword arguments, ``PASSLINE_*`` environment variables,
``$PASSLINE_HOME/config.toml``, then defaults that live under ``PASSLINE_HOME``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passline.errors import InvalidInput

__all__ = ["Settings", "redact_url"]

DEFAULT_PORT = 8765


class Settings(BaseSettings):
    """Where a Passline workspace keeps its metadata, artifacts and secrets."""

    model_config = SettingsConfigDict(env_prefix="PASSLINE_", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".passline"), description="Workspace folder.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; SQLite in the home when unset."
    )
    artifact_root: str | None = Field(
        default=None, description="Folder or fsspec URL (s3://bucket/prefix) for artifacts."
    )
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    gateway_port: int = Field(default=8766, description="Port of `passline serve`.")
    token_ttl_days: int = Field(default=90, ge=1, le=3650)
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)
    pool_size: int = Field(default=5, ge=1)
    audit_key: str | None = Field(
        default=None, description="HMAC key of the audit chain; a file in the home when unset."
    )
    log_level: str = Field(default="warning", pattern="(?i)^(debug|info|warning|error|critical)$")
    scheduler_interval_s: float = Field(
        default=30.0, ge=0, description="How often `passline up` runs due sources; 0 turns it off."
    )
    memory_budget_mb: int = Field(
        default=512, ge=16, description="Memory an ingest may use for its batches and buffers."
    )
    pipeline_workers: int = Field(
        default=2, ge=1, description="Steps a local pipeline run executes at once."
    )
    ray_address: str | None = Field(
        default=None,
        description="Ray head node (host:port) for executor='ray'; a local Ray when unset.",
    )
    ray_num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of the local Ray instance (all when unset)."
    )
    secrets_file: Path | None = Field(
        default=None,
        description="TOML file of named secrets; $PASSLINE_HOME/secrets.toml when unset.",
    )

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Build settings from overrides, environment and the home's ``config.toml``."""
        try:
            home = Path(overrides.get("home") or cls().home)
            file_values = _read_config_file(home / "config.toml")
            return cls(**{**file_values, **{k: v for k, v in overrides.items() if v is not None}})
        except ValidationError as exc:
            raise _invalid_setting(exc) from None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'passline.db'}"

    @property
    def resolved_artifact_root(self) -> str:
        return self.artifact_root or str(self.home / "artifacts")

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def server_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _invalid_setting(exc: ValidationError) -> InvalidInput:
    first = exc.errors()[0]
    name = ".".join(str(p) for p in first.get("loc", ())) or "?"
    return InvalidInput(
        f"The setting '{name}' (PASSLINE_{name.upper()} or config.toml) is not valid: "
        f"{first.get('msg')}. Got {first.get('input')!r} instead.",
        hint="Fix the environment variable or $PASSLINE_HOME/config.toml.",
    )


def _read_config_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"The settings file {path} is not valid TOML: {exc}.",
            hint="Fix or remove the file; environment variables PASSLINE_* also work.",
        ) from exc


def redact_url(url: str) -> str:
    """The URL with its password replaced, safe to print and log."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url
