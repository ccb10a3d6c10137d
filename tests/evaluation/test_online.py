"""Online evaluation of the HR assistant's production traces, findings that become cases,
and the evaluation demo, on a scripted model (the real one: test_embedded.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from passline.core.clock import utcnow
from passline.demo_eval import SUITE, run_evaluation_demo
from passline.demo_llm import COLLECTION, PROJECT, prepare_hr_assistant
from passline.llm.types import Message
from passline.services.evaluation_online import run_due_online_evaluations
from passline.services.workspace import Workspace
from passline.settings import Settings
from tests.conftest import services_as
from tests.evaluation.conftest import FakeModel

pytest.importorskip("sqlite_vec")
pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def hr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The demo's HR workspace (documents indexed once for the module)."""
    home = tmp_path_factory.mktemp("hr")
    workspace = Workspace.open(Settings(home=home / "ws"))
    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create(PROJECT)
    for user, role in (("alice", "contributor"), ("bob", "approver")):
        admin.identity.create_user(user)
        admin.projects.add_member(PROJECT, user, role)
    prepare_hr_assistant(admin, home)
    yield workspace
    workspace.close()


def first_fact(messages: list[Message]) -> str | None:
    """The first numbered fact of the system message, as a sentence."""
    found = re.search(r"^\[1\][^:\n]*:\s*(.+?\.)", messages[0].content, re.MULTILINE)
    return f"{found.group(1)} [1]" if found and messages[0].role == "system" else None


def hr_model(messages: list[Message]) -> str:
    """Grounded on leave questions, inventing on the rest (one with a figure)."""
    question = messages[-1].content.lower()
    if "sabbatical" in question:
        return "The paid sabbatical lasts 12 months after five years [1]."
    if "health" in question:
        return "Employees get free dental care and a yearly massage voucher [1]."
    return first_fact(messages) or "I don't know."


def test_production_traces_are_scored_once_into_a_hallucination_rate(
    hr: Workspace, fake_model: FakeModel
) -> None:
    fake_model.reply = hr_model
    admin = hr.services(hr.local_context("sdk"))
    alice = services_as(hr, "alice")
    answers = {
        q: alice.rag.ask(COLLECTION, q)
        for q in (
            "How many days of paid annual leave do I get?",
            "Can I carry over unused leave days?",
            "How long is the paid sabbatical?",
            "What health benefits do employees get?",
        )
    }
    sabbatical = answers["How long is the paid sabbatical?"]
    assert sabbatical.ungrounded == ["12"]  # retrieval's grounding removed the invented figure
    alice.tracing.add_feedback(sabbatical.trace_id, -1, "we have no sabbatical policy")

    report = admin.evaluation.online_evaluate(PROJECT, sample=50, seed=1)
    assert (report.sampled, report.scored, report.hallucinated) == (4, 4, 2)
    assert report.hallucination_rate == 0.5 and report.negative_feedback == 1
    again = admin.evaluation.online_evaluate(PROJECT, sample=50)
    assert again.scored == 0  # each trace is scored once
    points = admin.evaluation.hallucination_rate(PROJECT, bucket="hour")
    assert [(p.prompt_version, p.traces, p.hallucinated) for p in points] == [(None, 4, 2)]
    assert points[0].negative_feedback_rate == 0.25

    # evaluation runs are tests, not production: their traces are never sampled
    admin.evaluation.create_suite(
        f"{PROJECT}/online-check",
        [
            {
                "id": "leave",
                "question": "How many days of paid annual leave do I get?",
                "expected": "25 days",
            }
        ],
        ["contains"],
    )
    run = admin.evaluation.run(
        f"{PROJECT}/online-check", f"rag:{COLLECTION}", target_options={"as_user": "alice"}
    )
    assert run.results[0].scores["contains"]["value"] == 1.0 and run.results[0].trace_id
    assert admin.evaluation.online_evaluate(PROJECT).scored == 0

    # the thumbs down becomes a test: a new suite version, linked to the trace
    version = admin.evaluation.case_from_trace(
        sabbatical.trace_id, f"{PROJECT}/online-check", refuse=True
    )
    case = next(c for c in version.cases if c["id"] == f"trace-{sabbatical.trace_id[:12]}")
    assert case["question"] == "How long is the paid sabbatical?" and case["refuse"] is True
    assert case["scorers"] == [] and case["tags"] == ["from-trace"]
    assert case["metadata"]["feedback"] == [
        {"score": -1, "comment": "we have no sabbatical policy"}
    ]
    edges = admin.lineage.graph(f"trace:{sabbatical.trace_id}", "down").edges
    assert ("became_case", version.ref) in {(e.type, e.dst) for e in edges}

    # on a schedule: the server's scheduler calls run_due_online_evaluations
    config = admin.evaluation.schedule_online(PROJECT, "*/5 * * * *", sample=10)
    assert config.next_run_at is not None
    later = utcnow() + timedelta(minutes=6)
    assert run_due_online_evaluations(hr, later) == [
        (f"{PROJECT}/online-evaluation", "scored 0, hallucinated 0")
    ]
    assert run_due_online_evaluations(hr, later) == []  # claimed: not run twice


def demo_model(messages: list[Message]) -> str:
    """Facts in the prompt (``[1] ...`` lines): repeat the first sentence; none: a confident
    invention."""
    found = re.search(r"^\[1\] (?:#\s*)?(.+?[.!?])(?:\s|$)", messages[0].content, re.MULTILINE)
    return found.group(1) if found else "Sure! Our policy gives every employee 12 weeks of it."


def test_the_demo_flags_the_friendlier_prompt_as_a_regression(
    hr: Workspace, fake_model: FakeModel, tmp_path: Path
) -> None:
    fake_model.reply = demo_model
    admin = hr.services(hr.local_context("sdk"))
    lines = run_evaluation_demo(admin, concurrency=2)
    text = "\n".join(lines)
    assert re.search(
        r"v2 - v1 groundedness: -\d\.\d\d 95% CI \[-\d\.\d\d, -\d\.\d\d\] -> regression", text
    ), text
    assert "release check of v2 FAILED" in text
    assert "became case sabbatical-from-feedback of hr-assistant/handbook-qa@v2" in text
    runs = admin.evaluation.runs(suite=SUITE)
    assert [r.name for r in runs] == ["friendly", "grounded"] and runs[1].labels == ["production"]
