"""The HCL emitter: strings stay literal, and python-hcl2 reads back what was written."""

from __future__ import annotations

import hcl2
import pytest

from passline.errors import InvalidInput
from passline.infra.hcl import Block, Expr, quote, render

from .test_terraform import plain


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("plain", '"plain"'),
        ('say "hi"', r'"say \"hi\""'),
        ("back\\slash", r'"back\\slash"'),
        ("two\nlines\ttab", r'"two\nlines\ttab"'),
        ("${var.secret}", '"$${var.secret}"'),
        ("%{ if x }", '"%%{ if x }"'),
        ("bell\x07", r'"bell\u0007"'),
    ],
)
def test_quote_escapes(text: str, literal: str) -> None:
    assert quote(text) == literal


def test_round_trip_through_python_hcl2() -> None:
    tricky = 'a "b" \\ c ${d} %{e} \n f'
    text = render(
        [
            Block(
                "resource",
                ("kind", "name"),
                [
                    ("string", tricky),
                    ("number", 3),
                    ("flag", True),
                    ("list", ["x", 1]),
                    ("map", {"plain": "v", "app.kubernetes.io/name": "passline"}),
                    ("ref", Expr("var.image")),
                    Block("nested", body=[("inner", "y")]),
                    Block("empty"),
                ],
            )
        ]
    )
    body = plain(hcl2.loads(text))["resource"][0]["kind"]["name"]
    assert body["string"] == tricky
    assert body["number"] == 3 and body["flag"] is True and body["list"] == ["x", 1]
    assert body["map"] == {"plain": "v", "app.kubernetes.io/name": "passline"}
    assert "var.image" in body["ref"]
    assert body["nested"][0]["inner"] == "y"


def test_bad_identifiers_are_refused() -> None:
    with pytest.raises(InvalidInput, match="HCL identifier"):
        render([Block("resource", body=[("bad name", 1)])])
