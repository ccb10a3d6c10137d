"""Release gates as data: criterion types, gate files, AI acceptance criteria."""

from passline.gates.criteria import CRITERIA, Criterion, describe, parse_criteria, parse_gate_yaml

__all__ = ["CRITERIA", "Criterion", "describe", "parse_criteria", "parse_gate_yaml"]
