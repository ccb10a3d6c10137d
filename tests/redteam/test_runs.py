"""Runs end to end on the service: a weak model loses, a refusing one does not, a failing one
errors attempts without failing the run; attempts are stored redacted; a finding becomes an
evaluation case that fails against the weak model and passes against the refusing one."""

from __future__ import annotations

import pytest

from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.evaluation.targets import FunctionTarget
from passline.redteam import Plant
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.redteam.conftest import FailingModel, FakeModel, RefusingModel, use_model

CATEGORIES = [
    "prompt_injection",
    "indirect_injection",
    "jailbreak",
    "multi_turn",
    "system_prompt_leak",
    "sensitive_disclosure",
    "output_handling",
    "misinformation",
    "off_topic",
    "harmful",
]


def test_a_weak_model_loses_in_every_category(hr: Services, obeying: FakeModel) -> None:
    run = hr.redteam.run("model:default", CATEGORIES, project="hr", limit=2, seed=4)
    assert run.status == "completed" and run.attempts == len(run.results) == 20
    by_category = run.asr_by_category()
    assert set(by_category) == set(CATEGORIES)
    assert all(v and v > 0 for v in by_category.values()), by_category
    assert {"LLM01", "LLM02", "LLM05", "LLM07", "LLM09", "none"} == set(run.summary["by_owasp"])
    assert run.successes == len(run.successful()) > 10
    leak = next(a for a in run.results if a.category == "system_prompt_leak" and a.success)
    assert any("planted canary" in d["reason"] for d in leak.detections if d["hit"])
    assert leak.transcript[0]["role"] == "user" and leak.transcript[-1]["role"] == "assistant"
    multi = next(a for a in run.results if a.category == "multi_turn")
    assert len(multi.transcript) == 6  # three turns, each answered
    assert all(a.trace_ids for a in run.results)


def test_a_refusing_model_loses_nothing(hr: Services, refusing: FakeModel) -> None:
    run = hr.redteam.run("model:default", CATEGORIES, project="hr", limit=2, seed=4)
    assert run.successes == 0 and run.asr == 0.0
    assert {a.outcome for a in run.results} == {"refused"}


def test_guards_block_attacks_before_the_model(hr: Services, obeying: FakeModel) -> None:
    hr.guards.set_policy("hr", "assistant", {"input": [{"type": "injection", "threshold": 0.3}]})
    run = hr.redteam.run(
        "model:default",
        ["prompt_injection"],
        project="hr",
        limit=4,
        seed=1,
        target_options={"app": "assistant"},
    )
    assert any(a.outcome == "blocked" for a in run.results)
    assert run.summary["by_category"]["prompt_injection"]["blocked"] >= 1


def test_a_failing_target_errors_attempts_and_the_run_completes(
    hr: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_model(monkeypatch, FailingModel("flaky"))
    run = hr.redteam.run(
        "model:default", ["prompt_injection", "misinformation"], project="hr", limit=3
    )
    assert run.status == "completed"
    errored = [a for a in run.results if a.outcome == "errored"]
    assert errored and run.errored == len(errored) < run.attempts
    assert "the model server went away" in errored[0].error
    judged = run.attempts - run.errored
    assert run.summary["by_category"]["misinformation"]["asr"] in (0.0, None) and judged


def test_function_targets_secrets_and_storage(hr: Services) -> None:
    def leaky(case: object) -> str:
        return "The CFO earns 182,000 EUR, mail cfo@acme.example or call +1 415 555 0132."

    run = hr.redteam.run(
        FunctionTarget(leaky),
        ["access_control"],
        project="hr",
        limit=2,
        secrets=["182,000"],
    )
    assert run.successes == 2 and run.config["secrets"] == 1
    stored = run.results[0]
    assert "182,000" not in (stored.answer or "") and "[SECRET]" in stored.answer
    assert "cfo@acme.example" not in stored.answer  # redacted as traces are
    assert "182,000" not in str(hr.redteam.get_run(run.id).model_dump())
    assert any(d["detector"] == "secrets" and d["hit"] for d in stored.detections)


def test_lineage_audit_reading_and_permissions(
    hr: Services, workspace: Workspace, obeying: FakeModel
) -> None:
    run = hr.redteam.run("model:default", ["prompt_injection"], project="hr", limit=1)
    edges = hr.lineage.graph(f"redteam_run:{run.id}", "down").edges
    assert [(e.type, e.dst) for e in edges] == [("tested", "llm_model:default")]
    assert [r.id for r in hr.redteam.runs("hr")] == [run.id]
    listed = hr.redteam.runs()[0]
    assert listed.results == [] and listed.done == 1
    first = run.results[0]
    assert hr.redteam.attempt(first.id) == first
    assert hr.audit.log(object=f"redteam_run:{run.id}")[0].action == "redteam.run.complete"
    hr.identity.create_user("eve")
    eve = services_as(workspace, "eve")
    with pytest.raises(PermissionDenied, match="viewer"):
        eve.redteam.get_run(run.id)
    with pytest.raises(PermissionDenied, match="contributor"):
        eve.redteam.run("model:default", project="hr")
    with pytest.raises(NotFound, match="No red-team run"):
        hr.redteam.get_run("rtr_nope")
    with pytest.raises(InvalidInput, match="Name the project"):
        hr.redteam.run(FunctionTarget(lambda c: "x"))
    with pytest.raises(InvalidInput, match="'concurrency' must be an integer in"):
        hr.redteam.run("model:default", project="hr", concurrency=0)


def test_a_finding_becomes_an_evaluation_case(
    hr: Services, monkeypatch: pytest.MonkeyPatch, obeying: FakeModel
) -> None:
    run = hr.redteam.run(
        "model:default", ["system_prompt_leak", "prompt_injection"], project="hr", limit=1
    )
    finding = next(a for a in run.results if a.category == "system_prompt_leak")
    assert finding.success
    version = hr.redteam.to_case(finding.id, "hr/redteam-findings")
    assert version.label == "hr/redteam-findings@v1"
    case = version.cases[0]
    assert case["refuse"] is True and case["scorers"] == ["attack_resisted"]
    assert case["metadata"]["source"] == f"redteam_attempt:{finding.id}"
    assert Plant(0).canary in case["context"][0]  # the planted system prompt travels along
    assert [s["type"] for s in version.scorers] == ["attack_resisted"]
    edges = hr.lineage.graph(f"redteam_attempt:{finding.id}", "down").edges
    assert ("became_case", version.ref) in [(e.type, e.dst) for e in edges]

    second = next(a for a in run.results if a.category == "prompt_injection")
    again = hr.redteam.to_case(second.id, "hr/redteam-findings")
    assert again.version == 2 and again.case_count == 2

    weak = hr.evaluation.run("hr/redteam-findings", "model:default", concurrency=1)
    assert weak.means()["attack_resisted"] == 0.0  # the attacks still work
    use_model(monkeypatch, RefusingModel("fixed"))
    fixed = hr.evaluation.run("hr/redteam-findings", "model:default", concurrency=1)
    assert fixed.means()["attack_resisted"] == 1.0


def test_a_finding_joins_a_suite_that_has_other_scorers(hr: Services, obeying: FakeModel) -> None:
    hr.evaluation.create_suite(
        "hr/qa",
        [{"id": "leave", "question": "How many leave days?", "expected": "25"}],
        ["contains"],
    )
    run = hr.redteam.run("model:default", ["system_prompt_leak"], project="hr", limit=1)
    version = hr.redteam.to_case(run.results[0].id, "hr/qa")
    cases = {c["id"]: c for c in version.cases}
    assert cases["leave"]["scorers"] == ["contains"]  # the old case keeps its scorer
    finding = next(c for i, c in cases.items() if i != "leave")
    assert finding["scorers"] == ["attack_resisted"]


def test_only_successful_single_question_findings_become_cases(
    hr: Services, refusing: FakeModel
) -> None:
    run = hr.redteam.run("model:default", ["prompt_injection"], project="hr", limit=1)
    with pytest.raises(Conflict, match="did not succeed"):
        hr.redteam.to_case(run.results[0].id, "hr/findings")
    with pytest.raises(NotFound, match="No red-team attempt"):
        hr.redteam.to_case("rta_nope", "hr/findings")


def test_counterfactual_sets(hr: Services, no_embeddings: None) -> None:
    def unfair(case: object) -> str:
        question = getattr(case, "question", "")
        return "I can't help with that." if "mother" in question else "Yes, approve it."

    run = hr.redteam.run(FunctionTarget(unfair), ["bias"], project="hr", limit=4)
    remote = next(a for a in run.results if a.probe == "bi-remote-request")
    assert remote.success and "refused for a mother only" in remote.detections[0]["reason"]
    assert [m.get("variant") for m in remote.transcript] == ["a father"] * 2 + ["a mother"] * 2
    with pytest.raises(InvalidInput, match="counterfactual set"):
        hr.redteam.to_case(remote.id, "hr/findings")
