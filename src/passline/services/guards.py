"""Guard policies per app, checks that record what fired, and the events to query.

A project admin sets an app's policy (:class:`passline.guard.GuardPolicy`); anyone who can
read the project reads it. ``check`` runs the policy's guards on one input or output and
writes one :class:`GuardEventRow` per guard that fired (one batched insert): types, counts,
positions and reasons, never the text. A block is also written to the audit log, so
refusals show up beside every other decision. An app without a policy gets an empty one:
nothing is checked (traces still store redacted text).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import InvalidInput, NotFound
from passline.guard import GuardContext, GuardOutcome, GuardPolicy, run_guards
from passline.guard.pii import ENTITIES, PiiScanner, default_scanner, redact
from passline.services.base import BaseService
from passline.services.groups import groups_of
from passline.store.models import GuardEventRow, GuardPolicyRow, UserRow

__all__ = [
    "GuardCheck",
    "GuardEventInfo",
    "GuardPolicyInfo",
    "GuardService",
    "PiiScan",
    "pii_scan",
]

MAX_SCAN_TEXTS = 10_000
_ACTIONS = ("allow", "redact", "block")


class GuardPolicyInfo(Entity):
    project: str
    app: str
    policy: dict[str, Any]
    updated_by: str
    updated_at: datetime


class GuardEventInfo(Entity):
    id: str
    trace_id: str | None
    project: str | None
    app: str
    stage: str
    guard: str
    action: str
    enforced: bool
    reasons: list[str]
    findings: list[dict[str, Any]]
    user: str | None
    duration_ms: float
    at: datetime


class GuardCheck(Entity):
    """The decision on one text. ``text`` is what to pass on (redacted where the policy
    redacts); ``intended`` is what would have happened without shadow mode."""

    stage: str
    action: Literal["allow", "redact", "block"]
    intended: Literal["allow", "redact", "block"]
    shadow: bool
    content: Literal["redacted", "metrics_only"]
    text: str
    reasons: list[str]
    events: list[dict[str, Any]]
    durations_ms: dict[str, float]
    duration_ms: float

    @property
    def blocked(self) -> bool:
        return self.action == "block"


class PiiScan(Entity):
    """Findings per text (types, positions, scores) and each text redacted."""

    ner: str
    results: list[dict[str, Any]]


class GuardService(BaseService):
    # -- policies

    def set_policy(self, project: str, app: str, policy: Any) -> GuardPolicyInfo:
        """Set ``app``'s policy (project admins); ``policy`` is a mapping or YAML text."""
        parsed = GuardPolicy.parse(policy)
        _check_app(app)
        with self.db.write() as session:
            row = self._require(session, project, Role.ADMIN, "set guard policies")
            stored = session.get(GuardPolicyRow, (row.id, app))
            before = stored.policy if stored else None
            if stored is None:
                stored = GuardPolicyRow(project_id=row.id, app=app)
                session.add(stored)
            stored.policy = parsed.to_dict()
            stored.updated_by = self.actor_name
            stored.updated_at = utcnow()
            self._audit(
                session,
                "guard.policy.set",
                f"app:{project}/{app}",
                project,
                {"before": before, "after": stored.policy},
            )
            return _policy_info(project, stored)

    def get_policy(self, project: str, app: str) -> GuardPolicyInfo:
        """The policy of ``app`` (project viewers); NotFound when none was set."""
        with self.db.read() as session:
            row = self._require(session, project, Role.VIEWER, "read guard policies")
            stored = session.get(GuardPolicyRow, (row.id, app))
            if stored is None:
                raise NotFound(
                    f"App {app!r} of project {project!r} has no guard policy.",
                    hint=f"Set one with: passline guard policy {project} {app} --file policy.yaml",
                )
            return _policy_info(project, stored)

    # -- checks

    def check(
        self,
        project: str,
        app: str,
        stage: str,
        text: str,
        user: str | None = None,
        trace_id: str | None = None,
        prompt: str | None = None,
    ) -> GuardCheck:
        """Run ``app``'s ``stage`` guards on ``text`` for ``user`` (default: the caller);
        record each guard that fired; audit a block."""
        if stage not in ("input", "output"):
            raise InvalidInput(f"The stage must be 'input' or 'output'. Got {stage!r} instead.")
        with self.db.read() as session:
            row = self._require(session, project, Role.VIEWER, "run guard checks")
            stored = session.get(GuardPolicyRow, (row.id, app))
            policy = _parsed(stored.policy) if stored else GuardPolicy()
            user = user or self.actor_name
            groups = self._groups(session, user)
            project_ref = (row.id, row.name)
        context = GuardContext(user=user, groups=tuple(sorted(groups)), app=app, prompt=prompt)
        outcome = run_guards(policy, stage, text, context)
        if outcome.events:
            self._record(project_ref, app, outcome, user, trace_id)
        return _check(outcome)

    def scan(self, texts: str | list[str], entities: list[str] | None = None) -> PiiScan:
        """Personal data and secrets in one text or many; nothing is stored."""
        return pii_scan(texts, entities)

    def entities(self) -> list[str]:
        return list(ENTITIES)

    # -- events

    def events(
        self,
        project: str,
        app: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        limit: int = 100,
        trace_id: str | None = None,
    ) -> list[GuardEventInfo]:
        """The latest events of a project (project viewers), newest first."""
        if action is not None and action not in _ACTIONS:
            raise InvalidInput(f"The action must be one of {', '.join(_ACTIONS)}. Got {action!r}.")
        if not 1 <= limit <= 10_000:
            raise InvalidInput(f"The limit must be in [1, 10000]. Got {limit} instead.")
        with self.db.read() as session:
            row = self._require(session, project, Role.VIEWER, "read guard events")
            query = select(GuardEventRow).where(GuardEventRow.project_id == row.id)
            if app is not None:
                query = query.where(GuardEventRow.app == app)
            if action is not None:
                query = query.where(GuardEventRow.action == action)
            if trace_id is not None:
                query = query.where(GuardEventRow.trace_id == trace_id)
            if since is not None:
                query = query.where(GuardEventRow.at >= _since(since))
            query = query.order_by(GuardEventRow.at.desc(), GuardEventRow.id).limit(limit)
            return [_event_info(project, e) for e in session.execute(query).scalars()]

    # -- internals

    def _groups(self, session: Session, user: str) -> frozenset[str]:
        user_id = session.execute(
            select(UserRow.id).where(UserRow.name == user)
        ).scalar_one_or_none()
        return groups_of(session, user_id) if user_id else frozenset()

    def _record(
        self,
        project: tuple[str, str],
        app: str,
        outcome: GuardOutcome,
        user: str,
        trace_id: str | None,
    ) -> None:
        project_id, project_name = project
        now = utcnow()
        rows = [
            {
                "id": new_id("gev"),
                "trace_id": trace_id,
                "project_id": project_id,
                "app": app,
                "stage": e.stage,
                "guard": e.guard,
                "action": e.action,
                "enforced": e.enforced,
                "reasons": e.reasons,
                "findings": e.findings,
                "user_name": user,
                "duration_ms": e.duration_ms,
                "at": now,
            }
            for e in outcome.events
        ]
        with self.db.write() as session:
            session.execute(insert(GuardEventRow), rows)
            if outcome.blocked:
                self._audit(
                    session,
                    "guard.block",
                    f"app:{project_name}/{app}",
                    project_name,
                    {
                        "stage": outcome.stage,
                        "user": user,
                        "trace_id": trace_id,
                        "guards": [e.guard for e in outcome.events if e.action == "block"],
                        "reasons": outcome.reasons[:10],
                    },
                )


def pii_scan(texts: str | list[str], entities: list[str] | None = None) -> PiiScan:
    """The scan behind :meth:`GuardService.scan`: no workspace needed, nothing stored."""
    batch = [texts] if isinstance(texts, str) else list(texts)
    if len(batch) > MAX_SCAN_TEXTS:
        raise InvalidInput(f"Scan at most {MAX_SCAN_TEXTS} texts a call. Got {len(batch)} instead.")
    scanner: PiiScanner = default_scanner()
    found = scanner.scan(batch, set(entities) if entities else None)
    results = [
        {"findings": [f.to_dict() for f in fs], "redacted": redact(t, fs)}
        for t, fs in zip(batch, found, strict=True)
    ]
    return PiiScan(ner=scanner.ner, results=results)


def _check_app(app: str) -> None:
    if not isinstance(app, str) or not 1 <= len(app) <= 200 or "/" in app:
        raise InvalidInput(
            f"The app name must be 1-200 characters without '/'. Got {app!r} instead."
        )


def _since(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return as_utc(value)
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise InvalidInput(
            f"The 'since' time must be ISO 8601 (2026-05-01T12:00:00Z). Got {value!r} instead."
        ) from None


def _policy_info(project: str, row: GuardPolicyRow) -> GuardPolicyInfo:
    return GuardPolicyInfo(
        project=project,
        app=row.app,
        policy=row.policy,
        updated_by=row.updated_by,
        updated_at=as_utc(row.updated_at),
    )


def _event_info(project: str, row: GuardEventRow) -> GuardEventInfo:
    return GuardEventInfo(
        id=row.id,
        trace_id=row.trace_id,
        project=project,
        app=row.app,
        stage=row.stage,
        guard=row.guard,
        action=row.action,
        enforced=row.enforced,
        reasons=list(row.reasons or []),
        findings=list(row.findings or []),
        user=row.user_name,
        duration_ms=row.duration_ms,
        at=as_utc(row.at),
    )


def _check(outcome: GuardOutcome) -> GuardCheck:
    return GuardCheck(
        stage=outcome.stage,
        action=outcome.action,
        intended=outcome.intended,
        shadow=outcome.shadow,
        content=outcome.content,  # type: ignore[arg-type]
        text=outcome.text_after,
        reasons=outcome.reasons,
        events=[e.to_dict() for e in outcome.events],
        durations_ms=outcome.durations_ms,
        duration_ms=outcome.duration_ms,
    )


_PARSED: dict[str, GuardPolicy] = {}
_PARSED_LOCK = threading.Lock()


def _parsed(stored: dict[str, Any]) -> GuardPolicy:
    """A stored policy, validated once per distinct content rather than on every check
    (validation compiles its JSON schemas: milliseconds a question)."""
    key = json.dumps(stored, sort_keys=True, default=str)
    with _PARSED_LOCK:
        if key not in _PARSED:
            if len(_PARSED) > 256:
                _PARSED.clear()
            _PARSED[key] = GuardPolicy.parse(stored)
        return _PARSED[key]
