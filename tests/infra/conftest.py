"""Shared helpers: render every target and provider into a folder and parse what was written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from passline.infra import CiSpec, DeploySpec, export, init_ci


def load_yaml_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]


@pytest.fixture
def spec() -> DeploySpec:
    return DeploySpec(image="registry.example.com/passline:0.1", gateway_replicas=3)


@pytest.fixture
def compose_dir(tmp_path: Path, spec: DeploySpec) -> Path:
    export("compose", tmp_path / "compose", spec)
    return tmp_path / "compose"


@pytest.fixture
def k8s_docs(tmp_path: Path, spec: DeploySpec) -> list[dict[str, Any]]:
    export("kubernetes", tmp_path / "k8s", spec)
    return load_yaml_all(tmp_path / "k8s" / "passline.yaml")


@pytest.fixture
def ci_spec() -> CiSpec:
    return CiSpec(project="shop", suite="smoke", gate="release", model="scorer")


def write_ci(tmp_path: Path, provider: str, spec: CiSpec) -> Path:
    return init_ci(provider, tmp_path / provider, spec)[0]
