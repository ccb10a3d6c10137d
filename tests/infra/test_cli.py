"""passline infra export and passline ci init through the CLI, errors and refusals included."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from passline.cli.main import app, main
from passline.errors import Conflict, InvalidInput

runner = CliRunner()


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("target", "files"),
    [
        ("compose", ["docker-compose.yml", "passline.env.example"]),
        ("kubernetes", ["passline.yaml"]),
        ("terraform", ["versions.tf", "variables.tf", "main.tf", "outputs.tf"]),
    ],
)
def test_export_writes_the_target_and_needs_no_workspace(
    tmp_path: Path, target: str, files: list[str]
) -> None:
    result = runner.invoke(app, ["infra", "export", "--target", target, "--image", "acme/p:1"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "deploy" / target
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    assert "acme/p:1" in "".join((out / f).read_text() for f in files)
    assert not (tmp_path / "ws").exists()  # no workspace, no database


def test_export_options_and_json(tmp_path: Path) -> None:
    args = ["infra", "export", "-t", "kubernetes", "-o", "k8s", "--gateway-replicas", "5"]
    args += ["--database-url-secret", "db-creds", "--namespace", "ml", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "k8s" / "passline.yaml").read_text()
    assert "name: db-creds" in text and "namespace: ml" in text and "minReplicas: 5" in text
    assert '"files"' in result.output


def test_existing_files_are_kept_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "k8s"
    out.mkdir()
    (out / "passline.yaml").write_text("mine\n")
    code = main(["infra", "export", "--target", "kubernetes", "--out", str(out)])
    assert code == Conflict.exit_code
    assert "--force" in capsys.readouterr().err
    assert (out / "passline.yaml").read_text() == "mine\n"
    assert sorted(p.name for p in out.iterdir()) == ["passline.yaml"]  # no temp folder left
    assert main(["infra", "export", "-t", "kubernetes", "-o", str(out), "--force"]) == 0
    assert "kind: Deployment" in (out / "passline.yaml").read_text()


def test_a_partly_existing_module_is_left_whole(tmp_path: Path) -> None:
    out = tmp_path / "tf"
    out.mkdir()
    (out / "main.tf").write_text("# mine\n")
    assert main(["infra", "export", "-t", "terraform", "-o", str(out)]) == Conflict.exit_code
    assert [p.name for p in out.iterdir()] == ["main.tf"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "helm"], "must be one of compose, kubernetes, terraform. Got 'helm'"),
        (["-t", "compose", "--gateway-replicas", "0"], "'gateway_replicas' parameter"),
        (["-t", "compose", "--out", "afile"], "is a file"),
    ],
)
def test_bad_export_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(["infra", "export", *args]) == InvalidInput.exit_code
    assert message in capsys.readouterr().err
    assert not (tmp_path / "deploy").exists()
    assert (tmp_path / "afile").read_text() == "x"


def test_ci_init_writes_each_provider(tmp_path: Path) -> None:
    for provider, path in [
        ("github", ".github/workflows/passline.yml"),
        ("gitlab", ".gitlab-ci.yml"),
        ("jenkins", "Jenkinsfile"),
    ]:
        args = ["ci", "init", "--provider", provider, "-p", "shop", "--model", "scorer"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "shop/scorer" in (tmp_path / path).read_text()


def test_ci_init_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ci", "init", "--provider", "circleci"]) == InvalidInput.exit_code
    assert "github, gitlab, jenkins" in capsys.readouterr().err
    (tmp_path / "Jenkinsfile").write_text("mine")
    assert main(["ci", "init", "--provider", "jenkins"]) == Conflict.exit_code
    assert (tmp_path / "Jenkinsfile").read_text() == "mine"
    (tmp_path / ".github").write_text("a file")
    assert main(["ci", "init", "--provider", "github"]) == InvalidInput.exit_code
    assert "is a file" in capsys.readouterr().err


def test_write_files_refuses_paths_outside_and_unwritable_folders(tmp_path: Path) -> None:
    from passline.infra import write_files

    with pytest.raises(InvalidInput, match="must stay inside the output folder"):
        write_files(tmp_path / "o", {"../escape.txt": "x"})
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InvalidInput, match="Cannot write to"):
        write_files(tmp_path / "afile" / "sub", {"a.txt": "x"})
    assert not (tmp_path / "o").exists()
