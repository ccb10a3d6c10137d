"""Dataset references: ``[project/]name[@selector]``.

The selector is ``latest`` (default: the newest version that passed its checks), ``vN``
(version number N) or a version id ``dsv_...``. The project may be left out when the name
is unique among the projects the caller can see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from passline.errors import InvalidInput

__all__ = ["DatasetRef", "parse_dataset_ref"]

_REF = re.compile(
    r"^(?:(?P<project>[a-z0-9][a-z0-9._-]{0,62})/)?(?P<name>[a-z0-9][a-z0-9._-]{0,62})"
    r"(?:@(?P<selector>latest|v[0-9]+|dsv_[0-9a-f]{24}))?$"
)


@dataclass(frozen=True)
class DatasetRef:
    project: str | None
    name: str
    selector: str = "latest"

    def __str__(self) -> str:
        prefix = f"{self.project}/" if self.project else ""
        return f"{prefix}{self.name}@{self.selector}"


def parse_dataset_ref(text: str) -> DatasetRef:
    match = _REF.match(text.strip())
    if not match:
        raise InvalidInput(
            "A dataset reference looks like 'project/name', 'name@latest', 'name@v3' or "
            f"'name@dsv_<24 hex>'; names are lowercase letters, digits, '.', '_', '-'. "
            f"Got {text!r} instead."
        )
    return DatasetRef(match["project"], match["name"], match["selector"] or "latest")
