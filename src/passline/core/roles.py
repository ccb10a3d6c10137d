"""Project roles, ordered: each role can do what the roles before it can."""

from __future__ import annotations

from enum import StrEnum

from passline.errors import InvalidInput

__all__ = ["Role"]


class Role(StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, value: str) -> Role:
        try:
            return cls(value.lower())
        except ValueError:
            allowed = ", ".join(r.value for r in cls)
            raise InvalidInput(
                f"The role must be one of {allowed}. Got {value!r} instead."
            ) from None


_ORDER = [Role.VIEWER, Role.CONTRIBUTOR, Role.APPROVER, Role.ADMIN]
