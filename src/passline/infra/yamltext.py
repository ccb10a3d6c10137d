"""YAML text for people: block style, keys in the order given, no anchors or aliases."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

__all__ = ["dump", "dump_all"]


class _Dumper(yaml.SafeDumper):
    """The safe dumper, writing a value twice rather than as ``&id001`` and ``*id001``."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Multi-line strings (shell scripts) as ``|`` blocks, kept readable."""
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _text)


def dump(document: Any) -> str:
    """One document."""
    return dump_all([document])


def dump_all(documents: Iterable[Any]) -> str:
    """Several documents separated by ``---``."""
    return yaml.dump_all(
        documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100
    )
