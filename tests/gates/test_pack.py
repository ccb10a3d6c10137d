"""The audit pack: everything about a version in JSON and HTML, with a digest that changes
when a file does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from passline.cli.main import main
from passline.gates.pack import verify_pack
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.gates.conftest import MODEL, setup_project


def test_the_pack_holds_lineage_data_approvals_gates_card_and_audit(
    workspace: Workspace, fraud: Services, tmp_path: Path
) -> None:
    services_as(workspace, "bob").registry.approve(MODEL, 1, "fine")
    fraud.gates.create("fraud", "release", [{"type": "approved_by_non_author"}])
    fraud.gates.check("fraud", "release", f"{MODEL}@1")
    pack = fraud.gates.audit_pack(f"{MODEL}@1")
    assert pack["subject"]["label"] == "fraud/scorer/v1"
    assert any(n["ref"].startswith("dataset_version:") for n in pack["lineage"]["nodes"])
    assert pack["data"][0]["version"] == "fraud/transactions@v1"
    assert pack["data"][0]["sensitivity"] and "quality" in pack["data"][0]
    assert [a["approver"] for a in pack["approvals"]] == ["bob"]
    assert pack["gates"][0]["passed"] is True
    assert pack["model_card"].startswith("# Model card: fraud/scorer version 1")
    assert {"model.approve", "gate.check"} <= {e["action"] for e in pack["audit"]}

    from passline.gates.pack import write_pack

    written = write_pack(pack, tmp_path / "pack")
    assert written["files"] == ["pack.json", "pack.html", "SHA256SUMS"]
    assert verify_pack(tmp_path / "pack")
    page = (tmp_path / "pack" / "pack.html").read_text()
    assert "<h2>Release gates</h2>" in page and "bob" in page
    (tmp_path / "pack" / "pack.json").write_text("{}")
    assert not verify_pack(tmp_path / "pack")


def test_cli_audit_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    setup_project(workspace)
    workspace.close()
    out = tmp_path / "pack"
    assert main(["audit", "pack", f"{MODEL}@1", "-o", str(out), "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert len(written["digest"]) == 64 and verify_pack(out)
    assert json.loads((out / "pack.json").read_text())["subject"]["version"] == 1
    assert main(["audit", "pack", "fraud/nope@1", "-o", str(out)]) == 3  # not found
