"""passline infra export and passline ci init: deployment files and CI templates."""

from __future__ import annotations

from pathlib import Path

import typer

from passline.cli.common import console, emit_json
from passline.infra import PROVIDERS, TARGETS, CiSpec, DeploySpec, export, init_ci
from passline.settings import Settings

infra_app = typer.Typer(
    help="Infrastructure as code: Docker Compose, Kubernetes or Terraform files for Passline.",
    no_args_is_help=True,
)
ci_app = typer.Typer(
    help="CI templates that test, evaluate, check the gate and promote to staging.",
    no_args_is_help=True,
)
ForceOption = typer.Option(False, "--force", help="Overwrite files that exist.")
JsonOption = typer.Option(False, "--json", help="Print the written paths as JSON.")


@infra_app.command("export")
def export_command(
    ctx: typer.Context,
    target: str = typer.Option(..., "--target", "-t", help=f"One of {', '.join(TARGETS)}."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder to write (default deploy/TARGET)."),
    image: str = typer.Option(None, "--image", help="Container image (default passline:latest)."),
    namespace: str = typer.Option(None, "--namespace", help="Kubernetes namespace (passline)."),
    secret: str = typer.Option(
        None,
        "--database-url-secret",
        help="The Secret with database-url and audit-key keys (default passline).",
    ),
    artifact_root: str = typer.Option(
        None, "--artifact-root", help="s3://bucket/prefix; default a shared volume."
    ),
    gateway_replicas: int = typer.Option(
        None, "--gateway-replicas", help="Fewest gateway pods (default 2; the HPA scales to 4x)."
    ),
    force: bool = ForceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write deployment files for the server and the gateway; secrets stay out of them."""
    spec = DeploySpec.from_settings(
        _settings(ctx),
        image=image,
        namespace=namespace,
        secret_name=secret,
        artifact_root=artifact_root,
        gateway_replicas=gateway_replicas,
    )
    written = export(target, out or Path("deploy") / target, spec, force=force)
    _report(written, as_json, f"{target} files")


@ci_app.command("init")
def ci_init(
    provider: str = typer.Option(..., "--provider", help=f"One of {', '.join(PROVIDERS)}."),
    out: Path = typer.Option(Path("."), "--out", "-o", help="The repository root."),
    project: str = typer.Option("my-project", "--project", "-p", help="The Passline project."),
    suite: str = typer.Option("regression", "--suite", help="Evaluation suite (NAME or P/NAME)."),
    gate: str = typer.Option("release", "--gate", help="Release gate (NAME or P/NAME)."),
    model: str = typer.Option("model", "--model", "-m", help="Registered model (NAME or P/NAME)."),
    target: str = typer.Option(
        None, "--target", help="What the suite runs against (default endpoint:PROJECT/MODEL)."
    ),
    branch: str = typer.Option("main", "--branch", help="The branch that promotes to staging."),
    force: bool = ForceOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a pipeline: pytest, eval run, gate check, then release to staging on the branch."""
    spec = CiSpec(
        project=project, suite=suite, gate=gate, model=model, target=target, branch=branch
    )
    _report(init_ci(provider, out, spec, force=force), as_json, f"{provider} pipeline")


def _settings(ctx: typer.Context) -> Settings:
    opts = ctx.find_root().obj
    return Settings.load(home=getattr(opts, "home", None))


def _report(written: list[Path], as_json: bool, what: str) -> None:
    if as_json:
        emit_json({"files": [str(p) for p in written]})
        return
    console.print(f"Wrote the {what}:")
    for path in written:
        console.print(f"  {path}", markup=False)
