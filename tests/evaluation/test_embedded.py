"""One real run: a three-case suite against the embedded model (SmolLM2-135M on llama.cpp),
scored by string, number, meaning and an LLM judge that is the same embedded model."""

from __future__ import annotations

from passline.services.workspace import Services


def test_a_three_case_suite_against_the_embedded_model(
    svc: Services, needs_embedded: None, needs_embeddings: None
) -> None:
    svc.evaluation.create_suite(
        "qa/capitals",
        [
            {
                "id": "france",
                "question": "What is the capital of France?",
                "expected": "Paris",
                "scorers": ["contains", "answer_relevance"],
            },
            {
                "id": "sum",
                "question": "What is 2 + 2? Answer with a number.",
                "expected": 4,
                "scorers": ["numeric", "llm_judge"],
            },
            {
                "id": "sabbatical",
                "question": "What is the sabbatical policy of ACME Corp?",
                "refuse": True,
                "scorers": ["refusal", "answer_relevance"],
            },
        ],
        [
            "contains",
            {"type": "numeric", "tolerance": 0},
            "refusal",
            "answer_relevance",
            {"type": "llm_judge", "rubric": "Is the answer correct?"},
        ],
    )
    run = svc.evaluation.run(
        "qa/capitals",
        "model:default",
        concurrency=2,
        target_options={"params": {"max_tokens": 40}},
        check="error_rate == 0 and llm_judge.unscored == 0",
    )
    assert run.status == "completed" and run.errored == 0, run.message
    assert run.target == {
        "type": "model",
        "model": "default",
        "app": "evaluation",
        "params": {"temperature": 0.0, "max_tokens": 40},
    }
    assert run.input_tokens > 0 and run.output_tokens > 0
    assert all(r.answer and r.trace_id and r.latency_ms for r in run.results)
    means = run.means()
    assert set(means) == {"contains", "numeric", "refusal", "answer_relevance", "llm_judge"}
    # the judge's answers are grammar-constrained JSON: every case it scores is scored
    assert run.aggregates["scorers"]["llm_judge"]["scored"] == 1
    assert run.check is not None and run.check["passed"] is True, run.check
    assert run.cases_per_s and run.cases_per_s > 0
