"""What a run records about where it ran: the code version and the environment.

Captured by the client (the server cannot see your checkout): the git commit, whether the
tree had uncommitted changes (and the diff, stored as an artifact), the entry point, the
Python version and the installed packages.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["code_version", "environment"]

_MAX_DIFF = 5 * 1024 * 1024


def _git(*args: str, cwd: Path) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def code_version(cwd: Path | None = None) -> tuple[dict[str, Any], str | None]:
    """The commit, dirty flag and entry point; and the uncommitted diff, when there is one."""
    folder = cwd or Path.cwd()
    info: dict[str, Any] = {"entry_point": " ".join(sys.argv) or None}
    commit = _git("rev-parse", "HEAD", cwd=folder)
    if commit is None:
        info["git"] = None
        return info, None
    status = _git("status", "--porcelain", cwd=folder) or ""
    diff = _git("diff", "HEAD", cwd=folder) or ""
    info.update(
        git=commit.strip(),
        dirty=bool(status.strip()),
        branch=(_git("rev-parse", "--abbrev-ref", "HEAD", cwd=folder) or "").strip() or None,
    )
    if diff:
        info["diff_sha256"] = hashlib.sha256(diff.encode()).hexdigest()
    return info, diff[:_MAX_DIFF] if diff else None


def environment() -> dict[str, Any]:
    """Python, platform and every installed distribution with its version."""
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions() if d.metadata["Name"]
    )
    fingerprint = hashlib.sha256("\n".join(packages).encode()).hexdigest()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": packages,
        "fingerprint": fingerprint,
    }
