"""Project retail with a sales dataset; alice is a contributor, vera a viewer."""

from __future__ import annotations

import pytest

from passline.data.connectors.memory import TableConnector
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as

pytest.importorskip("sklearn")


def sales_rows(n: int = 80, shift: float = 0.0) -> list[dict[str, float]]:
    return [
        {"week": i % 52 + 1, "price": 2.0 + (i % 9) * 0.5, "units": 120 - 9 * (i % 9) + shift}
        for i in range(n)
    ]


def setup_retail(workspace: Workspace) -> Services:
    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("retail")
    for user, role in (("alice", "contributor"), ("vera", "viewer")):
        admin.identity.create_user(user)
        admin.projects.add_member("retail", user, role)
    alice = services_as(workspace, "alice")
    alice.ingest.ingest("retail/sales", TableConnector(sales_rows()))
    return alice


@pytest.fixture
def alice(workspace: Workspace) -> Services:
    return setup_retail(workspace)


@pytest.fixture
def any_alice(any_workspace: Workspace) -> Services:
    return setup_retail(any_workspace)
