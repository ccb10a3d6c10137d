"""Which files of a folder to index, named by their path relative to it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from passline.errors import InvalidInput
from passline.rag.parsers import PARSERS

__all__ = ["collect"]


def collect(
    paths: Sequence[str | Path], exclude: Sequence[Path] = ()
) -> Iterator[tuple[str, Path]]:
    """(relative POSIX path, file) for each file named, and each file with a known
    extension under each folder named (hidden files and folders skipped), sorted."""
    skip = {p.resolve() for p in exclude}
    if not paths:
        raise InvalidInput("Name at least one file or folder to index.")
    for given in map(Path, paths):
        if given.is_file():
            yield given.name, given
        elif given.is_dir():
            for found in sorted(given.rglob("*")):
                rel = found.relative_to(given)
                hidden = any(part.startswith(".") for part in rel.parts)
                if found.is_file() and not hidden and found.resolve() not in skip:
                    if found.suffix.lower() in PARSERS:
                        yield rel.as_posix(), found
        else:
            raise InvalidInput(f"{given} is neither a file nor a folder.", hint="Check the path.")
