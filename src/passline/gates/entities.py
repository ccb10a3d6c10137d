"""What the gate surfaces return: a gate and one evaluation of it (SDK, REST and CLI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from passline.core.entities import Entity

__all__ = ["Gate", "GateEvaluation"]


class Gate(Entity):
    id: str
    project: str
    name: str
    description: str = ""
    criteria: list[dict[str, Any]]
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> str:
        return f"gate:{self.project}/{self.name}"


class GateEvaluation(Entity):
    """Per criterion: ``type``, ``criterion`` (its reading), ``status`` (``pass``, ``fail``
    or ``missing_evidence``), ``message``, ``evidence`` (refs) and ``details``."""

    id: str
    gate: str  # project/name
    subject: str  # model_version:... or prompt_version:...
    subject_label: str
    passed: bool
    results: list[dict[str, Any]]
    actor: str
    at: datetime

    def failing(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["status"] != "pass"]
