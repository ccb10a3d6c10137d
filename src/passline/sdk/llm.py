"""Models, prompts, traces and feedback from Python: ``client.llm``, ``client.prompts``,
``client.traces``.

    >>> answer = client.llm.chat([{"role": "user", "content": "Hi"}], app="assistant")
    >>> answer = client.llm.chat(prompt="prompts:/hr/answer@production",
    ...                          variables={"question": "How many vacation days?"})
    >>> client.traces.feedback(answer.trace_id, score=1, comment="right")
"""

from __future__ import annotations

from typing import Any

from passline.sdk.tracking import _Namespace
from passline.services.llm import ChatAnswer, LlmModel
from passline.services.prompts import Prompt, PromptLabelMove, PromptVersion, RenderedPrompt
from passline.services.tracing import Feedback, TraceSummary

__all__ = ["LlmAPI", "PromptsAPI", "TracesAPI"]


class LlmAPI(_Namespace):
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
        guard: bool = True,
        cache: bool = True,
    ) -> ChatAnswer:
        """A governed model call: the prompt rendered, guards on input and output, the
        cache, routing and a trace (its id is ``answer.trace_id``)."""
        return self._call(
            "llm.chat",
            ChatAnswer,
            messages=messages,
            prompt=prompt,
            variables=variables,
            model=model,
            params=params,
            json_schema=json_schema,
            app=app,
            project=project,
            user=user,
            guard=guard,
            cache=cache,
        )

    def models(self) -> list[LlmModel]:
        return self._call("llm.models", list[LlmModel])

    def add_model(self, name: str, base_url: str, model: str, **options: Any) -> LlmModel:
        """An OpenAI-compatible endpoint; ``api_key="env:NAME"`` (a secret reference)."""
        return self._call(
            "llm.add_model", LlmModel, name=name, base_url=base_url, model=model, **options
        )

    def add_router(self, name: str, rules: list[dict[str, Any]], default: str) -> LlmModel:
        return self._call("llm.add_router", LlmModel, name=name, rules=rules, default=default)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Normalised all-MiniLM-L6-v2 vectors (384 numbers each), computed locally."""
        return self._call("llm.embed", None, texts=texts)["embeddings"]  # type: ignore[no-any-return]

    def cache_stats(self) -> dict[str, Any]:
        return self._call("llm.cache_stats", None)


class PromptsAPI(_Namespace):
    def create(
        self,
        prompt: str,
        template: str | list[dict[str, str]],
        variables: dict[str, str] | None = None,
        **fields: Any,
    ) -> PromptVersion:
        """A new version of ``project/name`` (``model``, ``params``, ``output_schema``,
        ``description``); the same content returns the existing version."""
        return self._call(
            "prompts.create",
            PromptVersion,
            prompt=prompt,
            template=template,
            variables=variables or {},
            **fields,
        )

    def list(self, project: str | None = None) -> list[Prompt]:
        return self._call("prompts.list", list[Prompt], project=project)

    def get(self, prompt: str) -> Prompt:
        return self._call("prompts.get", Prompt, prompt=prompt)

    def versions(self, prompt: str) -> list[PromptVersion]:
        return self._call("prompts.versions", list[PromptVersion], prompt=prompt)

    def version(self, prompt: str) -> PromptVersion:
        """``project/name@label`` or ``@N`` (``prompts:/`` accepted)."""
        return self._call("prompts.version", PromptVersion, prompt=_plain(prompt))

    def render(self, prompt: str, variables: dict[str, Any] | None = None) -> RenderedPrompt:
        return self._call(
            "prompts.render", RenderedPrompt, prompt=_plain(prompt), variables=variables or {}
        )

    def diff(self, prompt: str, old: int | str, new: int | str) -> dict[str, Any]:
        return self._call("prompts.diff", None, prompt=prompt, old=str(old), new=str(new))

    def approve(self, prompt: str, comment: str = "", label: str | None = None) -> PromptVersion:
        return self._call(
            "prompts.approve", PromptVersion, prompt=_plain(prompt), comment=comment, label=label
        )

    def evaluate(self, prompt: str, label: str) -> dict[str, Any]:
        return self._call("prompts.evaluate", None, prompt=_plain(prompt), label=label)

    def set_label(self, prompt: str, label: str, reason: str = "") -> PromptLabelMove:
        """Point ``label`` at the version ``prompt`` names (``project/name@3``)."""
        return self._call(
            "prompts.set_label", PromptLabelMove, prompt=_plain(prompt), label=label, reason=reason
        )

    def rollback(self, prompt: str, label: str = "production", reason: str = "") -> PromptLabelMove:
        return self._call(
            "prompts.rollback", PromptLabelMove, prompt=prompt, label=label, reason=reason
        )

    def history(self, prompt: str, label: str | None = None) -> list[PromptLabelMove]:
        return self._call("prompts.history", list[PromptLabelMove], prompt=prompt, label=label)


class TracesAPI(_Namespace):
    def list(
        self,
        project: str | None = None,
        app: str | None = None,
        user: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[TraceSummary]:
        return self._call(
            "tracing.list",
            list[TraceSummary],
            project=project,
            app=app,
            user=user,
            status=status,
            limit=limit,
        )

    def get(self, trace_id: str) -> dict[str, Any]:
        return self._call("tracing.get", None, trace_id=trace_id)

    def feedback(
        self,
        trace_id: str,
        score: int | None = None,
        comment: str = "",
        correction: str | None = None,
    ) -> Feedback:
        """Thumbs up (1) or down (-1), a comment, a correction."""
        return self._call(
            "tracing.add_feedback",
            Feedback,
            trace_id=trace_id,
            score=score,
            comment=comment,
            correction=correction,
        )

    def feedback_summary(self, project: str) -> list[dict[str, Any]]:
        return self._call("tracing.feedback_summary", None, project=project)


def _plain(prompt: str) -> str:
    return prompt.removeprefix("prompts:/")
