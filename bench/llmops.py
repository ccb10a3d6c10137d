"""LLM operations: trace ingest over OTLP/HTTP, the proxy's own latency, the embedded model.

Three measures, side by side in one run:

1. **Trace ingest.** Spans persisted per second by a real ``passline up`` (uvicorn in a
   subprocess) on SQLite and on PostgreSQL, sent as OTLP/HTTP ``POST /v1/traces`` in batches
   of 100 spans, protobuf (``ExportTraceServiceRequest`` from ``opentelemetry-proto``) and
   JSON, by several client threads at once. The spans carry GenAI attributes
   (``gen_ai.operation.name``, ``gen_ai.request.model``, token counts) and messages holding
   an email address. Afterwards the database is read back: every acknowledged span must be
   stored, and no email may have survived redaction.
2. **Proxy overhead.** ``POST /v1/chat/completions`` through a guard policy that uses every
   guard type (pii, injection, toxicity, topic on input; pii, toxicity, restricted, schema on
   output) against an OpenAI-compatible model that answers at once (``bench/llmops_fake.py``,
   its own process). Requests go one at a time; the fake is timed directly with the same
   client, and its p50 is subtracted. Guards off and cache off are measured too, so the cost
   of each part shows; the cache can only be turned off per call on ``/api/v1/llm/chat``
   (the same ``LlmService.chat``), so those rows use that route.
3. **Embedded model.** Tokens per second generated through ``LlmService.chat`` (embedded
   model, cache and guards off, temperature 0, fixed seed) against ``llama_cpp.Llama`` on
   the same GGUF file with the same parameters and thread count, alternating, in this process.

Each part has a time budget (the machine is shared, so the work is sized in seconds, not in
requests), and the configurations take turns slice by slice so a busy minute hits them alike.
"""

from __future__ import annotations

import cProfile
import io
import itertools
import json
import pstats
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console, Group
from rich.table import Table
from sqlalchemy import create_engine, text

from bench.metadata import fresh_postgres_database
from bench.report import verdict
from bench.workspaces import DATA_DIR, _free_port, serve, settings_for
from passline.services.workspace import Workspace

__all__ = ["FULL", "QUICK", "LlmopsParams", "run", "run_benchmark"]

GOAL_SPANS_PER_S = 5_000.0
GOAL_OVERHEAD_MS = 15.0
GOAL_TOKENS_RATIO = 0.95
SPANS_PER_BATCH = 100
PROJECT = "bench"
FAKE = Path(__file__).parent / "llmops_fake.py"
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class LlmopsParams:
    ingest_seconds: float  # per backend x encoding, per round
    ingest_rounds: int
    ingest_threads: int
    proxy_seconds: float  # all configurations together
    proxy_slice: int  # requests per configuration per turn
    proxy_max_requests: int  # per configuration
    gen_prompts: int  # at most; no new prompt once gen_seconds have passed
    gen_tokens: int
    gen_seconds: float
    profile: bool  # cProfile the trace write path in-process when its goal is missed
    seed: int = 20261130


FULL = LlmopsParams(
    ingest_seconds=6.0,
    ingest_rounds=2,
    ingest_threads=4,
    proxy_seconds=70.0,
    proxy_slice=10,
    proxy_max_requests=200,
    gen_prompts=5,
    gen_tokens=128,
    gen_seconds=60.0,
    profile=True,
)
QUICK = LlmopsParams(
    ingest_seconds=2.5,
    ingest_rounds=1,
    ingest_threads=4,
    proxy_seconds=20.0,
    proxy_slice=5,
    proxy_max_requests=40,
    gen_prompts=2,
    gen_tokens=32,
    gen_seconds=15.0,
    profile=False,
)


def percentiles_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    if len(seconds) == 1:
        only = seconds[0] * 1000
        return {"p50": only, "p95": only, "p99": only, "max": only}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return {
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "max": max(seconds) * 1000,
    }


# --- 1. trace ingest: realistic GenAI spans ------------------------------------------------

MODELS = ("gpt-4o-mini", "llama3.1:8b", "mistral-small", "smollm2-135m-instruct")
TOOLS = ("lookup_order", "search_kb", "create_ticket")
QUESTIONS = (
    "hello, I'm writing from {email} about order {n}: when will it ship?",
    "my invoice {n} is wrong, please answer to {email} before friday",
    "can you change the delivery address on order {n}? reach me at {email}",
    "why was my card charged twice for {n}? contact {email}",
)
ANSWERS = (
    "Your order ships on Monday from the Lyon warehouse.",
    "I have opened ticket {n}; a colleague will reply within two days.",
    "The invoice was corrected; the new total is on your account page.",
    "Sorry about that: Claire Dubois from billing will refund the duplicate charge.",
)


@dataclass(frozen=True)
class SpanSpec:
    """One span, encoding-neutral: encoded as protobuf or as OTLP JSON from the same values."""

    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]


def make_batch(rng: random.Random, traces: int = 10, per_trace: int = 10) -> list[SpanSpec]:
    """``traces`` agent runs of ``per_trace`` spans: the run, model calls, tools, embeddings."""
    now = time.time_ns()
    specs = []
    for _ in range(traces):
        trace_id, root = rng.randbytes(16), rng.randbytes(8)
        n = rng.randint(100_000, 999_999)
        email = f"user{rng.randint(1, 10**6)}@example.com"
        question = rng.choice(QUESTIONS).format(email=email, n=n)
        answer = rng.choice(ANSWERS).format(n=n)
        for i in range(per_trace):
            start = now + i * 2_000_000
            kind = (
                "invoke_agent" if i == 0 else ("execute_tool", "embeddings", "chat")[min(i % 5, 2)]
            )
            specs.append(
                SpanSpec(
                    trace_id=trace_id,
                    span_id=root if i == 0 else rng.randbytes(8),
                    parent_id=b"" if i == 0 else root,
                    name=_span_name(kind, rng),
                    start_ns=start,
                    end_ns=start + rng.randint(3, 900) * 1_000_000,
                    attributes=_genai_attributes(kind, rng, question, answer, email),
                )
            )
    return specs


def _span_name(kind: str, rng: random.Random) -> str:
    if kind == "invoke_agent":
        return "invoke_agent support-assistant"
    if kind == "execute_tool":
        return f"execute_tool {rng.choice(TOOLS)}"
    return f"{kind} {rng.choice(MODELS)}"


def _genai_attributes(
    kind: str, rng: random.Random, question: str, answer: str, email: str
) -> dict[str, Any]:
    model = rng.choice(MODELS)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": kind,
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": rng.randint(20, 1_500),
        "gen_ai.usage.output_tokens": rng.randint(0 if kind == "embeddings" else 5, 400),
        "user.id": email,
    }
    if kind in ("chat", "invoke_agent"):
        attributes |= {
            "gen_ai.response.model": model,
            "gen_ai.request.max_tokens": 512,
            "gen_ai.request.temperature": 0.2,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.input.messages": json.dumps([{"role": "user", "content": question}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "content": answer}]),
        }
    elif kind == "execute_tool":
        attributes["gen_ai.tool.name"] = rng.choice(TOOLS)
    return attributes


def encode_protobuf(specs: list[SpanSpec]) -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    request = ExportTraceServiceRequest()
    resource = request.resource_spans.add()
    resource.resource.attributes.extend(
        _proto_attributes({"service.name": "support-bot", "service.version": "1.4.2"})
    )
    scope = resource.scope_spans.add()
    scope.scope.name = "opentelemetry.instrumentation.openai"
    for spec in specs:
        span = scope.spans.add()
        span.trace_id, span.span_id, span.parent_span_id = (
            spec.trace_id,
            spec.span_id,
            spec.parent_id,
        )
        span.name, span.kind = spec.name, Span.SPAN_KIND_CLIENT
        span.start_time_unix_nano, span.end_time_unix_nano = spec.start_ns, spec.end_ns
        span.attributes.extend(_proto_attributes(spec.attributes))
        span.status.code = Status.STATUS_CODE_OK
    return request.SerializeToString()


def _proto_attributes(values: dict[str, Any]) -> list[Any]:
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    out = []
    for key, value in values.items():
        item = KeyValue(key=key)
        _proto_value(item.value, value)
        out.append(item)
    return out


def _proto_value(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, list):
        for element in value:
            _proto_value(target.array_value.values.add(), element)
    else:
        target.string_value = str(value)


def encode_json(specs: list[SpanSpec]) -> bytes:
    """OTLP's JSON mapping: hex ids, lowerCamelCase keys, 64-bit integers as strings."""
    spans = [
        {
            "traceId": spec.trace_id.hex(),
            "spanId": spec.span_id.hex(),
            **({"parentSpanId": spec.parent_id.hex()} if spec.parent_id else {}),
            "name": spec.name,
            "kind": 3,
            "startTimeUnixNano": str(spec.start_ns),
            "endTimeUnixNano": str(spec.end_ns),
            "attributes": _json_attributes(spec.attributes),
            "status": {"code": 1},
        }
        for spec in specs
    ]
    resource = {"service.name": "support-bot", "service.version": "1.4.2"}
    payload = {
        "resourceSpans": [
            {
                "resource": {"attributes": _json_attributes(resource)},
                "scopeSpans": [
                    {"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": spans}
                ],
            }
        ]
    }
    return json.dumps(payload).encode()


def _json_attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _json_value(v)} for k, v in values.items()]


def _json_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_json_value(v) for v in value]}}
    return {"stringValue": str(value)}


ENCODINGS: dict[str, tuple[str, Callable[[list[SpanSpec]], bytes]]] = {
    "protobuf": ("application/x-protobuf", encode_protobuf),
    "json": ("application/json", encode_json),
}
BACKENDS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


# --- 1. trace ingest: sending and checking -------------------------------------------------


@dataclass
class IngestCell:
    """One backend and one encoding, over all rounds."""

    backend: str
    encoding: str
    spans: int = 0
    batches: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    pools_exhausted: int = 0  # slices that ended early because every prepared batch was sent

    @property
    def spans_per_s(self) -> float | None:
        return self.spans / self.seconds if self.seconds else None

    def to_json(self) -> dict[str, Any]:
        rate = self.spans_per_s
        return {
            "backend": self.backend,
            "encoding": self.encoding,
            "spans": self.spans,
            "batches": self.batches,
            "errors": self.errors,
            "pools_exhausted": self.pools_exhausted,
            "seconds": round(self.seconds, 3),
            "spans_per_s": rate,
            "batch_latency_ms": percentiles_ms(self.latencies),
            "goal_met": rate is not None and rate >= GOAL_SPANS_PER_S,
        }


@dataclass
class IngestServer:
    backend: str
    url: str
    token: str
    database_url: str
    acked: int = 0  # spans the server said it stored, warm-up included


@dataclass
class Sent:
    spans: int = 0
    batches: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_batches(
    server: IngestServer, bodies: list[bytes], content_type: str, threads: int, seconds: float
) -> tuple[Sent, float]:
    """``threads`` clients post bodies from the pool until ``seconds`` pass or it runs out;
    the wall time runs until the last answer."""
    sent, order = Sent(), itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    def client() -> None:
        headers = {
            "Authorization": f"Bearer {server.token}",
            "Content-Type": content_type,
            "X-Passline-Project": PROJECT,
        }
        with httpx.Client(base_url=server.url, headers=headers, timeout=600.0) as http:
            while time.perf_counter() < deadline and (i := next(order)) < len(bodies):
                begin = time.perf_counter()
                response = http.post("/v1/traces", content=bodies[i])
                took = time.perf_counter() - begin
                with sent.lock:
                    sent.latencies.append(took)
                    sent.batches += 1
                    if response.status_code == 200:
                        sent.spans += int(response.json()["spans"])
                    else:
                        sent.errors += 1

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(client) for _ in range(threads)]:
            future.result()
    return sent, time.perf_counter() - started


def pool_size(params: LlmopsParams, spans_per_s: float) -> int:
    """Batches for three times the fastest rate seen so far (at least a few per thread, at
    most the goal's rate and half again). Building them costs milliseconds each, so a pool
    sized for the goal would cost more time than a slow server needs; a pool that runs out
    ends its slice early, which leaves the rate (spans / seconds) correct."""
    wanted = spans_per_s * 3 * params.ingest_seconds / SPANS_PER_BATCH
    ceiling = params.ingest_seconds * GOAL_SPANS_PER_S * 1.5 / SPANS_PER_BATCH
    return int(min(max(wanted, 4 * params.ingest_threads), ceiling)) + 1


def measure_ingest(
    params: LlmopsParams, servers: list[IngestServer], console: Console
) -> dict[str, IngestCell]:
    rng = random.Random(params.seed)
    cells = {f"{s.backend}/{e}": IngestCell(s.backend, e) for s in servers for e in ENCODINGS}
    fastest = warm_up(servers, rng) * params.ingest_threads
    for number in range(params.ingest_rounds):
        for encoding, (content_type, encode) in ENCODINGS.items():
            # Built before timing; every backend gets the same bodies (its own database).
            bodies = [encode(make_batch(rng)) for _ in range(pool_size(params, fastest))]
            shift = number % len(servers)
            for server in servers[shift:] + servers[:shift]:
                sent, seconds = send_batches(
                    server, bodies, content_type, params.ingest_threads, params.ingest_seconds
                )
                cell = cells[f"{server.backend}/{encoding}"]
                _record(cell, sent, seconds, exhausted=sent.batches == len(bodies))
                server.acked += sent.spans
                fastest = max(fastest, sent.spans / seconds)
                console.log(
                    f"llmops/ingest round {number + 1}: {server.backend} {encoding}: "
                    f"{sent.spans:,} spans in {seconds:.1f} s"
                )
    return cells


def warm_up(servers: list[IngestServer], rng: random.Random) -> float:
    """Two batches of each encoding to each server (imports, spaCy's model); the spans/s of
    the fastest second batch, one at a time."""
    fastest = 0.0
    for content_type, encode in ENCODINGS.values():
        bodies = [encode(make_batch(rng)) for _ in range(2)]
        for server in servers:
            for body in bodies:
                sent, seconds = send_batches(server, [body], content_type, 1, 600.0)
                server.acked += sent.spans
            fastest = max(fastest, sent.spans / seconds)
    return fastest


def _record(cell: IngestCell, sent: Sent, seconds: float, exhausted: bool) -> None:
    cell.pools_exhausted += exhausted
    cell.spans += sent.spans
    cell.batches += sent.batches
    cell.errors += sent.errors
    cell.seconds += seconds
    cell.latencies += sent.latencies


def verify_stored(server: IngestServer) -> dict[str, Any]:
    """Spans and traces in the database against what the server acknowledged; emails left."""
    engine = create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            spans = conn.execute(text("SELECT count(*) FROM spans")).scalar_one()
            traces = conn.execute(text("SELECT count(*) FROM traces")).scalar_one()
            emails = 0
            rows = conn.execution_options(yield_per=2_000).execute(
                text("SELECT name, attributes, events FROM spans")
            )
            for name, attributes, events in rows:
                stored = name + json.dumps(attributes) + json.dumps(events)
                emails += bool(EMAIL.search(stored))
    finally:
        engine.dispose()
    return {
        "acknowledged_spans": server.acked,
        "stored_spans": int(spans),
        "stored_traces": int(traces),
        "all_stored": int(spans) == server.acked,
        "spans_with_an_email": emails,
        "redaction_ok": emails == 0,
    }


def profile_ingest(workdir: Path, rng: random.Random, batches: int = 3) -> dict[str, Any]:
    """``TraceService.ingest_otlp`` in this process under cProfile, on protobuf batches."""
    workspace = Workspace.open(settings_for(workdir / "profile"))
    try:
        tracing = workspace.services(workspace.local_context("sdk")).tracing
        bodies = [encode_protobuf(make_batch(rng)) for _ in range(batches + 1)]
        tracing.ingest_otlp(bodies[0], "application/x-protobuf")  # imports, spaCy
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for body in bodies[1:]:
            tracing.ingest_otlp(body, "application/x-protobuf")
        profiler.disable()
        seconds = time.perf_counter() - started
    finally:
        workspace.close()
    return {
        "batches": batches,
        "seconds_under_profile": round(seconds, 3),
        "top_cumulative": _top(profiler, "cumulative", 25),
        "stages_s": _stages(profiler),
    }


_STAGES = {  # label -> (file suffix, function) whose cumulative time is the stage's
    "parse (MessageToDict + spans)": ("services/otlp.py", "parse_otlp"),
    "redaction (redact_text per string)": ("guard/pii.py", "redact_text"),
    "  of which spaCy names": ("guard/pii.py", "_find_names"),
    "span rows INSERT (insert_ignore)": ("services/lineage.py", "insert_ignore"),
    "ingest_otlp total": ("services/tracing.py", "ingest_otlp"),
}


def _stages(profiler: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    found = {}
    for label, (suffix, function) in _STAGES.items():
        found[label] = round(
            sum(
                cumulative
                for (path, _, name), (_, _, _, cumulative, _) in stats.items()
                if name == function and path.endswith(suffix)
            ),
            3,
        )
    return found


def _top(profiler: cProfile.Profile, key: str, count: int) -> list[str]:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(count)
    return [line.rstrip() for line in out.getvalue().splitlines() if "/" in line][:count]


@contextmanager
def ingest_servers(
    workdir: Path, postgres_url: str | None, skipped: dict[str, str]
) -> Iterator[list[IngestServer]]:
    with ExitStack() as stack:
        servers = []
        for backend in BACKENDS:
            home = workdir / f"ingest-{backend}"
            database_url = None
            if backend == "postgres":
                if not postgres_url:
                    skipped[backend] = "PASSLINE_BENCH_POSTGRES_URL is not set"
                    continue
                database_url = stack.enter_context(fresh_postgres_database(postgres_url))
            running = stack.enter_context(serve(home, database_url))
            with running.client() as client:
                client.create_project(PROJECT, "benchmark scratch project")
            url = database_url or settings_for(home).resolved_database_url
            servers.append(IngestServer(backend, running.url, running.token, url))
        yield servers


def run_ingest(
    params: LlmopsParams, postgres_url: str | None, workdir: Path, console: Console
) -> dict[str, Any]:
    skipped: dict[str, str] = {}
    with ingest_servers(workdir, postgres_url, skipped) as servers:
        console.log(f"llmops/ingest: servers up on {', '.join(s.backend for s in servers)}")
        cells = measure_ingest(params, servers, console)
        verification = {s.backend: verify_stored(s) for s in servers}
    result: dict[str, Any] = {
        "spans_per_batch": SPANS_PER_BATCH,
        "threads": params.ingest_threads,
        "cells": {key: cell.to_json() for key, cell in cells.items()},
        "verification": verification,
        "skipped": skipped,
    }
    missed = not all(c["goal_met"] for c in result["cells"].values())
    if params.profile and missed:
        console.log("llmops/ingest: goal missed; profiling ingest_otlp in-process")
        result["profile"] = profile_ingest(workdir, random.Random(params.seed + 1))
    return result


# --- 2. proxy overhead ------------------------------------------------------------------------

POLICY = {
    "input": [
        {"type": "pii"},
        {"type": "injection"},
        {"type": "toxicity"},
        {
            "type": "topic",
            "topics": [
                "leave, holidays and absences",
                "expense claims, travel and receipts",
                "train tickets, hotels, taxis and mileage",
                "payslips, overtime, tax, salary payments and pensions",
                "allowances, fees and who approves them",
            ],
            "threshold": 0.05,  # every benchmark question is on topic: none is blocked
        },
    ],
    "output": [
        {"type": "pii"},
        {"type": "toxicity"},
        {"type": "restricted", "terms": ["salary", "bonus", "compensation"]},
        {
            "type": "schema",
            "schema": {
                "type": "object",
                "required": ["answer"],
                "properties": {"answer": {"type": "string", "maxLength": 2000}},
            },
        },
    ],
    # Generous, so every guard's whole work is measured rather than cut off (fail open).
    "latency_budget_ms": 5000,
}
SUBJECTS = (
    "annual leave|sick leave|parental leave|a public holiday|unpaid leave|a day off in lieu|"
    "a train ticket|a hotel night|a taxi receipt|a client dinner|mileage|a conference fee|"
    "my payslip|the overtime line|the tax deduction|my pension contribution|"
    "the meal allowance|the remote work allowance|a relocation expense|a visa fee"
).split("|")
ASKS = (
    "How do I claim {s} for {w}?",
    "Why is {s} missing for {w}?",
    "Who approves {s} in {w}?",
    "Can I carry {s} over from {w}?",
    "What is the deadline for {s} in {w}?",
    "Is {s} covered for {w}?",
    "Where do I upload {s} for {w}?",
    "Does {s} need a manager's signature for {w}?",
)
WHEN = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "next week|last quarter|the Lyon trip|the Berlin offsite|my probation period|the audit"
).split("|")
PEOPLE = ("Jane Doe", "Omar Haddad", "Priya Sharma", "Lucas Moreau", "Wei Chen", "Anke Weber")


def question(rng: random.Random, number: int) -> str:
    """A distinct HR question; half carry a name and an email for the pii guard to redact."""
    asked = rng.choice(ASKS).format(s=rng.choice(SUBJECTS), w=rng.choice(WHEN))
    if number % 2:
        person = rng.choice(PEOPLE)
        email = person.lower().replace(" ", ".") + f"{number}@example.com"
        return f"Hi, this is {person} ({email}). {asked}"
    return asked


@dataclass(frozen=True)
class ProxyConfig:
    label: str
    route: str  # fake | proxy | api
    app: str | None
    cache: bool


PROXY_CONFIGS = {
    "fake": ProxyConfig("fake model, called directly (baseline)", "fake", None, False),
    "proxy_guarded": ProxyConfig(
        "proxy /v1/chat/completions: all guards, cache on", "proxy", "guarded", True
    ),
    "proxy_open": ProxyConfig(
        "proxy /v1/chat/completions: no guards, cache on", "proxy", "open", True
    ),
    "api_guarded": ProxyConfig("/api/v1/llm/chat: all guards, cache off", "api", "guarded", False),
    "api_open": ProxyConfig("/api/v1/llm/chat: no guards, cache off", "api", "open", False),
}
GOAL_CONFIG = "proxy_guarded"


@dataclass
class Sample:
    seconds: float
    cached: str | None = None
    blocked: bool = False
    trace_id: str | None = None
    guard_problems: int = 0  # guards that overran or failed


@dataclass
class ProxyRun:
    key: str
    config: ProxyConfig
    samples: list[Sample] = field(default_factory=list)
    spans_ms: dict[str, list[float]] = field(default_factory=dict)

    def misses(self) -> list[float]:
        return [s.seconds for s in self.samples if s.cached is None]

    def to_json(self, baseline: dict[str, float | None]) -> dict[str, Any]:
        every = percentiles_ms([s.seconds for s in self.samples])
        misses = percentiles_ms(self.misses())
        overhead = {
            k: misses[k] - baseline[k]  # type: ignore[operator]
            for k in ("p50", "p95", "p99")
            if misses[k] is not None and baseline[k] is not None and self.key != "fake"
        }
        return {
            **asdict(self.config),
            "requests": len(self.samples),
            "cache_hits": {
                kind: sum(s.cached == kind for s in self.samples) for kind in ("exact", "semantic")
            },
            "blocked": sum(s.blocked for s in self.samples),
            "guard_timeouts_or_errors": sum(s.guard_problems for s in self.samples),
            "latency_ms": every,
            "miss_latency_ms": misses,
            "overhead_ms": overhead or None,
            "trace_spans_median_ms": {
                name: statistics.median(values) for name, values in self.spans_ms.items()
            },
        }


class ProxyClient:
    """One keep-alive client, one request at a time, for every configuration."""

    def __init__(self, server_url: str, token: str, fake_url: str) -> None:
        self.server_url, self.fake_url = server_url, fake_url
        self.http = httpx.Client(timeout=120.0)
        self.auth = {"Authorization": f"Bearer {token}"}

    def close(self) -> None:
        self.http.close()

    def ask(self, config: ProxyConfig, text_: str) -> Sample:
        messages = [
            {"role": "system", "content": "You answer HR questions briefly, as JSON."},
            {"role": "user", "content": text_},
        ]
        url, body, headers = self._request(config, messages)
        started = time.perf_counter()
        response = self.http.post(url, json=body, headers=headers)
        seconds = time.perf_counter() - started
        response.raise_for_status()
        return _sample(config, seconds, response.json())

    def _request(
        self, config: ProxyConfig, messages: list[dict[str, str]]
    ) -> tuple[str, dict[str, Any], dict[str, str]]:
        openai = {"model": "fake", "messages": messages, "max_tokens": 64, "temperature": 0.0}
        if config.route == "fake":
            return f"{self.fake_url}/v1/chat/completions", openai, {}
        if config.route == "proxy":
            headers = {
                **self.auth,
                "X-Passline-Project": PROJECT,
                "X-Passline-App": str(config.app),
            }
            return f"{self.server_url}/v1/chat/completions", openai, headers
        body = {
            "messages": messages,
            "model": "fake",
            "params": {"max_tokens": 64, "temperature": 0.0},
            "app": config.app,
            "project": PROJECT,
            "cache": config.cache,
        }
        return f"{self.server_url}/api/v1/llm/chat", body, self.auth

    def trace_spans(self, trace_id: str) -> dict[str, float]:
        response = self.http.get(f"{self.server_url}/api/v1/traces/{trace_id}", headers=self.auth)
        response.raise_for_status()
        return {s["name"]: s["duration_ms"] for s in response.json()["spans"]}


def _sample(config: ProxyConfig, seconds: float, answer: dict[str, Any]) -> Sample:
    if config.route == "fake":
        return Sample(seconds)
    info = answer.get("passline", answer)  # the proxy nests it; /api/v1/llm/chat does not
    events = info.get("guard") or []
    return Sample(
        seconds=seconds,
        cached=info.get("cached"),
        blocked=bool(info.get("blocked")),
        trace_id=info.get("trace_id"),
        guard_problems=sum(e.get("status") in ("timeout", "error") for e in events),
    )


@contextmanager
def fake_model() -> Iterator[str]:
    """``bench/llmops_fake.py`` in its own process; its base URL."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(FAKE), str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/health", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def prepare_proxy_workspace(home: Path, fake_url: str) -> None:
    """The project, the fake model and the guard policy, set before the server starts."""
    workspace = Workspace.open(settings_for(home))
    try:
        svc = workspace.services(workspace.local_context("sdk"))
        svc.projects.create(PROJECT, "benchmark scratch project")
        svc.llm.add_model("fake", base_url=f"{fake_url}/v1", model="fake-model", max_retries=0)
        svc.guards.set_policy(PROJECT, "guarded", POLICY)
    finally:
        workspace.close()


def measure_proxy(
    params: LlmopsParams, client: ProxyClient, console: Console
) -> dict[str, ProxyRun]:
    rng, counter = random.Random(params.seed), itertools.count()
    runs = {key: ProxyRun(key, config) for key, config in PROXY_CONFIGS.items()}
    for run in runs.values():  # warm-up: embedder, spaCy, jsonschema, connections
        for _ in range(2):
            client.ask(run.config, question(rng, next(counter)))
    started = time.perf_counter()
    turn = 0
    while (
        time.perf_counter() - started < params.proxy_seconds or turn < 2
    ) and turn * params.proxy_slice < params.proxy_max_requests:
        order = list(runs.values())
        shift = turn % len(order)
        for run in order[shift:] + order[:shift]:
            for _ in range(params.proxy_slice):
                run.samples.append(client.ask(run.config, question(rng, next(counter))))
        turn += 1
    console.log(
        f"llmops/proxy: {turn * params.proxy_slice} requests per configuration "
        f"in {time.perf_counter() - started:.0f} s"
    )
    for run in runs.values():  # where the time goes, from the traces of the last requests
        for sample in [s for s in run.samples if s.trace_id][-params.proxy_slice :]:
            for name, ms in client.trace_spans(str(sample.trace_id)).items():
                run.spans_ms.setdefault(name, []).append(ms)
    return runs


def run_proxy(params: LlmopsParams, workdir: Path, console: Console) -> dict[str, Any]:
    home = workdir / "proxy"
    with fake_model() as fake_url:
        prepare_proxy_workspace(home, fake_url)
        with serve(home) as server:
            console.log("llmops/proxy: server and fake model up; warming up")
            client = ProxyClient(server.url, server.token, fake_url)
            try:
                runs = measure_proxy(params, client, console)
            finally:
                client.close()
    baseline = percentiles_ms(runs["fake"].misses())
    configs = {key: run.to_json(baseline) for key, run in runs.items()}
    overhead = (configs[GOAL_CONFIG]["overhead_ms"] or {}).get("p50")
    return {
        "policy": POLICY,
        "configs": configs,
        "goal_config": GOAL_CONFIG,
        "goal_overhead_p50_ms": overhead,
        "goal_met": overhead is not None and overhead < GOAL_OVERHEAD_MS,
    }


# --- 3. embedded model ---------------------------------------------------------------------------

PROMPTS = (
    "Write a detailed paragraph explaining how a bakery makes sourdough bread.",
    "Describe, step by step, how to plan a week-long hiking trip in the mountains.",
    "Explain to a new employee how the expense claim process usually works.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain the water cycle to a ten-year-old, with examples from daily life.",
)


@dataclass
class Generation:
    side: str
    tokens: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return sum(self.tokens) / sum(self.seconds) if self.seconds else 0.0

    def rates(self) -> list[float]:
        return [n / s for n, s in zip(self.tokens, self.seconds, strict=True)]


Generate = Callable[[list[dict[str, str]]], tuple[int, str]]


def generators(
    settings: dict[str, Any], home: Path
) -> tuple[Generate, Generate, Callable[[], None], dict[str, Any]]:
    """Passline's ``LlmService.chat`` and the raw runtime on the same file, same parameters;
    a function that frees both; load seconds and thread counts."""
    from llama_cpp import Llama

    from passline.llm.embedded import embedded_model, model_file
    from passline.llm.types import ChatParams

    workspace = Workspace.open(settings_for(home))
    llm = workspace.services(workspace.local_context("sdk")).llm
    started = time.perf_counter()
    ours = embedded_model()
    info: dict[str, Any] = {"load_s": {"passline": time.perf_counter() - started}}
    started = time.perf_counter()
    # The arguments of passline.llm.embedded.EmbeddedModel (n_threads None: llama.cpp's default).
    raw = Llama(model_path=str(model_file()), n_ctx=2048, n_threads=None, verbose=False, seed=0)
    info["load_s"]["llama_cpp"] = time.perf_counter() - started
    info["threads"] = {"passline": ours._llama.n_threads, "llama_cpp": raw.n_threads}
    top_p = ChatParams.from_dict(settings).top_p

    def passline(messages: list[dict[str, str]]) -> tuple[int, str]:
        answer = llm.chat(messages, params=settings, cache=False, guard=False)
        return answer.usage["output_tokens"], answer.text

    def llama_cpp(messages: list[dict[str, str]]) -> tuple[int, str]:
        out = raw.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            max_tokens=settings["max_tokens"],
            temperature=settings["temperature"],
            top_p=top_p,
            seed=settings["seed"],
        )
        return out["usage"]["completion_tokens"], out["choices"][0]["message"]["content"] or ""

    def close() -> None:
        raw.close()
        workspace.close()

    return passline, llama_cpp, close, info


def run_generation(params: LlmopsParams, workdir: Path, console: Console) -> dict[str, Any]:
    """Prompt by prompt, each side in turn (ABBA order), until the time budget is spent."""
    settings = {"max_tokens": params.gen_tokens, "temperature": 0.0, "seed": 0}
    passline, llama_cpp, close, info = generators(settings, workdir / "generate")
    sides = {"passline": passline, "llama_cpp": llama_cpp}
    results = {side: Generation(side) for side in sides}
    try:
        for call in sides.values():  # warm-up
            call([{"role": "user", "content": "Say hello."}])
        started = time.perf_counter()
        for number, prompt in enumerate(PROMPTS[: params.gen_prompts]):
            if number and time.perf_counter() - started > params.gen_seconds:
                break
            for side in list(sides) if number % 2 == 0 else list(reversed(sides)):
                begin = time.perf_counter()
                tokens, answer = sides[side]([{"role": "user", "content": prompt}])
                results[side].seconds.append(time.perf_counter() - begin)
                results[side].tokens.append(tokens)
                results[side].texts.append(answer)
    finally:
        close()
    return _generation_figures(params, results, info, console)


def _generation_figures(
    params: LlmopsParams, results: dict[str, Generation], info: dict[str, Any], console: Console
) -> dict[str, Any]:
    ours, theirs = results["passline"], results["llama_cpp"]
    paired = [a / b for a, b in zip(ours.rates(), theirs.rates(), strict=True)]
    ratio = statistics.median(paired) if paired else None
    console.log(f"llmops/generate: {ours.tokens_per_s:.1f} vs {theirs.tokens_per_s:.1f} tokens/s")
    return {
        "prompts": len(ours.tokens),
        "max_tokens": params.gen_tokens,
        "threads": info["threads"],
        "load_s": {k: round(v, 3) for k, v in info["load_s"].items()},
        "sides": {
            s.side: {
                "tokens": sum(s.tokens),
                "seconds": round(sum(s.seconds), 3),
                "tokens_per_s": s.tokens_per_s,
                "per_prompt_tokens_per_s": [round(r, 2) for r in s.rates()],
            }
            for s in results.values()
        },
        "same_text": ours.texts == theirs.texts,
        "ratio_of_totals": ours.tokens_per_s / theirs.tokens_per_s if theirs.tokens_per_s else None,
        "paired_ratios": [round(r, 4) for r in paired],
        "ratio": ratio,  # the median of the per-prompt ratios: a load burst hits one pair
        "goal_met": ratio is not None and ratio >= GOAL_TOKENS_RATIO,
    }


# --- the run and its tables -----------------------------------------------------------------------


def run(params: LlmopsParams, postgres_url: str | None, console: Console) -> dict[str, Any]:
    workdir = DATA_DIR / f"llmops-{secrets.token_hex(3)}"
    workdir.mkdir(parents=True)
    try:
        result = {"params": asdict(params)}
        result["ingest"] = run_ingest(params, postgres_url, workdir, console)
        result["proxy"] = run_proxy(params, workdir, console)
        result["generate"] = run_generation(params, workdir, console)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def ingest_table(ingest: dict[str, Any]) -> Table:
    table = Table(
        title=f"Trace ingest: OTLP/HTTP POST /v1/traces, {SPANS_PER_BATCH} GenAI spans a batch, "
        f"{ingest['threads']} client threads, real `passline up`",
        caption=_ingest_caption(ingest),
    )
    for name in ("backend", "encoding", "spans", "spans/s", "batch p50 ms", "batch p95 ms"):
        table.add_column(name, justify="left" if name in ("backend", "encoding") else "right")
    table.add_column("errors", justify="right")
    table.add_column(f">= {GOAL_SPANS_PER_S:,.0f}/s", justify="right")
    for cell in ingest["cells"].values():
        latency = cell["batch_latency_ms"]
        table.add_row(
            BACKENDS[cell["backend"]],
            cell["encoding"],
            f"{cell['spans']:,}",
            "-" if cell["spans_per_s"] is None else f"{cell['spans_per_s']:,.0f}",
            _ms(latency["p50"]),
            _ms(latency["p95"]),
            str(cell["errors"]),
            verdict(cell["goal_met"]),
        )
    return table


def _ingest_caption(ingest: dict[str, Any]) -> str:
    checks = "; ".join(
        f"{BACKENDS[b]}: {v['stored_spans']:,} of {v['acknowledged_spans']:,} acknowledged spans "
        f"stored ({'ok' if v['all_stored'] else 'MISSING'}), {v['spans_with_an_email']} with an "
        f"email ({'redacted' if v['redaction_ok'] else 'NOT REDACTED'})"
        for b, v in ingest["verification"].items()
    )
    skipped = "".join(f" {BACKENDS[k]} skipped: {why}." for k, why in ingest["skipped"].items())
    return f"Read back from the database: {checks}.{skipped}"


def proxy_table(proxy: dict[str, Any]) -> Table:
    table = Table(
        title="Proxy overhead: one request at a time, fake model answering at once; "
        "overhead = p50/p99 of requests that reached the model - the fake's own",
        caption=_proxy_caption(proxy),
    )
    table.add_column("configuration")
    for name in ("requests", "cache hits", "p50 ms", "p95 ms", "p99 ms", "overhead p50 / p99"):
        table.add_column(name, justify="right")
    table.add_column(f"< {GOAL_OVERHEAD_MS:g} ms", justify="right")
    for key, config in proxy["configs"].items():
        latency, overhead = config["miss_latency_ms"], config["overhead_ms"] or {}
        hits = config["cache_hits"]
        table.add_row(
            config["label"],
            str(config["requests"]),
            f"{hits['exact']} / {hits['semantic']}" if config["cache"] else "-",
            _ms(latency["p50"]),
            _ms(latency["p95"]),
            _ms(latency["p99"]),
            f"{_ms(overhead.get('p50'))} / {_ms(overhead.get('p99'))}" if overhead else "-",
            verdict(proxy["goal_met"]) if key == proxy["goal_config"] else "",
        )
    return table


def _proxy_caption(proxy: dict[str, Any]) -> str:
    parts = []
    for config in proxy["configs"].values():
        spans = config["trace_spans_median_ms"]
        if spans:
            shown = ", ".join(f"{name} {ms:,.1f}" for name, ms in spans.items())
            parts.append(f"{config['app']}{'+cache' if config['cache'] else ''}: {shown}")
    problems = sum(c["guard_timeouts_or_errors"] for c in proxy["configs"].values())
    blocked = sum(c["blocked"] for c in proxy["configs"].values())
    return (
        "Latencies are of requests the cache did not answer (cache hits: exact / semantic). "
        "Median span ms from the traces of the last requests: "
        + "; ".join(parts)
        + f". Guard overruns or errors: {problems}; blocked answers: {blocked}."
    )


def generation_table(generate: dict[str, Any]) -> Table:
    pairs = ", ".join(f"{r:.3f}" for r in generate["paired_ratios"])
    table = Table(
        title=f"Embedded model: {generate['prompts']} prompts x up to {generate['max_tokens']} "
        f"tokens, temperature 0, seed 0, threads {generate['threads']['passline']} / "
        f"{generate['threads']['llama_cpp']}, the two sides in turn",
        caption=f"Ratio = median of the per-prompt ratios ({pairs}); of the totals: "
        f"{_ratio(generate['ratio_of_totals'])}. Same text from both sides: "
        f"{'yes' if generate['same_text'] else 'NO'}. Load s: Passline "
        f"{generate['load_s']['passline']:.2f}, llama.cpp {generate['load_s']['llama_cpp']:.2f}.",
    )
    for name in ("side", "tokens", "seconds", "tokens/s", "ratio"):
        table.add_column(name, justify="left" if name == "side" else "right")
    table.add_column(f">= {GOAL_TOKENS_RATIO:g}", justify="right")
    labels = {
        "passline": "Passline LlmService.chat (cache, guards off)",
        "llama_cpp": "llama_cpp.Llama.create_chat_completion",
    }
    for side, figures in generate["sides"].items():
        ours = side == "passline"
        table.add_row(
            labels[side],
            f"{figures['tokens']:,}",
            f"{figures['seconds']:.2f}",
            f"{figures['tokens_per_s']:.1f}",
            _ratio(generate["ratio"]) if ours else "",
            verdict(generate["goal_met"]) if ours else "",
        )
    return table


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def llmops_tables(result: dict[str, Any]) -> Group:
    return Group(
        ingest_table(result["ingest"]),
        proxy_table(result["proxy"]),
        generation_table(result["generate"]),
    )


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The entry ``python -m bench --only llmops`` calls."""
    import os

    result = run(QUICK if quick else FULL, os.environ.get("PASSLINE_BENCH_POSTGRES_URL"), console)
    return llmops_tables(result), result
