"""The five-block map: an empty project, a populated one (project fraud of tests/gates), and
the CLI, REST, SDK and UI surfaces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.errors import NotFound
from passline.sdk.client import Client
from passline.services.block_map import render_markdown, render_svg
from passline.services.workspace import Services, Workspace
from tests.gates.conftest import MODEL, setup_project
from tests.test_ui import login, text_of
from tests.test_ui_llm import page_of

BLOCKS = ["data_entry", "storage", "app_model", "model_operation", "security"]


def counts(found: dict, block: str) -> dict[str, int]:
    return {i["label"]: i["count"] for i in found["blocks"][block]["items"]}


def populate(fraud: Services, tmp_path: Path) -> None:
    csv = tmp_path / "stores.csv"
    csv.write_text("store,city\n1,Lyon\n2,Nice\n")
    fraud.sources.add("fraud", "stores-csv", "file", {"path": str(csv)}, "stores")
    fraud.sources.run("fraud", "stores-csv")
    fraud.registry.set_alias(MODEL, "production", 1)
    fraud.endpoints.create("fraud", "scorer", MODEL)
    fraud.guards.set_policy("fraud", "assistant", {"input": [{"type": "pii"}]})
    fraud.gates.create("fraud", "release", [{"type": "training_data_recorded"}])


def test_an_empty_project_has_five_unused_blocks(admin: Services) -> None:
    admin.projects.create("empty")
    found = admin.maturity.block_map("empty")
    assert list(found["blocks"]) == BLOCKS
    assert not any(b["used"] for b in found["blocks"].values())
    assert found["links"] == []
    svg = render_svg(found)
    assert svg.count('class="block unused"') == 5 and svg.count("not used") == 5
    assert "<line" not in svg
    assert render_markdown(found).count("not used") == 5


def test_a_populated_project_shows_its_counts_and_links(fraud: Services, tmp_path: Path) -> None:
    populate(fraud, tmp_path)
    found = fraud.maturity.block_map("fraud")
    assert all(b["used"] for b in found["blocks"].values())
    assert counts(found, "data_entry") == {"file sources": 1, "records ingested": 62}
    storage = counts(found, "storage")
    assert storage["datasets"] == 2 and storage["dataset versions"] == 2
    assert storage["artifacts"] == 1 and storage["artifact bytes"] > 0
    assert found["blocks"]["storage"]["backend"] in ("sqlite", "postgresql")
    assert counts(found, "app_model") == {"endpoints": 1}
    assert counts(found, "model_operation") == {
        "registered models": 1,
        "model versions": 1,
        "aliases": 1,
    }
    security = counts(found, "security")
    assert security["guard policies"] == 1 and security["PII redaction"] == 1
    assert security["release gates"] == 1 and security["audit entries"] > 0
    links = {(k["from"], k["to"], k["label"]): k["count"] for k in found["links"]}
    assert links == {
        ("data_entry", "storage", "dataset versions ingested"): 2,
        ("storage", "model_operation", "model versions trained on dataset versions"): 1,
        ("model_operation", "app_model", "endpoints serve registered models"): 1,
        ("security", "model_operation", "gates check models and prompts"): 1,
        ("app_model", "security", "guard policies filter LLM calls"): 1,
    }
    svg = render_svg(found)
    assert svg.count('class="block used"') == 5 and svg.count("<line") == 5
    assert "endpoints: 1" in svg and "metadata: " in svg


def test_an_unknown_project_is_not_found(admin: Services) -> None:
    with pytest.raises(NotFound, match="nope"):
        admin.maturity.block_map("nope")


def test_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    setup_project(workspace)
    workspace.close()
    assert main(["map", "fraud"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Five-block map: fraud") and "- registered models: 1" in out
    assert main(["map", "fraud", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["blocks"]["storage"]["used"] is True
    assert main(["map", "fraud", "--format", "svg", "-o", str(tmp_path / "m.svg")]) == 0
    assert (tmp_path / "m.svg").read_text().startswith("<svg")
    assert main(["map", "fraud", "--format", "pdf"]) == 2
    assert "--format must be one of md, json, svg" in capsys.readouterr().err
    assert main(["map", "nope"]) != 0


def test_rest(app_client: TestClient, fraud: Services) -> None:
    headers = {"Authorization": f"Bearer {fraud.identity.create_token('t').secret}"}
    found = app_client.get("/api/v1/projects/fraud/map", headers=headers)
    assert found.status_code == 200 and found.json()["project"] == "fraud"
    svg = app_client.get("/api/v1/projects/fraud/map?format=svg", headers=headers)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    md = app_client.get("/api/v1/projects/fraud/map?format=md", headers=headers)
    assert md.text.startswith("# Five-block map: fraud")
    assert app_client.get("/api/v1/projects/nope/map", headers=headers).status_code == 404
    assert app_client.get("/api/v1/projects/fraud/map").status_code == 401


def test_sdk_on_both_transports(sdk: Client, workspace: Workspace) -> None:
    setup_project(workspace)
    assert sdk.maturity.block_map("fraud")["blocks"]["model_operation"]["used"] is True


def test_ui_page(app_client: TestClient, fraud: Services, tmp_path: Path) -> None:
    populate(fraud, tmp_path)
    fraud.projects.create("empty")
    login(app_client, fraud.identity.create_token("pm").secret)
    assert 'id="map-link"' in page_of(app_client, "/maturity?project=fraud")
    page = page_of(app_client, "/maturity/map?project=fraud")
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="block-map"' in page
    assert page.count('class="block used"') == 5
    assert "Model operation → App-model interaction: endpoints serve" in text_of(page)
    empty = page_of(app_client, "/maturity/map?project=empty")
    assert empty.count('class="block unused"') == 5 and "No links between blocks" in empty
    assert "Pick a project" in page_of(app_client, "/maturity/map")
    assert app_client.get("/maturity/map?project=nope").status_code == 404
