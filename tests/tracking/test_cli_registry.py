"""The runs and models commands end to end, including reproducing a run from its commit,
its uncommitted diff and its pinned dataset version."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from passline.cli.main import main

TRAIN = textwrap.dedent(
    """
    import sys
    import passline
    from sklearn.linear_model import LogisticRegression

    pl = passline.connect()
    C = float(sys.argv[1])
    with pl.start_run("fraud/scoring", inputs=["fraud/transactions"]) as run:
        table = pl.datasets.get("fraud/transactions").to_arrow()
        amount, hour = table.column("amount").to_pylist(), table.column("hour").to_pylist()
        X = [[a, h] for a, h in zip(amount, hour)]
        y = table.column("is_fraud").to_pylist()
        model = LogisticRegression(C=C).fit(X, y)
        run.log_params({"C": C, "target": "is_fraud"})
        run.log_metrics({"train_accuracy": model.score(X, y), "rows": float(len(y))})
        run.log_model(model, register_as="fraud/scorer")
    print(run.id)
    """
)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ws"
    monkeypatch.setenv("PASSLINE_HOME", str(home))
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "train.py").write_text(TRAIN)
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "train"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)
    return folder


def ingest(capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: int) -> None:
    data = tmp_path / f"tx-{rows}.csv"
    data.write_text(
        "amount,hour,is_fraud\n"
        + "".join(f"{i}.0,{i % 24},{int(i % 6 == 0)}\n" for i in range(rows))
    )
    assert cli(capsys, "data", "ingest", "fraud/transactions", str(data))[0] == 0


def train(repo: Path, c: str) -> str:
    done = subprocess.run(
        [sys.executable, "train.py", c], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.serial
def test_train_register_promote_rollback_and_reproduce(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "projects", "create", "fraud")
    ingest(capsys, tmp_path, 60)
    first = train(repo, "1.0")
    (repo / "train.py").write_text(TRAIN.replace("fit(X, y)", "fit(X, y)  # tuned"))  # dirty tree
    second = train(repo, "0.5")
    ingest(capsys, tmp_path, 90)  # the data moves on after training

    code, out, _ = cli(capsys, "runs", "list", "--filter", "params.C = '0.5'", "--json")
    assert [r["id"] for r in json.loads(out)["runs"]] == [second]
    code, out, _ = cli(capsys, "runs", "compare", first, second)
    assert code == 0 and "C" in out
    code, out, _ = cli(capsys, "models", "show", "fraud/scorer")
    assert code == 0 and "fraud/transactions@v1" in out
    assert cli(capsys, "models", "promote", "fraud/scorer", "1", "--reason", "first")[0] == 0
    assert cli(capsys, "models", "promote", "fraud/scorer", "2")[0] == 0
    code, out, _ = cli(capsys, "models", "rollback", "fraud/scorer", "--reason", "fpr up")
    assert code == 0 and "production v2 -> v1 (rollback) in" in " ".join(out.split())
    code, out, _ = cli(capsys, "models", "history", "fraud/scorer", "--json")
    assert [m["kind"] for m in json.loads(out)] == ["rollback", "promote", "promote"]
    code, out, _ = cli(capsys, "models", "card", "fraud/scorer")
    assert "# Model card: fraud/scorer version 1" in out and "fraud/transactions@v1" in out

    code, out, err = cli(capsys, "runs", "reproduce", second, "--repo", str(repo), "--json")
    result = json.loads(out)
    assert code == 0 and result["matches"], (result, err)
    new = json.loads(cli(capsys, "runs", "show", result["new"], "--json")[1])
    assert new["inputs"][0]["label"] == "fraud/transactions@v1"  # pinned, not today's v2
    assert new["tags"]["passline.reproduces"] == second
    original = json.loads(cli(capsys, "runs", "show", second, "--json")[1])
    # the same commit with the same uncommitted diff re-applied
    assert new["code"]["git"] == original["code"]["git"] and new["code"]["dirty"]
    assert new["code"]["diff_sha256"] == original["code"]["diff_sha256"]


def test_registry_errors_are_messages(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, "projects", "create", "fraud")
    code, _, err = cli(capsys, "models", "rollback", "fraud/ghost")
    assert code == 3 and "No model named 'fraud/ghost'" in err
    code, _, err = cli(
        capsys, "models", "policy", "fraud", "production", "--checks", '[{"name": "vibes"}]'
    )
    assert code == 2 and "Unknown release check 'vibes'" in err
    code, _, err = cli(capsys, "runs", "list", "--filter", "metrics.auc >> 2")
    assert code == 2 and "Cannot parse the run filter" in err
