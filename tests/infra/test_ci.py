"""CI templates: valid YAML or Groovy, the four steps in order, secrets only by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from passline.errors import InvalidInput
from passline.infra import PROVIDERS, CiSpec, ci_files

from .conftest import write_ci

STEPS = ["pytest", "passline eval run", "passline gate check", "passline release create"]


def assert_in_order(text: str) -> None:
    positions = [text.find(step) for step in STEPS]
    assert -1 not in positions, dict(zip(STEPS, positions, strict=True))
    assert positions == sorted(positions)


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_steps_run_in_order_with_the_real_commands(
    tmp_path: Path, provider: str, ci_spec: CiSpec
) -> None:
    path = write_ci(tmp_path, provider, ci_spec)
    assert path.relative_to(tmp_path / provider).as_posix() == PROVIDERS[provider][0]
    text = path.read_text("utf-8")
    assert_in_order(text)
    assert "pip install passline" in text and "pip install -e ." in text
    assert "passline eval run shop/smoke --target endpoint:shop/scorer" in text
    assert "passline gate check shop/release --for shop/scorer@${PASSLINE_MODEL_VERSION}" in text
    assert (
        "passline release create shop/scorer --version ${PASSLINE_MODEL_VERSION} --to staging"
        in text
    )
    # The URL and token are named, never given a value: only CI secrets are assigned.
    code = "\n".join(line for line in text.splitlines() if not line.startswith(("#", "//")))
    assigned = re.findall(r"(PASSLINE_(?:URL|TOKEN))\s*[:=]\s*(.+)", code)
    allowed = {"${{ secrets.%s }}", "credentials('%s')"}
    for name, value in assigned:
        key = name if "secrets" in value else name.lower().replace("_", "-")
        assert value.strip() in {form % key for form in allowed}, (name, value)
    assert len(assigned) == (0 if provider == "gitlab" else 2)


def test_github_workflow(tmp_path: Path, ci_spec: CiSpec) -> None:
    workflow = yaml.safe_load(write_ci(tmp_path, "github", ci_spec).read_text("utf-8"))
    assert workflow["on"]["push"]["branches"] == ["main"]
    (job,) = workflow["jobs"].values()
    assert job["env"]["PASSLINE_URL"] == "${{ secrets.PASSLINE_URL }}"
    assert job["env"]["PASSLINE_TOKEN"] == "${{ secrets.PASSLINE_TOKEN }}"
    steps = job["steps"]
    assert all("run" in s or "uses" in s for s in steps)
    release = steps[-1]
    assert release["run"].startswith("passline release create")
    assert "refs/heads/main" in release["if"]
    assert not any("if" in s for s in steps[:-1])


def test_gitlab_pipeline(tmp_path: Path, ci_spec: CiSpec) -> None:
    pipeline = yaml.safe_load(write_ci(tmp_path, "gitlab", ci_spec).read_text("utf-8"))
    assert pipeline["stages"] == ["test", "evaluate", "gate", "release"]
    for stage in pipeline["stages"]:
        job = pipeline[stage]
        assert job["stage"] == stage and job["script"]
    assert pipeline["release"]["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"'}]
    assert "pip install -e ." in pipeline["default"]["before_script"]


def test_jenkinsfile_structure(tmp_path: Path, ci_spec: CiSpec) -> None:
    text = write_ci(tmp_path, "jenkins", ci_spec).read_text("utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    depth = 0
    for char in code:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0
    assert re.search(r"^pipeline \{", code, re.M)
    assert re.search(r"^    stages \{", code, re.M)
    names = re.findall(r"stage\('(\w+)'\)", code)
    assert names == ["Install", "Test", "Evaluate", "Gate", "Release"]
    assert "when { branch 'main' }" in code
    assert "credentials('passline-token')" in code


def test_a_custom_target_and_branch() -> None:
    spec = CiSpec(project="hr", target="prompt:hr/answer@2", branch="release", model="hr/bot")
    text = ci_files("github", spec)[".github/workflows/passline.yml"]
    assert "--target prompt:hr/answer@2" in text and "refs/heads/release" in text
    assert "passline release create hr/bot " in text


def test_unknown_provider_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput, match="one of github, gitlab, jenkins. Got 'circleci'"):
        ci_files("circleci", CiSpec())


@pytest.mark.parametrize("name", ["project", "suite", "gate", "model", "target", "branch"])
def test_values_that_would_escape_the_shell_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match=f"The '{name}' parameter may hold"):
        CiSpec(**{name: "x; rm -rf /"})
