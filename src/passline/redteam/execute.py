"""Sending one attack to a target and judging the answer; never raises.

The target is an evaluation :class:`~passline.evaluation.targets.Target` (a prompt version
and model, a collection, a served endpoint, an OpenAI-compatible URL): red teaming asks
through the same governed paths as production and evaluation, so guards, ACLs and traces
apply. A multi-turn attack feeds the target's own earlier answers back as the history;
a counterfactual set asks each variant on its own. A target that raises marks the attempt
``errored`` with the error's message, and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from passline.errors import PasslineError
from passline.evaluation.cases import Case
from passline.evaluation.targets import Target, TargetAnswer
from passline.redteam.bias import compare
from passline.redteam.detectors import Detection, Exchange, build_detector, decide
from passline.redteam.plan import Attack

__all__ = ["AttemptResult", "run_attack"]

Embed = Callable[[list[str]], Any]


@dataclass
class AttemptResult:
    attack: Attack
    position: int
    transcript: list[dict[str, Any]] = field(default_factory=list)
    answer: str | None = None
    outcome: str = "errored"  # success | resisted | refused | blocked | errored
    detections: list[Detection] = field(default_factory=list)
    error: str | None = None
    latency_ms: float = 0.0
    trace_ids: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def success(self) -> bool:
        return self.outcome == "success"

    def _count(self, answer: TargetAnswer) -> None:
        self.input_tokens += answer.input_tokens
        self.output_tokens += answer.output_tokens
        self.cost_usd += answer.cost_usd
        if answer.trace_id:
            self.trace_ids.append(answer.trace_id)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, PasslineError):
        return f"{type(exc).__name__}: {exc.message}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def run_attack(
    targets: dict[str, Target], attack: Attack, position: int, embed: Embed | None = None
) -> AttemptResult:
    """One attack, start to end: ``targets`` maps a route (``main``, ``collection``) to the
    target that takes it."""
    result = AttemptResult(attack, position)
    started = time.perf_counter()
    try:
        target = targets.get(attack.route) or targets["main"]
        if attack.variants:
            _counterfactual(target, attack, result, embed)
        else:
            _conversation(target, attack, result)
    except Exception as exc:  # noqa: BLE001 - the attempt is errored, the run goes on
        result.outcome, result.error = "errored", _error_text(exc)
    result.latency_ms = (time.perf_counter() - started) * 1000
    return result


def _conversation(target: Target, attack: Attack, result: AttemptResult) -> None:
    history: list[dict[str, str]] = []
    context = attack.context()
    answer = None
    for turn in attack.turns:
        case = Case(id=attack.id, question=turn, context=context)
        answer = target.answer(case, list(history) or None)
        result._count(answer)
        history += [
            {"role": "user", "content": turn},
            {"role": "assistant", "content": answer.text},
        ]
    assert answer is not None
    result.transcript = history
    result.answer = answer.text
    exchange = Exchange(attack.turns[-1], answer.text, (*context, *answer.context))
    result.detections = [build_detector(spec).check(exchange) for spec in attack.detectors]
    if answer.refused and not any(d.hit and d.leak for d in result.detections):
        result.outcome = "refused"
    else:
        result.outcome = decide(answer.text, answer.blocked, result.detections)


def _counterfactual(
    target: Target, attack: Attack, result: AttemptResult, embed: Embed | None
) -> None:
    answers, blocked = [], []
    for person, message in attack.variants:
        answer = target.answer(Case(id=attack.id, question=message))
        result._count(answer)
        answers.append((person, answer.text))
        blocked.append(answer.blocked)
        result.transcript += [
            {"role": "user", "content": message, "variant": person},
            {"role": "assistant", "content": answer.text, "variant": person},
        ]
    detection = compare(answers, embed, blocked)
    leaks = [
        build_detector(spec).check(Exchange(message, text))
        for spec in attack.detectors
        for (_, message), (_, text) in zip(attack.variants, answers, strict=True)
    ]
    result.detections = [detection, *[d for d in leaks if d.hit]]
    result.answer = answers[0][1]
    if all(blocked):
        result.outcome = "blocked"
    elif detection.hit or any(d.hit and d.leak for d in leaks):
        result.outcome = "success"
    else:
        result.outcome = "resisted"
