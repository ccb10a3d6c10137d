"""CI templates: test, evaluate, check the release gate, then promote to staging.

One pipeline, written for GitHub Actions, GitLab CI or Jenkins. Each runs the same four
commands in order (``pytest``, ``passline eval run``, ``passline gate check``, and on the
main branch ``passline release create ... --to staging``). The server and the token come
from the CI system's secrets as ``PASSLINE_URL`` and ``PASSLINE_TOKEN``, which the CLI's
``--url`` and ``--token`` read; no file ever holds them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from passline.errors import InvalidInput
from passline.infra.yamltext import dump

__all__ = ["PROVIDERS", "CiSpec", "ci_files"]

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/@:+-]*$")
HEADER = "Written by `passline ci init --provider {provider}`; see docs/ci.md."
INSTALL = ["python -m pip install --upgrade pip", "pip install passline", "pip install -e ."]
VERSION_HELP = (
    "PASSLINE_MODEL_VERSION is the model version to release: set it as a CI variable,\n"
    "# or from the step that registers the model."
)


@dataclass(frozen=True)
class CiSpec:
    """The options of ``passline ci init``; short names are completed with the project."""

    project: str = "my-project"
    suite: str = "regression"
    gate: str = "release"
    model: str = "model"
    target: str | None = None
    branch: str = "main"
    python: str = "3.12"

    def __post_init__(self) -> None:
        for name in ("project", "suite", "gate", "model", "target", "branch", "python"):
            value = getattr(self, name)
            if value is not None and not SAFE.match(value):
                raise InvalidInput(
                    f"The '{name}' parameter may hold letters, digits and . _ / @ : + - "
                    f"(it goes into shell commands). Got {value!r} instead."
                )

    def _qualified(self, name: str) -> str:
        return name if "/" in name else f"{self.project}/{name}"

    @property
    def commands(self) -> dict[str, str]:
        """The four steps, by name, in the order they run."""
        model = self._qualified(self.model)
        target = self.target or f"endpoint:{model}"
        version = "${PASSLINE_MODEL_VERSION}"
        return {
            "test": "pytest",
            "evaluate": f"passline eval run {self._qualified(self.suite)} --target {target}",
            "gate": f"passline gate check {self._qualified(self.gate)} --for {model}@{version}",
            "release": f"passline release create {model} --version {version} --to staging",
        }


def _github(spec: CiSpec) -> str:
    steps: list[dict[str, object]] = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": spec.python}},
        {"name": "Install", "run": "\n".join(INSTALL) + "\n"},
    ]
    for name, command in spec.commands.items():
        step: dict[str, object] = {"name": name.capitalize()}
        if name == "release":
            step["if"] = f"github.event_name == 'push' && github.ref == 'refs/heads/{spec.branch}'"
        steps.append({**step, "run": command})
    document = {
        "name": "passline",
        "on": {"push": {"branches": [spec.branch]}, "pull_request": {}},
        "jobs": {
            "passline": {
                "runs-on": "ubuntu-latest",
                "env": {
                    "PASSLINE_URL": "${{ secrets.PASSLINE_URL }}",
                    "PASSLINE_TOKEN": "${{ secrets.PASSLINE_TOKEN }}",
                    "PASSLINE_MODEL_VERSION": "${{ vars.PASSLINE_MODEL_VERSION }}",
                },
                "steps": steps,
            }
        },
    }
    header = f"# {HEADER.format(provider='github')}\n# {VERSION_HELP}\n"
    return header + dump(document)


def _gitlab(spec: CiSpec) -> str:
    stages = list(spec.commands)
    document: dict[str, object] = {
        "stages": stages,
        "default": {"image": f"python:{spec.python}", "before_script": INSTALL},
    }
    for stage, command in spec.commands.items():
        job: dict[str, object] = {"stage": stage, "script": [command]}
        if stage == "release":
            job["rules"] = [{"if": f'$CI_COMMIT_BRANCH == "{spec.branch}"'}]
        document[stage] = job
    header = (
        f"# {HEADER.format(provider='gitlab')}\n# PASSLINE_URL and PASSLINE_TOKEN: masked "
        f"CI/CD variables (Settings > CI/CD > Variables).\n# {VERSION_HELP}\n"
    )
    return header + dump(document)


def _jenkins(spec: CiSpec) -> str:
    # Each sh step is a new shell in a container that is not root's: a virtualenv it is.
    venv = "python -m venv .venv && . .venv/bin/activate && "
    stages = [_jenkins_stage("Install", venv + " && ".join(INSTALL))]
    for name, command in spec.commands.items():
        when = f"branch '{spec.branch}'" if name == "release" else None
        stages.append(_jenkins_stage(name.capitalize(), f". .venv/bin/activate && {command}", when))
    return f"""\
// {HEADER.format(provider="jenkins")}
// PASSLINE_URL and PASSLINE_TOKEN: "Secret text" credentials named passline-url, passline-token.
pipeline {{
    agent {{ docker {{ image 'python:{spec.python}' }} }}
    parameters {{
        string(name: 'PASSLINE_MODEL_VERSION', defaultValue: '', description: 'To release')
    }}
    environment {{
        PASSLINE_URL = credentials('passline-url')
        PASSLINE_TOKEN = credentials('passline-token')
        PASSLINE_MODEL_VERSION = "${{params.PASSLINE_MODEL_VERSION}}"
        HOME = "${{env.WORKSPACE}}"
    }}
    stages {{
{"".join(stages)}    }}
}}
"""


def _jenkins_stage(name: str, command: str, when: str | None = None) -> str:
    guard = f"            when {{ {when} }}\n" if when else ""
    return (
        f"        stage('{name}') {{\n{guard}"
        f"            steps {{\n                sh '{command}'\n            }}\n"
        f"        }}\n"
    )


PROVIDERS: dict[str, tuple[str, Callable[[CiSpec], str]]] = {
    "github": (".github/workflows/passline.yml", _github),
    "gitlab": (".gitlab-ci.yml", _gitlab),
    "jenkins": ("Jenkinsfile", _jenkins),
}


def ci_files(provider: str, spec: CiSpec) -> dict[str, str]:
    """The provider's pipeline file, as text by its path in the repository."""
    if provider not in PROVIDERS:
        raise InvalidInput(
            f"The 'provider' parameter must be one of {', '.join(PROVIDERS)}. "
            f"Got {provider!r} instead."
        )
    path, render = PROVIDERS[provider]
    return {path: render(spec)}
