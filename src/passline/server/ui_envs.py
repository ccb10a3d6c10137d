"""Web UI of environments and releases: ``/projects/{project}/environments``.

The page draws the project's promotion path as columns, in order: what each environment
holds (every model alias and prompt label named after it), its gates, its endpoints (bound
to it, or serving its alias) and its approval rule; then the release records, newest first,
with from, to, who, status and duration, rollbacks linked to what they undid. Pages call
the services as the signed-in user, like every other page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from passline.core.environments import Environment, Release
from passline.server.deps import ui_services
from passline.server.ui import _page, model_url
from passline.server.ui_llm import prompt_version_url
from passline.server.ui_pm import gate_url
from passline.services.workspace import Services

__all__ = ["environments_url", "router"]

router = APIRouter(include_in_schema=False)

RELEASES = 100  # release records shown


def environments_url(project: str) -> str:
    return f"/projects/{quote(project, safe='')}/environments"


def version_url(release: Release, version: int | None = None) -> str:
    """The page of the model or prompt version a release moved (or of the subject)."""
    number = release.version if version is None else version
    if release.kind == "prompt":
        return prompt_version_url(f"{release.subject}@v{number}")
    return model_url(release.subject, number)


@dataclass
class Column:
    """One environment, with what it holds: ``(kind, subject, version, url)``."""

    env: Environment
    holds: list[tuple[str, str, int, str]] = field(default_factory=list)
    serving: list[str] = field(default_factory=list)  # endpoints serving its alias


@router.get("/projects/{project}/environments", response_class=HTMLResponse)
def environments_page(
    project: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """The promotion path of ``project`` and its release records."""
    columns = [Column(env) for env in svc.environments.list(project)]
    _fill(svc, project, {c.env.name: c for c in columns})
    releases = svc.environments.releases(project, limit=RELEASES)
    return _page(
        request,
        "environments.html",
        svc,
        project=project,
        columns=columns,
        releases=releases,
        gate_url=gate_url,
        version_url=version_url,
        environments_url=environments_url,
    )


def _fill(svc: Services, project: str, by_name: dict[str, Column]) -> None:
    for model in svc.registry.models(project):
        for alias, version in sorted(model.aliases.items()):
            if alias in by_name:
                url = model_url(f"{project}/{model.name}", version)
                by_name[alias].holds.append(("model", f"{project}/{model.name}", version, url))
    for prompt in svc.prompts.list(project):
        for label, version in sorted(prompt.labels.items()):
            if label in by_name:
                url = prompt_version_url(f"{project}/{prompt.name}@v{version}")
                by_name[label].holds.append(("prompt", f"{project}/{prompt.name}", version, url))
    for endpoint in svc.endpoints.list(project):
        if endpoint.alias in by_name:
            by_name[endpoint.alias].serving.append(f"{endpoint.project}/{endpoint.name}")
