"""What a model call takes and returns, whichever provider answers it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["ChatChunk", "ChatParams", "ChatResult", "Message", "Provider", "Usage"]

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}

    @classmethod
    def coerce(cls, value: Message | dict[str, Any]) -> Message:
        if isinstance(value, Message):
            return value
        role, content = value.get("role"), value.get("content")
        if role not in ("system", "user", "assistant", "tool") or not isinstance(content, str):
            from passline.errors import InvalidInput

            raise InvalidInput(
                "A message is {'role': 'system'|'user'|'assistant', 'content': '...'}. "
                f"Got {value!r}."
            )
        return cls(role, content)


@dataclass(frozen=True)
class ChatParams:
    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.95
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> ChatParams:
        values = dict(values or {})
        known = {k: values.pop(k) for k in list(values) if k in cls.__dataclass_fields__}
        if values:
            from passline.errors import InvalidInput

            raise InvalidInput(
                f"Unknown model parameter {next(iter(values))!r}. "
                f"Use: {', '.join(cls.__dataclass_fields__)}."
            )
        if "stop" in known:
            known["stop"] = tuple(known["stop"] or ())
        return cls(**known)


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class ChatResult:
    text: str
    model: str
    provider: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    latency_ms: float = 0.0
    data: Any = None  # the parsed JSON when an output schema was asked for


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a streamed answer; the last one carries the usage."""

    text: str
    done: bool = False
    usage: Usage | None = None
    finish_reason: str | None = None


class Provider(Protocol):
    """A model that chats; ``name`` is what traces and prices know it by."""

    name: str
    provider: str

    def chat(
        self, messages: list[Message], params: ChatParams, json_schema: dict[str, Any] | None = None
    ) -> ChatResult: ...

    def stream(self, messages: list[Message], params: ChatParams) -> Any: ...

    def count_tokens(self, text: str) -> int: ...

    @property
    def context_tokens(self) -> int: ...
