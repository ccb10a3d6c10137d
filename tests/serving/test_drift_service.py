"""Drift on stored data: served traffic against the training data found through lineage,
dataset versions against each other, files against a version; bad inputs named."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.data.connectors.memory import TableConnector
from passline.errors import InvalidInput, NotFound
from passline.services.workspace import Services
from tests.serving.conftest import FEATURES, MODEL, flush, transactions

URL = f"/v1/models/{MODEL}@production/predict"
ENDPOINT = "shop/scorer-production"


def send(gateway: TestClient, token: str, table: pa.Table) -> None:
    rows = table.select(FEATURES).to_pylist()
    for start in range(0, len(rows), 100):
        answer = gateway.post(
            URL,
            json={"records": rows[start : start + 100]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
    flush(gateway)


def test_shifted_traffic_drifts_against_the_training_data(
    gateway: TestClient, token: str, served: Services
) -> None:
    send(gateway, token, transactions(300, seed=11))
    calm = served.drift.endpoint_drift(ENDPOINT, "1h")
    assert calm["reference"] == "shop/transactions@v1"  # found through the version's lineage
    assert calm["rows"] == 300 and set(calm["columns"]) == set(FEATURES)
    assert not calm["columns"]["amount"]["drifted"]
    assert calm["columns"]["amount"]["test"]["type"] == "ks"  # 400 reference rows: KS
    send(gateway, token, transactions(900, seed=12, shift=1.5))
    shifted = served.drift.endpoint_drift(ENDPOINT, "1h")
    assert shifted["rows"] == 1200
    amount = shifted["columns"]["amount"]
    assert amount["drifted"] and amount["p_value"] < 1e-6
    assert shifted["prediction"]["status"] == "checked"
    assert shifted["prediction"]["drifted"]  # more large amounts: more predicted fraud


def test_an_empty_window_says_so(served: Services) -> None:
    served.endpoints.create("shop", "quiet", MODEL)
    report = served.drift.endpoint_drift("shop/quiet", "15m")
    assert report["rows"] == 0 and report["drifted"] is False
    assert report["message"] == "No primary traffic in the last 15m."


def test_versions_compare_and_bad_columns_are_reported(served: Services) -> None:
    base = transactions(500, seed=1)
    served.ingest.ingest("shop/batch", TableConnector(base))
    empty_amounts = base.set_column(
        base.column_names.index("amount"), "amount", pa.nulls(base.num_rows, pa.float64())
    )
    constant_hours = empty_amounts.set_column(
        empty_amounts.column_names.index("hour"), "hour", pa.array([7] * base.num_rows)
    )
    served.ingest.ingest("shop/batch", TableConnector(constant_hours))
    report = served.drift.compare("shop/batch@v1", "shop/batch@v2")
    assert report["columns"]["amount"]["status"] == "not_enough_data"
    assert report["columns"]["hour"]["status"] == "checked"
    assert report["columns"]["hour"]["drifted"]  # every hour became 7
    assert not report["columns"]["channel"]["drifted"]
    table = served.drift.compare("shop/batch@v1", base.select(["amount", "channel"]))
    assert table["missing_columns"]["hour"] == "current"
    with pytest.raises(InvalidInput, match="no rows"):
        served.drift.compare("shop/batch@v1", base.slice(0, 0))
    with pytest.raises(InvalidInput, match="project/name@vN"):
        served.drift.compare("shop/batch", "shop/batch@v2")
    with pytest.raises(NotFound):
        served.drift.compare("shop/nope@v1", "shop/batch@v2")


def test_a_drift_share_monitor_alerts(gateway: TestClient, token: str, served: Services) -> None:
    send(gateway, token, transactions(600, seed=5, shift=2.0))
    served.monitors.add(ENDPOINT, "drift", "drift_share", 0.3, window="1h", min_rows=100)
    outcome = served.monitors.run("shop/drift")
    assert outcome["status"] == "alert" and outcome["value"] >= 0.3
    assert outcome["rows"] == 600


def test_the_cli_compares_a_file_and_a_version(
    served: Services,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(served.workspace.settings.home))
    path = tmp_path / "today.parquet"
    pq.write_table(transactions(2_000, seed=4, shift=1.0).select(FEATURES), path)
    code = main(
        [
            "monitor",
            "drift",
            "--reference",
            "shop/transactions@v1",
            "--current",
            str(path),
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["current_rows"] == 2_000 and report["columns"]["amount"]["drifted"]
    code = main(
        [
            "monitor",
            "drift",
            "--reference",
            "shop/transactions@v1",
            "--current",
            "shop/transactions@v1",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and "no drift" in out
    assert main(["monitor", "drift", "--current", str(path)]) != 0
    assert "Give --reference" in capsys.readouterr().err
