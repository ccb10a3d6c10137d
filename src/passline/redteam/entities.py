"""What red teaming returns on every surface: runs with their report, attempts with their
transcripts and verdicts, and the probe catalogue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from passline.core.entities import Entity

__all__ = ["Attempt", "ProbeInfo", "RedteamRun"]


class Attempt(Entity):
    id: str
    run_id: str
    position: int
    probe: str
    category: str
    owasp: str | None = None
    technique: str = ""
    mutation: str | None = None
    prompt: str
    transcript: list[dict[str, Any]] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list)  # planted documents, when sent as context
    answer: str | None = None  # redacted as traces are; secret values masked
    outcome: str  # success | resisted | refused | blocked | errored
    success: bool = False
    detections: list[dict[str, Any]] = Field(default_factory=list)
    spec: dict[str, Any] = Field(default_factory=dict)  # detectors, route, planted documents
    error: str | None = None
    latency_ms: float | None = None
    trace_ids: list[str] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"redteam_attempt:{self.id}"


class RedteamRun(Entity):
    id: str
    project: str
    name: str = ""
    target: dict[str, Any]
    target_label: str = ""
    status: str  # running | completed | failed
    categories: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)  # limit, seed, concurrency, planting
    attempts: int = 0
    done: int = 0
    successes: int = 0
    errored: int = 0
    asr: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    skipped: list[dict[str, str]] = Field(default_factory=list)
    duration_s: float | None = None
    message: str = ""
    created_by: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[Attempt] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"redteam_run:{self.id}"

    def successful(self) -> list[Attempt]:
        """The successful attempts: the transcripts the report shows."""
        return [a for a in self.results if a.success]

    def asr_by_category(self) -> dict[str, float | None]:
        return {k: v.get("asr") for k, v in self.summary.get("by_category", {}).items()}


class ProbeInfo(Entity):
    id: str
    category: str
    owasp: str | None = None
    technique: str = ""
    turns: list[str] = Field(default_factory=list)
    detectors: list[str] = Field(default_factory=list)
    plants: list[str] = Field(default_factory=list)
    variants: list[str] = Field(default_factory=list)
