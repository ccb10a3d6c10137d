"""Traces of LLM work, in OpenTelemetry's shape: a trace of spans, each with a name, a kind,
a start, a duration, a status and attributes that follow the GenAI semantic conventions
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``, ...).

A :class:`Trace` collects its spans in memory while the request runs (opening a span costs
a few microseconds) and is written in one batch when it ends (``TraceService.save``), so
tracing never adds a database round trip per step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["GENAI", "Span", "Trace", "new_span_id", "new_trace_id"]


class GENAI:
    """Attribute names of the OpenTelemetry GenAI conventions that Passline reads and writes."""

    OPERATION = "gen_ai.operation.name"  # chat | text_completion | embeddings | retrieval ...
    PROVIDER = "gen_ai.provider.name"
    REQUEST_MODEL = "gen_ai.request.model"
    RESPONSE_MODEL = "gen_ai.response.model"
    MAX_TOKENS = "gen_ai.request.max_tokens"
    TEMPERATURE = "gen_ai.request.temperature"
    INPUT_TOKENS = "gen_ai.usage.input_tokens"
    OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
    FINISH_REASONS = "gen_ai.response.finish_reasons"
    CONVERSATION = "gen_ai.conversation.id"
    DATA_SOURCE = "gen_ai.data_source.id"
    INPUT_MESSAGES = "gen_ai.input.messages"
    OUTPUT_MESSAGES = "gen_ai.output.messages"
    # Passline's own, namespaced as the conventions ask for vendor attributes
    COST = "passline.cost_usd"
    PROMPT_VERSION = "passline.prompt.version"
    USER = "passline.user"
    CACHE = "passline.cache"
    GUARD = "passline.guard"


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


@dataclass
class Span:
    trace_id: str
    id: str
    parent_id: str | None
    name: str
    kind: str
    started_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    duration_ms: float = 0.0
    status: str = "ok"
    _start: float = 0.0

    def set(self, **attributes: Any) -> Span:
        self.attributes.update(attributes)
        return self

    def event(self, name: str, **attributes: Any) -> None:
        self.events.append({"name": name, "at": datetime.now(UTC).isoformat(), **attributes})


class Trace:
    """One request of an app, and the spans it opened."""

    def __init__(
        self,
        app: str = "default",
        name: str = "request",
        user: str | None = None,
        project: str | None = None,
        session_id: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        self.id = trace_id or new_trace_id()
        self.app, self.name, self.user, self.project = app, name, user, project
        self.session_id = session_id
        self.started_at = datetime.now(UTC)
        self._start = time.perf_counter()
        self.spans: list[Span] = []
        self._stack: list[Span] = []
        self.status = "ok"
        self.duration_ms: float | None = None
        self.prompt_version_id: str | None = None
        self.input_preview: str | None = None
        self.output_preview: str | None = None
        self.attributes: dict[str, Any] = {}

    @contextmanager
    def span(self, name: str, kind: str = "internal", **attributes: Any) -> Iterator[Span]:
        """A child of the innermost open span; an exception marks it (and the trace) as an
        error and is re-raised."""
        parent = self._stack[-1].id if self._stack else None
        span = Span(
            self.id,
            new_span_id(),
            parent,
            name,
            kind,
            datetime.now(UTC),
            dict(attributes),
            _start=time.perf_counter(),
        )
        self.spans.append(span)
        self._stack.append(span)
        try:
            yield span
        except BaseException as exc:
            span.status = "error"
            span.event("exception", type=type(exc).__name__, message=str(exc)[:500])
            if self.status == "ok":
                self.status = "error"
            raise
        finally:
            span.duration_ms = (time.perf_counter() - span._start) * 1000
            self._stack.pop()

    def finish(self, status: str | None = None) -> Trace:
        if status:
            self.status = status
        self.duration_ms = (time.perf_counter() - self._start) * 1000
        return self

    def totals(self) -> dict[str, Any]:
        """Tokens and cost summed over the spans; the first model asked."""
        inputs = sum(int(s.attributes.get(GENAI.INPUT_TOKENS) or 0) for s in self.spans)
        outputs = sum(int(s.attributes.get(GENAI.OUTPUT_TOKENS) or 0) for s in self.spans)
        cost = sum(float(s.attributes.get(GENAI.COST) or 0.0) for s in self.spans)
        model = next(
            (
                s.attributes[GENAI.REQUEST_MODEL]
                for s in self.spans
                if GENAI.REQUEST_MODEL in s.attributes
            ),
            None,
        )
        return {"input_tokens": inputs, "output_tokens": outputs, "cost_usd": cost, "model": model}
