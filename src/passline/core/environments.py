"""What the environment surfaces return: an environment of a project and one release.

A project's environments form its promotion path, in ``position`` order; a project that
has none gets :data:`DEFAULT_ENVIRONMENTS` on first use. The environment's name is the
model alias (and the prompt label) a release moves, so an endpoint that serves
``model@staging`` serves whatever was last released into ``staging``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from passline.core.entities import Entity

__all__ = ["DEFAULT_ENVIRONMENTS", "RELEASE_STATUSES", "Environment", "Release"]

#: name, description and whether a release there needs an approval by a non-author.
DEFAULT_ENVIRONMENTS: tuple[tuple[str, str, bool], ...] = (
    ("dev", "Development: the first stop of every release.", False),
    ("staging", "Staging: production-like, for checks and rehearsals.", False),
    ("production", "Production: what users get.", True),
)

#: released: live (or since replaced); refused: nothing moved; rolled_back: undone by a
#: later rollback; rollback: the record of undoing one.
RELEASE_STATUSES = ("released", "refused", "rolled_back", "rollback")


class Environment(Entity):
    id: str
    project: str
    name: str
    position: int
    description: str = ""
    settings: dict[str, Any] = {}
    endpoints: list[str] = []
    gates: list[str] = []  # project/name of each gate a release into it must pass
    require_approval: bool = False
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def ref(self) -> str:
        return f"environment:{self.project}/{self.name}"


class Release(Entity):
    """One release of a version into an environment, refused ones and rollbacks included.

    ``version`` is the version the record put into ``to_environment`` (for a rollback,
    the version restored; ``None`` when the rollback emptied the environment) and
    ``previous_version`` the one it held before. ``gates`` holds each gate's evaluation
    (``gate``, ``evaluation``, ``passed``, ``failing``); ``evidence`` the alias or label
    move, approvals, policy checks and, for a refusal, ``refused`` (the reasons).
    """

    id: str
    project: str
    kind: str  # model | prompt
    subject: str  # project/name
    version: int | None
    previous_version: int | None = None
    from_environment: str | None = None
    to_environment: str
    status: str
    actor: str
    reason: str = ""
    gates: list[dict[str, Any]] = []
    evidence: dict[str, Any] = {}
    started_at: datetime
    duration_ms: float
    rolled_back_by: str | None = None
    rollback_of: str | None = None

    @property
    def ref(self) -> str:
        return f"release:{self.id}"

    @property
    def target(self) -> str:
        """``project/name`` for a model, ``prompt:project/name`` for a prompt."""
        return self.subject if self.kind == "model" else f"prompt:{self.subject}"
