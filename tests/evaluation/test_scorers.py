"""Each scorer on answers whose score is known, and every bad input it can be given."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from passline.errors import InvalidInput, NotFound, PasslineError
from passline.evaluation import scorers as registry
from passline.evaluation.cases import Case
from passline.evaluation.judge import LlmJudge, parse_verdict
from passline.evaluation.scorers import (
    Sample,
    Score,
    ScoringEnv,
    build_scorer,
    check_scorer,
    register_scorer,
)
from passline.evaluation.text import claims, figures, is_refusal


def sample(
    answer: str, env: ScoringEnv | None = None, context: tuple[str, ...] = (), **case: Any
) -> Sample:
    fields = {"id": "c", "question": "What?", **case}
    return Sample(Case(**fields), answer, context, env or ScoringEnv())


def score(spec: dict[str, Any] | str, answer: str, **case: Any) -> Score:
    return build_scorer(spec).run(sample(answer, **case))


# -- scorers without a model -------------------------------------------------------------------


def test_exact_ignores_case_space_and_final_punctuation() -> None:
    assert score("exact", "  Paris. ", expected="paris").value == 1.0
    assert score("exact", "Paris, France", expected="Paris").value == 0.0
    assert score("exact", "Lyon", expected=["Paris", "Lyon"]).value == 1.0
    assert score({"type": "exact", "case_sensitive": True}, "paris", expected="Paris").value == 0.0


def test_contains_counts_the_share_found_and_reads_figures_whatever_their_separators() -> None:
    assert score("contains", "You get 25 days of leave.", expected="25 days").value == 1.0
    assert score("contains", "The band tops at 78500 EUR", expected="78,500 EUR").value == 1.0
    half = score("contains", "25 days, no carry-over", expected=["25 days", "5 days"])
    assert half.value == 0.5 and half.details == {"missing": ["5 days"]}


def test_regex_takes_a_pattern_or_the_expected_value_and_refuses_a_bad_pattern() -> None:
    assert score({"type": "regex", "pattern": r"\b25\s+days\b"}, "25 days").value == 1.0
    assert score("regex", "order A-1234", expected=r"[A-Z]-\d{4}").value == 1.0
    assert score("regex", "nothing", expected=r"\d+").value == 0.0
    with pytest.raises(InvalidInput, match="'pattern' of scorer 'regex' is not a valid regular"):
        build_scorer({"type": "regex", "pattern": "(unclosed"})


def test_json_schema_validates_the_answer_and_says_where_it_fails() -> None:
    spec = {
        "type": "json_schema",
        "schema": {
            "type": "object",
            "properties": {"days": {"type": "integer"}},
            "required": ["days"],
        },
    }
    assert score(spec, '{"days": 25}').value == 1.0
    assert score(spec, 'Here:\n```json\n{"days": 25}\n```').value == 1.0
    wrong = score(spec, '{"days": "many"}')
    assert wrong.value == 0.0 and "at days" in wrong.reason
    assert score(spec, "25 days").reason.startswith("not JSON")
    with pytest.raises(InvalidInput, match="needs 'schema', a JSON Schema object"):
        build_scorer("json_schema")
    with pytest.raises(InvalidInput, match="not a valid JSON Schema"):
        build_scorer({"type": "json_schema", "schema": {"type": "bogus"}})


def test_numeric_within_absolute_or_relative_tolerance() -> None:
    assert score("numeric", "It is 25 days.", expected=25).value == 1.0
    assert score({"type": "numeric", "tolerance": 1}, "about 26", expected="25").value == 1.0
    assert score({"type": "numeric", "relative": 0.1}, "1,080 EUR", expected=1000).value == 1.0
    assert score("numeric", "24", expected=25).value == 0.0
    assert score("numeric", "no idea", expected=25).reason == "no number in the answer"
    with pytest.raises(InvalidInput) as error:
        build_scorer({"type": "numeric", "tolerance": -1})
    assert error.value.message == (
        "The 'tolerance' parameter of scorer 'numeric' must be a number in [0, inf]. "
        "Got -1 instead."
    )


def test_refusal_is_right_when_the_case_says_so() -> None:
    assert score("refusal", "I don't know.", refuse=True).value == 1.0
    assert score("refusal", "The sabbatical lasts 12 months.", refuse=True).value == 0.0
    assert score("refusal", "You get 25 days.").value == 1.0
    assert score("refusal", "I cannot answer that.").value == 0.0


def test_text_helpers() -> None:
    assert is_refusal("I'm sorry, but I can't share salary data.")
    assert is_refusal("The documents do not mention a sabbatical policy.")
    assert not is_refusal("You get 25 days of paid leave.")
    assert claims("Sure! You get 25 days [1]. I don't know about the rest.") == ["You get 25 days."]
    assert figures("185,000 EUR and 185000 and [2] and 7") == {"185000"}


# -- the registry ---------------------------------------------------------------------------------


def test_unknown_scorers_and_parameters_are_named() -> None:
    with pytest.raises(NotFound, match="Unknown scorer type 'exactly'") as error:
        build_scorer("exactly")
    assert "contains" in (error.value.hint or "")
    with pytest.raises(InvalidInput, match="Scorer 'contains' has no parameter 'tolerance'"):
        build_scorer({"type": "contains", "tolerance": 1})
    with pytest.raises(InvalidInput, match="'threshold' parameter of scorer 'exact'"):
        build_scorer({"type": "exact", "threshold": 2})


BUILTINS = (
    "exact",
    "contains",
    "regex",
    "json_schema",
    "numeric",
    "refusal",
    "embedding_similarity",
    "groundedness",
    "answer_relevance",
    "context_precision",
    "context_recall",
    "llm_judge",
)


def test_every_builtin_is_registered_and_documented() -> None:
    types = registry.scorer_types()
    for name in BUILTINS:
        assert types[name], name


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_BROKEN", {})


def test_custom_function_scorers_return_a_number_a_bool_a_pair_or_a_score(
    clean_registry: None,
) -> None:
    register_scorer("mentions_policy", lambda s: "policy" in s.answer)
    register_scorer("length", lambda s, limit=5: (len(s.answer.split()) <= limit, "short"))
    register_scorer("half", lambda s: Score(0.5, "always half"))
    register_scorer("broken", lambda s: 1 / 0)
    register_scorer("wrong_type", lambda s: "yes")
    assert score("mentions_policy", "The policy says").value == 1.0
    assert score({"type": "length", "limit": 2}, "one two three").reason == "short"
    assert score("half", "x").value == 0.5
    broken = score("broken", "x")
    assert broken.value is None and "ZeroDivisionError" in broken.reason
    assert "return a number in [0, 1]" in score("wrong_type", "x").reason
    with pytest.raises(InvalidInput, match="lowercase identifier"):
        register_scorer("Bad Name", lambda s: 1)


def test_every_builtin_keeps_the_scorer_contract(
    needs_embeddings: None, clean_registry: None
) -> None:
    env = ScoringEnv(judge=lambda *args: ('{"score": 3, "reason": "ok"}', 0.0, 10))
    samples = [
        sample(
            "You get 25 days.",
            env,
            ("Every employee gets 25 days.",),
            expected="25",
            reference_facts=["Every employee gets 25 days."],
        ),
        sample("", env, (), expected="x", reference_facts=["y"], refuse=True),
    ]
    for name in BUILTINS:
        spec: dict[str, Any] = {"type": name}
        if name == "json_schema":
            spec["schema"] = {"type": "object"}
        check_scorer(spec, samples)
    register_scorer("liar", lambda s: Score(1.5))
    with pytest.raises(AssertionError, match="liar scored 1.5"):
        check_scorer("liar", samples)


def test_entry_point_scorers_load_and_a_broken_plugin_is_named(
    clean_registry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def load_broken() -> Any:
        raise ImportError("no module named acme_scorers")

    points = [
        SimpleNamespace(name="acme_tone", value="acme:tone", load=lambda: lambda s: 0.75),
        SimpleNamespace(name="acme_broken", value="acme:broken", load=load_broken),
    ]
    monkeypatch.setattr(registry, "_LOADED_ENTRY_POINTS", False)
    monkeypatch.setattr(
        "importlib.metadata.entry_points",
        lambda group: points if group == "passline.scorers" else [],
    )
    assert score("acme_tone", "x").value == 0.75
    with pytest.raises(PasslineError, match="scorer plugin 'acme_broken' .acme:broken"):
        build_scorer("acme_broken")


# -- scorers that read meaning (local embeddings) ------------------------------------------

HANDBOOK = (
    "Every employee gets 25 days of paid annual leave per calendar year. Up to 5 unused days "
    "may be carried over to the next year.",
    "Employees may work remotely up to 3 days per week after their probation period.",
)


@pytest.fixture(scope="module")
def env() -> ScoringEnv:
    return ScoringEnv()


def test_groundedness_counts_supported_claims(needs_embeddings: None, env: ScoringEnv) -> None:
    scorer = build_scorer("groundedness")
    supported = scorer.run(sample("You get 25 days of paid annual leave a year.", env, HANDBOOK))
    assert supported.value == 1.0 and supported.passed
    invented = scorer.run(
        sample(
            "You get 25 days of paid annual leave. The paid sabbatical lasts 12 months.",
            env,
            HANDBOOK,
        )
    )
    assert invented.value == 0.5
    rows = invented.details["claims"]
    assert [r["supported"] for r in rows] == [True, False]
    assert scorer.run(sample("I don't know.", env, HANDBOOK)).value == 1.0
    assert scorer.run(sample("The pension plan is generous.", env)).value == 0.0
    with pytest.raises(InvalidInput, match="'support_threshold' parameter of scorer"):
        build_scorer({"type": "groundedness", "support_threshold": 1.5})


def test_relevance_and_similarity(needs_embeddings: None, env: ScoringEnv) -> None:
    relevant = build_scorer("answer_relevance").run(
        sample(
            "You can work remotely up to 3 days per week.",
            env,
            question="How many days can I work from home?",
        )
    )
    off_topic = build_scorer("answer_relevance").run(
        sample(
            "Bananas are rich in potassium.", env, question="How many days can I work from home?"
        )
    )
    assert relevant.value is not None and off_topic.value is not None
    assert relevant.value > off_topic.value + 0.3
    assert (
        build_scorer("answer_relevance").run(sample("I don't know.", env, refuse=True)).value == 1.0
    )
    similar = build_scorer("embedding_similarity").run(
        sample(
            "Staff receive twenty-five days of paid holiday.",
            env,
            expected="Every employee gets 25 days of paid annual leave.",
        )
    )
    assert similar.value is not None and similar.value > 0.6


def test_context_recall_and_precision_against_reference_facts(
    needs_embeddings: None, env: ScoringEnv
) -> None:
    facts = ["Up to 5 unused days may be carried over to the next year."]
    context = ("Meals on business trips are reimbursed up to 35 EUR per day.", *HANDBOOK)
    recall = build_scorer("context_recall").run(sample("x", env, context, reference_facts=facts))
    assert recall.value == 1.0
    precision = build_scorer("context_precision").run(
        sample("x", env, context, reference_facts=facts)
    )
    assert precision.details["relevant"] == [False, True, False]
    assert precision.value == pytest.approx(0.5)  # the one relevant passage is ranked second
    assert (
        build_scorer("context_recall").run(sample("x", env, (), reference_facts=facts)).value == 0.0
    )
    assert (
        build_scorer("context_precision").run(sample("x", env, (), reference_facts=facts)).value
        is None
    )


# -- the judge ------------------------------------------------------------------------------


def test_parse_verdict_reads_json_or_a_score_pattern() -> None:
    assert parse_verdict('{"score": 4, "reason": "mostly right"}', 5) == (4, "mostly right")
    assert parse_verdict('Sure: {"score": "5", "reason": ""}', 5) == (5, "")
    assert parse_verdict("Score: 3/5, decent", 5) == (3, "")
    assert parse_verdict('{"score": 9}', 5) is None
    assert parse_verdict("It is a good answer.", 5) is None


def judge_env(replies: list[str]) -> tuple[ScoringEnv, list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    def judge(
        messages: Any, model: Any, params: dict[str, Any], schema: Any
    ) -> tuple[str, float, int]:
        calls.append(params)
        return replies[min(len(calls) - 1, len(replies) - 1)], 0.001, 50

    return ScoringEnv(judge=judge), calls


def test_judge_retries_an_unparseable_answer_then_leaves_the_case_unscored() -> None:
    env, calls = judge_env(["I think it is fine.", "Good!", "well..."])
    result = build_scorer({"type": "llm_judge", "retries": 2}).run(sample("25 days", env))
    assert result.value is None and result.passed is None
    assert result.reason.startswith("unscored after 3 attempt(s): unparseable judge answer")
    assert len(calls) == 3 and result.cost_usd == pytest.approx(0.003)
    env, calls = judge_env(["garbage", '{"score": 5, "reason": "right"}'])
    recovered = build_scorer("llm_judge").run(sample("25 days", env))
    assert recovered.value == 1.0 and recovered.details["attempts"] == [2]


def test_repeated_judging_reports_the_variance() -> None:
    replies = [
        '{"score": 5, "reason": "a"}',
        '{"score": 3, "reason": "b"}',
        '{"score": 4, "reason": "c"}',
    ]
    env, calls = judge_env(replies)
    result = build_scorer({"type": "llm_judge", "repeats": 3, "scale": 5}).run(sample("x", env))
    assert result.details["scores"] == [5, 3, 4]
    assert result.value == pytest.approx(0.75)
    assert result.details["variance"] == pytest.approx(np.var([1.0, 0.5, 0.75]), abs=1e-6)
    assert [c["temperature"] for c in calls] == [0.7, 0.7, 0.7]
    assert [c["seed"] for c in calls] == [0, 1, 2]
    with pytest.raises(
        InvalidInput, match="'repeats' parameter of scorer 'llm_judge' must be an integer"
    ):
        LlmJudge(repeats=0)
