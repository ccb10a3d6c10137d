"""Write a set of generated files all at once, or not at all.

Every file is first written to a temporary folder beside the destination; only when all of
them are written are they moved into place, one ``os.replace`` each. A failure before the
move leaves the destination as it was. Existing files are refused unless ``force`` is given,
and the refusal names every one of them before anything is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from passline.errors import Conflict, InvalidInput

__all__ = ["write_files"]


def write_files(out: Path, files: Mapping[str, str], *, force: bool = False) -> list[Path]:
    """Write ``files`` (relative POSIX path -> text) under ``out``; return the paths written.

    Raises:
        InvalidInput: ``out`` (or a folder a file goes in) is an existing file, or a relative
            path leaves ``out``.
        Conflict: a file exists and ``force`` is false; nothing is written.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidInput(
            f"The output folder {out} is a file.", hint="Pass --out a folder (new or existing)."
        )
    targets = {rel: out / _relative(rel) for rel in files}
    _check_targets(out, list(targets.values()), force)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".passline-", dir=out))
    except OSError as exc:
        raise _unwritable(out, exc) from exc
    try:
        _stage(staging, files)
        for rel, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / _relative(rel), target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        if isinstance(exc, OSError):
            raise _unwritable(out, exc) from exc
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return list(targets.values())


def _stage(staging: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        staged = staging / _relative(rel)
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_text(text, encoding="utf-8", newline="\n")


def _unwritable(out: Path, exc: OSError) -> InvalidInput:
    return InvalidInput(
        f"Cannot write to {out}: {exc.strerror or exc}.",
        hint="Check the path and its permissions, or choose another --out.",
    )


def _relative(rel: str) -> Path:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise InvalidInput(f"A generated file must stay inside the output folder. Got {rel!r}.")
    return Path(*path.parts)


def _check_targets(out: Path, targets: list[Path], force: bool) -> None:
    for target in targets:
        for parent in target.relative_to(out).parents:
            folder = out / parent
            if folder != out and folder.exists() and not folder.is_dir():
                raise InvalidInput(
                    f"{folder} is a file, but a generated file goes inside it.",
                    hint="Move it away or choose another --out.",
                )
        if target.is_dir():
            raise InvalidInput(f"{target} is a folder, but a generated file goes there.")
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise Conflict(
            f"These files exist already: {', '.join(existing)}. Nothing was written.",
            hint="Pass --force to overwrite them, or choose another --out.",
        )
