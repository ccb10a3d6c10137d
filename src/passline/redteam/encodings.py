"""Obfuscations an attacker uses to slip an instruction past a filter, each with its inverse.

Every encoding is a pair: ``encode`` makes the probe, ``decode`` gets the instruction back
(tests check the round trip, and docs show what the model is asked to read). Languages
are not computed: their texts ship as data (``data/translations.yaml``), since a run is
offline and has no translation service.
"""

from __future__ import annotations

import base64
import codecs
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ENCODINGS", "LANGUAGES", "Encoding", "decode", "encode"]

_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_UNLEET = {v: k for k, v in _LEET.items()}
LANGUAGES = ("fr", "de", "es", "it", "pt")


@dataclass(frozen=True)
class Encoding:
    name: str
    encode: Callable[[str], str]
    decode: Callable[[str], str]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text.encode()).decode()


def _rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def _leet(text: str) -> str:
    """Lowercase letters swapped for look-alike digits; capitals are left alone, so a
    marker (capitals and the digits 2, 6, 8, 9 only) survives, and so does the round trip
    of any text without the digits 0, 1, 3, 4, 5 and 7."""
    return "".join(_LEET.get(ch, ch) for ch in text)


def _unleet(text: str) -> str:
    return "".join(_UNLEET.get(ch, ch) for ch in text)


def _reverse(text: str) -> str:
    return text[::-1]


ENCODINGS: dict[str, Encoding] = {
    "base64": Encoding("base64", _b64, _unb64),
    "rot13": Encoding("rot13", _rot13, _rot13),
    "leetspeak": Encoding("leetspeak", _leet, _unleet),
    "reversed": Encoding("reversed", _reverse, _reverse),
}


def encode(name: str, text: str) -> str:
    """``text`` in encoding ``name`` (base64, rot13, leetspeak, reversed)."""
    return ENCODINGS[name].encode(text)


def decode(name: str, text: str) -> str:
    """The inverse of :func:`encode`."""
    return ENCODINGS[name].decode(text)
