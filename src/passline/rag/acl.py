"""Document ACLs: the rules file that assigns them, and the check that applies them.

An ACL names users, groups and project roles. A reader is allowed when they are one of
the users, belong to one of the groups, or hold one of the roles (or a higher one) in the
collection's project. An ACL that names nobody is refused: a document nobody may read is
a mistake, not a policy.

``ACL.yaml`` maps path globs (relative to the indexed folder, ``*`` crossing folders) to
ACLs; the first glob that matches a file, in file order, gives its ACL::

    salaries/*:   {groups: [hr]}
    policies/*:   {groups: [employees, hr]}
    "*":          {roles: [viewer]}        # optional catch-all

A file that no glob matches is refused, naming it: nothing is indexed without a
deliberate ACL.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from passline.core.rag import Acl
from passline.core.roles import Role
from passline.errors import InvalidInput

__all__ = ["AclRules", "Reader", "check_acl", "parse_acl"]

_KEYS = ("users", "groups", "roles")


def parse_acl(value: Any, where: str = "the ACL") -> Acl:
    """An :class:`Acl` from ``{"users": [...], "groups": [...], "roles": [...]}``."""
    if isinstance(value, Acl):
        acl = value
    elif isinstance(value, dict):
        unknown = sorted(set(value) - set(_KEYS))
        if unknown:
            raise InvalidInput(
                f"{where}: unknown key {unknown[0]!r}; an ACL has users, groups and roles."
            )
        acl = Acl(**{k: _names(value.get(k), f"{where} {k}") for k in _KEYS})
    else:
        raise InvalidInput(
            f"{where} must be a mapping like {{groups: [hr]}}. Got {value!r} instead."
        )
    if acl.empty:
        raise InvalidInput(f"{where} grants nobody; name users, groups or roles.")
    unknown = [r for r in acl.roles if r not in {role.value for role in Role}]
    if unknown:
        raise InvalidInput(
            f"{where} names unknown role {unknown[0]!r}; the project roles are "
            f"{', '.join(r.value for r in Role)}."
        )
    return acl


def _names(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"{where} must be a list of names. Got {value!r} instead.")
    return sorted(set(value))


@dataclass(frozen=True)
class AclRules:
    """Globs to ACLs, first match wins; ``default`` applies where no glob matches."""

    rules: tuple[tuple[str, Acl], ...] = ()
    default: Acl | None = None

    @classmethod
    def from_mapping(cls, mapping: Any, default: Any = None, source: str = "ACL.yaml") -> AclRules:
        if mapping is None:
            mapping = {}
        if not isinstance(mapping, dict):
            raise InvalidInput(
                f"{source} must map path globs to ACLs, like 'salaries/*: {{groups: [hr]}}'."
            )
        rules = tuple(
            (str(glob), parse_acl(acl, f"{source}, rule {glob!r}")) for glob, acl in mapping.items()
        )
        fallback = parse_acl(default, "the default ACL") if default is not None else None
        return cls(rules, fallback)

    @classmethod
    def from_yaml(cls, text: str, default: Any = None, source: str = "ACL.yaml") -> AclRules:
        import yaml

        try:
            mapping = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{source} is not valid YAML: {exc}") from None
        return cls.from_mapping(mapping, default, source)

    def to_mapping(self) -> dict[str, dict[str, list[str]]]:
        return {glob: acl.model_dump() for glob, acl in self.rules}

    def acl_for(self, path: str) -> Acl | None:
        for glob, acl in self.rules:
            if fnmatch.fnmatchcase(path, glob):
                return acl
        return self.default

    def assign(self, paths: Iterable[str]) -> dict[str, Acl]:
        """Each path's ACL; InvalidInput naming every path that no rule covers."""
        found = {path: self.acl_for(path) for path in paths}
        uncovered = sorted(p for p, acl in found.items() if acl is None)
        if uncovered:
            shown = ", ".join(uncovered[:10]) + (" ..." if len(uncovered) > 10 else "")
            raise InvalidInput(
                f"{len(uncovered)} file(s) match no ACL rule: {shown}. Nothing was indexed.",
                hint="Add a glob for them to the ACL file (a last '\"*\"' rule is a catch-all), "
                "or pass a default ACL.",
            )
        return {p: acl for p, acl in found.items() if acl is not None}

    def named(self) -> list[tuple[str, Acl]]:
        """(where, ACL) for every rule and the default: what names must exist."""
        found = [(f"rule {glob!r}", acl) for glob, acl in self.rules]
        return found + ([("the default ACL", self.default)] if self.default else [])


@dataclass(frozen=True)
class Reader:
    """Who is reading: a user, their groups, and their role in the collection's project."""

    user: str
    groups: frozenset[str] = field(default_factory=frozenset)
    role: Role | None = None


def check_acl(acl: Acl, reader: Reader) -> bool:
    """Whether ``reader`` may read a document carrying ``acl``."""
    if reader.user in acl.users or reader.groups.intersection(acl.groups):
        return True
    return reader.role is not None and any(reader.role.allows(Role(r)) for r in acl.roles)
