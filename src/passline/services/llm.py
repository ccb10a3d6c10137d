"""Model calls with governance around them: prompts from the registry, guards on input and
output, a response cache (exact and semantic), routing between models by rule, and a trace
of every step with tokens, latency and cost.

Models are the embedded one (always there when the ``llm`` extra is installed), OpenAI-
compatible endpoints an admin configures (the key is a secret reference, resolved at call
time), and routers: a named rule set that picks one of the others per request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import select, update

from passline.core.clock import utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.errors import Conflict, InvalidInput, NotFound
from passline.llm.embedded import EMBEDDED_MODEL
from passline.llm.tracing import GENAI, Trace
from passline.llm.types import ChatParams, ChatResult, Message, Provider, Usage
from passline.services.base import BaseService
from passline.store.models import LlmCacheRow, LlmModelRow

__all__ = ["ChatAnswer", "LlmModel", "LlmService"]

DEFAULT_MODEL = EMBEDDED_MODEL
SEMANTIC_THRESHOLD = 0.92
_PROVIDERS: dict[str, tuple[str, Provider]] = {}
_PROVIDERS_LOCK = threading.Lock()
_CACHE_STATS = {"exact_hits": 0, "semantic_hits": 0, "misses": 0}


class LlmModel(Entity):
    name: str
    provider: str  # embedded | openai | router
    config: dict[str, Any]
    input_price_per_mtok: float = 0.0
    output_price_per_mtok: float = 0.0


class ChatAnswer(Entity):
    text: str
    data: Any = None
    model: str
    provider: str = ""
    usage: dict[str, int]
    cost_usd: float = 0.0
    latency_ms: float
    trace_id: str
    cached: str | None = None  # exact | semantic
    blocked: bool = False
    guard: list[dict[str, Any]] = []
    prompt_version: str | None = None
    routed_by: str | None = None


class LlmService(BaseService):
    # -- models -------------------------------------------------------------------------------

    def models(self) -> list[LlmModel]:
        with self.db.read() as session:
            rows = session.execute(select(LlmModelRow).order_by(LlmModelRow.name)).scalars().all()
        builtin = LlmModel(
            name=EMBEDDED_MODEL,
            provider="embedded",
            config={"runtime": "llama.cpp", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
        )
        return [builtin, *[_model(r) for r in rows]]

    def add_model(
        self,
        name: str,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        rate_per_s: float | None = None,
        context: int = 8192,
        input_price_per_mtok: float = 0.0,
        output_price_per_mtok: float = 0.0,
    ) -> LlmModel:
        """An OpenAI-compatible endpoint (workspace admins). ``api_key`` is a secret
        reference (``env:NAME``, ``secret:NAME``, ``file:...#key``), never a key itself."""
        from passline.data.secrets import is_secret_ref

        self._require_admin("configure models")
        check_name("model", name)
        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"The base URL must be http:// or https://. Got {base_url!r}.")
        if api_key is not None and not is_secret_ref(api_key):
            raise InvalidInput(
                "Give the API key as a secret reference (env:NAME, secret:NAME or "
                "file:/path#key), never the key itself: it would be stored."
            )
        if timeout_s <= 0 or max_retries < 0 or context < 256:
            raise InvalidInput("timeout_s must be > 0, max_retries >= 0 and context >= 256.")
        config = {
            "base_url": base_url,
            "model": model,
            "api_key": api_key,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "rate_per_s": rate_per_s,
            "context": context,
        }
        return self._save_model(name, "openai", config, input_price_per_mtok, output_price_per_mtok)

    def add_router(self, name: str, rules: list[dict[str, Any]], default: str) -> LlmModel:
        """A model name that picks another per request: the first rule whose conditions all
        hold (``max_input_tokens``, ``min_input_tokens``, ``contains_any``) names the model."""
        self._require_admin("configure models")
        check_name("model", name)
        known = {m.name for m in self.models()}
        for rule in [*rules, {"model": default}]:
            if rule.get("model") not in known:
                raise InvalidInput(
                    f"The router names an unknown model {rule.get('model')!r}; "
                    f"configured: {', '.join(sorted(known))}."
                )
            unknown = set(rule) - {"model", "max_input_tokens", "min_input_tokens", "contains_any"}
            if unknown:
                raise InvalidInput(f"Unknown routing condition {sorted(unknown)[0]!r}.")
        return self._save_model(name, "router", {"rules": rules, "default": default}, 0.0, 0.0)

    def _save_model(
        self, name: str, provider: str, config: dict[str, Any], price_in: float, price_out: float
    ) -> LlmModel:
        if name == EMBEDDED_MODEL:
            raise Conflict(f"{name!r} is the embedded model's name.")
        with self.db.write() as session:
            row = session.get(LlmModelRow, name)
            if row is None:
                row = LlmModelRow(name=name, created_by=self.actor_name, created_at=utcnow())
                session.add(row)
            row.provider, row.config = provider, config
            row.input_price_per_mtok, row.output_price_per_mtok = price_in, price_out
            self._audit(
                session,
                "llm.model.save",
                f"llm_model:{name}",
                None,
                {
                    "provider": provider,
                    "config": {k: v for k, v in config.items() if k != "api_key"},
                },
            )
            return _model(row)

    def _model_row(self, name: str) -> LlmModelRow | None:
        with self.db.read() as session:
            return session.get(LlmModelRow, name)

    def provider(self, name: str | None) -> tuple[Provider, LlmModel]:
        """The provider for ``name`` (the embedded model by default), built once per process."""
        name = name or DEFAULT_MODEL
        if name in (EMBEDDED_MODEL, "embedded", "default"):
            from passline.llm.embedded import embedded_model

            return embedded_model(), self.models()[0]
        row = self._model_row(name)
        if row is None:
            raise NotFound(
                f"No model named {name!r}.", hint="List them with 'passline llm models'."
            )
        info = _model(row)
        if row.provider == "router":
            raise InvalidInput(f"{name!r} is a router; route a request through chat().")
        key = json.dumps(row.config, sort_keys=True)
        with _PROVIDERS_LOCK:
            cached = _PROVIDERS.get(name)
            if cached is None or cached[0] != key:
                _PROVIDERS[name] = (key, self._build(name, row.config))
            return _PROVIDERS[name][1], info

    def _build(self, name: str, config: dict[str, Any]) -> Provider:
        from passline.data.secrets import resolve_secret
        from passline.llm.openai_compat import OpenAICompatible, RateLimiter

        key = resolve_secret(config["api_key"], self.ws.settings) if config.get("api_key") else None
        limiter = RateLimiter(config["rate_per_s"]) if config.get("rate_per_s") else None
        return OpenAICompatible(
            name=name,
            base_url=config["base_url"],
            model=config["model"],
            api_key=key,
            timeout_s=config["timeout_s"],
            max_retries=config["max_retries"],
            rate_limiter=limiter,
            context=config["context"],
        )

    # -- chat ---------------------------------------------------------------------------------

    def chat(
        self,
        messages: list[dict[str, str]] | None = None,
        *,
        prompt: str | None = None,
        variables: dict[str, Any] | None = None,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        json_schema: dict[str, Any] | None = None,
        app: str = "default",
        project: str | None = None,
        user: str | None = None,
        trace: Trace | None = None,
        guard: bool = True,
        cache: bool = True,
    ) -> ChatAnswer:
        """One governed model call (see the module's docstring); a new trace is saved at the
        end, a given one is left open for its owner to save."""
        own_trace = trace is None
        tracing = self.ws.services(self.ctx).tracing
        trace = trace or tracing.start(app=app, name="chat", user=user, project=project)
        started = time.perf_counter()
        try:
            answer = self._chat(
                trace,
                messages,
                prompt,
                variables,
                model,
                params,
                json_schema,
                app,
                project,
                guard,
                cache,
                started,
            )
        except BaseException:
            if own_trace:
                trace.finish("error")
                tracing.save(trace, self._content_mode(project, app))
            raise
        if own_trace:
            trace.finish("blocked" if answer.blocked else None)
            tracing.save(trace, self._content_mode(project, app))
        return answer

    def _chat(
        self,
        trace: Trace,
        messages: list[dict[str, str]] | None,
        prompt: str | None,
        variables: dict[str, Any] | None,
        model: str | None,
        params: dict[str, Any] | None,
        json_schema: dict[str, Any] | None,
        app: str,
        project: str | None,
        guard: bool,
        cache: bool,
        started: float,
    ) -> ChatAnswer:
        version_label = None
        if prompt:
            rendered = self.ws.services(self.ctx).prompts.render(prompt, variables)
            messages = [*rendered.messages, *(messages or [])]
            model = model or rendered.model
            params = {**rendered.params, **(params or {})}
            json_schema = json_schema or rendered.output_schema
            trace.prompt_version_id, version_label = rendered.version_id, rendered.label
        chat = [Message.coerce(m) for m in messages or []]
        if not chat:
            raise InvalidInput("Send at least one message (or a prompt).")
        settings = ChatParams.from_dict(params)
        question = next((m.content for m in reversed(chat) if m.role == "user"), chat[-1].content)
        trace.input_preview = trace.input_preview or question
        events: list[dict[str, Any]] = []
        if guard:
            verdict = self._guard(project, app, "input", question, trace)
            events += verdict["events"]
            if verdict["action"] == "block":
                return self._refusal(trace, events, model, version_label, started)
            if verdict["text"] != question:
                chat = _replace_last_user(chat, verdict["text"])
                question = verdict["text"]
        routed_by = None
        if model and (row := self._model_row(model)) is not None and row.provider == "router":
            routed_by, model = model, self._route(row.config, chat)
        provider, info = self.provider(model)
        namespace = _namespace(provider.name, settings, json_schema, version_label)
        lookup = _Lookup(namespace, chat, question)
        hit = self._cache_get(lookup) if cache else None
        if hit is not None:
            result, kind = hit
        else:
            result, kind = self._call(trace, provider, chat, settings, json_schema, info), None
            if cache:
                self._cache_put(lookup, result)
        text = result.text
        if guard:
            verdict = self._guard(project, app, "output", text, trace)
            events += verdict["events"]
            if verdict["action"] == "block":
                _forget_output(trace)
                return self._refusal(trace, events, provider.name, version_label, started)
            text = verdict["text"]
        trace.output_preview = text
        cost = _cost(info, result.usage) if kind is None else 0.0
        return ChatAnswer(
            text=text,
            data=result.data,
            model=result.model,
            provider=result.provider,
            usage={
                "input_tokens": result.usage.input_tokens,
                "output_tokens": result.usage.output_tokens,
            },
            cost_usd=cost,
            latency_ms=(time.perf_counter() - started) * 1000,
            trace_id=trace.id,
            cached=kind,
            guard=events,
            prompt_version=version_label,
            routed_by=routed_by,
        )

    def _call(
        self,
        trace: Trace,
        provider: Provider,
        chat: list[Message],
        settings: ChatParams,
        json_schema: dict[str, Any] | None,
        info: LlmModel,
    ) -> ChatResult:
        with trace.span(
            f"chat {provider.name}",
            kind="chat",
            **{
                GENAI.OPERATION: "chat",
                GENAI.PROVIDER: provider.provider,
                GENAI.REQUEST_MODEL: provider.name,
                GENAI.MAX_TOKENS: settings.max_tokens,
                GENAI.TEMPERATURE: settings.temperature,
                GENAI.INPUT_MESSAGES: json.dumps([m.to_dict() for m in chat]),
            },
        ) as span:
            result = provider.chat(chat, settings, json_schema)
            span.set(
                **{
                    GENAI.RESPONSE_MODEL: result.model,
                    GENAI.INPUT_TOKENS: result.usage.input_tokens,
                    GENAI.OUTPUT_TOKENS: result.usage.output_tokens,
                    GENAI.FINISH_REASONS: [result.finish_reason],
                    GENAI.COST: _cost(info, result.usage),
                    GENAI.OUTPUT_MESSAGES: json.dumps(
                        [{"role": "assistant", "content": result.text}]
                    ),
                }
            )
        return result

    def _refusal(
        self,
        trace: Trace,
        events: list[dict[str, Any]],
        model: str | None,
        version_label: str | None,
        started: float,
    ) -> ChatAnswer:
        text = "I can't help with that request."
        trace.output_preview = text
        return ChatAnswer(
            text=text,
            model=model or DEFAULT_MODEL,
            usage={"input_tokens": 0, "output_tokens": 0},
            latency_ms=(time.perf_counter() - started) * 1000,
            trace_id=trace.id,
            blocked=True,
            guard=events,
            prompt_version=version_label,
        )

    def _route(self, config: dict[str, Any], chat: list[Message]) -> str:
        """The first rule whose conditions all hold; tokens estimated at 4 characters each."""
        tokens = sum(len(m.content) for m in chat) // 4
        text = " ".join(m.content for m in chat).lower()
        for rule in config["rules"]:
            if "max_input_tokens" in rule and tokens > rule["max_input_tokens"]:
                continue
            if "min_input_tokens" in rule and tokens < rule["min_input_tokens"]:
                continue
            if "contains_any" in rule and not any(w.lower() in text for w in rule["contains_any"]):
                continue
            return str(rule["model"])
        return str(config["default"])

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        app: str = "default",
        project: str | None = None,
        user: str | None = None,
    ) -> Iterator[str]:
        """The answer as it is produced. Output guards need the whole answer, so with guards
        on, the answer is checked first and then sent in pieces."""
        answer = self.chat(
            messages, model=model, params=params, app=app, project=project, user=user, cache=False
        )
        for start in range(0, len(answer.text), 16):
            yield answer.text[start : start + 16]

    # -- guards ---------------------------------------------------------------------------------

    def _guard(
        self, project: str | None, app: str, stage: str, text: str, trace: Trace
    ) -> dict[str, Any]:
        """The app's guard policy on one text; no policy, no project: nothing to check."""
        if project is None:
            return {"action": "allow", "text": text, "events": []}
        guards = self.ws.services(self.ctx).guards
        with trace.span(f"guard {stage}", kind="guard", **{GENAI.OPERATION: "guard"}) as span:
            outcome = guards.check(project, app, stage, text, user=trace.user, trace_id=trace.id)
            events = [_event(e) for e in getattr(outcome, "events", [])]
            span.set(**{GENAI.GUARD: outcome.action, "passline.guard.fired": len(events)})
        return {"action": outcome.action, "text": getattr(outcome, "text", text), "events": events}

    def _content_mode(self, project: str | None, app: str) -> str:
        """What the app's guard policy lets traces keep: redacted text, or metrics only."""
        if project is None:
            return "redacted"
        try:
            policy = self.ws.services(self.ctx).guards.get_policy(project, app)
        except NotFound:
            return "redacted"
        return str(policy.policy.get("content", "redacted"))

    # -- cache ----------------------------------------------------------------------------------

    def _cache_get(self, lookup: _Lookup) -> tuple[ChatResult, str] | None:
        with self.db.read() as session:
            row = session.execute(
                select(LlmCacheRow).where(
                    LlmCacheRow.namespace == lookup.namespace,
                    LlmCacheRow.key_digest == lookup.digest,
                )
            ).scalar_one_or_none()
        kind = "exact" if row is not None else None
        if row is None and len(lookup.chat) <= 2:  # semantic hits only for single questions
            row = self._semantic(lookup)
            kind = "semantic" if row is not None else None
        if row is None:
            _CACHE_STATS["misses"] += 1
            return None
        _CACHE_STATS[f"{kind}_hits"] += 1
        with self.db.write() as session:
            session.execute(
                update(LlmCacheRow)
                .where(LlmCacheRow.id == row.id)
                .values(hits=LlmCacheRow.hits + 1, last_hit_at=utcnow())
            )
        data = row.response
        return ChatResult(
            text=data["text"],
            model=data["model"],
            provider=data["provider"],
            usage=Usage(0, 0),
            data=data.get("data"),
        ), str(kind)

    def _semantic(self, lookup: _Lookup) -> LlmCacheRow | None:
        index = self._semantic_index(lookup.namespace)
        vector = lookup.vector()
        if vector is None:
            return None
        found = index.nearest(vector)
        if found is None or found[1] < SEMANTIC_THRESHOLD:
            return None
        with self.db.read() as session:
            return session.get(LlmCacheRow, found[0])  # None if the entry was deleted

    def _semantic_index(self, namespace: str) -> SemanticIndex:
        """The namespace's question vectors, kept in memory and topped up with the entries
        written since the last look (by any process): one small query per lookup instead
        of re-reading thousands of vectors."""
        with _SEMANTIC_LOCK:
            index = _SEMANTIC.setdefault(self.ws, {}).setdefault(namespace, SemanticIndex())
        with index.lock:
            query = select(LlmCacheRow.id, LlmCacheRow.response, LlmCacheRow.created_at).where(
                LlmCacheRow.namespace == namespace
            )
            if index.seen_until is not None:
                query = query.where(LlmCacheRow.created_at >= index.seen_until)
            with self.db.read() as session:
                rows = session.execute(query.order_by(LlmCacheRow.created_at)).all()
            index.add(rows)
        return index

    def _cache_put(self, lookup: _Lookup, result: ChatResult) -> None:
        from passline.guard import redact_text

        namespace, chat, question = lookup.namespace, lookup.chat, lookup.question
        vector = lookup.vector() if len(chat) <= 2 else None
        embedding = None if vector is None else vector.round(5).tolist()
        response = {
            "text": result.text,
            "model": result.model,
            "provider": result.provider,
            "data": result.data,
            "embedding": embedding,
        }
        from passline.services.lineage import insert_ignore

        with self.db.write() as session:
            insert_ignore(
                session,
                LlmCacheRow.__table__,
                [
                    {
                        "id": new_id("llc"),
                        "namespace": namespace,
                        "key_digest": lookup.digest,
                        "request_text": redact_text(question)[:2000],
                        "response": response,
                        "hits": 0,
                        "created_at": utcnow(),
                        "last_hit_at": None,
                    }
                ],
            )

    def cache_stats(self) -> dict[str, Any]:
        """Hits and misses of this process, entries and stored hits of the workspace."""
        from sqlalchemy import func

        with self.db.read() as session:
            entries, hits = session.execute(
                select(func.count(), func.coalesce(func.sum(LlmCacheRow.hits), 0)).select_from(
                    LlmCacheRow
                )
            ).one()
        lookups = sum(_CACHE_STATS.values())
        hit_count = _CACHE_STATS["exact_hits"] + _CACHE_STATS["semantic_hits"]
        return {
            **_CACHE_STATS,
            "hit_rate": hit_count / lookups if lookups else None,
            "entries": int(entries),
            "stored_hits": int(hits),
        }

    # -- embeddings -----------------------------------------------------------------------------

    def embed(self, texts: list[str]) -> dict[str, Any]:
        from passline.llm.embeddings import EMBEDDING_MODEL, embedder

        if not texts or not all(isinstance(t, str) for t in texts):
            raise InvalidInput("Send a non-empty list of strings to embed.")
        if len(texts) > 2048:
            raise InvalidInput(f"Send at most 2,048 texts at once. Got {len(texts):,}.")
        return {"model": EMBEDDING_MODEL, "embeddings": embedder().embed(texts).tolist()}


def _model(row: LlmModelRow) -> LlmModel:
    config = {k: v for k, v in (row.config or {}).items()}
    return LlmModel(
        name=row.name,
        provider=row.provider,
        config=config,
        input_price_per_mtok=row.input_price_per_mtok,
        output_price_per_mtok=row.output_price_per_mtok,
    )


def _cost(info: LlmModel, usage: Usage) -> float:
    return (
        usage.input_tokens * info.input_price_per_mtok
        + usage.output_tokens * info.output_price_per_mtok
    ) / 1_000_000


def _digest(chat: list[Message]) -> str:
    canonical = json.dumps([m.to_dict() for m in chat], sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _namespace(
    model: str, params: ChatParams, schema: dict[str, Any] | None, prompt: str | None
) -> str:
    key = json.dumps(
        {"model": model, "params": params.__dict__, "schema": schema, "prompt": prompt},
        sort_keys=True,
        default=str,
    )
    return f"{model}:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _replace_last_user(chat: list[Message], text: str) -> list[Message]:
    index = (
        max(i for i, m in enumerate(chat) if m.role == "user")
        if any(m.role == "user" for m in chat)
        else len(chat) - 1
    )
    return [*chat[:index], Message(chat[index].role, text), *chat[index + 1 :]]


def _event(event: Any) -> dict[str, Any]:
    if isinstance(event, dict):
        return event
    if hasattr(event, "model_dump"):
        return event.model_dump(mode="json")  # type: ignore[no-any-return]
    if hasattr(event, "__dict__"):
        return {k: v for k, v in vars(event).items() if not k.startswith("_")}
    return {"event": str(event)}


#: What a blocked answer leaves in its trace instead of the text the guard stopped.
BLOCKED_OUTPUT = "[blocked by an output guard]"


def _forget_output(trace: Trace) -> None:
    """An answer an output guard blocked is stored nowhere, not even in its model span: the
    guard's events say what it found, as types and counts."""
    for span in trace.spans:
        if GENAI.OUTPUT_MESSAGES in span.attributes:
            span.attributes[GENAI.OUTPUT_MESSAGES] = json.dumps(
                [{"role": "assistant", "content": BLOCKED_OUTPUT}]
            )


class _Lookup:
    """One request's cache keys; the question is embedded at most once per request."""

    def __init__(self, namespace: str, chat: list[Message], question: str) -> None:
        self.namespace, self.chat, self.question = namespace, chat, question
        self.digest = _digest(chat)
        self._vector: np.ndarray | None = None
        self._embedded = False

    def vector(self) -> np.ndarray | None:
        if not self._embedded:
            self._embedded = True
            try:
                from passline.llm.embeddings import embedder

                self._vector = embedder().embed([self.question])[0]
            except Exception:  # noqa: BLE001 - no embeddings installed: exact cache only
                self._vector = None
        return self._vector


class SemanticIndex:
    """The question vectors of one cache namespace, newest :data:`SEMANTIC_ENTRIES` kept."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []
        self.matrix = np.zeros((0, 384), dtype=np.float32)
        self.seen_until: Any = None

    def add(self, rows: Any) -> None:
        known = set(self.ids[-64:])  # rows at the boundary instant come back once more
        new = [(i, r["embedding"], at) for i, r, at in rows if i not in known]
        if rows:
            self.seen_until = max(at for _, _, at in rows)
        vectors = [(i, v) for i, v, _ in new if v]
        if vectors:
            self.ids = (self.ids + [i for i, _ in vectors])[-SEMANTIC_ENTRIES:]
            added = np.asarray([v for _, v in vectors], dtype=np.float32)
            self.matrix = np.vstack([self.matrix, added])[-SEMANTIC_ENTRIES:]

    def nearest(self, vector: np.ndarray) -> tuple[str, float] | None:
        if not self.ids:
            return None
        scores = self.matrix @ vector
        best = int(np.argmax(scores))
        return self.ids[best], float(scores[best])


SEMANTIC_ENTRIES = 5000
_SEMANTIC: dict[Any, dict[str, SemanticIndex]] = {}
_SEMANTIC_LOCK = threading.Lock()
