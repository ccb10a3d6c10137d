"""Project fraud (from the gates tests): alice (contributor) wrote fraud/scorer v1 (auc
0.83), bob is an approver; here carol is a viewer, and there are two gates: ``smoke``
(auc >= 0.8, passes) and ``strict`` (auc >= 0.95, fails)."""

from __future__ import annotations

import pytest

from passline.services.workspace import Services, Workspace
from tests.gates.conftest import setup_project

SMOKE = [{"type": "metric", "name": "auc", "op": ">=", "threshold": 0.8}]
STRICT = [{"type": "metric", "name": "auc", "op": ">=", "threshold": 0.95}]


def setup_envs(workspace: Workspace) -> Services:
    admin = setup_project(workspace)
    admin.identity.create_user("carol")
    admin.projects.add_member("fraud", "carol", "viewer")
    admin.gates.create("fraud", "smoke", SMOKE, "the basics")
    admin.gates.create("fraud", "strict", STRICT, "too strict for v1")
    return admin


@pytest.fixture
def envs(workspace: Workspace) -> Services:
    return setup_envs(workspace)


@pytest.fixture
def any_envs(any_workspace: Workspace) -> Services:
    return setup_envs(any_workspace)
