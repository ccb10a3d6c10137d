"""``passline demo``: a populated workspace for a first look, built through the services.

Safe to run again: what exists is reused, and each run issues a fresh login token.
Later blocks (datasets, runs, models, LLM) add their part of the four demo scenarios here.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from passline.core.entities import Artifact, DatasetVersion
from passline.demo_datasets import ingest_demo_datasets
from passline.demo_models import train_demo_models
from passline.errors import Conflict
from passline.services.workspace import Services, Workspace

__all__ = ["DemoSummary", "run_demo"]

PROJECTS = {
    "retail-demand": "Weekly demand forecast per store and product (scenario 1).",
    "fraud-detection": "Card fraud scoring; which data trained which model (scenario 2).",
    "hr-assistant": "Internal HR chatbot; salary data visible to HR only (scenario 3).",
}
USERS = {"alice": ("Alice Author", "contributor"), "bob": ("Bob Approver", "approver")}


@dataclass
class DemoSummary:
    projects: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    artifacts: list[Artifact] = field(default_factory=list)
    edges: int = 0
    token: str = ""
    admin: str = ""
    datasets: list[DatasetVersion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def print(self, console: Console, url: str) -> None:
        console.print("[bold]Passline demo workspace ready[/bold]")
        console.print(f"  projects:  {', '.join(self.projects)}")
        for name, role in self.users.items():
            console.print(f"  user:      {name} ({role} in every demo project)")
        console.print(f"  artifacts: {len(self.artifacts)} stored, {self.edges} lineage edges")
        if self.artifacts:
            console.print(f"  lineage:   passline lineage {self.artifacts[-1].ref} --up")
        for version in self.datasets:
            state = "unchanged" if version.unchanged else version.status
            console.print(f"  dataset:   {version.label} {version.rows:,} rows ({state})")
        for line in self.models:
            console.print(f"  {line}")
        for note in self.notes:
            console.print(f"  note:      {note}")
        console.print(f"  login as:  {self.admin} (workspace admin)")
        console.print(f"  token:     {self.token}", soft_wrap=True)
        console.print(f"  open:      {url}/login and paste the token")


def run_demo(workspace: Workspace, evaluations: bool = True) -> DemoSummary:
    """The demo workspace. ``evaluations=False`` leaves out the evaluation and red-team
    runs (two minutes of the embedded model) and the release gate (it moves the retail
    alias): the UI tests build their own."""
    svc = workspace.services(workspace.local_context("cli"))
    summary = DemoSummary(admin=svc.ctx.actor.name)
    for name, description in PROJECTS.items():
        _ensure(lambda n=name, d=description: svc.projects.create(n, d))
        summary.projects.append(name)
    for user, (display, role) in USERS.items():
        _ensure(lambda u=user, d=display: svc.identity.create_user(u, d))
        for project in PROJECTS:
            svc.projects.add_member(project, user, role)
        summary.users[user] = role
    _retail_lineage(svc, summary)
    _fraud_lineage(svc, summary)
    summary.datasets, summary.notes = ingest_demo_datasets(svc, workspace.settings.home)
    summary.models = train_demo_models(workspace)
    if not summary.models[0].startswith("models: skipped"):
        from passline.demo_models import _as
        from passline.demo_serving import serve_demo_traffic

        summary.models += serve_demo_traffic(workspace, _as(workspace, "alice"), svc)
    from passline.demo_llm import hr_assistant_demo

    summary.models += hr_assistant_demo(workspace, svc, workspace.settings.home)
    if evaluations:
        from passline.demo_eval import evaluation_demo
        from passline.demo_redteam import redteam_demo

        summary.models += evaluation_demo(workspace, svc, workspace.settings.home)
        summary.models += redteam_demo(workspace, svc, workspace.settings.home)
        from passline.demo_gates import gates_demo

        summary.models += gates_demo(workspace, svc, workspace.settings.home)
        if not summary.models[0].startswith("models: skipped"):
            from passline.demo_pipeline import pipeline_demo

            summary.models += pipeline_demo(workspace, svc, workspace.settings.home)
    from passline.demo_backlog import backlog_demo

    summary.models += backlog_demo(workspace, svc, workspace.settings.home)
    summary.token = svc.identity.create_token("demo-login", ttl_days=7).secret
    return summary


def _ensure(create: Any) -> None:
    try:
        create()
    except Conflict:
        pass


def _retail_lineage(svc: Services, summary: DemoSummary) -> None:
    project = "retail-demand"
    rng = random.Random(7)
    sales = _csv(
        ["week", "store", "sku", "units"],
        [[w, s, k, rng.randint(0, 90)] for w in range(1, 9) for s in (1, 2, 3) for k in ("A", "B")],
    )
    stock = _csv(
        ["store", "sku", "on_hand"],
        [[s, k, rng.randint(10, 400)] for s in (1, 2, 3) for k in ("A", "B")],
    )
    features = _csv(
        ["week", "store", "sku", "units", "on_hand"],
        [
            [w, s, k, rng.randint(0, 90), rng.randint(10, 400)]
            for w in range(1, 9)
            for s in (1, 2, 3)
            for k in ("A", "B")
        ],
    )
    raw_sales = _put(svc, project, "erp_sales_2026w1-8.csv", sales)
    raw_stock = _put(svc, project, "inventory_drop.csv", stock)
    feat = _put(svc, project, "demand_features.csv", features)
    for ref, label in (
        ("source:erp-sales", "ERP sales (PostgreSQL)"),
        ("source:inventory-sftp", "Inventory CSV drop"),
    ):
        _ensure(lambda r=ref, la=label: svc.lineage.register(r, la, project))
    edges = [
        {"src": "source:erp-sales", "dst": raw_sales.ref, "type": "ingested_as"},
        {"src": "source:inventory-sftp", "dst": raw_stock.ref, "type": "ingested_as"},
        {"src": raw_sales.ref, "dst": feat.ref, "type": "derived_into"},
        {"src": raw_stock.ref, "dst": feat.ref, "type": "derived_into"},
    ]
    summary.edges += len(svc.lineage.link_many(edges))
    summary.artifacts += [raw_sales, raw_stock, feat]


def _fraud_lineage(svc: Services, summary: DemoSummary) -> None:
    project = "fraud-detection"
    rng = random.Random(11)
    header = ["txn_id", "amount", "country", "is_fraud"]
    a = _put(
        svc,
        project,
        "transactions_A.csv",
        _csv(
            header,
            [
                [
                    i,
                    round(rng.lognormvariate(3, 1), 2),
                    rng.choice("FR DE US".split()),
                    int(rng.random() < 0.02),
                ]
                for i in range(400)
            ],
        ),
    )
    b = _put(
        svc,
        project,
        "transactions_B.csv",
        _csv(
            header,
            [
                [
                    i,
                    round(rng.lognormvariate(3.3, 1.1), 2),
                    rng.choice("FR DE US BR".split()),
                    int(rng.random() < 0.03),
                ]
                for i in range(400)
            ],
        ),
    )
    _ensure(lambda: svc.lineage.register("source:card-switch", "Card switch export", project))
    summary.edges += len(
        svc.lineage.link_many(
            [
                {
                    "src": "source:card-switch",
                    "dst": a.ref,
                    "type": "ingested_as",
                    "attrs": {"month": "2026-10"},
                },
                {
                    "src": "source:card-switch",
                    "dst": b.ref,
                    "type": "ingested_as",
                    "attrs": {"month": "2026-11"},
                },
            ]
        )
    )
    summary.artifacts += [a, b]


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _put(svc: Services, project: str, name: str, content: bytes) -> Artifact:
    return svc.artifacts.put_stream(project, io.BytesIO(content), name, "text/csv")
