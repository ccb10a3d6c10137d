"""The environments page: the path as columns with what each holds, and the releases with
their durations, in-process. Project fraud from tests/environments; carol only views it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passline.server.app import create_app
from passline.services.workspace import Workspace
from tests.conftest import services_as
from tests.environments.conftest import setup_envs
from tests.gates.conftest import MODEL
from tests.test_ui import login, text_of
from tests.test_ui_llm import page_of, row


def test_the_path_and_the_releases(workspace: Workspace) -> None:
    admin = setup_envs(workspace)
    admin.environments.configure("fraud", "staging", gates=["smoke"], endpoints=["scorer-stg"])
    admin.endpoints.create("fraud", "scorer", MODEL, alias="staging")
    alice = services_as(workspace, "alice")
    dev = alice.environments.release(MODEL, 1, "dev")
    staged = alice.environments.release(MODEL, 1, "staging")
    back = alice.environments.rollback(staged.id, reason="rehearsal")
    with TestClient(create_app(workspace=workspace)) as http:
        login(http, admin.identity.create_token("ui", user="carol").secret)
        page = page_of(http, "/projects/fraud/environments")
        assert "/projects/fraud/environments" in page_of(http, "/projects/fraud")
    text = text_of(page)
    assert text.index("0. dev") < text.index("1. staging") < text.index("2. production approval")
    assert 'href="/models/fraud/scorer/v/1">fraud/scorer v1</a>' in page  # dev holds v1
    assert 'href="/gates/fraud/smoke"' in page and "scorer-stg" in page
    assert "fraud/scorer serves @staging" in text
    rolled = text_of(row(page, f"release-{staged.id}"))
    assert "rolled back" in rolled and back.id in rolled and "fraud/smoke pass" in rolled
    rollback = text_of(row(page, f"release-{back.id}"))
    assert "(emptied)" in rollback and f"{back.duration_ms:,.1f} ms" in rollback
    assert "released" in text_of(row(page, f"release-{dev.id}"))


def test_an_unknown_project_is_a_404(workspace: Workspace) -> None:
    admin = setup_envs(workspace)
    with TestClient(create_app(workspace=workspace)) as http:
        login(http, admin.identity.create_token("ui").secret)
        assert "No project named" in page_of(http, "/projects/nope/environments", 404)
