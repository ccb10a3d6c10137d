"""Every error Passline raises on purpose, in one tree.

::

    PasslineError         exit 1   HTTP 500
    ├── InvalidInput      exit 2   HTTP 422   the caller sent something malformed
    ├── NotFound          exit 3   HTTP 404   an id, name or ref that does not exist
    ├── Conflict          exit 4   HTTP 409   a name already taken, a state that forbids it
    ├── Unauthenticated   exit 5   HTTP 401   no token, or an invalid/expired/revoked one
    ├── PermissionDenied  exit 6   HTTP 403   known identity, missing role
    ├── Unavailable       exit 7   HTTP 503   a database or store that cannot be reached
    ├── IntegrityError    exit 8   HTTP 500   stored bytes or audit entries fail their hash
    └── MissingExtra      exit 9   HTTP 501   an optional dependency is not installed

The REST server maps these once (``passline.server.errors``) and the CLI once
(``passline.cli.main``); nothing else translates them. Messages are written for the
person who sees them: what was wrong, and what to do next. They never contain secrets,
because they reach clients.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "MissingExtra",
    "NotFound",
    "PasslineError",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
    "error_for_code",
]


class PasslineError(Exception):
    """Root of every error Passline raises deliberately."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON body the API returns for this error."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(PasslineError):
    """The caller sent a value Passline cannot accept."""

    code = "invalid_input"
    http_status = 422
    exit_code = 2


class NotFound(PasslineError):
    """An id, name or reference that does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 3


class Conflict(PasslineError):
    """A name that is already taken, or a state that forbids the change."""

    code = "conflict"
    http_status = 409
    exit_code = 4


class Unauthenticated(PasslineError):
    """No credentials, or credentials that are invalid, expired or revoked."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 5


class PermissionDenied(PasslineError):
    """The identity is known but lacks the role the action needs."""

    code = "permission_denied"
    http_status = 403
    exit_code = 6


class Unavailable(PasslineError):
    """A backing service (database, object store, server) cannot be reached."""

    code = "unavailable"
    http_status = 503
    exit_code = 7


class IntegrityError(PasslineError):
    """Stored bytes or audit entries no longer match the hash recorded for them."""

    code = "integrity"
    http_status = 500
    exit_code = 8


class MissingExtra(PasslineError):
    """An optional dependency is needed and not installed."""

    code = "missing_extra"
    http_status = 501
    exit_code = 9

    @classmethod
    def for_extra(cls, extra: str, feature: str) -> MissingExtra:
        return cls(
            f"{feature} needs the optional dependency group '{extra}'.",
            hint=f"Install it with: pip install 'passline[{extra}]'",
        )


_BY_CODE: dict[str, type[PasslineError]] = {
    c.code: c
    for c in (
        PasslineError,
        InvalidInput,
        NotFound,
        Conflict,
        Unauthenticated,
        PermissionDenied,
        Unavailable,
        IntegrityError,
        MissingExtra,
    )
}


def error_for_code(code: str, message: str, hint: str | None = None) -> PasslineError:
    """Rebuild the error a server sent, so an HTTP client raises what an embedded one would."""
    return _BY_CODE.get(code, PasslineError)(message, hint=hint)
