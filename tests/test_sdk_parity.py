"""One scenario through both SDK transports: same results, same errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from passline.errors import Conflict, InvalidInput, NotFound
from passline.sdk.client import Client
from passline.sdk.operations import OPERATIONS


def test_scenario_runs_the_same_on_both_transports(sdk: Client, tmp_path: Path) -> None:
    project = sdk.create_project("retail", "Demand")
    assert sdk.get_project("retail") == project
    assert [p.name for p in sdk.list_projects()] == ["retail"]
    sdk.create_user("alice", "Alice")
    assert sdk.add_member("retail", "alice", "contributor").role == "contributor"
    assert {m.user for m in sdk.project_members("retail")} >= {"alice"}

    source = tmp_path / "sales.csv"
    source.write_bytes(b"week,units\n1,10\n" * 50_000)
    artifact = sdk.put_artifact("retail", source)
    assert artifact.size == source.stat().st_size
    assert sdk.get_artifact(artifact.id) == artifact
    assert (
        sdk.download_artifact(artifact.id, tmp_path / "out.csv").read_bytes() == source.read_bytes()
    )
    assert [a.id for a in sdk.list_artifacts("retail")] == [artifact.id]

    sdk.register_node("source:erp", "ERP", "retail")
    edge = sdk.link("source:erp", artifact.ref, "ingested_as", {"rows": 50_000})
    assert edge.attrs == {"rows": 50_000}
    graph = sdk.lineage(artifact.ref, "up")
    assert [n.ref for n in graph.nodes] == ["source:erp", artifact.ref]
    assert sdk.link_many([{"src": "source:erp", "dst": artifact.ref, "type": "ingested_as"}])

    token = sdk.create_token("ci", user="alice")
    assert token.secret.startswith(token.info.id + ".")
    assert sdk.revoke_token(token.info.id).revoked_at is not None
    assert sdk.verify_artifacts() == {"checked": 1, "bad": []}
    assert sdk.verify_audit().ok
    assert sdk.audit_log(object=artifact.ref, limit=5)[0].action == "lineage.link"


def test_errors_are_the_same_on_both_transports(sdk: Client) -> None:
    sdk.create_project("p")
    with pytest.raises(Conflict, match="already exists"):
        sdk.create_project("p")
    with pytest.raises(NotFound, match="No project named 'q'"):
        sdk.get_project("q")
    with pytest.raises(InvalidInput, match="role must be one of"):
        sdk.add_member("p", "root", "boss")
    with pytest.raises(NotFound, match="No object 'run:x'"):
        sdk.lineage("run:x")


def test_every_operation_is_offered_by_the_client() -> None:
    """Plain operations are Client methods; dotted ones (datasets.*, sources.*) are called
    by the namespaced APIs in sdk/datasets.py."""
    from passline.sdk import (
        backlog,
        datasets,
        environments,
        evaluation,
        gates,
        guard,
        llm,
        pipelines,
        rag,
        redteam,
        serving,
        tracking,
    )

    methods = {name for name in dir(Client) if not name.startswith("_")}
    modules = (
        datasets,
        tracking,
        serving,
        rag,
        guard,
        llm,
        evaluation,
        redteam,
        backlog,
        gates,
        environments,
        pipelines,
    )
    namespaced = "".join(Path(m.__file__).read_text() for m in modules)
    for op in OPERATIONS:
        assert op in methods or f'"{op}"' in namespaced, op
