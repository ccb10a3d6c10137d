"""A small emitter of HCL (Terraform's language): blocks, attributes and values.

Only what the Terraform export needs: blocks with labels, attributes whose values are
strings, numbers, booleans, lists, maps and raw expressions (``Expr("var.image")``).
Strings are escaped as the HCL spec says, including ``${`` and ``%{``, so a value can never
become an interpolation. Why not python-hcl2's writer: docs/decisions.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from passline.errors import InvalidInput

__all__ = ["Block", "Expr", "quote", "render"]

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
INDENT = "  "


class Expr(str):
    """A raw HCL expression, written as is: ``Expr("var.namespace")``."""

    __slots__ = ()


Value: TypeAlias = "str | int | float | bool | None | Sequence[Value] | Mapping[str, Value]"


@dataclass(frozen=True)
class Block:
    """``type "label" ... { body }``; the body holds ``(name, value)`` pairs and blocks."""

    type: str
    labels: tuple[str, ...] = ()
    body: list[tuple[str, Value] | Block] = field(default_factory=list)


def quote(text: str) -> str:
    """``text`` as an HCL string literal, escaped so that it stays literal."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def render(blocks: Sequence[Block]) -> str:
    """The blocks as HCL text, separated by blank lines, ``=`` aligned as ``terraform fmt``."""
    return "\n".join("\n".join(_block(b, 0)) + "\n" for b in blocks)


def _identifier(name: str) -> str:
    if not IDENTIFIER.match(name):
        raise InvalidInput(f"An HCL identifier must match {IDENTIFIER.pattern}. Got {name!r}.")
    return name


def _block(block: Block, depth: int) -> list[str]:
    pad = INDENT * depth
    head = " ".join([_identifier(block.type), *(quote(label) for label in block.labels)])
    if not block.body:
        return [f"{pad}{head} {{}}"]
    lines = [f"{pad}{head} {{"]
    run: list[tuple[str, Value]] = []
    for item in block.body:
        if isinstance(item, Block):
            lines += _attributes(run, depth + 1)
            run = []
            lines += _block(item, depth + 1)
        else:
            run.append(item)
    lines += _attributes(run, depth + 1)
    return [*lines, f"{pad}}}"]


def _attributes(pairs: list[tuple[str, Value]], depth: int) -> list[str]:
    """Like ``terraform fmt``: single-line attributes in a row align their ``=``; one whose
    value spans lines ends the row and is not padded."""
    lines: list[str] = []
    row: list[tuple[str, str]] = []
    for name, value in pairs:
        text = _value(value, depth)
        if "\n" in text:
            lines += _aligned(row, depth) + [f"{INDENT * depth}{_identifier(name)} = {text}"]
            row = []
        else:
            row.append((name, text))
    return lines + _aligned(row, depth)


def _aligned(row: list[tuple[str, str]], depth: int) -> list[str]:
    width = max((len(name) for name, _ in row), default=0)
    return [f"{INDENT * depth}{_identifier(name).ljust(width)} = {text}" for name, text in row]


def _value(value: Value, depth: int) -> str:
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Mapping):
        return _map(value, depth)
    return "[" + ", ".join(_value(v, depth) for v in value) + "]"


def _map(value: Mapping[str, Value], depth: int) -> str:
    if not value:
        return "{}"
    keys = {k: k if IDENTIFIER.match(k) else quote(k) for k in value}
    width = max(len(k) for k in keys.values())
    pad = INDENT * (depth + 1)
    lines = [f"{pad}{keys[k].ljust(width)} = {_value(v, depth + 1)}" for k, v in value.items()]
    return "{\n" + "\n".join(lines) + "\n" + INDENT * depth + "}"
