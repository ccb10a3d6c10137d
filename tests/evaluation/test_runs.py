"""Runs: a failing target errors only its cases, results and aggregates are stored, two runs
compare with bootstrap intervals, release checks flag regressions, judges that cannot be
parsed leave cases unscored, and runs join the lineage graph."""

from __future__ import annotations

import time

import numpy as np
import pytest

from passline.errors import Conflict, InvalidInput
from passline.evaluation.cases import Case
from passline.evaluation.stats import bootstrap_difference
from passline.evaluation.targets import FunctionTarget
from passline.services.evaluation import compare_runs
from passline.services.workspace import Services
from tests.evaluation.conftest import FakeModel

FACTS = {f"q{i}": f"The answer to question {i} is {10 + i}." for i in range(12)}


def facts_suite(svc: Services, name: str = "qa/facts") -> None:
    cases = [
        {"id": k, "question": f"Question {k[1:]}?", "expected": str(10 + int(k[1:]))} for k in FACTS
    ]
    svc.evaluation.create_suite(name, cases, ["contains", "refusal"])


def right(case: Case) -> str:
    return FACTS[case.id]


def test_a_failing_target_errors_only_its_cases_and_the_run_completes(any_svc: Services) -> None:
    facts_suite(any_svc)

    def flaky(case: Case) -> str:
        if case.id in ("q3", "q7"):
            raise TimeoutError("the model endpoint timed out")
        if case.id == "q5":
            return "Write to jane.doe@example.com for 15."
        return right(case)

    run = any_svc.evaluation.run("qa/facts", FunctionTarget(flaky), concurrency=3)
    assert (run.status, run.cases, run.done, run.errored) == ("completed", 12, 12, 2)
    errored = {r.case_id: r.error for r in run.results if r.status == "errored"}
    assert errored == {
        "q3": "TimeoutError: the model endpoint timed out",
        "q7": "TimeoutError: the model endpoint timed out",
    }
    assert [r.case_id for r in run.results] == list(FACTS)  # in suite order
    contains = run.aggregates["scorers"]["contains"]
    assert (contains["mean"], contains["scored"], contains["pass_rate"]) == (1.0, 10, 1.0)
    assert run.aggregates["error_rate"] == pytest.approx(2 / 12)
    stored = next(r for r in run.results if r.case_id == "q5")
    assert stored.answer == "Write to [EMAIL] for 15."  # stored redacted, as traces are
    assert [r.id for r in any_svc.evaluation.runs("qa")] == [run.id]
    graph = any_svc.lineage.graph(run.ref, "up")
    assert {(e.type, e.dst) for e in graph.edges} >= {("used_by", run.ref)}


def test_concurrency_and_checks_are_refused_before_the_run_starts(svc: Services) -> None:
    facts_suite(svc)
    target = FunctionTarget(right)
    with pytest.raises(InvalidInput, match=r"'concurrency' must be an integer in \[1, 32\]"):
        svc.evaluation.run("qa/facts", target, concurrency=0)
    with pytest.raises(InvalidInput, match="names 'faithfulnes', which this run will not have"):
        svc.evaluation.run("qa/facts", target, check="faithfulnes >= 0.9")
    with pytest.raises(InvalidInput, match="cannot be read at character 11: expected a number"):
        svc.evaluation.run("qa/facts", target, check="contains >> 1")
    assert svc.evaluation.runs("qa") == []


def test_a_regression_against_production_fails_the_release_check(svc: Services) -> None:
    facts_suite(svc)
    ev = svc.evaluation
    baseline = ev.run("qa/facts", FunctionTarget(right), check="contains >= 0.9")
    assert baseline.check == {
        "expression": "contains >= 0.9",
        "passed": True,
        "terms": [{"term": "contains >= 0.9", "passed": True, "value": 1.0}],
    }
    check = "contains >= 0.5 and no significant regression against production"
    orphan = ev.run("qa/facts", FunctionTarget(right), check=check)
    assert orphan.check["passed"] is False
    assert "is labelled 'production'" in orphan.check["terms"][1]["message"]
    ev.label_run(baseline.id, "production")

    def worse(case: Case) -> str:
        return "I don't know." if int(case.id[1:]) % 3 else right(case)

    candidate = ev.run("qa/facts", FunctionTarget(worse), check=check)
    assert candidate.check["passed"] is False
    regression = candidate.check["terms"][1]
    assert regression["baseline_run"] == baseline.id
    assert {r["scorer"] for r in regression["regressions"]} == {"contains", "refusal"}
    comparison = ev.compare(baseline.id, candidate.id)
    contains = next(d for d in comparison.scorers if d.scorer == "contains")
    assert contains.diff == pytest.approx(-8 / 12)
    assert contains.ci_high < 0 and contains.verdict == "regression" and contains.paired
    assert comparison.regressions == ["contains", "refusal"]
    assert comparison.newly_failing["contains"] == [f"q{i}" for i in range(12) if i % 3]
    assert ev.get_run(baseline.id, results=False).labels == ["production"]


def test_the_bootstrap_interval_on_known_data() -> None:
    same = np.full(50, 0.8)
    worse = bootstrap_difference(same, same - 0.5, paired=True)
    assert (worse.diff, worse.ci_low, worse.ci_high, worse.verdict) == (
        pytest.approx(-0.5),
        pytest.approx(-0.5),
        pytest.approx(-0.5),
        "regression",
    )
    rng = np.random.default_rng(1)
    a = rng.random(200)
    noise = a + rng.normal(0, 0.05, 200)
    flat = bootstrap_difference(a, noise, paired=True, seed=3)
    assert flat.ci_low < flat.diff < flat.ci_high and flat.verdict == "no significant change"
    assert bootstrap_difference(a, noise, paired=True, seed=3) == flat  # seeded
    better = bootstrap_difference(a, a + 0.1, paired=False, resamples=500)
    assert better.verdict == "improvement" and not better.paired
    # the interval of a mean of n draws shrinks like 1/sqrt(n)
    wide = bootstrap_difference(a[:20], noise[:20], paired=True)
    assert (wide.ci_high - wide.ci_low) > (flat.ci_high - flat.ci_low)
    with pytest.raises(InvalidInput, match=r"'confidence' must be in \[0.5, 1\)"):
        bootstrap_difference(a, a, True, confidence=1.0)


def test_compare_needs_completed_runs(svc: Services) -> None:
    facts_suite(svc)
    done = svc.evaluation.run("qa/facts", FunctionTarget(right))
    running = done.model_copy(update={"status": "running", "id": "evr_x"})
    with pytest.raises(Conflict, match="evr_x is running"):
        compare_runs(done, running)


def test_an_unparseable_judge_leaves_the_case_unscored_and_its_cost_is_counted(
    svc: Services, fake_model: FakeModel
) -> None:
    fake_model.reply = lambda messages: (
        '{"score": 5, "reason": "correct"}'
        if "Question 1?" in messages[-1].content
        else "What a lovely answer!"
    )
    svc.evaluation.create_suite(
        "qa/judged",
        [{"id": "q1", "question": "Question 1?"}, {"id": "q2", "question": "Question 2?"}],
        [{"type": "llm_judge", "rubric": "Is it right?", "model": "fake", "retries": 1}],
    )
    run = svc.evaluation.run("qa/judged", FunctionTarget(lambda c: "11"))
    scores = {r.case_id: r.scores["llm_judge"] for r in run.results}
    assert scores["q1"]["value"] == 1.0
    assert scores["q2"]["value"] is None
    assert scores["q2"]["reason"] == (
        "unscored after 2 attempt(s): unparseable judge answer: 'What a lovely answer!'"
    )
    assert run.aggregates["scorers"]["llm_judge"]["unscored"] == 1
    per_call = (100 * 1.0 + 20 * 2.0) / 1_000_000
    assert run.judge_cost_usd == pytest.approx(3 * per_call)  # 1 + 2 attempts
    assert len(fake_model.calls) == 3


def test_prompt_targets_fill_question_and_context_and_are_linked(
    svc: Services, fake_model: FakeModel
) -> None:
    fake_model.reply = lambda messages: "It is 25 days [1]."
    prompt = svc.prompts.create(
        "qa/answer",
        [
            {"role": "system", "content": "Facts:\n{{ context }}"},
            {"role": "user", "content": "{{ question }}"},
        ],
        {"question": "string", "context": "string"},
        model="fake",
    )
    svc.evaluation.create_suite(
        "qa/leave",
        [
            {
                "id": "leave",
                "question": "How many days of leave?",
                "expected": "25 days",
                "context": ["Every employee gets 25 days of paid leave."],
            }
        ],
        ["contains"],
    )
    run = svc.evaluation.run("qa/leave", "prompt:qa/answer@1", concurrency=1)
    result = run.results[0]
    assert result.scores["contains"]["value"] == 1.0 and result.trace_id
    assert (
        fake_model.calls[0][0].content == "Facts:\n[1] Every employee gets 25 days of paid leave."
    )
    assert run.target == {
        "type": "prompt",
        "prompt": "qa/answer@1",
        "model": "fake",
        "project": "qa",
        "app": "evaluation",
    }
    assert (run.input_tokens, run.output_tokens) == (100, 20)
    assert run.cost_usd == pytest.approx(140 / 1_000_000)
    edges = {(e.src, e.type, e.dst) for e in svc.lineage.graph(run.ref, "both").edges}
    assert (run.ref, "evaluates", prompt.ref) in edges
    assert (run.ref, "evaluates", "llm_model:fake") in edges
    trace = svc.tracing.get(result.trace_id)
    assert trace["trace"]["prompt_version"] == "qa/answer@v1"


def test_a_run_started_in_the_background_is_followed_to_its_end(svc: Services) -> None:
    facts_suite(svc)

    def slow(case: Case) -> str:
        time.sleep(0.01)
        return right(case)

    started = svc.evaluation.run("qa/facts", FunctionTarget(slow), concurrency=2, wait=False)
    assert started.status == "running" and started.results == []
    deadline = time.monotonic() + 30
    current = started
    while current.status == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        current = svc.evaluation.get_run(started.id, results=False)
    assert current.status == "completed" and current.done == 12
