"""The storage contract: every backend (SQLite, PostgreSQL) must pass all of this."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from passline.store import migrations
from tests.conftest import services_as


@pytest.fixture
def root(any_workspace: Workspace) -> Services:
    return any_workspace.services(any_workspace.local_context("sdk"))


def test_schema_is_at_head(any_workspace: Workspace) -> None:
    assert migrations.current_revision(any_workspace.db.write_engine) == migrations.HEAD_REVISION


def test_projects_round_trip_and_conflict_names_the_existing_one(root: Services) -> None:
    created = root.projects.create("retail", "Demand")
    assert root.projects.get("retail") == created
    assert [p.name for p in root.projects.list()] == ["retail"]
    with pytest.raises(Conflict, match=f"already exists \\(id {created.id}"):
        root.projects.create("retail")


def test_invalid_names_are_refused(root: Services) -> None:
    with pytest.raises(InvalidInput, match="project name must be"):
        root.projects.create("Bad Name!")


def test_members_and_roles_are_enforced(any_workspace: Workspace, root: Services) -> None:
    root.projects.create("fraud")
    root.identity.create_user("alice")
    root.identity.create_user("eve")
    root.projects.add_member("fraud", "alice", "viewer")
    alice, eve = services_as(any_workspace, "alice"), services_as(any_workspace, "eve")
    assert [p.name for p in alice.projects.list()] == ["fraud"]
    assert eve.projects.list() == []
    with pytest.raises(
        PermissionDenied,
        match="'contributor' role in project 'fraud' to store artifacts, and has 'viewer'",
    ):
        alice.artifacts.put_stream("fraud", io.BytesIO(b"x"), "x.bin")
    with pytest.raises(PermissionDenied, match="is not a member"):
        eve.projects.get("fraud")
    root.projects.add_member("fraud", "alice", "contributor")
    assert alice.artifacts.put_stream("fraud", io.BytesIO(b"x"), "x.bin").size == 1


def test_duplicate_user_conflict(root: Services) -> None:
    user = root.identity.create_user("bob")
    with pytest.raises(Conflict, match=f"user named 'bob' already exists \\(id {user.id}\\)"):
        root.identity.create_user("bob")


def test_tokens_are_hashed_listed_and_revocable(any_workspace: Workspace, root: Services) -> None:
    created = root.identity.create_token("laptop", ttl_days=1)
    with any_workspace.db.read() as session:
        stored = session.execute(text("SELECT secret_hash FROM tokens")).scalars().all()
    assert created.secret.split(".", 1)[1] not in " ".join(stored)
    assert [t.state for t in root.identity.list_tokens()] == ["active"]
    root.identity.revoke_token(created.info.id)
    assert root.identity.list_tokens()[0].state == "revoked"
    with pytest.raises(Conflict, match="already revoked"):
        root.identity.revoke_token(created.info.id)
    with pytest.raises(NotFound, match="No token"):
        root.identity.revoke_token("tok_missing")


def test_artifacts_same_bytes_stored_once(any_workspace: Workspace, root: Services) -> None:
    root.projects.create("p")
    first = root.artifacts.put_stream("p", io.BytesIO(b"hello"), "a.txt")
    again = root.artifacts.put_stream("p", io.BytesIO(b"hello"), "a.txt")
    other = root.artifacts.put_stream("p", io.BytesIO(b"hello"), "b.txt")
    assert first == again
    assert other.digest == first.digest and other.id != first.id
    blobs = list((any_workspace.settings.home / "artifacts" / "sha256").rglob("*"))
    assert len([b for b in blobs if b.is_file()]) == 1


def _chain(root: Services) -> list[str]:
    root.projects.create("lin")
    for ref in ("source:erp", "dataset:sales", "run:r1", "model_version:m1"):
        root.lineage.register(ref, ref.split(":")[1], "lin")
    root.lineage.link("source:erp", "dataset:sales", "ingested_as")
    root.lineage.link("dataset:sales", "run:r1", "used_by")
    root.lineage.link("run:r1", "model_version:m1", "produced")
    return ["source:erp", "dataset:sales", "run:r1", "model_version:m1"]


def test_lineage_walks_any_depth_both_ways(root: Services) -> None:
    refs = _chain(root)
    up = root.lineage.graph("model_version:m1", "up")
    assert {n.ref: n.depth for n in up.nodes} == {refs[3]: 0, refs[2]: -1, refs[1]: -2, refs[0]: -3}
    assert len(up.edges) == 3
    down = root.lineage.graph("source:erp", "down", depth=2)
    assert [n.ref for n in down.nodes] == refs[:3]
    both = root.lineage.graph("dataset:sales", "both")
    assert {n.ref for n in both.nodes} == set(refs)


def test_lineage_refuses_unknown_refs_cycles_and_bad_input(root: Services) -> None:
    _chain(root)
    with pytest.raises(NotFound, match="No object 'run:nope'"):
        root.lineage.link("source:erp", "run:nope", "used_by")
    with pytest.raises(NotFound, match="No object 'dataset:ghost'"):
        root.lineage.graph("dataset:ghost")
    with pytest.raises(InvalidInput, match="kind:key"):
        root.lineage.graph("no-colon")
    with pytest.raises(InvalidInput, match="Unknown object kind"):
        root.lineage.graph("spaceship:x")
    with pytest.raises(Conflict, match="cycle"):
        root.lineage.link("model_version:m1", "source:erp", "feeds")
    with pytest.raises(InvalidInput, match="depth"):
        root.lineage.graph("source:erp", "down", depth=0)


def test_lineage_link_is_idempotent(root: Services) -> None:
    _chain(root)
    first = root.lineage.link("source:erp", "dataset:sales", "ingested_as")
    again = root.lineage.link("source:erp", "dataset:sales", "ingested_as")
    assert first.id == again.id


def test_audit_records_every_mutation_with_actor_and_origin(root: Services) -> None:
    root.projects.create("aud", "x")
    root.identity.create_token("t")
    entries = root.audit.log()
    assert [e.action for e in entries[:2]] == ["token.create", "project.create"]
    assert entries[1].actor == root.ctx.actor.name and entries[1].origin == "sdk"
    assert "secret" not in str(entries[0].changes)
    assert root.audit.log(object="project:aud")[0].changes == {"description": "x"}
    assert root.audit.verify().ok


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2", "edited"),
        ("DELETE FROM audit_events WHERE seq = 2", "deleted"),
        ("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)", "truncated"),
    ],
)
def test_audit_verify_names_the_first_bad_entry(
    any_workspace: Workspace, root: Services, tamper: str, problem: str
) -> None:
    _chain(root)
    assert root.audit.verify().ok
    with any_workspace.db.write() as session:
        session.execute(text(tamper))
    result = root.audit.verify()
    assert not result.ok and result.problem == problem
    if problem != "truncated":
        assert result.first_bad_seq == 2 and "entr" in result.message


def test_audit_verify_detects_an_inserted_entry(any_workspace: Workspace, root: Services) -> None:
    _chain(root)
    with any_workspace.db.write() as session:
        session.execute(
            text(
                "INSERT INTO audit_events (seq, at, actor, action, object_ref, project, origin,"
                " client, changes, prev_hash, hash) SELECT MAX(seq) + 1, '2026-01-01T00:00:00Z',"
                " 'mallory', 'project.create', 'project:x', NULL, 'cli', NULL, '{}', 'f', 'f'"
                " FROM audit_events"
            )
        )
    result = root.audit.verify()
    assert result.problem == "inserted"


def test_audit_visibility_is_per_project(any_workspace: Workspace, root: Services) -> None:
    root.projects.create("a")
    root.projects.create("b")
    root.identity.create_user("carol")
    root.projects.add_member("a", "carol", "viewer")
    carol = services_as(any_workspace, "carol")
    assert {e.project for e in carol.audit.log()} == {"a"}
    with pytest.raises(PermissionDenied):
        carol.audit.verify()


def test_a_batch_that_closes_a_cycle_stores_nothing(root: Services) -> None:
    _chain(root)
    root.lineage.register("run:r2", "r2", "lin")
    batch = [
        {"src": "model_version:m1", "dst": "run:r2", "type": "evaluated_by"},
        {"src": "run:r2", "dst": "dataset:sales", "type": "feeds"},
    ]
    with pytest.raises(Conflict, match="cycle"):
        root.lineage.link_many(batch)
    assert root.lineage.graph("run:r2", "both").edges == []


def test_batched_links_are_idempotent_and_checked_once_per_project(root: Services) -> None:
    root.projects.create("fan")
    for i in range(50):
        root.lineage.register(f"source:s{i}", f"s{i}", "fan")
    root.lineage.register("dataset:all", "all", "fan")
    batch = [{"src": f"source:s{i}", "dst": "dataset:all", "type": "feeds"} for i in range(50)]
    first = root.lineage.link_many(batch)
    again = root.lineage.link_many(batch)
    assert [e.id for e in first] == [e.id for e in again]
    assert len(root.lineage.graph("dataset:all", "up").nodes) == 51


def test_lineage_hides_other_projects_objects(any_workspace: Workspace, root: Services) -> None:
    root.projects.create("churn")
    root.projects.create("secret")
    root.identity.create_user("carol")
    root.projects.add_member("churn", "carol", "viewer")
    root.lineage.register("dataset:mine", "mine", "churn")
    root.lineage.register("run:hidden", "hidden run", "secret")
    root.lineage.register("model_version:beyond", "beyond", "churn")
    root.lineage.link("dataset:mine", "run:hidden", "used_by")
    root.lineage.link("run:hidden", "model_version:beyond", "produced")
    carol = services_as(any_workspace, "carol")
    graph = carol.lineage.graph("dataset:mine", "down")
    assert [n.ref for n in graph.nodes] == ["dataset:mine"]
    assert graph.edges == [] and graph.hidden == 2
    assert len(root.lineage.graph("dataset:mine", "down").nodes) == 3


def test_rewinding_the_head_after_deleting_the_newest_entries_is_caught(
    any_workspace: Workspace, root: Services
) -> None:
    _chain(root)
    good = root.audit.verify()
    assert good.ok
    with any_workspace.db.write() as session:
        last = good.checked
        keep = session.execute(
            text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": last - 2}
        )
        digest = keep.scalar_one()
        session.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": last - 2})
        session.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": last - 2, "h": digest}
        )
    result = root.audit.verify()
    assert not result.ok and result.problem == "truncated"
    assert result.first_bad_seq == last - 1
