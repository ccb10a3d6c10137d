"""Guardrails from Python: ``client.guard``.

>>> pl.guard.set_policy("hr", "assistant", {"input": [{"type": "pii"}]})
>>> pl.guard.check("hr", "assistant", "input", "Mail me at jane@example.com").text
'Mail me at [EMAIL]'
>>> pl.guard.scan("Card 4111 1111 1111 1111").results[0]["redacted"]
'Card [CARD]'
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from passline.sdk.tracking import _Namespace
from passline.services.guards import GuardCheck, GuardEventInfo, GuardPolicyInfo, PiiScan

__all__ = ["GuardAPI"]


class GuardAPI(_Namespace):
    """Guard policies per app, checks, PII scans and the events guards recorded."""

    def set_policy(
        self, project: str, app: str, policy: dict[str, Any] | str | Path
    ) -> GuardPolicyInfo:
        """Set ``app``'s policy: a mapping, YAML/JSON text, or a path to a YAML file."""
        if isinstance(policy, Path):
            policy = policy.read_text(encoding="utf-8")
        return self._call(
            "guards.set_policy", GuardPolicyInfo, project=project, app=app, policy=policy
        )

    def get_policy(self, project: str, app: str) -> GuardPolicyInfo:
        return self._call("guards.get_policy", GuardPolicyInfo, project=project, app=app)

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
        """Run the app's ``stage`` ("input" or "output") guards on ``text``."""
        return self._call(
            "guards.check",
            GuardCheck,
            project=project,
            app=app,
            stage=stage,
            text=text,
            user=user,
            trace_id=trace_id,
            prompt=prompt,
        )

    def scan(self, texts: str | list[str], entities: list[str] | None = None) -> PiiScan:
        """Personal data and secrets in one text or many, with each text redacted."""
        return self._call("guards.scan", PiiScan, texts=texts, entities=entities)

    def events(
        self,
        project: str,
        app: str | None = None,
        action: str | None = None,
        since: datetime | str | None = None,
        limit: int = 100,
        trace_id: str | None = None,
    ) -> list[GuardEventInfo]:
        """The latest events of a project, newest first."""
        return self._call(
            "guards.events",
            list[GuardEventInfo],
            project=project,
            app=app,
            action=action,
            since=since.isoformat() if isinstance(since, datetime) else since,
            limit=limit,
            trace_id=trace_id,
        )
