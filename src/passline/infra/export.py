"""The export targets by name, and the two calls the CLI makes: render, then write."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from passline.errors import InvalidInput
from passline.infra.ci import CiSpec, ci_files
from passline.infra.compose import compose_files
from passline.infra.files import write_files
from passline.infra.kubernetes import kubernetes_files
from passline.infra.spec import DeploySpec
from passline.infra.terraform import terraform_files

__all__ = ["TARGETS", "export", "export_files", "init_ci"]

TARGETS: dict[str, Callable[[DeploySpec], dict[str, str]]] = {
    "compose": compose_files,
    "kubernetes": kubernetes_files,
    "terraform": terraform_files,
}


def export_files(target: str, spec: DeploySpec) -> dict[str, str]:
    """The target's files as text by relative path; nothing is written."""
    if target not in TARGETS:
        raise InvalidInput(
            f"The 'target' parameter must be one of {', '.join(TARGETS)}. Got {target!r} instead."
        )
    return TARGETS[target](spec)


def export(target: str, out: Path, spec: DeploySpec, *, force: bool = False) -> list[Path]:
    """Write the target's files under ``out``, all or none; return their paths."""
    return write_files(out, export_files(target, spec), force=force)


def init_ci(provider: str, out: Path, spec: CiSpec, *, force: bool = False) -> list[Path]:
    """Write the provider's pipeline file under ``out`` (the repository root)."""
    return write_files(out, ci_files(provider, spec), force=force)
