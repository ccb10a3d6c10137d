"""Entry point of the ``passline`` command; maps errors to messages and exit codes once."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from passline.cli import (
    artifacts,
    audit,
    backlog,
    data,
    db,
    environments,
    evaluation,
    gates,
    guard,
    infra,
    lineage,
    llm,
    models,
    pipelines,
    projects,
    rag,
    redteam,
    runs,
    server,
    serving,
    users,
)
from passline.cli.common import Options, err_console
from passline.errors import PasslineError

app = typer.Typer(
    name="passline",
    help="Passline: data to product for AI features, every step versioned, linked, checked.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    ctx: typer.Context,
    url: str = typer.Option(
        None,
        "--url",
        envvar="PASSLINE_URL",
        help="A Passline server; embedded workspace when unset.",
    ),
    token: str = typer.Option(
        None, "--token", envvar="PASSLINE_TOKEN", help="API token for --url."
    ),
    home: str = typer.Option(
        None, "--home", envvar="PASSLINE_HOME", help="Workspace folder (default ./.passline)."
    ),
) -> None:
    ctx.obj = Options(url=url, token=token, home=home)


app.add_typer(projects.app, name="projects")
app.add_typer(users.users_app, name="users")
app.add_typer(users.tokens_app, name="tokens")
app.add_typer(artifacts.app, name="artifacts")
app.add_typer(lineage.app, name="lineage")
app.add_typer(audit.app, name="audit")
app.add_typer(data.app, name="data")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(db.app, name="db")
app.add_typer(serving.endpoints_app, name="endpoints")
app.add_typer(serving.monitor_app, name="monitor")
app.add_typer(rag.rag_app, name="rag")
app.add_typer(rag.groups_app, name="groups")
app.add_typer(guard.app, name="guard")
app.add_typer(llm.llm_app, name="llm")
app.add_typer(llm.prompts_app, name="prompts")
app.add_typer(llm.traces_app, name="traces")
app.add_typer(evaluation.app, name="eval")
app.add_typer(redteam.app, name="redteam")
app.add_typer(gates.app, name="gate")
app.add_typer(environments.env_app, name="env")
app.add_typer(environments.release_app, name="release")
app.command("maturity")(gates.maturity)
app.command("map")(gates.block_map)
audit.app.command("pack")(gates.audit_pack)
app.add_typer(backlog.app, name="backlog")
app.add_typer(pipelines.app, name="pipeline")
app.add_typer(infra.infra_app, name="infra")
app.add_typer(infra.ci_app, name="ci")
app.command("serve")(serving.serve)
app.command("labels")(serving.labels)
app.command("up")(server.up)
app.command("init")(server.init)
app.command("demo")(server.demo)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a user error prints a message and an exit code, never a stack trace."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising.
        result = app(args=argv, prog_name="passline", standalone_mode=False)
    except PasslineError as exc:
        # Messages may contain brackets (pip extras, JSON): print them literally.
        err_console.print(f"[bold red]Error:[/bold red] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err_console.print(exc.hint, soft_wrap=True, markup=False)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:
        show = getattr(exc, "show", None)
        show() if show else err_console.print(f"Error: {exc.format_message()}")
        return exc.exit_code
    except typer.Abort:
        err_console.print("Aborted.")
        return 130
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
