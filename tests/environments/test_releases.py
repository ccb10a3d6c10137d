"""Releases along the path: gates, approvals, refusals recorded with nothing moved, and
rollbacks with their measured duration (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.gates.conftest import MODEL, train


def test_dev_to_staging_to_production_through_gates(
    any_workspace: Workspace, any_envs: Services
) -> None:
    admin = any_envs
    admin.environments.configure("fraud", "staging", gates=["smoke"])
    admin.environments.configure("fraud", "production", gates=["smoke", "strict"])
    alice = services_as(any_workspace, "alice")

    dev = alice.environments.release(MODEL, 1, "dev", reason="first")
    assert (dev.from_environment, dev.to_environment, dev.status) == (None, "dev", "released")
    assert dev.previous_version is None and dev.duration_ms > 0 and dev.actor == "alice"
    staging = alice.environments.release(MODEL, "v1", "staging")
    assert staging.from_environment == "dev" and staging.gates[0]["passed"] is True
    assert staging.gates[0]["evaluation"] == admin.gates.evaluations("fraud", "smoke")[0].id
    assert admin.registry.get_model(MODEL).aliases == {"dev": 1, "staging": 1}

    with pytest.raises(PermissionDenied, match="nothing moved") as refused:
        alice.environments.release(MODEL, 1, "production")
    message = str(refused.value)
    assert "production needs an approval of v1 by someone other than its author" in message
    assert "gate fraud/strict: metric auc >= 0.95 (fail: auc = 0.83 (needs >= 0.95))" in message
    assert "production" not in admin.registry.get_model(MODEL).aliases
    record = admin.environments.get_release(refused.value.details["release"])
    assert record.status == "refused" and record.version == 1
    assert [g["passed"] for g in record.gates] == [True, False]
    assert len(record.evidence["refused"]) == 2  # the approval and the strict gate
    assert admin.audit.log(object=record.ref)[0].action == "release.refuse"

    services_as(any_workspace, "bob").registry.approve(MODEL, 1, "looks right")
    admin.environments.configure("fraud", "production", gates=["smoke"])
    live = alice.environments.release(MODEL, 1, "production", reason="go")
    assert live.status == "released" and live.evidence["approvals"] == ["bob"]
    assert live.evidence["move"] == admin.registry.history(MODEL, "production")[0].id
    assert admin.registry.get_model(MODEL).aliases["production"] == 1

    listed = admin.environments.releases("fraud")
    assert [r.id for r in listed][:2] == [live.id, record.id]
    assert [r.to_environment for r in admin.environments.releases("fraud", "dev")] == ["dev"]
    assert admin.environments.releases("fraud", subject="prompt:fraud/x") == []
    graph = admin.lineage.graph(live.ref, "up", depth=1)
    assert any(e.type == "released_to" for e in graph.edges)
    assert admin.audit.verify().ok


def test_skipping_an_environment_is_refused_and_recorded(
    any_workspace: Workspace, any_envs: Services
) -> None:
    alice = services_as(any_workspace, "alice")
    with pytest.raises(Conflict, match="v1 is not in dev; release it there first") as err:
        alice.environments.release(MODEL, 1, "staging")
    assert "passline release create fraud/scorer --version 1 --to dev" in str(err.value)
    record = alice.environments.get_release(err.value.details["release"])
    assert record.status == "refused" and record.from_environment == "dev"
    assert any_envs.registry.get_model(MODEL).aliases == {}
    alice.environments.release(MODEL, 1, "dev")
    with pytest.raises(Conflict, match="fraud/scorer v1 is already in dev"):
        alice.environments.release(MODEL, 1, "dev")


def test_bad_input_is_refused_with_what_to_do(any_workspace: Workspace, any_envs: Services) -> None:
    alice = services_as(any_workspace, "alice")
    with pytest.raises(
        NotFound,
        match="Project 'fraud' has no environment 'prod'; its environments are dev, staging, "
        "production",
    ):
        alice.environments.release(MODEL, 1, "prod")
    with pytest.raises(NotFound, match="No model named 'fraud/nope'"):
        alice.environments.release("fraud/nope", 1, "dev")
    with pytest.raises(NotFound, match="has no version or alias '9'"):
        alice.environments.release(MODEL, 9, "dev")
    with pytest.raises(InvalidInput, match="is a number such as 3 or v3. Got 'latest'"):
        alice.environments.release(MODEL, "latest", "dev")
    with pytest.raises(InvalidInput, match="PROJECT/MODEL or prompt:PROJECT/NAME"):
        alice.environments.release("scorer", 1, "dev")
    with pytest.raises(
        PermissionDenied,
        match="'carol' needs the 'contributor' role in project 'fraud' to "
        "release into dev, and has 'viewer'",
    ):
        services_as(any_workspace, "carol").environments.release(MODEL, 1, "dev")
    assert alice.environments.releases("fraud") == []  # none of these is a release
    with pytest.raises(NotFound, match="No release 'rel_nope'"):
        alice.environments.get_release("rel_nope")
    with pytest.raises(NotFound, match="its environments are dev, staging, production"):
        alice.environments.releases("fraud", "prod")


def test_a_release_policy_refusal_is_a_refused_release(
    workspace: Workspace, envs: Services
) -> None:
    envs.registry.set_policy("fraud", "dev", require_approval=True)
    alice = services_as(workspace, "alice")
    with pytest.raises(PermissionDenied, match="release policy of 'dev'") as err:
        alice.environments.release(MODEL, 1, "dev")
    assert alice.environments.get_release(err.value.details["release"]).status == "refused"
    assert envs.registry.get_model(MODEL).aliases == {}


def test_an_approver_who_is_not_the_author_is_the_second_pair_of_eyes(
    workspace: Workspace, envs: Services
) -> None:
    alice, bob = services_as(workspace, "alice"), services_as(workspace, "bob")
    alice.environments.release(MODEL, 1, "dev")
    alice.environments.release(MODEL, 1, "staging")
    released = bob.environments.release(MODEL, 1, "production")
    assert released.evidence["approvals"] == ["bob"] and released.actor == "bob"


def test_rollback_restores_the_previous_version_and_is_timed(
    any_workspace: Workspace, any_envs: Services
) -> None:
    alice = services_as(any_workspace, "alice")
    first = alice.environments.release(MODEL, 1, "dev")
    train(any_workspace, 0.9)
    second = alice.environments.release(MODEL, 2, "dev", reason="better auc")
    assert second.previous_version == 1

    with pytest.raises(Conflict, match=f"{second.id} \\(v2, released\\) is"):
        alice.environments.rollback(first.id)
    back = alice.environments.rollback(second.id, reason="latency regression")
    assert back.status == "rollback" and back.rollback_of == second.id
    assert (back.version, back.previous_version) == (1, 2) and back.duration_ms > 0
    assert back.started_at >= second.started_at and back.reason == "latency regression"
    assert any_envs.registry.get_model(MODEL).aliases == {"dev": 1}
    undone = alice.environments.get_release(second.id)
    assert undone.status == "rolled_back" and undone.rolled_back_by == back.id
    assert any_envs.registry.history(MODEL, "dev")[0].kind == "rollback"
    assert any_envs.audit.log(object=back.ref)[0].changes["duration_ms"] == back.duration_ms

    with pytest.raises(Conflict, match="already rolled back by"):
        alice.environments.rollback(second.id)
    with pytest.raises(Conflict, match="is itself a rollback"):
        alice.environments.rollback(back.id)
    with pytest.raises(Conflict, match=f"{back.id} \\(v1, rollback\\) is"):
        alice.environments.rollback(first.id)
    with pytest.raises(PermissionDenied, match="needs the 'contributor' role"):
        services_as(any_workspace, "carol").environments.rollback(back.id)


def test_rollback_of_a_first_release_empties_the_environment(
    workspace: Workspace, envs: Services
) -> None:
    alice = services_as(workspace, "alice")
    with pytest.raises(Conflict) as refused:
        alice.environments.release(MODEL, 1, "staging")
    with pytest.raises(Conflict, match="was refused; nothing moved"):
        alice.environments.rollback(refused.value.details["release"])
    release = alice.environments.release(MODEL, 1, "dev")
    back = alice.environments.rollback(release.id)
    assert back.version is None and back.previous_version == 1
    assert envs.registry.get_model(MODEL).aliases == {}


def test_rollback_refuses_when_the_alias_moved_outside_releases(
    workspace: Workspace, envs: Services
) -> None:
    alice = services_as(workspace, "alice")
    release = alice.environments.release(MODEL, 1, "dev")
    train(workspace, 0.9)
    alice.registry.set_alias(MODEL, "dev", 2)
    with pytest.raises(Conflict, match="moved outside releases .* now holds v2"):
        alice.environments.rollback(release.id)


def test_a_prompt_moves_through_the_same_path(workspace: Workspace, envs: Services) -> None:
    prompts = envs.prompts
    prompts.create("fraud/explain", "Why is {{ txn }} risky?", {"txn": "string"})
    prompts.create("fraud/explain", "Explain why {{ txn }} is risky.", {"txn": "string"})
    alice = services_as(workspace, "alice")
    first = alice.environments.release("prompt:fraud/explain", 1, "dev")
    assert first.kind == "prompt" and first.target == "prompt:fraud/explain"
    alice.environments.release("prompt:fraud/explain", 1, "staging")
    second = alice.environments.release("prompt:fraud/explain", 2, "dev")
    assert prompts.get("fraud/explain").labels == {"dev": 2, "staging": 1}
    with pytest.raises(Conflict, match="v2 is not in staging"):
        alice.environments.release("prompt:fraud/explain", 2, "production")
    back = alice.environments.rollback(second.id)
    assert back.version == 1 and back.duration_ms > 0
    assert prompts.get("fraud/explain").labels == {"dev": 1, "staging": 1}
    with pytest.raises(Conflict, match="a prompt label cannot be emptied"):
        alice.environments.rollback(
            alice.environments.releases("fraud", "staging", subject="prompt:fraud/explain")[0].id
        )
