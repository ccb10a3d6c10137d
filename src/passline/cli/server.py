"""passline up / init / demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from passline.cli.common import console
from passline.errors import InvalidInput
from passline.services.workspace import Workspace
from passline.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from passline.server.scheduler import SourceScheduler


def _settings(ctx: typer.Context, **overrides: object) -> Settings:
    opts = ctx.find_root().obj
    return Settings.load(home=getattr(opts, "home", None), **overrides)


def up(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Default 127.0.0.1 (PASSLINE_HOST)."),
    port: int = typer.Option(None, "--port", help="Default 8765 (PASSLINE_PORT)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
    get: str = typer.Option(None, "--get", help="Answer one GET for PATH in-process and exit."),
    token: str = typer.Option(None, "--token", envvar="PASSLINE_TOKEN", help="Token for --get."),
) -> None:
    """Serve the REST API and the web UI (http://127.0.0.1:8765 by default)."""
    settings = _settings(ctx, host=host, port=port)
    if get:
        _answer_once(settings, get, token)
        return
    _serve(settings, workers)


def _serve(settings: Settings, workers: int) -> None:
    from passline.server.app import create_app

    if workers < 1:
        raise InvalidInput(f"The '--workers' must be at least 1. Got {workers} instead.")
    app = create_app(settings)  # opens and migrates once, before any worker starts
    console.print(
        f"Passline {settings.server_url}  (API {settings.server_url}/api/v1, "
        f"docs {settings.server_url}/docs). Ctrl-C stops it."
    )
    scheduler = _start_scheduler(app.state.workspace, settings)
    try:
        _run(app, settings, workers)
    finally:
        if scheduler is not None:
            scheduler.stop()


def _start_scheduler(workspace: Workspace, settings: Settings) -> SourceScheduler | None:
    """One scheduler per `passline up`, in this process (not in each worker)."""
    if not settings.scheduler_interval_s:
        return None
    from passline.server.scheduler import SourceScheduler

    return SourceScheduler(workspace, settings.scheduler_interval_s).start()


def _run(app: FastAPI, settings: Settings, workers: int) -> None:
    import os

    import uvicorn

    level = settings.log_level.lower()
    if workers == 1:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=level)
        return
    # Worker processes rebuild the app from the environment, so pass the home along.
    os.environ["PASSLINE_HOME"] = str(settings.home)
    from passline.server.workers import run_workers

    run_workers("passline.server.asgi:app", settings.host, settings.port, workers, level)


def _answer_once(settings: Settings, path: str, token: str | None) -> None:
    """Datasette-style: run one request through the app without opening a socket."""
    import asyncio

    import httpx

    from passline.server.app import create_app

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(settings))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://passline") as http:
            return await http.get(path, headers=headers)

    response = asyncio.run(fetch())
    typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(_exit_code_for(response))


def _exit_code_for(response: object) -> int:
    """The exit code the CLI gives the same error in embedded mode."""
    from passline.errors import error_for_code

    try:
        code = response.json().get("code", "error")  # type: ignore[attr-defined]
    except ValueError:
        code = "error"
    return error_for_code(str(code), "").exit_code


def init(ctx: typer.Context) -> None:
    """Create (or upgrade) the workspace in PASSLINE_HOME."""
    settings = _settings(ctx)
    workspace = Workspace.open(settings)
    actor = workspace.local_context("cli").actor
    console.print(
        f"Workspace {settings.home} ready (database {workspace.db.display_url}, "
        f"artifacts {workspace.blobs.url}); you are {actor.name}, its admin."
    )
    workspace.close()


def demo(
    ctx: typer.Context,
    quick: bool = typer.Option(
        False,
        "--quick",
        help="Leave out the evaluation, red-team and release-gate runs (about two minutes "
        "of the embedded model).",
    ),
) -> None:
    """Fill the workspace with the demo projects and print how to log in."""
    from passline.demo import run_demo

    settings = _settings(ctx)
    workspace = Workspace.open(settings)
    try:
        summary = run_demo(workspace, evaluations=not quick)
    finally:
        workspace.close()
    summary.print(console, settings.server_url)
