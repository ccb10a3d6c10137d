"""Environments and releases from Python: ``client.environments``.

>>> envs = client.environments
>>> [e.name for e in envs.list("retail-demand")]          # dev, staging, production
>>> envs.configure("retail-demand", "staging", gates=["release"])
>>> r = envs.release("retail-demand/demand-forecast", 3, to="dev")
>>> r.status, r.duration_ms
>>> envs.rollback(r.id).duration_ms                        # measured, and recorded
"""

from __future__ import annotations

from typing import Any

from passline.core.environments import Environment, Release
from passline.sdk.tracking import _Namespace

__all__ = ["EnvironmentsAPI"]


class EnvironmentsAPI(_Namespace):
    """A project's promotion path and the releases along it; ``client.environments``."""

    def list(self, project: str) -> list[Environment]:
        """The project's environments in path order (dev, staging, production by default)."""
        return self._call("environments.list", list[Environment], project=project)

    def get(self, project: str, name: str) -> Environment:
        return self._call("environments.get", Environment, project=project, name=name)

    def configure(
        self,
        project: str,
        name: str,
        *,
        position: int | None = None,
        description: str | None = None,
        settings: dict[str, Any] | None = None,
        endpoints: list[str] | None = None,
        gates: list[str] | None = None,
        require_approval: bool | None = None,
    ) -> Environment:
        """Create or update an environment (project admins); unset arguments are kept."""
        return self._call(
            "environments.configure",
            Environment,
            project=project,
            name=name,
            position=position,
            description=description,
            settings=settings,
            endpoints=endpoints,
            gates=gates,
            require_approval=require_approval,
        )

    def delete(self, project: str, name: str) -> None:
        """Remove an environment that no release record names (project admins)."""
        self._call("environments.delete", None, project=project, name=name)

    def release(self, subject: str, version: int | str, to: str, reason: str = "") -> Release:
        """Release ``version`` of ``subject`` (``P/MODEL`` or ``prompt:P/NAME``) into ``to``;
        a refusal raises (Conflict or PermissionDenied) and is recorded all the same."""
        return self._call(
            "environments.release",
            Release,
            subject=subject,
            version=version,
            to=to,
            reason=reason,
        )

    def releases(
        self,
        project: str,
        environment: str | None = None,
        limit: int = 50,
        subject: str | None = None,
    ) -> list[Release]:
        """The project's release records, newest first."""
        return self._call(
            "environments.releases",
            list[Release],
            project=project,
            environment=environment,
            limit=limit,
            subject=subject,
        )

    def get_release(self, release_id: str) -> Release:
        return self._call("environments.get_release", Release, release_id=release_id)

    def rollback(self, release_id: str, reason: str = "") -> Release:
        """Undo a live release at once (no gate waits); returns the rollback's record."""
        return self._call("environments.rollback", Release, release_id=release_id, reason=reason)
