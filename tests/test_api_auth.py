"""Every route but health needs a token; 401 says why, 403 names the missing role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from passline.core.clock import utcnow
from passline.services.workspace import Services, Workspace
from passline.store.models import TokenRow


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health_is_open(app_client: TestClient) -> None:
    assert app_client.get("/api/v1/health").json()["status"] == "ok"


def test_every_other_route_needs_a_token(app_client: TestClient) -> None:
    spec = app_client.app.openapi()  # type: ignore[attr-defined]
    calls = [
        (method.upper(), path.replace("{", "").replace("}", ""))
        for path, methods in spec["paths"].items()
        for method in methods
        if path != "/api/v1/health"
    ]
    assert len(calls) > 15
    for method, path in [*calls, ("GET", "/openapi.json")]:
        response = app_client.request(method, path)
        assert response.status_code == 401, (method, path, response.status_code)
    docs = app_client.get("/docs", follow_redirects=False)
    assert docs.status_code == 303 and docs.headers["location"] == "/login?next=%2Fdocs"
    response = app_client.get("/api/v1/projects")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("token", "message"),
    [("garbage", "malformed"), ("tok_X.nope", "invalid")],
)
def test_bad_tokens_are_401(app_client: TestClient, token: str, message: str) -> None:
    response = app_client.get("/api/v1/projects", headers=bearer(token))
    assert response.status_code == 401 and message in response.json()["message"]


def test_expired_and_revoked_tokens_are_401(
    app_client: TestClient, admin: Services, workspace: Workspace
) -> None:
    expired = admin.identity.create_token("old")
    with workspace.db.write() as session:
        session.execute(
            update(TokenRow)
            .where(TokenRow.id == expired.info.id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = app_client.get("/api/v1/projects", headers=bearer(expired.secret))
    assert response.status_code == 401 and "expired" in response.json()["message"]

    revoked = admin.identity.create_token("gone")
    assert app_client.get("/api/v1/me", headers=bearer(revoked.secret)).status_code == 200
    admin.identity.revoke_token(revoked.info.id)
    response = app_client.get("/api/v1/me", headers=bearer(revoked.secret))
    assert response.status_code == 401 and "revoked" in response.json()["message"]


def test_missing_role_is_403_and_names_it(app_client: TestClient, admin: Services) -> None:
    admin.projects.create("fraud")
    admin.identity.create_user("viv")
    admin.projects.add_member("fraud", "viv", "viewer")
    token = admin.identity.create_token("viv", user="viv").secret
    response = app_client.put(
        "/api/v1/projects/fraud/artifacts",
        params={"name": "x"},
        content=b"x",
        headers=bearer(token),
    )
    assert response.status_code == 403
    assert (
        "needs the 'contributor' role in project 'fraud' to store artifacts, and has 'viewer'"
        in response.json()["message"]
    )
    assert app_client.get("/api/v1/projects/fraud", headers=bearer(token)).status_code == 200
    response = app_client.post("/api/v1/users", json={"name": "z"}, headers=bearer(token))
    assert response.status_code == 403


def test_token_used_is_recorded(app_client: TestClient, admin: Services, admin_token: str) -> None:
    app_client.get("/api/v1/me", headers=bearer(admin_token))
    assert admin.identity.list_tokens()[0].last_used_at is not None


def test_api_errors_are_json_with_code_and_hint(app_client: TestClient, admin_token: str) -> None:
    response = app_client.get("/api/v1/projects/nope", headers=bearer(admin_token))
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "No project named 'nope'.",
        "hint": "List projects with 'passline projects list'.",
    }
    response = app_client.post("/api/v1/projects", json={"nom": "x"}, headers=bearer(admin_token))
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"
    response = app_client.post("/api/v1/projects", json={"name": "x"}, headers=bearer(admin_token))
    again = app_client.post("/api/v1/projects", json={"name": "x"}, headers=bearer(admin_token))
    assert again.status_code == 409 and "already exists" in again.json()["message"]


def test_audit_records_api_origin_and_client(
    app_client: TestClient, admin: Services, admin_token: str
) -> None:
    app_client.post("/api/v1/projects", json={"name": "viaapi"}, headers=bearer(admin_token))
    entry = admin.audit.log(object="project:viaapi")[0]
    assert entry.origin == "api" and entry.client == "testclient"
