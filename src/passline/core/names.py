"""Rules for names users choose (projects, users, tokens), checked in one place."""

from __future__ import annotations

import re

from passline.errors import InvalidInput

__all__ = ["check_name"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def check_name(what: str, value: str) -> str:
    """Return ``value`` if it is a valid name; raise InvalidInput naming the rule otherwise."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(
            f"The {what} name must be 1-63 characters of lowercase letters, digits, '.', '_' "
            f"or '-', starting with a letter or digit. Got {value!r} instead."
        )
    return value
