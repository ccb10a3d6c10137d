"""Models, chat, embeddings, the prompt registry, traces and feedback (under /api/v1), and
the two routes other apps speak natively: OTLP/HTTP ``POST /v1/traces`` and the
OpenAI-compatible proxy ``POST /v1/chat/completions`` (see ``openai_router``)."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from passline.errors import InvalidInput
from passline.server.deps import api_services
from passline.services.llm import ChatAnswer, LlmModel
from passline.services.prompts import Prompt, PromptLabelMove, PromptVersion, RenderedPrompt
from passline.services.tracing import Feedback, TraceSummary
from passline.services.workspace import Services

router = APIRouter(tags=["LLM operations"])
openai_router = APIRouter(tags=["OpenAI-compatible and OTLP"])


class NewModel(BaseModel):
    name: str
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0
    max_retries: int = 3
    rate_per_s: float | None = None
    context: int = 8192
    input_price_per_mtok: float = 0.0
    output_price_per_mtok: float = 0.0


class NewRouter(BaseModel):
    name: str
    rules: list[dict[str, Any]]
    default: str


class ChatRequest(BaseModel):
    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    variables: dict[str, Any] | None = None
    model: str | None = None
    params: dict[str, Any] | None = None
    json_schema: dict[str, Any] | None = None
    app: str = "default"
    project: str | None = None
    user: str | None = None
    guard: bool = True
    cache: bool = True


class Texts(BaseModel):
    texts: list[str]


class NewPromptVersion(BaseModel):
    template: str | list[dict[str, str]]
    variables: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    description: str = ""


class Variables(BaseModel):
    variables: dict[str, Any] = Field(default_factory=dict)


class PromptApproval(BaseModel):
    comment: str = ""
    label: str | None = None


class LabelMove(BaseModel):
    version: int | str
    reason: str = ""


class Reason(BaseModel):
    reason: str = ""


class NewFeedback(BaseModel):
    score: int | None = None
    comment: str = ""
    correction: str | None = None


def _prompt(project: str, name: str, selector: str | None = None) -> str:
    return f"{project}/{name}" + (f"@{selector}" if selector else "")


# -- models, chat, embeddings --------------------------------------------------------------


@router.get("/llm/models", response_model=list[LlmModel])
def models(svc: Services = Depends(api_services)) -> list[LlmModel]:
    return svc.llm.models()


@router.post("/llm/models", response_model=LlmModel, status_code=201)
def add_model(body: NewModel, svc: Services = Depends(api_services)) -> LlmModel:
    """An OpenAI-compatible endpoint (admins); ``api_key`` is a secret reference."""
    return svc.llm.add_model(**body.model_dump())


@router.post("/llm/routers", response_model=LlmModel, status_code=201)
def add_router(body: NewRouter, svc: Services = Depends(api_services)) -> LlmModel:
    """A model name that routes each request to another model by rule (admins)."""
    return svc.llm.add_router(body.name, body.rules, body.default)


@router.post("/llm/chat", response_model=ChatAnswer)
def chat(body: ChatRequest, svc: Services = Depends(api_services)) -> ChatAnswer:
    """A governed call: prompt, guards, cache, routing, trace."""
    return svc.llm.chat(**body.model_dump())


@router.post("/llm/embeddings")
def embeddings(body: Texts, svc: Services = Depends(api_services)) -> dict[str, Any]:
    return svc.llm.embed(body.texts)


@router.get("/llm/cache")
def cache(svc: Services = Depends(api_services)) -> dict[str, Any]:
    """Hit rates (this server process) and entries (the workspace)."""
    return svc.llm.cache_stats()


# -- prompts ----------------------------------------------------------------------------------


@router.get("/prompts", response_model=list[Prompt])
def prompts(project: str | None = None, svc: Services = Depends(api_services)) -> list[Prompt]:
    return svc.prompts.list(project)


@router.get("/prompts/{project}/{name}", response_model=Prompt)
def prompt(project: str, name: str, svc: Services = Depends(api_services)) -> Prompt:
    return svc.prompts.get(_prompt(project, name))


@router.post("/prompts/{project}/{name}/versions", response_model=PromptVersion, status_code=201)
def create_prompt_version(
    project: str, name: str, body: NewPromptVersion, svc: Services = Depends(api_services)
) -> PromptVersion:
    """A new version (or the existing one with the same content)."""
    return svc.prompts.create(_prompt(project, name), **body.model_dump())


@router.get("/prompts/{project}/{name}/versions", response_model=list[PromptVersion])
def prompt_versions(
    project: str, name: str, svc: Services = Depends(api_services)
) -> list[PromptVersion]:
    return svc.prompts.versions(_prompt(project, name))


@router.get("/prompts/{project}/{name}/versions/{selector}", response_model=PromptVersion)
def prompt_version(
    project: str, name: str, selector: str, svc: Services = Depends(api_services)
) -> PromptVersion:
    """A version by number or label."""
    return svc.prompts.version(_prompt(project, name, selector))


@router.post("/prompts/{project}/{name}/versions/{selector}/render", response_model=RenderedPrompt)
def render(
    project: str, name: str, selector: str, body: Variables, svc: Services = Depends(api_services)
) -> RenderedPrompt:
    return svc.prompts.render(_prompt(project, name, selector), body.variables)


@router.post("/prompts/{project}/{name}/versions/{selector}/approve", response_model=PromptVersion)
def approve_prompt(
    project: str,
    name: str,
    selector: str,
    body: PromptApproval,
    svc: Services = Depends(api_services),
) -> PromptVersion:
    return svc.prompts.approve(_prompt(project, name, selector), body.comment, body.label)


@router.get("/prompts/{project}/{name}/diff")
def diff(
    project: str, name: str, old: str, new: str, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """A unified diff of two versions' templates and their changed fields."""
    return svc.prompts.diff(_prompt(project, name), old, new)


@router.get("/prompts/{project}/{name}/evaluate")
def evaluate_prompt(
    project: str, name: str, version: str, label: str, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """What ``label``'s release policy demands of ``version``, and what is missing."""
    return svc.prompts.evaluate(_prompt(project, name, version), label)


@router.put("/prompts/{project}/{name}/labels/{label}", response_model=PromptLabelMove)
def set_label(
    project: str, name: str, label: str, body: LabelMove, svc: Services = Depends(api_services)
) -> PromptLabelMove:
    return svc.prompts.set_label(_prompt(project, name, str(body.version)), label, body.reason)


@router.post("/prompts/{project}/{name}/labels/{label}:rollback", response_model=PromptLabelMove)
def rollback_label(
    project: str, name: str, label: str, body: Reason, svc: Services = Depends(api_services)
) -> PromptLabelMove:
    return svc.prompts.rollback(_prompt(project, name), label, body.reason)


@router.get("/prompts/{project}/{name}/history", response_model=list[PromptLabelMove])
def prompt_history(
    project: str, name: str, label: str | None = None, svc: Services = Depends(api_services)
) -> list[PromptLabelMove]:
    return svc.prompts.history(_prompt(project, name), label)


# -- traces and feedback ------------------------------------------------------------------------


@router.get("/traces", response_model=list[TraceSummary])
def traces(
    project: str | None = None,
    app: str | None = None,
    user: str | None = None,
    status: str | None = None,
    limit: int = 100,
    svc: Services = Depends(api_services),
) -> list[TraceSummary]:
    """Newest first; ``user`` answers "who asked what"."""
    return svc.tracing.list(project, app, user, status, None, limit)


@router.get("/traces/{trace_id}")
def trace(trace_id: str, svc: Services = Depends(api_services)) -> dict[str, Any]:
    """A trace with its spans, feedback and retrieved documents."""
    return svc.tracing.get(trace_id)


@router.post("/traces/{trace_id}/feedback", response_model=Feedback, status_code=201)
def feedback(trace_id: str, body: NewFeedback, svc: Services = Depends(api_services)) -> Feedback:
    """Thumbs up or down (``score`` 1 or -1), a comment, a correction."""
    return svc.tracing.add_feedback(trace_id, body.score, body.comment, body.correction)


@router.get("/projects/{project}/feedback")
def feedback_summary(project: str, svc: Services = Depends(api_services)) -> list[dict[str, Any]]:
    """Feedback per prompt version."""
    return svc.tracing.feedback_summary(project)


# -- the routes other apps speak -------------------------------------------------------------------


@openai_router.post("/v1/traces")
async def otlp_traces(request: Request, project: str | None = None) -> JSONResponse:
    """OTLP/HTTP trace export (protobuf or JSON), authenticated like the API. The project
    comes from ``?project=`` or the ``X-Passline-Project`` header."""
    svc = api_services(request)
    body = await request.body()
    result = await run_in_threadpool(
        svc.tracing.ingest_otlp,
        body,
        request.headers.get("content-type", "application/x-protobuf"),
        project or request.headers.get("x-passline-project"),
    )
    return JSONResponse({"partialSuccess": {}, **result})


@openai_router.get("/v1/models")
def openai_models(request: Request) -> dict[str, Any]:
    svc = api_services(request)
    return {
        "object": "list",
        "data": [
            {"id": m.name, "object": "model", "owned_by": m.provider} for m in svc.llm.models()
        ],
    }


@openai_router.post("/v1/chat/completions", response_model=None)
async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
    """OpenAI's chat completions API in front of any configured model, with the app's guards,
    tracing, cache and, with ``X-Passline-Collection``, permission-aware retrieval.
    Headers: ``X-Passline-Project`` and ``X-Passline-App`` select the guard policy;
    ``X-Passline-User`` names the end user (services and admins only)."""
    svc = api_services(request)
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInput("The body is not JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise InvalidInput("Send {'model': ..., 'messages': [{'role': ..., 'content': ...}]}.")
    answer = await run_in_threadpool(_proxy_chat, svc, body, request.headers)
    if body.get("stream"):
        return StreamingResponse(_sse(answer), media_type="text/event-stream")
    return JSONResponse(_completion(answer))


def _proxy_chat(svc: Services, body: dict[str, Any], headers: Any) -> ChatAnswer:
    messages = body["messages"]
    project = headers.get("x-passline-project")
    user = headers.get("x-passline-user")
    if (
        user
        and user != svc.ctx.actor.name
        and not (svc.ctx.actor.is_admin or svc.ctx.actor.kind == "service")
    ):
        raise InvalidInput("Only service accounts and admins may name another end user.")
    collection = headers.get("x-passline-collection")
    params = {
        k: body[k]
        for k in ("max_tokens", "temperature", "top_p", "stop", "seed")
        if body.get(k) is not None
    }
    schema = None
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
    model = body.get("model")
    if model in (None, "", "default"):
        model = None
    if collection:
        return _answer_from_collection(svc, collection, messages, user, model)
    return svc.llm.chat(
        messages,
        model=model,
        params=params,
        json_schema=schema,
        app=headers.get("x-passline-app", "proxy"),
        project=project,
        user=user,
    )


def _answer_from_collection(
    svc: Services, collection: str, messages: list[Any], user: str | None, model: str | None
) -> ChatAnswer:
    """The last user message asked of the collection: retrieval filtered by the end user's
    rights, the collection's guards, sources cited in the text."""
    questions = [
        m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"
    ]
    if not questions or not isinstance(questions[-1], str) or not questions[-1].strip():
        raise InvalidInput("With X-Passline-Collection, the last user message must be text.")
    started = time.perf_counter()
    answer = svc.rag.ask(collection, questions[-1], as_user=user, model=model)
    usage = answer.usage or {}
    return ChatAnswer(
        text=answer.text,
        model=answer.model or "",
        usage={
            "input_tokens": int(usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens", 0)),
        },
        cost_usd=answer.cost_usd,
        latency_ms=(time.perf_counter() - started) * 1000,
        trace_id=answer.trace_id,
        blocked=answer.blocked,
        guard=answer.guard,
    )


def _completion(answer: ChatAnswer) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{answer.trace_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "content_filter" if answer.blocked else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": answer.usage["input_tokens"],
            "completion_tokens": answer.usage["output_tokens"],
            "total_tokens": answer.usage["input_tokens"] + answer.usage["output_tokens"],
        },
        "passline": {
            "trace_id": answer.trace_id,
            "cached": answer.cached,
            "blocked": answer.blocked,
            "guard": answer.guard,
        },
    }


def _sse(answer: ChatAnswer) -> Any:
    base = {
        "id": f"chatcmpl-{answer.trace_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": answer.model,
    }
    for start in range(0, len(answer.text), 24):
        piece = answer.text[start : start + 24]
        chunk = {
            **base,
            "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
        }
        yield f"data: {json.dumps(chunk)}\n\n"
    done = {
        **base,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": _completion(answer)["usage"],
    }
    yield f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n"
