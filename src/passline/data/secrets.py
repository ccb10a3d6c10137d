"""Secret references: saved configurations name a secret, and the value is read only at run time.

A reference has one of three forms:

- ``env:NAME``: the environment variable ``NAME``;
- ``file:/path/to/secrets.toml#key``: a key (dotted for nested tables) in a TOML file;
- ``secret:NAME``: the key ``NAME`` in the workspace secrets file (``settings.secrets_file``,
  else ``$PASSLINE_HOME/secrets.toml``).

Values are never stored, never put in an error message and never logged. Every value
:func:`resolve_secret` returns is remembered, so that :func:`redact` and the
:class:`SecretRedactor` logging filter can blank it out should it reach a log line anyway.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from passline.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from passline.settings import Settings

__all__ = ["SecretRedactor", "is_secret_ref", "redact", "resolve_secret"]

MASK = "***"
FORMS = "env:NAME, file:/path/secrets.toml#key or secret:NAME"

_ENV = re.compile(r"env:([A-Za-z_][A-Za-z0-9_]*)")
_FILE = re.compile(r"file:(.+)#([A-Za-z0-9_.-]+)")
_NAMED = re.compile(r"secret:([A-Za-z0-9_.-]+)")

# Values shorter than this are not redacted from logs: blanking every "a" or "1" in every log
# line would destroy the logs, and a secret that short protects nothing anyway.
_MIN_REDACTED_LEN = 4
_known: set[str] = set()
_known_lock = threading.Lock()


def is_secret_ref(value: object) -> bool:
    """Whether ``value`` is a well-formed secret reference (it is not resolved)."""
    if not isinstance(value, str):
        return False
    return any(p.fullmatch(value) for p in (_ENV, _FILE, _NAMED))


def resolve_secret(ref: str, settings: Settings) -> str:
    """The value behind ``ref``, read now; raises NotFound naming the ref (never the value)."""
    if match := _ENV.fullmatch(ref):
        value = os.environ.get(match[1])
        if value is None:
            raise NotFound(
                f"The secret {ref!r} is not set: no environment variable {match[1]}.",
                hint=f"Export {match[1]} in the environment of the process that runs the ingest.",
            )
    elif match := _FILE.fullmatch(ref):
        value = _from_toml(ref, Path(match[1]).expanduser(), match[2])
    elif match := _NAMED.fullmatch(ref):
        value = _from_toml(ref, secrets_path(settings), match[1])
    else:
        raise InvalidInput(
            f"{ref!r} is not a secret reference; the forms are {FORMS}.",
            hint="Store the value in an environment variable or a secrets file and name it.",
        )
    _remember(value)
    return value


def secrets_path(settings: Settings) -> Path:
    """The workspace secrets file that ``secret:NAME`` references read."""
    return settings.secrets_file or settings.home / "secrets.toml"


def _from_toml(ref: str, path: Path, key: str) -> str:
    try:
        table: Any = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(
            f"The secret {ref!r} cannot be read: {path} does not exist.",
            hint="Create the file (TOML, readable only by you: chmod 600).",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message quotes no values, only positions, so it is safe to show.
        raise InvalidInput(f"The secrets file {path} is not valid TOML: {exc}.") from None
    for part in key.split("."):
        if not isinstance(table, dict) or part not in table:
            raise NotFound(
                f"The secret {ref!r} is not set: {path} has no key {key!r}.",
                hint=f'Add a line {key.split(".")[-1]} = "..." to {path}.',
            )
        table = table[part]
    if not isinstance(table, str):
        raise InvalidInput(
            f"The secret {ref!r} must be a string in {path}; got a {type(table).__name__}.",
            hint="Quote the value in the TOML file.",
        )
    return table


def _remember(value: str) -> None:
    if len(value) >= _MIN_REDACTED_LEN:
        with _known_lock:
            _known.add(value)


def redact(text: str) -> str:
    """``text`` with every secret value resolved so far replaced by ``***``."""
    with _known_lock:
        # Longest first, so a secret that contains another is masked whole.
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        text = text.replace(value, MASK)
    return text


class SecretRedactor(logging.Filter):
    """A logging filter that blanks resolved secret values out of log records.

    Attach it to a handler (``handler.addFilter(SecretRedactor())``): a filter on a logger
    does not see records that propagate from its children, a filter on a handler sees all.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Format the traceback now, so that the handler uses the redacted text.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
