"""What the pipelines block returns: pipelines, their runs and steps, and triggers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from passline.core.entities import Entity

__all__ = ["PipelineInfo", "PipelineRun", "PipelineTrigger", "StepRun"]


class StepRun(Entity):
    step: str
    position: int
    status: str
    kind: str
    attempts: int
    upstream: list[str]
    cache_key: str | None = None
    output_digest: str | None = None
    output_size: int | None = None
    started_at: datetime | None = None
    duration_ms: float | None = None
    error: str | None = None


class PipelineRun(Entity):
    id: str
    project: str
    pipeline: str
    status: str
    executor: str
    trigger: dict[str, Any]
    params: dict[str, Any]
    inputs: dict[str, Any]
    code: dict[str, Any]
    environment: dict[str, Any]
    outputs: dict[str, Any]
    tracking_run_id: str | None
    actor: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    error: str | None
    steps: list[StepRun] = []

    @property
    def cache_hits(self) -> int:
        return sum(s.status == "cached" for s in self.steps)


class PipelineInfo(Entity):
    id: str
    project: str
    name: str
    description: str
    definition: dict[str, Any]
    source: str | None
    created_by: str
    updated_at: datetime
    last_run: PipelineRun | None = None


class PipelineTrigger(Entity):
    id: str
    pipeline: str
    kind: str
    target: str
    params: dict[str, Any]
    executor: str
    enabled: bool
    next_run_at: datetime | None
    last_fired_at: datetime | None
    created_by: str
