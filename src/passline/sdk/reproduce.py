"""Reproducing a run: the same code (commit and uncommitted diff), the same dataset
versions, the same entry point; then the metrics side by side.

The recorded commit is checked out into a temporary git worktree and the recorded diff is
applied to it. The entry point runs there with ``PASSLINE_PIN_DATASETS`` set: while it is,
the SDK resolves ``project/name`` (and ``@latest``) to the version the original run used,
so the script reads the data it read then, not today's. The new run is tagged
``passline.reproduces=<original id>``.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passline.core.entities import Run
from passline.errors import InvalidInput, NotFound, PasslineError

__all__ = ["PIN_ENV", "REPRODUCES_ENV", "Reproduction", "pinned_version", "reproduce"]

PIN_ENV = "PASSLINE_PIN_DATASETS"
REPRODUCES_ENV = "PASSLINE_REPRODUCES"


def pinned_version(ref: str) -> str:
    """``ref`` with its version pinned when a reproduction is running, else unchanged."""
    pins = os.environ.get(PIN_ENV)
    if not pins:
        return ref
    from passline.data.refs import parse_dataset_ref

    parsed = parse_dataset_ref(ref)
    if parsed.selector != "latest":
        return ref
    table: dict[str, str] = json.loads(pins)
    for dataset, version in table.items():
        project, _, name = dataset.partition("/")
        if name == parsed.name and (parsed.project in (None, project)):
            return f"{dataset}@{version}"
    return ref


@dataclass
class Reproduction:
    original: Run
    new: Run | None = None
    returncode: int = 0
    output: str = ""
    metrics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return (
            self.returncode == 0 and self.new is not None and all(m["same"] for m in self.metrics)
        )


def reproduce(
    client: Any, run_id: str, repo: Path, tolerance: float = 1e-9, timeout: float = 3600
) -> Reproduction:
    original = client.runs.get(run_id)
    command = _entry_point(original)
    with tempfile.TemporaryDirectory(prefix="passline-reproduce-") as folder:
        worktree = Path(folder) / "code"
        _checkout(client, original, repo, worktree)
        done = subprocess.run(
            command,
            cwd=worktree,
            env=_environment(original),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        subprocess.run(
            ["git", "worktree", "remove", "--force", str(worktree)],
            cwd=repo,
            capture_output=True,
            check=False,
        )
    result = Reproduction(
        original, returncode=done.returncode, output=(done.stdout + done.stderr)[-4000:]
    )
    result.new = _new_run(client, original)
    if result.new is not None:
        result.metrics = compare_metrics(original.metrics, result.new.metrics, tolerance)
    return result


def _entry_point(run: Run) -> list[str]:
    entry = run.entry_point or run.code.get("entry_point")
    if not entry:
        raise InvalidInput(
            f"Run {run.id} recorded no entry point, so it cannot be re-run.",
            hint="Runs started from a script (python train.py ...) record one.",
        )
    parts = shlex.split(entry)
    if parts and parts[0].endswith(".py"):
        parts = [sys.executable, *parts]
    elif parts and Path(parts[0]).name.startswith("python"):
        parts[0] = sys.executable
    return parts


def _checkout(client: Any, run: Run, repo: Path, worktree: Path) -> None:
    commit = run.code.get("git")
    if not commit:
        raise InvalidInput(f"Run {run.id} recorded no git commit, so its code cannot be restored.")
    added = subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), commit],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if added.returncode != 0:
        raise NotFound(
            f"Commit {commit[:12]} of run {run.id} is not in the repository at {repo}: "
            f"{added.stderr.strip()}",
            hint="Run from a clone that has the commit (git fetch).",
        )
    if run.code.get("dirty"):
        diff = worktree / ".passline-uncommitted.diff"
        client.runs.download_artifact(run.id, "code/uncommitted.diff", diff)
        applied = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", str(diff)],
            cwd=worktree,
            capture_output=True,
            text=True,
        )
        diff.unlink(missing_ok=True)
        if applied.returncode != 0:
            raise PasslineError(
                f"The recorded uncommitted changes of run {run.id} do not apply: "
                f"{applied.stderr.strip()}"
            )


def _environment(run: Run) -> dict[str, str]:
    pins = {i["dataset"]: i["version"] for i in run.inputs}
    return {**os.environ, PIN_ENV: json.dumps(pins), REPRODUCES_ENV: run.id}


def _new_run(client: Any, original: Run) -> Run | None:
    page = client.runs.search(
        experiments=[original.experiment_id],
        filter=f"tags.`passline.reproduces` = '{original.id}'",
        max_results=1,
    )
    return page.runs[0] if page.runs else None


def compare_metrics(
    old: dict[str, Any], new: dict[str, Any], tolerance: float
) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        rows.append(
            {"metric": key, "original": a, "reproduced": b, "same": _close(a, b, tolerance)}
        )
    return rows


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    return a == b
