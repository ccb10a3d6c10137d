"""Run a policy's guards on one text, concurrently, within the policy's latency budget.

Every guard of the stage is submitted to a shared thread pool at once; the runner waits
until all are done or the budget is spent. A guard still running then is an *overrun*, and
a guard that raised is an *error*: both are recorded as events and treated per the policy's
``fail_mode`` (``open``: allow; ``closed``: block). The overrunning guard is not killed
(Python threads cannot be), its late result is ignored.

The outcome's action is the strictest of the enforced events: block, then redact (every
redacting guard's spans replaced by placeholders), then allow. In shadow mode nothing is
enforced: the text goes through unchanged and the events say what would have happened.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from passline.guard.base import (
    Action,
    Guard,
    GuardConfig,
    GuardContext,
    Span,
    Verdict,
    apply_spans,
    build,
)
from passline.guard.pii import redact_text
from passline.guard.policy import GuardPolicy

__all__ = ["GuardEvent", "GuardOutcome", "run_guards"]

_POOL = ThreadPoolExecutor(max_workers=16, thread_name_prefix="passline-guard")
_STRICTNESS = {"allow": 0, "redact": 1, "block": 2}


@dataclass(frozen=True)
class GuardEvent:
    """A guard that fired (or overran, or failed) on one text: what it found, what it did.

    ``findings`` hold types, counts, positions and scores, never the text.
    """

    stage: str
    guard: str
    type: str
    status: str  # hit | timeout | error
    action: Action
    enforced: bool
    reasons: list[str]
    findings: list[dict[str, Any]]
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "guard": self.guard,
            "type": self.type,
            "status": self.status,
            "action": self.action,
            "enforced": self.enforced,
            "reasons": self.reasons,
            "findings": self.findings,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class GuardOutcome:
    """What the guards decided about one text.

    Attributes:
        action: what was done: ``block``, ``redact`` or ``allow`` (always ``allow`` in
            shadow mode).
        text_after: the text to pass on (placeholders where redacted; unchanged when
            allowed or in shadow mode; the redacted text also when blocked, for the record).
        events: one per guard that fired, overran or failed.
        intended: the action had the policy not been in shadow mode.
        durations_ms: how long each guard took (all guards, fired or not).
        content: what the policy lets traces store (``redacted`` or ``metrics_only``).
    """

    stage: str
    action: Action
    text_after: str
    events: list[GuardEvent]
    intended: Action
    shadow: bool = False
    content: str = "redacted"
    durations_ms: dict[str, float] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def reasons(self) -> list[str]:
        return [f"{e.guard}: {r}" for e in self.events for r in e.reasons]

    @cached_property
    def stored_text(self) -> str | None:
        """What a trace may keep: the text with personal data redacted, or None when the
        policy says ``metrics_only``."""
        if self.content == "metrics_only":
            return None
        return redact_text(self.text_after)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "intended": self.intended,
            "shadow": self.shadow,
            "text_after": self.text_after,
            "events": [e.to_dict() for e in self.events],
            "durations_ms": self.durations_ms,
            "duration_ms": self.duration_ms,
        }


_BUILT: dict[str, tuple[Guard[Any], ...]] = {}
_BUILT_LOCK = threading.Lock()


def _guards_of(policy: GuardPolicy, stage: str) -> tuple[Guard[Any], ...]:
    """The guards of a stage, built once per distinct policy (they keep caches)."""
    key = f"{stage}:{policy.model_dump_json(by_alias=True)}"
    with _BUILT_LOCK:
        if key not in _BUILT:
            if len(_BUILT) > 256:
                _BUILT.clear()
            _BUILT[key] = tuple(build(config) for config in policy.guards(stage))
        return _BUILT[key]


def _timed(guard: Guard[Any], text: str, context: GuardContext) -> tuple[Verdict, float]:
    started = time.perf_counter()
    verdict = guard.check(text, context)
    return verdict, (time.perf_counter() - started) * 1000


def run_guards(
    policy: GuardPolicy | dict[str, Any],
    stage: str,
    text: str,
    context: GuardContext | None = None,
) -> GuardOutcome:
    """Check ``text`` with the ``stage`` ("input" or "output") guards of ``policy``."""
    policy = GuardPolicy.parse(policy)
    context = context or GuardContext()
    started = time.perf_counter()
    guards = [g for g in _guards_of(policy, stage) if not _exempt(g.config, context)]
    futures = {g.config.label: (g, _POOL.submit(_timed, g, text, context)) for g in guards}
    budget_s = policy.latency_budget_ms / 1000
    wait([f for _, f in futures.values()], timeout=budget_s)
    elapsed = (time.perf_counter() - started) * 1000

    events: list[GuardEvent] = []
    spans: list[Span] = []
    durations: dict[str, float] = {}
    for label, (guard, future) in futures.items():
        event, verdict, took = _event(policy, stage, guard, future, elapsed)
        durations[label] = round(took, 3)
        if event is not None:
            events.append(event)
        if event is not None and event.action == "redact" and verdict is not None:
            spans.extend(verdict.spans)

    intended: Action = max(
        (e.action for e in events), key=lambda a: _STRICTNESS[a], default="allow"
    )
    redacted = apply_spans(text, spans) if spans else text
    if policy.shadow:
        action, text_after = "allow", text
    else:
        action, text_after = intended, redacted
    return GuardOutcome(
        stage=stage,
        action=action,
        text_after=text_after,
        events=events,
        intended=intended,
        shadow=policy.shadow,
        content=policy.content,
        durations_ms=durations,
        duration_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _exempt(config: GuardConfig, context: GuardContext) -> bool:
    return bool(set(config.exempt_groups) & set(context.groups))


def _event(
    policy: GuardPolicy, stage: str, guard: Guard[Any], future: Future[Any], elapsed: float
) -> tuple[GuardEvent | None, Verdict | None, float]:
    """The event of one guard (None when it ran and found nothing), its verdict, its time."""
    config = guard.config
    fail_action: Action = "block" if policy.fail_mode == "closed" else "allow"
    enforced = not policy.shadow

    def event(status: str, action: Action, reasons: list[str], findings: Any, took: float) -> Any:
        return GuardEvent(
            stage,
            config.label,
            config.type,
            status,
            action,
            enforced,
            reasons,
            findings,
            round(took, 3),
        )

    if not future.done():
        future.cancel()  # a no-op once running: the late result is simply not read
        reason = (
            f"overran the {policy.latency_budget_ms:g} ms budget "
            f"(fail {policy.fail_mode}: {fail_action})"
        )
        return event("timeout", fail_action, [reason], [], elapsed), None, elapsed
    error = future.exception()
    if error is not None:
        message = redact_text(str(error)[:200])  # an error may quote the text it choked on
        reason = f"failed: {type(error).__name__}: {message} (fail {policy.fail_mode})"
        return event("error", fail_action, [reason], [], elapsed), None, elapsed
    verdict, took = future.result()
    if not verdict.hit:
        return None, verdict, took
    return event("hit", config.action, verdict.reasons, verdict.findings, took), verdict, took
