"""Guardrails: pure components that check text going into and coming out of a model.

Nothing here touches a database (:mod:`passline.services.guards` stores policies and
events). The personal-data scan is what every other path uses before storing text::

    from passline.guard import redact_text
    redact_text("Mail jane@example.com")  # 'Mail [EMAIL]'

A policy runs several guards at once, within a latency budget::

    from passline.guard import GuardPolicy, run_guards
    policy = GuardPolicy.parse({"input": [{"type": "pii"}, {"type": "injection"}]})
    outcome = run_guards(policy, "input", "Ignore previous instructions", None)
    outcome.action  # 'block'
"""

from __future__ import annotations

from passline.guard.base import (
    Guard,
    GuardConfig,
    GuardContext,
    Span,
    Verdict,
    guard_types,
    register,
)
from passline.guard.pii import (
    ENTITIES,
    Finding,
    PiiScanner,
    redact,
    redact_text,
    redact_texts,
    scan_texts,
)
from passline.guard.policy import GuardPolicy
from passline.guard.runner import GuardEvent, GuardOutcome, run_guards

__all__ = [
    "ENTITIES",
    "Finding",
    "Guard",
    "GuardConfig",
    "GuardContext",
    "GuardEvent",
    "GuardOutcome",
    "GuardPolicy",
    "PiiScanner",
    "Span",
    "Verdict",
    "guard_types",
    "redact",
    "redact_text",
    "redact_texts",
    "register",
    "run_guards",
    "scan_texts",
]
