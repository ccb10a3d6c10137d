"""Passline: take an AI feature from raw data to a product, every step versioned and linked.

The public surface is small on purpose (see ``__all__``); everything else is private.

    >>> import passline
    >>> client = passline.connect()              # embedded workspace in ./.passline
    >>> client = passline.connect("http://127.0.0.1:8765", token="tok_...")  # a server
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from passline.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    MissingExtra,
    NotFound,
    PasslineError,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)

if TYPE_CHECKING:
    from passline.sdk.client import Client

__version__ = "0.1.0"
__all__ = [
    "Client",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "MissingExtra",
    "NotFound",
    "PasslineError",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
    "__version__",
    "connect",
]


def connect(url: str | None = None, token: str | None = None, **settings: Any) -> Client:
    """A client: in-process on the local workspace, or over HTTP when ``url`` is given."""
    from passline.sdk.client import connect as _connect

    return _connect(url, token, **settings)


def __getattr__(name: str) -> Any:
    if name == "Client":
        from passline.sdk.client import Client

        return Client
    raise AttributeError(name)
