"""An HR workspace: policies every employee may read, salaries for the HR group only.

``hr`` builds it on each backend (SQLite and PostgreSQL). ``fake_llm`` stands in for
``svc.llm.chat`` in unit tests and keeps every message a model would have been sent; the
real model path is tested separately (tests/rag/test_ask_real.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from passline.llm.tracing import GENAI
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as

pytest.importorskip("sqlite_vec")
pytest.importorskip("sentence_transformers")

SALARY_FIGURES = ["185,000", "72,000", "58,500", "240,000"]
POLICIES = {
    "policies/leave.md": (
        "# Leave policy\n\n"
        "Every employee gets 25 days of paid leave a year. Unused days expire on 31 March "
        "of the following year.\n\n"
        "Sick leave needs a doctor's note after three days. Parental leave is 16 weeks at "
        "full pay."
    ),
    "policies/remote.md": (
        "# Remote work\n\n"
        "Employees may work from home up to three days a week. The office in Lyon opens "
        "at 8am. Equipment for home offices is reimbursed up to 400 EUR once."
    ),
}
SALARIES = {
    "salaries/bands-2026.txt": (
        "Salary bands 2026 (confidential, HR only)\n\n"
        "The CTO earns 185,000 EUR a year. A senior engineer earns 72,000 EUR. "
        "A junior analyst earns 58,500 EUR. The CEO's package is 240,000 EUR."
    ),
}
ACL_YAML = "salaries/*: {groups: [hr-team]}\npolicies/*: {groups: [employees]}\n"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@dataclass
class HR:
    ws: Workspace
    admin: Services
    docs: Path
    acl: Path

    def as_user(self, name: str) -> Services:
        return services_as(self.ws, name)


@pytest.fixture
def hr(any_workspace: Workspace, tmp_path: Path) -> HR:
    """alice (HR and employee), bob (employee), carol (no group), all project viewers;
    dave is not a member of the project. Indexed."""
    admin = any_workspace.services(any_workspace.local_context())
    admin.projects.create("hr")
    for user in ("alice", "bob", "carol", "dave"):
        admin.identity.create_user(user)
    admin.identity.create_user("hr-bot", kind="service")
    for user in ("alice", "bob", "carol"):
        admin.projects.add_member("hr", user, "viewer")
    admin.groups.create("hr-team")
    admin.groups.create("employees")
    for group, user in (("hr-team", "alice"), ("employees", "alice"), ("employees", "bob")):
        admin.groups.add_member(group, user)
    docs = write_tree(tmp_path / "docs", {**POLICIES, **SALARIES})
    acl = tmp_path / "ACL.yaml"
    acl.write_text(ACL_YAML)
    admin.rag.create_collection("hr", "handbook", chunk_tokens=40)
    admin.rag.index("hr/handbook", [docs], acl_file=acl)
    return HR(any_workspace, admin, docs, acl)


@dataclass
class FakeLLM:
    """Answers with a fixed text citing [1]; keeps the messages it was sent."""

    answer: str = "Employees get 25 days of paid leave a year [1]."
    calls: list[dict[str, Any]] = field(default_factory=list)

    def chat(self, messages: list[dict[str, str]], **options: Any) -> Any:
        self.calls.append({"messages": messages, **options})
        trace = options.get("trace")
        if trace is not None:
            with trace.span("chat", kind="chat", **{GENAI.REQUEST_MODEL: "fake"}):
                pass
        return SimpleNamespace(
            text=self.answer,
            data=None,
            trace_id=trace.id if trace else None,
            blocked=False,
            guard=[],
            usage={"input_tokens": 10, "output_tokens": 5},
            cost_usd=0.0,
            model="fake",
        )

    def sent_passages(self) -> str:
        """Everything sent but the question itself (which the asker wrote)."""
        return "\n".join(
            m["content"] for call in self.calls for m in call["messages"] if m["role"] != "user"
        )


@pytest.fixture
def fake_llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    fake = FakeLLM()
    monkeypatch.setattr(Services, "llm", property(lambda self: fake), raising=False)
    yield fake
