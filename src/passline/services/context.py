"""Who is calling, and from where: passed to every service call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Actor", "CallContext", "Origin"]

Origin = Literal["cli", "sdk", "api", "ui", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: str
    name: str
    is_admin: bool = False
    kind: str = "user"


@dataclass(frozen=True, slots=True)
class CallContext:
    actor: Actor
    origin: Origin = "sdk"
    client: str | None = None
