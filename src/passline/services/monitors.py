"""Monitors: a rule on an endpoint, checked on a schedule, with an alert and an action.

A rule names a metric, a threshold and a window: ``p95_latency_ms > 250 over 15m``,
``error_rate > 0.05``, ``drift_share > 0.5``, ``false_positive_rate > 0.3``. It reads the
traffic of one role (``primary`` or ``canary``) so a canary can be judged on its own
requests. A broken rule raises an alert (kept in the database, shown in the UI, posted to a
webhook); with ``action="rollback"`` it also takes the canary out of the traffic, or moves a
primary alias back, audited with the reason and the measured time to roll back.

``passline up``'s scheduler claims due monitors with a conditional UPDATE, as it does for
sources, so several servers never run one twice.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PasslineError
from passline.services.base import BaseService
from passline.services.context import Actor, CallContext
from passline.services.monitoring import parse_window
from passline.services.sources import next_run
from passline.store.models import (
    AlertRow,
    EndpointRow,
    MonitorRow,
    PredictionSummaryRow,
    ProjectRow,
    UserRow,
)

__all__ = ["METRICS", "Alert", "Monitor", "MonitorService", "run_due_monitors"]

log = logging.getLogger("passline.monitors")

#: metric -> the direction that is bad ("above" the threshold or "below" it)
METRICS = {
    "p50_latency_ms": "above",
    "p95_latency_ms": "above",
    "p99_latency_ms": "above",
    "error_rate": "above",
    "drift_share": "above",
    "prediction_drift": "above",
    "false_positive_rate": "above",
    "mae": "above",
    "mape": "above",
    "accuracy": "below",
    "precision": "below",
    "recall": "below",
}
_REALISED = {"false_positive_rate", "mae", "mape", "accuracy", "precision", "recall"}
_LATENCY = {"p50_latency_ms": 0.5, "p95_latency_ms": 0.95, "p99_latency_ms": 0.99}


class Monitor(Entity):
    id: str
    project: str
    endpoint: str
    name: str
    rule: dict[str, Any]
    schedule: str
    action: str
    webhook: bool
    enabled: bool
    created_by: str
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
    last_value: float | None = None

    @property
    def description(self) -> str:
        rule = self.rule
        op = ">" if METRICS[rule["metric"]] == "above" else "<"
        return f"{rule['metric']} ({rule['role']}) {op} {rule['threshold']} over {rule['window']}"


class Alert(Entity):
    id: str
    monitor: str
    endpoint: str
    at: datetime
    value: float | None
    message: str
    action: dict[str, Any]
    delivered: dict[str, Any]


class MonitorService(BaseService):
    def add(
        self,
        endpoint: str,
        name: str,
        metric: str,
        threshold: float,
        window: str = "15m",
        role: str = "primary",
        min_rows: int = 20,
        schedule: str = "* * * * *",
        action: str = "notify",
        webhook_url: str | None = None,
    ) -> Monitor:
        """A rule on an endpoint; ``action="rollback"`` undoes the canary or the alias."""
        check_name("monitor", name)
        rule = _rule(metric, threshold, window, role, min_rows)
        if action not in ("notify", "rollback"):
            raise InvalidInput(f"The action must be 'notify' or 'rollback'. Got {action!r}.")
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise InvalidInput("The webhook must be an http:// or https:// URL.")
        first = next_run(schedule, utcnow())
        project, _, endpoint_name = endpoint.partition("/")
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "add monitors")
            target = _endpoint_row(session, prj.id, project, endpoint_name)
            if session.execute(
                select(MonitorRow.id).where(
                    MonitorRow.project_id == prj.id, MonitorRow.name == name
                )
            ).first():
                raise Conflict(f"Project {project!r} already has a monitor named {name!r}.")
            row = MonitorRow(
                id=new_id("mon"),
                project_id=prj.id,
                endpoint_id=target.id,
                name=name,
                rule=rule,
                schedule=schedule,
                action=action,
                webhook_url=webhook_url,
                enabled=True,
                created_by=self.actor_name,
                created_at=utcnow(),
                next_run_at=first,
            )
            session.add(row)
            # The webhook URL may carry a secret: the audit records only that one is set.
            self._audit(
                session,
                "monitor.add",
                f"monitor:{project}/{name}",
                project,
                {
                    "endpoint": endpoint,
                    "rule": rule,
                    "action": action,
                    "webhook": bool(webhook_url),
                },
            )
            return _monitor(row, project, endpoint_name)

    def list(self, project: str | None = None) -> list[Monitor]:
        with self.db.read() as session:
            query = (
                select(MonitorRow, ProjectRow.name, EndpointRow.name)
                .join(ProjectRow, ProjectRow.id == MonitorRow.project_id)
                .join(EndpointRow, EndpointRow.id == MonitorRow.endpoint_id)
            )
            if project:
                self._require(session, project, Role.VIEWER, "list monitors")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(query.order_by(ProjectRow.name, MonitorRow.name)).all()
            return [_monitor(m, p, e) for m, p, e in rows if self._role_in(session, m.project_id)]

    def alerts(
        self, project: str | None = None, limit: int = 100, endpoint: str | None = None
    ) -> list[Alert]:
        """The newest alerts of the projects you can read (of one endpoint, if named)."""
        if endpoint:
            project = endpoint.partition("/")[0]
        with self.db.read() as session:
            query = (
                select(AlertRow, MonitorRow, ProjectRow.name, EndpointRow.name)
                .join(MonitorRow, MonitorRow.id == AlertRow.monitor_id)
                .join(ProjectRow, ProjectRow.id == MonitorRow.project_id)
                .join(EndpointRow, EndpointRow.id == MonitorRow.endpoint_id)
            )
            if project:
                self._require(session, project, Role.VIEWER, "read alerts")
                query = query.where(ProjectRow.name == project)
            elif not self.ctx.actor.is_admin:
                from passline.store.models import MembershipRow

                query = query.join(
                    MembershipRow,
                    (MembershipRow.project_id == ProjectRow.id)
                    & (MembershipRow.user_id == self.ctx.actor.user_id),
                )
            if endpoint:
                query = query.where(EndpointRow.name == endpoint.partition("/")[2])
            rows = session.execute(query.order_by(AlertRow.at.desc()).limit(limit)).all()
            return [
                Alert(
                    id=a.id,
                    monitor=f"{p}/{m.name}",
                    endpoint=f"{p}/{e}",
                    at=as_utc(a.at),
                    value=a.value,
                    message=a.message,
                    action=a.action or {},
                    delivered=a.delivered or {},
                )
                for a, m, p, e in rows
            ]

    def run(self, monitor: str) -> dict[str, Any]:
        """Check one monitor now: its value, whether it broke, the alert and action taken."""
        project, _, name = monitor.partition("/")
        with self.db.read() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "run monitors")
            row = session.execute(
                select(MonitorRow).where(MonitorRow.project_id == prj.id, MonitorRow.name == name)
            ).scalar_one_or_none()
            if row is None:
                raise NotFound(
                    f"Project {project!r} has no monitor named {name!r}.",
                    hint="List them with 'passline monitor list'.",
                )
            endpoint = session.get(EndpointRow, row.endpoint_id)
        return self._check(row, project, endpoint)

    def _check(self, row: MonitorRow, project: str, endpoint: EndpointRow) -> dict[str, Any]:
        started = time.perf_counter()
        rule = row.rule
        value, rows = self.measure(f"{project}/{endpoint.name}", rule)
        broken = value is not None and rows >= rule["min_rows"] and _breaks(rule, value)
        status = (
            "no_data" if value is None or rows < rule["min_rows"] else ("alert" if broken else "ok")
        )
        outcome: dict[str, Any] = {
            "monitor": f"{project}/{row.name}",
            "rule": rule,
            "value": value,
            "rows": rows,
            "status": status,
        }
        if broken:
            outcome["alert"] = self._raise(row, project, endpoint, value, rows, started)
        with self.db.write() as session:
            session.execute(
                update(MonitorRow)
                .where(MonitorRow.id == row.id)
                .values(last_run_at=utcnow(), last_status=status, last_value=value)
            )
        return outcome

    # -- measuring ---------------------------------------------------------------------------

    def measure(self, endpoint: str, rule: dict[str, Any]) -> tuple[float | None, int]:
        """The rule's metric over its window, for its role's traffic, and the rows behind it."""
        metric, role = rule["metric"], rule["role"]
        if metric in _LATENCY or metric == "error_rate":
            return self._from_summaries(endpoint, rule)
        if metric in _REALISED:
            return self._realised(endpoint, rule)
        from passline.services.drift_service import DriftService

        report = DriftService(self.ws, self.ctx).endpoint_drift(
            endpoint, window=rule["window"], role=role
        )
        if report.get("rows", 0) == 0:
            return None, 0
        value = report["drift_share"] if metric == "drift_share" else report["prediction"]["score"]
        return float(value), int(report["rows"])

    def _from_summaries(self, endpoint: str, rule: dict[str, Any]) -> tuple[float | None, int]:
        from passline.services.monitoring import _quantile

        since = utcnow() - parse_window(rule["window"])
        project, _, name = endpoint.partition("/")
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "monitor endpoints")
            target = _endpoint_row(session, prj.id, project, name)
            rows = (
                session.execute(
                    select(PredictionSummaryRow).where(
                        PredictionSummaryRow.endpoint_id == target.id,
                        PredictionSummaryRow.role == rule["role"],
                        PredictionSummaryRow.minute >= since.replace(second=0, microsecond=0),
                    )
                )
                .scalars()
                .all()
            )
        requests = sum(r.requests for r in rows)
        if not requests:
            return None, 0
        if rule["metric"] == "error_rate":
            return sum(r.errors for r in rows) / requests, requests
        width = max(len(r.latency_buckets or []) for r in rows)
        buckets = [sum((r.latency_buckets or [0] * width)[i] for r in rows) for i in range(width)]
        return _quantile(buckets, _LATENCY[rule["metric"]]), requests

    def _realised(self, endpoint: str, rule: dict[str, Any]) -> tuple[float | None, int]:
        version = self._role_version(endpoint, rule["role"])
        if version is None:
            return None, 0
        report = self.ws.services(self.ctx).monitoring.realised(endpoint, rule["window"])
        entry = report["versions"].get(f"v{version}")
        if not entry or entry.get(rule["metric"]) is None:
            return None, int(entry["rows"]) if entry else 0
        return float(entry[rule["metric"]]), int(entry["rows"])

    def _role_version(self, endpoint: str, role: str) -> int | None:
        current = self.ws.services(self.ctx).endpoints.get(endpoint)
        if role == "canary":
            return current.canary_version
        try:
            return self.ws.services(self.ctx).registry.version(current.model, current.alias).version
        except NotFound:
            return None

    # -- alerting --------------------------------------------------------------------------------

    def _raise(
        self,
        row: MonitorRow,
        project: str,
        endpoint: EndpointRow,
        value: float,
        rows: int,
        started: float,
    ) -> dict[str, Any]:
        rule = row.rule
        op = ">" if METRICS[rule["metric"]] == "above" else "<"
        message = (
            f"{rule['metric']} of {project}/{endpoint.name} ({rule['role']}) is {value:.4g}, "
            f"{op} {rule['threshold']} over {rule['window']} ({rows} rows)"
        )
        action: dict[str, Any] = {"kind": "notify"}
        if row.action == "rollback":
            action = self._roll_back(row, project, endpoint, message, started)
        alert = AlertRow(
            id=new_id("alr"),
            monitor_id=row.id,
            at=utcnow(),
            value=value,
            message=message,
            action=action,
            delivered={},
        )
        if row.webhook_url:
            alert.delivered = _post_webhook(
                row.webhook_url,
                {
                    "alert": alert.id,
                    "monitor": f"{project}/{row.name}",
                    "endpoint": f"{project}/{endpoint.name}",
                    "message": message,
                    "value": value,
                    "rule": rule,
                    "action": action,
                },
            )
        with self.db.write() as session:
            session.add(alert)
            self._audit(
                session,
                "monitor.alert",
                f"monitor:{project}/{row.name}",
                project,
                {"value": value, "message": message, "action": action},
            )
        log.warning("alert: %s", message)
        from passline.services.pipelines import fire_triggers

        queued = fire_triggers(self.ws, "alert", f"{project}/{row.name}", {"alert": alert.id})
        return {
            "id": alert.id,
            "message": message,
            "action": action,
            "delivered": alert.delivered,
            "queued_pipeline_runs": queued,
        }

    def _roll_back(
        self, row: MonitorRow, project: str, endpoint: EndpointRow, reason: str, started: float
    ) -> dict[str, Any]:
        """Take the canary out, or move the primary alias back; the change is audited."""
        svc = self.ws.services(self.ctx)
        ref = f"{project}/{endpoint.name}"
        try:
            if row.rule["role"] == "canary":
                before = svc.endpoints.get(ref)
                svc.endpoints.configure(ref, clear_canary=True)
                kind, detail = "canary_removed", {"version": before.canary_version}
            else:
                current = svc.endpoints.get(ref)
                move = svc.registry.rollback(
                    current.model, current.alias, reason=f"monitor {row.name}: {reason}"
                )
                kind, detail = (
                    "alias_rollback",
                    {"alias": current.alias, "from": move.from_version, "to": move.to_version},
                )
        except PasslineError as exc:
            return {"kind": "rollback_failed", "error": exc.message}
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self.db.write() as session:
            self._audit(
                session,
                "monitor.rollback",
                f"endpoint:{ref}",
                project,
                {
                    "monitor": row.name,
                    "reason": reason,
                    "kind": kind,
                    **detail,
                    "time_to_rollback_ms": round(elapsed_ms, 1),
                },
            )
        return {
            "kind": kind,
            **detail,
            "time_to_rollback_ms": round(elapsed_ms, 1),
            "effective_within_s": 1,
        }


def _rule(metric: str, threshold: float, window: str, role: str, min_rows: int) -> dict[str, Any]:
    if metric not in METRICS:
        raise InvalidInput(f"Unknown metric {metric!r}. Use one of: {', '.join(METRICS)}.")
    if role not in ("primary", "canary"):
        raise InvalidInput(f"The role must be 'primary' or 'canary'. Got {role!r}.")
    if min_rows < 1:
        raise InvalidInput(f"'min_rows' must be at least 1. Got {min_rows}.")
    parse_window(window)
    return {
        "metric": metric,
        "threshold": float(threshold),
        "window": window,
        "role": role,
        "min_rows": int(min_rows),
    }


def _breaks(rule: dict[str, Any], value: float) -> bool:
    above = METRICS[rule["metric"]] == "above"
    return value > rule["threshold"] if above else value < rule["threshold"]


def _endpoint_row(session: Any, project_id: str, project: str, name: str) -> EndpointRow:
    row = session.execute(
        select(EndpointRow).where(EndpointRow.project_id == project_id, EndpointRow.name == name)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(
            f"Project {project!r} has no endpoint named {name!r}.",
            hint="List them with 'passline endpoints list'.",
        )
    return row


def _monitor(row: MonitorRow, project: str, endpoint: str) -> Monitor:
    return Monitor(
        id=row.id,
        project=project,
        endpoint=f"{project}/{endpoint}",
        name=row.name,
        rule=row.rule,
        schedule=row.schedule,
        action=row.action,
        webhook=bool(row.webhook_url),
        enabled=row.enabled,
        created_by=row.created_by,
        next_run_at=as_utc(row.next_run_at) if row.next_run_at else None,
        last_run_at=as_utc(row.last_run_at) if row.last_run_at else None,
        last_status=row.last_status,
        last_value=row.last_value,
    )


def _post_webhook(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Deliver an alert; the outcome is stored on the alert (the URL is never logged)."""
    import httpx

    try:
        response = httpx.post(url, json=payload, timeout=5.0)
        return {"webhook": "sent", "status": response.status_code}
    except httpx.HTTPError as exc:
        return {"webhook": "failed", "error": type(exc).__name__}


def run_due_monitors(workspace: Any, now: datetime | None = None) -> list[tuple[str, str]]:
    """Check every enabled monitor whose time has come, as the user who added it."""
    now = now or utcnow()
    with workspace.db.read() as session:
        due = session.execute(
            select(MonitorRow, ProjectRow.name, EndpointRow, UserRow)
            .join(ProjectRow, ProjectRow.id == MonitorRow.project_id)
            .join(EndpointRow, EndpointRow.id == MonitorRow.endpoint_id)
            .join(UserRow, UserRow.name == MonitorRow.created_by)
            .where(
                MonitorRow.enabled.is_(True),
                MonitorRow.next_run_at.is_not(None),
                MonitorRow.next_run_at <= now,
            )
        ).all()
    outcomes = []
    for monitor, project, endpoint, owner in due:
        if not _claim(workspace, monitor, now):
            continue
        ctx = CallContext(Actor(owner.id, owner.name, owner.is_admin, owner.kind), "system")
        try:
            result = MonitorService(workspace, ctx)._check(monitor, project, endpoint)
            outcomes.append((f"{project}/{monitor.name}", result["status"]))
        except PasslineError as exc:
            outcomes.append((f"{project}/{monitor.name}", f"failed: {exc.message}"))
    return outcomes


def _claim(workspace: Any, monitor: MonitorRow, now: datetime) -> bool:
    with workspace.db.write() as session:
        claimed = session.execute(
            update(MonitorRow)
            .where(MonitorRow.id == monitor.id, MonitorRow.next_run_at == monitor.next_run_at)
            .values(next_run_at=next_run(monitor.schedule, now))
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]
