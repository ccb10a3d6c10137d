"""Shared fixtures: workspaces on SQLite and on the real PostgreSQL, servers, clients.

PostgreSQL tests use the server named by ``PASSLINE_TEST_POSTGRES_URL`` (``make test`` sets
it, starting a server if none runs) and get a fresh database each. When the variable is
unset they are skipped, unless ``PASSLINE_REQUIRE_POSTGRES=1`` (set by ``make test``), in
which case they fail: CI must never go green without PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from passline.sdk.client import Client
from passline.sdk.transports import HttpTransport, LocalTransport
from passline.server.app import create_app
from passline.services.context import CallContext
from passline.services.workspace import Services, Workspace
from passline.settings import Settings

PG_ENV = "PASSLINE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PASSLINE_") and name not in (
            PG_ENV,
            "PASSLINE_REQUIRE_POSTGRES",
            "PASSLINE_REQUIRE_BROWSER",
        ):
            monkeypatch.delenv(name)


def postgres_server_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("PASSLINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PG_ENV} is not set but PostgreSQL tests are required.")
        pytest.skip(f"{PG_ENV} not set")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a brand-new, empty PostgreSQL database, dropped afterwards."""
    server = make_url(postgres_server_url())
    name = f"passline_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    home = tmp_path / "home"
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        return Settings(home=home, database_url=url)
    return Settings(home=home)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def any_settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    """Settings on each backend in turn (the store contract runs on both)."""
    return make_settings(tmp_path, backend, request)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


@pytest.fixture
def workspace(settings: Settings) -> Iterator[Workspace]:
    ws = Workspace.open(settings)
    yield ws
    ws.close()


@pytest.fixture
def any_workspace(any_settings: Settings) -> Iterator[Workspace]:
    ws = Workspace.open(any_settings)
    yield ws
    ws.close()


@pytest.fixture
def admin(workspace: Workspace) -> Services:
    """Services acting as the local OS user, workspace admin."""
    return workspace.services(workspace.local_context("sdk"))


def services_as(workspace: Workspace, user: str) -> Services:
    """Services acting as a named user (look it up; tests create it first)."""
    from passline.services.context import Actor

    for u in workspace.services(workspace.local_context()).identity.list_users():
        if u.name == user:
            return workspace.services(CallContext(Actor(u.id, u.name, u.is_admin, u.kind), "sdk"))
    raise LookupError(user)


@pytest.fixture
def app_client(workspace: Workspace) -> Iterator[TestClient]:
    """An in-process HTTP client for the app (no socket), without credentials."""
    with TestClient(create_app(workspace=workspace)) as http:
        yield http


@pytest.fixture
def admin_token(admin: Services) -> str:
    return admin.identity.create_token("tests").secret


@pytest.fixture(params=["local", "http"])
def sdk(request: pytest.FixtureRequest, workspace: Workspace) -> Iterator[Client]:
    """The SDK client on each transport in turn, as the workspace admin."""
    local = LocalTransport(workspace.services(workspace.local_context("sdk")))
    if request.param == "local":
        yield Client(local)
        return
    token = local.services.identity.create_token("sdk-tests").secret
    with TestClient(create_app(workspace=workspace)) as http:
        yield Client(HttpTransport("http://testserver", token, client=http))
