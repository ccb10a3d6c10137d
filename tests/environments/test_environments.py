"""Environments of a project: the defaults, configuring them, and what is refused
(SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as


def test_a_project_gets_dev_staging_production_on_first_use(any_envs: Services) -> None:
    found = any_envs.environments.list("fraud")
    assert [(e.name, e.position, e.require_approval) for e in found] == [
        ("dev", 0, False),
        ("staging", 1, False),
        ("production", 2, True),
    ]
    assert [e.id for e in any_envs.environments.list("fraud")] == [e.id for e in found]
    assert any_envs.environments.get("fraud", "staging").ref == "environment:fraud/staging"
    defaults = [e for e in any_envs.audit.log(project="fraud") if e.action.startswith("env")]
    assert [e.action for e in defaults] == ["environment.defaults"]


def test_configure_creates_updates_and_orders(any_envs: Services) -> None:
    svc = any_envs.environments
    qa = svc.configure(
        "fraud",
        "qa",
        position=1,
        description="QA",
        settings={"replicas": 1, "region": "eu"},
        endpoints=["scorer-qa"],
        gates=["smoke"],
    )
    assert qa.gates == ["fraud/smoke"] and qa.endpoints == ["scorer-qa"]
    assert [e.name for e in svc.list("fraud")] == ["dev", "qa", "staging", "production"]
    assert [e.position for e in svc.list("fraud")] == [0, 1, 2, 3]
    changed = svc.configure("fraud", "qa", settings={"replicas": 2, "region": None})
    assert changed.settings == {"replicas": 2} and changed.description == "QA"
    assert changed.gates == ["fraud/smoke"]  # kept: not given
    svc.configure("fraud", "qa", position=3)
    assert [e.name for e in svc.list("fraud")][-1] == "qa"
    change = any_envs.audit.log(object="environment:fraud/qa")[0]
    assert change.action == "environment.configure" and change.changes["to"]["position"] == 3
    svc.delete("fraud", "qa")
    assert [e.name for e in svc.list("fraud")] == ["dev", "staging", "production"]


def test_configure_refuses_bad_input(workspace: Workspace, envs: Services) -> None:
    svc = envs.environments
    with pytest.raises(NotFound, match="No gate fraud/nope; an environment can only require"):
        svc.configure("fraud", "staging", gates=["nope"])
    with pytest.raises(InvalidInput, match=r"must be an integer in \[0, 2\]. Got 7 instead"):
        svc.configure("fraud", "staging", position=7)
    with pytest.raises(InvalidInput, match="cannot look like a version number"):
        svc.configure("fraud", "v2")
    with pytest.raises(InvalidInput, match="The environment name must be"):
        svc.configure("fraud", "Prod")
    with pytest.raises(PermissionDenied, match="needs the 'admin' role in project 'fraud'"):
        services_as(workspace, "alice").environments.configure("fraud", "qa")
    with pytest.raises(NotFound, match="No project named 'nope'"):
        svc.list("nope")
    with pytest.raises(NotFound, match="its environments are dev, staging, production"):
        svc.get("fraud", "prod")


def test_an_environment_named_by_releases_stays(workspace: Workspace, envs: Services) -> None:
    services_as(workspace, "alice").environments.release("fraud/scorer", 1, "dev")
    with pytest.raises(Conflict, match="named by 1 release record"):
        envs.environments.delete("fraud", "dev")
    for name in ("staging", "production"):
        envs.environments.delete("fraud", name)
    with pytest.raises(Conflict, match="only environment"):
        envs.environments.delete("fraud", "dev")
