"""Connectors: where dataset versions come from.

A saved source is ``{kind, config}``: ``config`` is plain JSON, the keyword arguments of the
connector's class, with secrets given only as references (``password_ref="env:PGPASSWORD"``),
never as values. :func:`build_connector` checks that and builds the connector.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from passline.data.connectors.base import BadRows, Connector, ReadReport
from passline.data.connectors.files import FileConnector
from passline.data.connectors.http import HttpJsonConnector
from passline.data.connectors.redis_stream import RedisStreamConnector
from passline.data.connectors.sql import SqlConnector
from passline.data.secrets import FORMS, is_secret_ref
from passline.errors import InvalidInput
from passline.settings import Settings

__all__ = [
    "CONNECTORS",
    "BadRows",
    "Connector",
    "FileConnector",
    "HttpJsonConnector",
    "ReadReport",
    "RedisStreamConnector",
    "SqlConnector",
    "build_connector",
]

CONNECTORS: dict[str, type[Connector]] = {
    "file": FileConnector,
    "sql": SqlConnector,
    "http": HttpJsonConnector,
    "redis": RedisStreamConnector,
}

# Keys whose plain values would be secrets, at any depth (HTTP params and headers, fsspec
# storage options): the config is stored in the database and shown in the UI.
_SENSITIVE = re.compile(r"passw(or)?d|secret|token|api_?key|authorization|credential", re.I)
_NOT_CONFIG = {"self", "settings"}


def build_connector(kind: str, config: dict[str, Any], settings: Settings) -> Connector:
    """The connector a saved source describes; raises InvalidInput naming what is wrong."""
    cls = CONNECTORS.get(kind)
    if cls is None:
        raise InvalidInput(
            f"Unknown source kind {kind!r}; the kinds are {', '.join(sorted(CONNECTORS))}."
        )
    check_config(kind, config)
    try:
        return cls(**config, settings=settings)  # type: ignore[call-arg]
    except TypeError as err:  # a value of the wrong type, caught where it is used
        raise InvalidInput(f"The {kind} source config is invalid: {err}.") from None


def check_config(kind: str, config: dict[str, Any]) -> None:
    """Check a config's keys against the connector and that it holds no plain secret."""
    _check_json(kind, config)
    parameters = inspect.signature(CONNECTORS[kind].__init__).parameters
    allowed = [name for name in parameters if name not in _NOT_CONFIG]
    if unknown := sorted(set(config) - set(allowed)):
        raise InvalidInput(
            f"Unknown key {unknown[0]!r} in the {kind} source config; "
            f"the keys are {', '.join(allowed)}."
        )
    required = [
        name
        for name, p in parameters.items()
        if name not in _NOT_CONFIG and p.default is inspect.Parameter.empty
    ]
    if missing := [name for name in required if name not in config]:
        raise InvalidInput(f"The {kind} source config needs {', '.join(missing)}.")
    for key, value in config.items():
        _check_secrets(kind, key, value)


def _check_json(kind: str, config: Any) -> None:
    if not isinstance(config, dict):
        raise InvalidInput(f"The {kind} source config must be a JSON object.")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"The {kind} source config must be plain JSON: {err}.") from None


def _check_secrets(kind: str, key: str, value: Any) -> None:
    if key.endswith("_ref"):
        if value is not None and not is_secret_ref(value):
            raise InvalidInput(
                f"{key} in the {kind} source config must be a secret reference ({FORMS}).",
                hint="The config is stored; the secret itself must live outside it.",
            )
        return
    if _SENSITIVE.search(key) and value not in (None, ""):
        raise InvalidInput(
            f"{key!r} in the {kind} source config holds a plain value that looks like a secret.",
            hint="Store it in an environment variable or secrets file and pass a *_ref key "
            f"(e.g. password_ref or auth_value_ref) with {FORMS}.",
        )
    if isinstance(value, dict):
        for inner, item in value.items():
            _check_secrets(kind, f"{key}.{inner}", item)
    if isinstance(value, str) and "://" in value:
        _check_url(kind, key, value)


def _check_url(kind: str, key: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.password:
        raise InvalidInput(
            f"The {key} in the {kind} source config contains a password.",
            hint="Remove it from the URL and pass password_ref (e.g. 'env:DB_PASSWORD').",
        )
    for name, _ in parse_qsl(parts.query):
        if _SENSITIVE.search(name):
            raise InvalidInput(
                f"The {key} in the {kind} source config carries {name!r} in its query.",
                hint=f"Pass the credential as auth_value_ref, with auth_param={name!r}.",
            )
