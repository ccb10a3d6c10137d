"""The docs against the code, so that they cannot drift apart unnoticed.

Every CLI command is in docs/cli.md, every REST route and error code in docs/api.md, every
public ``Client`` method in docs/sdk.md; the import rule of docs/architecture.md holds; and
every link from README.md and between docs/*.md reaches an existing file and heading.
Fast and in-process (no subprocess, no socket): the CLI tree comes from typer, the routes
from the app's OpenAPI schema, the SDK surface from ``Client`` itself.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from passline import errors
from passline.cli.main import app as cli_app
from passline.sdk.client import Client
from passline.server.app import create_app
from passline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def cli_commands(command: Any, path: tuple[str, ...] = ("passline",)) -> Iterator[str]:
    """Every command and group of the CLI, as typed: ``passline projects add-member``."""
    yield " ".join(path)
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from cli_commands(sub, (*path, name))


def test_every_cli_command_is_in_cli_md() -> None:
    text = read("cli.md")
    commands = list(cli_commands(typer.main.get_command(cli_app)))
    assert len(commands) > 20  # the walk found the tree, not just the root
    missing = [c for c in commands if not re.search(rf"`{re.escape(c)}[` ]", text)]
    assert not missing, f"docs/cli.md does not document: {missing}"


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("docs-ws")
    app = create_app(Settings(home=home))
    try:
        return app.openapi()
    finally:
        app.state.workspace.close()


def test_every_api_route_is_in_api_md(openapi: dict[str, Any]) -> None:
    text = read("api.md")
    routes = [
        f"{method.upper()} {path}"
        for path, operations in openapi["paths"].items()
        for method in operations
    ]
    assert len(routes) > 20
    missing = [r for r in routes if f"`{r}`" not in text]
    assert not missing, f"docs/api.md does not document: {missing}"


def test_every_error_code_is_in_api_md() -> None:
    text = read("api.md")
    classes = [
        c
        for c in vars(errors).values()
        if inspect.isclass(c) and issubclass(c, errors.PasslineError)
    ]
    missing = [c.code for c in classes if f"`{c.code}`" not in text]
    assert not missing, f"docs/api.md does not list error codes: {missing}"


def public_client_members() -> list[tuple[str, bool]]:
    """(name, is_method) for every public attribute of ``Client``."""
    return [
        (name, not isinstance(member, property))
        for name, member in vars(Client).items()
        if not name.startswith("_")
    ]


def marker(name: str, is_method: bool) -> str:
    return f"`{name}(" if is_method else f"`{name}`"


def test_every_client_method_is_in_sdk_md() -> None:
    text = read("sdk.md")
    members = public_client_members()
    assert len(members) > 20
    missing = [name for name, is_method in members if marker(name, is_method) not in text]
    assert not missing, f"docs/sdk.md does not document Client.{missing}"


#: docs/architecture.md: "errors -> settings -> core -> store, artifacts -> services ->
#: sdk, server, demo -> cli"; a module imports from its own layer or those to its left.
LAYERS = {
    "errors": 0,
    "settings": 1,
    "core": 2,
    "store": 3,
    "artifacts": 3,
    "data": 3,
    "rag": 3,
    "guard": 3,  # pure components: errors, core, data (and llm, not layered yet)
    "services": 4,
    "evaluation": 4,  # scorers, targets and runs: beside the services they call
    "redteam": 4,  # probes, detectors, attacks: on evaluation's targets, beside the services
    "backlog": 3,  # drafting rules, grounding, Jira formats: pure components on core and rag
    "infra": 3,  # IaC export and CI templates: pure text from errors and settings
    "gates": 3,  # criterion types, gate files, acceptance criteria: pure, on errors and core
    "sdk": 5,
    "server": 5,
    "demo": 5,
    "demo_data": 5,
    "demo_datasets": 5,
    "demo_models": 5,
    "demo_serving": 5,
    "demo_llm": 5,
    "demo_eval": 5,
    "demo_redteam": 5,
    "demo_backlog": 5,
    "demo_gates": 5,
    "demo_pipeline": 5,
    "serving": 5,
    "pipelines": 5,  # the runner records through the services and captures code like the SDK
    "cli": 6,
}
SIDE_BY_SIDE = {("sdk", "server"), ("server", "sdk")}


def imported_parts(source: Path) -> Iterator[str]:
    """The first part after ``passline.`` of every import in a module, lazy ones too."""
    for node in ast.walk(ast.parse(source.read_text("utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "passline" and len(parts) > 1:
                yield parts[1]


def test_imports_flow_one_way_as_architecture_md_says() -> None:
    package = ROOT / "src" / "passline"
    wrong = []
    for source in sorted(package.rglob("*.py")):
        layer = source.relative_to(package).parts[0].removesuffix(".py")
        if layer not in LAYERS:
            continue
        for target in imported_parts(source):
            if target in LAYERS and (
                LAYERS[target] > LAYERS[layer] or (layer, target) in SIDE_BY_SIDE
            ):
                wrong.append(f"{source.relative_to(ROOT)} imports passline.{target}")
    assert not wrong, wrong


LINK = re.compile(r"\]\(([^)#\s:]+\.md)(?:#([^)\s]*))?\)")


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def broken_links(page: Path) -> list[str]:
    """Links from ``page`` to a Markdown file that is missing, or to a heading it lacks."""
    broken = []
    for target, anchor in LINK.findall(page.read_text("utf-8")):
        path = (page.parent / target).resolve()
        if not path.is_file():
            broken.append(f"{page.name} -> {target} (no such file)")
        elif anchor and anchor not in anchors(path):
            broken.append(f"{page.name} -> {target}#{anchor} (no such heading)")
    return broken


def test_readme_links_to_docs_exist() -> None:
    readme = ROOT / "README.md"
    targets = [t for t, _ in LINK.findall(readme.read_text("utf-8")) if t.startswith("docs/")]
    assert targets, "README.md links to no docs"
    broken = broken_links(readme)
    assert not broken, f"README.md has broken links: {broken}"


def test_links_between_docs_exist() -> None:
    broken = [link for page in sorted(DOCS.glob("*.md")) for link in broken_links(page)]
    assert not broken, f"broken links between docs: {broken}"
