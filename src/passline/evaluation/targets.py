"""What an evaluation (or a red-team probe) asks: a target takes a case and returns the
answer text with the context it retrieved, tokens, latency, cost and the trace id.

Three kinds, one method (:meth:`Target.answer`):

- :class:`PromptTarget`: a prompt version and/or a model, with optional retrieval from a
  collection as a given user, through the governed paths (``svc.llm.chat``,
  ``svc.rag.retrieve`` and ``svc.rag.ask``): the same guards, traces and ACLs as
  production.
- :class:`EndpointTarget`: a served endpoint of the gateway (``passline serve``), called
  over HTTP like any client would.
- :class:`OpenAITarget`: any OpenAI-compatible URL (vLLM, Ollama, a hosted API, another
  Passline's proxy), called directly and traced here.

:func:`build_target` makes one from a spec, the form stored with every run: a mapping with
``type``, or a shorthand string (``prompt:hr/answer@2``, ``model:default``,
``rag:hr/handbook``, ``endpoint:shop/scorer``, ``openai:http://host/v1``). Secrets are
references (``env:NAME``), never values, so a spec can be stored and shown.

:class:`FunctionTarget` wraps a Python callable (tests, notebooks, custom harnesses).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from passline.errors import InvalidInput, PasslineError, Unavailable
from passline.evaluation.cases import Case

if TYPE_CHECKING:
    import httpx

    from passline.services.workspace import Services

__all__ = [
    "EndpointTarget",
    "FunctionTarget",
    "OpenAITarget",
    "PromptTarget",
    "Target",
    "TargetAnswer",
    "build_target",
    "parse_target",
]

DEFAULT_APP = "evaluation"
_CASE_PARAMS = {"temperature": 0.0, "max_tokens": 200}


@dataclass
class TargetAnswer:
    """What a target said, and what it cost."""

    text: str
    context: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    trace_id: str | None = None
    model: str | None = None
    refused: bool = False
    blocked: bool = False


class Target(ABC):
    """Answers a case. Subclasses set ``kind`` and implement :meth:`answer`; they may be
    called from several threads at once.

    ``history`` is earlier turns of a conversation (``[{"role": "user", ...},
    {"role": "assistant", ...}]``) for multi-turn probes; targets that cannot hold one
    refuse it.
    """

    kind: ClassVar[str] = ""

    @abstractmethod
    def answer(self, case: Case, history: list[dict[str, str]] | None = None) -> TargetAnswer:
        """The target's answer to ``case``."""

    def ask(self, question: str, history: list[dict[str, str]] | None = None) -> TargetAnswer:
        """The answer to one question (a case with no expectations)."""
        return self.answer(Case(id="ask", question=question), history)

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """The target as data: what :func:`build_target` takes back (no secret values)."""

    def lineage(self) -> list[tuple[str, str]]:
        """(ref, label) of the objects evaluated: prompt versions, models, endpoints."""
        return []

    @property
    def label(self) -> str:
        spec = self.spec()
        main = next(
            (spec[k] for k in ("prompt", "endpoint", "base_url", "model") if spec.get(k)), ""
        )
        return f"{spec['type']}:{main}" if main else spec["type"]


def _no_history(target: Target, history: list[dict[str, str]] | None) -> None:
    if history:
        raise InvalidInput(f"A {target.kind} target answers single questions; it takes no history.")


def _format_context(passages: list[str]) -> str:
    return "\n".join(f"[{i}] {' '.join(p.split())}" for i, p in enumerate(passages, 1))


class PromptTarget(Target):
    """A prompt version and/or a model, optionally with retrieval from ``collection`` as
    ``as_user``.

    With a prompt: the case's ``inputs`` are its variables; ``question`` and ``context``
    (the retrieved passages, numbered, or the case's context documents) are added when the
    prompt declares them. Without a prompt but with a collection: ``rag.ask``, the
    production path of retrieval answers. Without either: the question to the model, with
    the case's context documents as a system message.
    """

    kind = "prompt"

    def __init__(
        self,
        services: Services,
        prompt: str | None = None,
        model: str | None = None,
        collection: str | None = None,
        as_user: str | None = None,
        k: int = 4,
        project: str | None = None,
        app: str | None = None,
        params: dict[str, Any] | None = None,
        cache: bool = False,
    ) -> None:
        self.services = services
        self.model = model
        self.collection = collection
        self.as_user = as_user
        self.k = k
        self.app = app or (collection.partition("/")[2] if collection else DEFAULT_APP)
        self.params = {**_CASE_PARAMS, **(params or {})}
        self.cache = cache
        self.version = services.prompts.version(prompt) if prompt else None
        # The version is pinned: a label that moves during a run does not change the target.
        self.prompt = self.version.label.replace("@v", "@") if self.version else None
        self.project = project or (
            self.version.prompt.partition("/")[0]
            if self.version
            else collection.partition("/")[0]
            if collection
            else None
        )
        if self.version and self.model is None:
            self.model = self.version.model
        if not 1 <= k <= 20:
            raise InvalidInput(f"The 'k' of a target must be an integer in [1, 20]. Got {k}.")

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "prompt" if self.prompt else "model"}
        if not self.prompt and self.collection:
            out["type"] = "rag"
        elif out["type"] == "model" and not self.model:
            out["model"] = "default"
        for key in ("prompt", "model", "collection", "as_user", "project", "app"):
            value = getattr(self, key)
            if value:
                out[key] = value
        if self.k != 4:
            out["k"] = self.k
        if self.params != _CASE_PARAMS:
            out["params"] = self.params
        return out

    def lineage(self) -> list[tuple[str, str]]:
        refs = []
        if self.version:
            refs.append((self.version.ref, self.version.label))
        refs.append((f"llm_model:{self.model or 'default'}", f"model {self.model or 'default'}"))
        if self.collection:
            refs.append((f"collection:{self.collection}", f"collection {self.collection}"))
        return refs

    def answer(self, case: Case, history: list[dict[str, str]] | None = None) -> TargetAnswer:
        started = time.perf_counter()
        if self.collection and not self.prompt:
            _no_history(self, history)
            return self._rag(case, started)
        context = list(case.context)
        if self.collection:
            found = self.services.rag.retrieve(self.collection, case.asked, self.as_user, self.k)
            context = [p.text for p in found.passages]
        if self.prompt:
            reply = self.services.llm.chat(
                list(history or []) or None,
                prompt=self.prompt,
                variables=self._variables(case, context),
                model=self.model,
                params=self.params,
                app=self.app,
                project=self.project,
                user=self.as_user,
                cache=self.cache,
            )
        else:
            system = [{"role": "system", "content": _format_context(context)}] if context else []
            reply = self.services.llm.chat(
                [*system, *(history or []), {"role": "user", "content": case.asked}],
                model=self.model,
                params=self.params,
                app=self.app,
                project=self.project,
                user=self.as_user,
                cache=self.cache,
            )
        return TargetAnswer(
            text=reply.text,
            context=context,
            input_tokens=int(reply.usage.get("input_tokens", 0)),
            output_tokens=int(reply.usage.get("output_tokens", 0)),
            cost_usd=reply.cost_usd,
            latency_ms=(time.perf_counter() - started) * 1000,
            trace_id=reply.trace_id,
            model=reply.model,
            blocked=reply.blocked,
        )

    def _variables(self, case: Case, context: list[str]) -> dict[str, Any]:
        assert self.version is not None
        values = dict(case.inputs)
        declared = self.version.variables
        if "question" in declared and case.question:
            values.setdefault("question", case.question)
        if "context" in declared:
            values.setdefault("context", _format_context(context))
        return values

    def _rag(self, case: Case, started: float) -> TargetAnswer:
        reply = self.services.rag.ask(
            self.collection or "", case.asked, self.as_user, self.model, self.k
        )
        usage = reply.usage or {}
        return TargetAnswer(
            text=reply.text,
            context=[p.text for p in reply.passages],
            input_tokens=int(usage.get("input_tokens", 0) or 0),
            output_tokens=int(usage.get("output_tokens", 0) or 0),
            cost_usd=reply.cost_usd,
            latency_ms=(time.perf_counter() - started) * 1000,
            trace_id=reply.trace_id,
            model=reply.model,
            refused=reply.refused,
            blocked=reply.blocked,
        )


def _secret(ref: str | None, services: Services | None) -> str | None:
    if not ref:
        return None
    from passline.data.secrets import is_secret_ref, resolve_secret

    if not is_secret_ref(ref):
        raise InvalidInput(
            "Give credentials as a secret reference (env:NAME, secret:NAME or file:/path#key), "
            "never the value itself: the target's spec is stored with the run."
        )
    if services is not None:
        return resolve_secret(ref, services.workspace.settings)
    from passline.settings import Settings

    return resolve_secret(ref, Settings.load())


def _http(base_url: str, token: str | None, timeout_s: float, client: httpx.Client | None) -> Any:
    import httpx

    if client is not None:
        return client
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)


class EndpointTarget(Target):
    """A served endpoint of the gateway: the case's ``inputs`` (or ``{"question": ...}``) as
    one record to ``POST /v1/endpoints/{project}/{name}/predict``; the answer is the first
    prediction (its ``answer`` or ``text`` field when it is a mapping)."""

    kind = "endpoint"

    def __init__(
        self,
        endpoint: str,
        gateway_url: str = "http://127.0.0.1:8766",
        token: str | None = None,
        timeout_s: float = 60.0,
        services: Services | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        project, _, name = endpoint.partition("/")
        if not project or not name or "/" in name:
            raise InvalidInput(f"Name the endpoint as project/name. Got {endpoint!r} instead.")
        self.endpoint = endpoint
        self.gateway_url = gateway_url
        self.token = token
        self.timeout_s = timeout_s
        self._client = client
        self._secret = _secret(token, services)

    def spec(self) -> dict[str, Any]:
        out = {"type": "endpoint", "endpoint": self.endpoint, "gateway_url": self.gateway_url}
        return {**out, **({"token": self.token} if self.token else {})}

    def lineage(self) -> list[tuple[str, str]]:
        return [(f"endpoint:{self.endpoint}", f"endpoint {self.endpoint.partition('/')[2]}")]

    def answer(self, case: Case, history: list[dict[str, str]] | None = None) -> TargetAnswer:
        _no_history(self, history)
        import httpx

        record = dict(case.inputs) or {"question": case.asked}
        http = _http(self.gateway_url, self._secret, self.timeout_s, self._client)
        headers = (
            {"Authorization": f"Bearer {self._secret}"} if self._secret and self._client else {}
        )
        started = time.perf_counter()
        try:
            response = http.post(
                f"/v1/endpoints/{self.endpoint}/predict",
                json={"records": [record]},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"The gateway at {self.gateway_url} did not answer: {type(exc).__name__}."
            ) from None
        finally:
            if self._client is None:
                http.close()
        latency = (time.perf_counter() - started) * 1000
        body = _json(response, f"endpoint {self.endpoint}")
        predictions = body.get("predictions") or [None]
        return TargetAnswer(text=_as_text(predictions[0]), latency_ms=latency)


def _json(response: Any, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else response.text[:200]
        raise PasslineError(f"{what} answered HTTP {response.status_code}: {message}")
    return body


def _as_text(value: Any) -> str:
    if isinstance(value, dict):
        for key in ("answer", "text", "output", "prediction"):
            if key in value:
                return str(value[key])
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


class OpenAITarget(Target):
    """Any OpenAI-compatible chat endpoint (``base_url`` ending in ``/v1``), with an
    optional ``system`` prompt; the case's context documents follow it. The call is traced
    into ``project`` when one is given."""

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        model: str = "default",
        api_key: str | None = None,
        system: str | None = None,
        params: dict[str, Any] | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
        project: str | None = None,
        app: str | None = None,
        services: Services | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from passline.llm.openai_compat import OpenAICompatible
        from passline.llm.types import ChatParams

        if not base_url.startswith(("http://", "https://")):
            raise InvalidInput(f"The base URL must be http:// or https://. Got {base_url!r}.")
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.system = system
        self.params = {**_CASE_PARAMS, **(params or {})}
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.project = project
        self.app = app or DEFAULT_APP
        self.services = services
        self._settings = ChatParams.from_dict(self.params)
        self._provider = OpenAICompatible(
            name=model,
            base_url=base_url,
            model=model,
            api_key=_secret(api_key, services),
            timeout_s=timeout_s,
            max_retries=max_retries,
            transport=transport,
        )

    def spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "openai", "base_url": self.base_url, "model": self.model}
        for key in ("api_key", "system", "project"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.params != _CASE_PARAMS:
            out["params"] = self.params
        return out

    def lineage(self) -> list[tuple[str, str]]:
        return [(f"llm_model:{self.model}@{self.base_url}", f"model {self.model}")]

    def answer(self, case: Case, history: list[dict[str, str]] | None = None) -> TargetAnswer:
        from passline.llm.types import Message

        system = "\n\n".join(p for p in (self.system, _format_context(case.context)) if p)
        chat = [Message("system", system)] if system else []
        chat += [Message.coerce(m) for m in history or []]
        chat.append(Message("user", case.asked))
        trace = self._trace()
        started = time.perf_counter()
        try:
            result = self._call(trace, chat)
        except BaseException:
            self._save(trace, "error")
            raise
        self._save(trace, None)
        return TargetAnswer(
            text=result.text,
            context=list(case.context),
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            latency_ms=(time.perf_counter() - started) * 1000,
            trace_id=trace.id if trace is not None else None,
            model=result.model,
        )

    def _trace(self) -> Any:
        if self.services is None:
            return None
        trace = self.services.tracing.start(app=self.app, name="eval.openai", project=self.project)
        return trace

    def _call(self, trace: Any, chat: list[Any]) -> Any:
        from passline.llm.tracing import GENAI

        if trace is None:
            return self._provider.chat(chat, self._settings)
        trace.input_preview = chat[-1].content
        with trace.span(
            f"chat {self.model}",
            kind="chat",
            **{
                GENAI.OPERATION: "chat",
                GENAI.PROVIDER: "openai",
                GENAI.REQUEST_MODEL: self.model,
                GENAI.INPUT_MESSAGES: json.dumps([m.to_dict() for m in chat]),
            },
        ) as span:
            result = self._provider.chat(chat, self._settings)
            span.set(
                **{
                    GENAI.RESPONSE_MODEL: result.model,
                    GENAI.INPUT_TOKENS: result.usage.input_tokens,
                    GENAI.OUTPUT_TOKENS: result.usage.output_tokens,
                }
            )
        trace.output_preview = result.text
        return result

    def _save(self, trace: Any, status: str | None) -> None:
        if trace is None or self.services is None:
            return
        trace.finish(status)
        self.services.tracing.save(trace)


class FunctionTarget(Target):
    """A Python callable ``fn(case) -> str | TargetAnswer`` (in-process runs only)."""

    kind = "function"

    def __init__(self, fn: Callable[[Case], str | TargetAnswer], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")

    def spec(self) -> dict[str, Any]:
        return {"type": "function", "name": self.name}

    def answer(self, case: Case, history: list[dict[str, str]] | None = None) -> TargetAnswer:
        _no_history(self, history)
        started = time.perf_counter()
        result = self.fn(case)
        if isinstance(result, TargetAnswer):
            return result
        return TargetAnswer(
            text=str(result),
            context=list(case.context),
            latency_ms=(time.perf_counter() - started) * 1000,
        )


_SHORTHAND = {
    "prompt": "prompt",
    "model": "model",
    "rag": "collection",
    "endpoint": "endpoint",
    "openai": "base_url",
}
_OPTIONS = {
    "prompt": {
        "prompt",
        "model",
        "collection",
        "as_user",
        "k",
        "project",
        "app",
        "params",
        "cache",
    },
    "model": {"model", "collection", "as_user", "k", "project", "app", "params", "cache"},
    "rag": {"collection", "model", "as_user", "k", "project", "app", "params", "cache"},
    "endpoint": {"endpoint", "gateway_url", "token", "timeout_s"},
    "openai": {
        "base_url",
        "model",
        "api_key",
        "system",
        "params",
        "timeout_s",
        "max_retries",
        "project",
        "app",
    },
}


def parse_target(spec: str | dict[str, Any], **options: Any) -> dict[str, Any]:
    """A target spec as a checked mapping: ``"prompt:hr/answer@2"`` plus options, or a
    mapping with ``type``."""
    if isinstance(spec, str):
        kind, sep, value = spec.partition(":")
        if not sep or kind not in _SHORTHAND or not value:
            raise InvalidInput(
                f"A target is TYPE:VALUE with TYPE one of {', '.join(_SHORTHAND)} "
                f"(prompt:hr/answer@2, model:default, rag:hr/handbook, endpoint:shop/scorer, "
                f"openai:http://host/v1). Got {spec!r} instead."
            )
        data: dict[str, Any] = {"type": kind, _SHORTHAND[kind]: value}
    elif isinstance(spec, dict):
        data = dict(spec)
    else:
        raise InvalidInput(f"A target is a string or a mapping with 'type'. Got {spec!r}.")
    data.update({k: v for k, v in options.items() if v is not None})
    kind = data.get("type")
    if kind not in _OPTIONS:
        raise InvalidInput(f"Unknown target type {kind!r}; the types are {', '.join(_OPTIONS)}.")
    unknown = sorted(set(data) - _OPTIONS[kind] - {"type"})
    if unknown:
        raise InvalidInput(
            f"A {kind} target has no option {unknown[0]!r}; it takes "
            f"{', '.join(sorted(_OPTIONS[kind]))}."
        )
    if kind == "model" and data.get("model") in ("default", "embedded"):
        data["model"] = None
    return data


def build_target(services: Services, spec: str | dict[str, Any], **options: Any) -> Target:
    """The target a spec describes, bound to ``services`` (the caller's rights apply)."""
    data = parse_target(spec, **options)
    kind = data.pop("type")
    if kind in ("prompt", "model", "rag"):
        return PromptTarget(services, **data)
    if kind == "endpoint":
        return EndpointTarget(services=services, **data)
    return OpenAITarget(services=services, **data)
