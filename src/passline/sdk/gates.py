"""Release gates and the maturity scorecard from Python: ``client.gates``, ``client.maturity``.

>>> gates = client.gates
>>> gates.create("retail-demand", "release", file="gate.yaml")
>>> result = gates.check("retail-demand/release", "retail-demand/demand-forecast@2")
>>> result.passed, [r["criterion"] for r in result.failing()]
>>> client.maturity.scorecard("retail-demand")["levels"]["mlops"]["level"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from passline.errors import InvalidInput
from passline.gates.criteria import parse_gate_yaml
from passline.gates.entities import Gate, GateEvaluation
from passline.sdk.tracking import _Namespace

__all__ = ["GatesAPI", "MaturityAPI"]


def _split(gate: str) -> tuple[str, str]:
    project, _, name = gate.partition("/")
    if not project or not name:
        raise InvalidInput(f"A gate is named PROJECT/NAME. Got {gate!r} instead.")
    return project, name


class GatesAPI(_Namespace):
    """Gates of a project, their checks and the AI acceptance criteria; ``client.gates``."""

    def create(
        self,
        project: str,
        name: str,
        criteria: list[dict[str, Any]] | None = None,
        description: str = "",
        file: str | Path | None = None,
        replace: bool = False,
    ) -> Gate:
        """Define a gate from ``criteria`` (mappings with a ``type``) or a YAML ``file``."""
        if file is not None:
            spec = parse_gate_yaml(Path(file).read_text("utf-8"))
            criteria, description = spec["criteria"], description or spec["description"]
        return self._call(
            "gates.create",
            Gate,
            project=project,
            name=name,
            criteria=criteria,
            description=description,
            replace=replace,
        )

    def get(self, gate: str) -> Gate:
        project, name = _split(gate)
        return self._call("gates.get", Gate, project=project, name=name)

    def list(self, project: str) -> list[Gate]:
        return self._call("gates.list", list[Gate], project=project)

    def check(self, gate: str, target: str) -> GateEvaluation:
        """Check ``gate`` (``P/NAME``) for ``target`` (``P/MODEL@V`` or ``prompt:P/N@V``)."""
        project, name = _split(gate)
        return self._call("gates.check", GateEvaluation, project=project, name=name, target=target)

    def evaluations(self, gate: str, limit: int = 20) -> list[GateEvaluation]:
        project, name = _split(gate)
        return self._call(
            "gates.evaluations", list[GateEvaluation], project=project, name=name, limit=limit
        )

    def types(self) -> list[dict[str, Any]]:
        """Every criterion type with its parameters."""
        return self._call("gates.types", None)

    def audit_pack(self, target: str, folder: str | Path | None = None) -> dict[str, Any]:
        """The audit pack of ``target`` (``P/MODEL@V`` or ``prompt:P/N@V``); with ``folder``,
        written there as JSON, HTML and ``SHA256SUMS`` (``digest`` in the returned dict)."""
        pack = self._call("gates.audit_pack", None, target=target)
        if folder is None:
            return pack
        from passline.gates.pack import write_pack

        return {**write_pack(pack, folder), "pack": pack}

    def criteria(self, genai: bool = False) -> dict[str, Any]:
        """The AI acceptance criteria: ``criteria``, ``markdown`` and ``gate_yaml``."""
        return self._call("gates.acceptance", None, genai=genai)


class MaturityAPI(_Namespace):
    """The DevOps, MLOps and LLMOps scorecard; ``client.maturity``."""

    def scorecard(self, project: str | None = None) -> dict[str, Any]:
        return self._call("maturity.scorecard", None, project=project)

    def block_map(self, project: str) -> dict[str, Any]:
        """The five-block map of ``project``: ``blocks`` (each ``used``, with its ``items``)
        and the ``links`` between blocks that exist."""
        return self._call("maturity.block_map", None, project=project)
