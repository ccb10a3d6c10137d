"""passline llm ..., passline prompts ..., passline traces ..."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from passline.cli.common import JsonOption, client, console, emit, emit_json, table
from passline.errors import InvalidInput

llm_app = typer.Typer(
    help="Models: chat, configure endpoints and routers, the cache.", no_args_is_help=True
)
prompts_app = typer.Typer(
    help="The prompt registry: versions, labels, diffs.", no_args_is_help=True
)
traces_app = typer.Typer(
    help="Traces of LLM calls, who asked what, feedback.", no_args_is_help=True
)


def _json_option(value: str | None, what: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(Path(value[1:]).read_text() if value.startswith("@") else value)
    except (ValueError, OSError) as exc:
        raise InvalidInput(f"{what} must be JSON (or @file.json): {exc}.") from None


# -- llm --------------------------------------------------------------------------------------


@llm_app.command("chat")
def chat(
    ctx: typer.Context,
    message: str = typer.Argument(None, help="The question; '-' reads stdin."),
    prompt: str = typer.Option(None, "--prompt", help="prompts:/project/name@label"),
    var: list[str] = typer.Option(None, "--var", help="NAME=VALUE for the prompt (repeat)."),
    model: str = typer.Option(None, "--model", "-m", help="Default: the embedded model."),
    system: str = typer.Option(None, "--system", help="A system message."),
    max_tokens: int = typer.Option(None, "--max-tokens"),
    temperature: float = typer.Option(None, "--temperature"),
    schema: str = typer.Option(None, "--schema", help="JSON Schema of the answer (or @file)."),
    app_name: str = typer.Option("cli", "--app", help="Guard policy and trace app name."),
    project: str = typer.Option(None, "--project", "-p", help="Project of the app."),
    no_cache: bool = typer.Option(False, "--no-cache"),
    as_json: bool = JsonOption,
) -> None:
    """Ask a model (guards, cache and a trace included)."""
    text = sys.stdin.read() if message == "-" else message
    messages = ([{"role": "system", "content": system}] if system else []) + (
        [{"role": "user", "content": text}] if text else []
    )
    variables = {}
    for item in var or []:
        name, eq, value = item.partition("=")
        if not eq:
            raise InvalidInput(f"--var takes NAME=VALUE. Got {item!r}.")
        variables[name] = value
    params = {
        k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature)) if v is not None
    }
    answer = client(ctx).llm.chat(
        messages or None,
        prompt=prompt,
        variables=variables or None,
        model=model,
        params=params or None,
        json_schema=_json_option(schema, "--schema"),
        app=app_name,
        project=project,
        cache=not no_cache,
    )
    if as_json:
        emit_json(answer)
        return
    console.print(answer.text, markup=False, highlight=False)
    cost = f", ${answer.cost_usd:.6f}" if answer.cost_usd else ""
    note = f", cached ({answer.cached})" if answer.cached else ""
    note += ", BLOCKED" if answer.blocked else ""
    typer.echo(
        f"[{answer.model}: {answer.usage['input_tokens']} in, "
        f"{answer.usage['output_tokens']} out, {answer.latency_ms:.0f} ms{cost}{note}; "
        f"trace {answer.trace_id}]",
        err=True,
    )


@llm_app.command("models")
def models(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """The embedded model, configured endpoints and routers, with prices."""
    emit(
        client(ctx).llm.models(),
        as_json,
        ["name", "provider", "input_price_per_mtok", "output_price_per_mtok", "config"],
        "Models",
    )


@llm_app.command("add-model")
def add_model(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    base_url: str = typer.Option(..., "--base-url", help="e.g. http://127.0.0.1:11434/v1"),
    model: str = typer.Option(..., "--model", help="The endpoint's model name."),
    api_key: str = typer.Option(None, "--api-key", help="A secret reference: env:NAME ..."),
    timeout_s: float = typer.Option(30.0, "--timeout"),
    max_retries: int = typer.Option(3, "--retries"),
    rate_per_s: float = typer.Option(None, "--rate", help="Requests per second at most."),
    context: int = typer.Option(8192, "--context", help="Context window in tokens."),
    price_in: float = typer.Option(0.0, "--price-in", help="USD per million input tokens."),
    price_out: float = typer.Option(0.0, "--price-out", help="USD per million output tokens."),
    as_json: bool = JsonOption,
) -> None:
    """Configure an OpenAI-compatible endpoint (workspace admins)."""
    emit(
        client(ctx).llm.add_model(
            name,
            base_url,
            model,
            api_key=api_key,
            timeout_s=timeout_s,
            max_retries=max_retries,
            rate_per_s=rate_per_s,
            context=context,
            input_price_per_mtok=price_in,
            output_price_per_mtok=price_out,
        ),
        as_json,
        ["name", "provider", "config"],
    )


@llm_app.command("add-router")
def add_router(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    rules: str = typer.Option(
        ..., "--rules", help='JSON: [{"max_input_tokens": 200, "model": "small"}] (or @file)'
    ),
    default: str = typer.Option(..., "--default", help="The model when no rule matches."),
    as_json: bool = JsonOption,
) -> None:
    """A model name that routes each request by rule (workspace admins)."""
    emit(
        client(ctx).llm.add_router(name, _json_option(rules, "--rules"), default),
        as_json,
        ["name", "provider", "config"],
    )


@llm_app.command("cache")
def cache(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Cache entries and hit rates."""
    stats = client(ctx).llm.cache_stats()
    if as_json:
        emit_json(stats)
        return
    table("Response cache", list(stats), [list(stats.values())])


# -- prompts ------------------------------------------------------------------------------------

VERSION_COLUMNS = ["prompt", "version", "labels", "model", "variables", "author", "created_at"]


@prompts_app.command("create")
def prompts_create(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="project/name"),
    template: str = typer.Option(
        ..., "--template", help="Text, a JSON list of messages, or @file (.txt, .md or .json)."
    ),
    var: list[str] = typer.Option(None, "--var", help="NAME:TYPE (string, integer, ...)."),
    model: str = typer.Option(None, "--model"),
    params: str = typer.Option(None, "--params", help='JSON, e.g. {"max_tokens": 200}'),
    schema: str = typer.Option(None, "--schema", help="Output JSON Schema (or @file)."),
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonOption,
) -> None:
    """A new version (the same content returns the existing version)."""
    text = Path(template[1:]).read_text() if template.startswith("@") else template
    body: Any = text
    if text.lstrip().startswith("["):
        body = _json_option(text, "--template")
    variables = {}
    for item in var or []:
        name, colon, kind = item.partition(":")
        variables[name] = kind if colon else "string"
    version = client(ctx).prompts.create(
        prompt,
        body,
        variables,
        model=model,
        params=_json_option(params, "--params") or {},
        output_schema=_json_option(schema, "--schema"),
        description=description,
    )
    emit(version, as_json, VERSION_COLUMNS)


@prompts_app.command("list")
def prompts_list(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    emit(
        client(ctx).prompts.list(project),
        as_json,
        ["project", "name", "labels", "latest_version", "created_by"],
        "Prompts",
    )


@prompts_app.command("show")
def prompts_show(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="project/name[@v]"),
    as_json: bool = JsonOption,
) -> None:
    """A version's template, variables, model and labels (all versions without @)."""
    pl = client(ctx)
    if "@" in prompt:
        version = pl.prompts.version(prompt)
        if as_json:
            emit_json(version)
            return
        console.print(
            f"[bold]{version.label}[/bold] by {version.author}, labels "
            f"{', '.join(version.labels) or '-'}, model {version.model or 'default'}"
        )
        for message in version.template:
            console.print(f"[{message['role']}]", style="bold", markup=False)
            console.print(message["content"], markup=False, highlight=False)
        return
    emit(pl.prompts.versions(prompt), as_json, VERSION_COLUMNS, "Versions")


@prompts_app.command("render")
def prompts_render(
    ctx: typer.Context,
    prompt: str = typer.Argument(...),
    var: list[str] = typer.Option(None, "--var", help="NAME=VALUE (JSON values allowed)."),
    as_json: bool = JsonOption,
) -> None:
    """The messages a version produces for given variables."""
    variables = {}
    for item in var or []:
        name, eq, value = item.partition("=")
        if not eq:
            raise InvalidInput(f"--var takes NAME=VALUE. Got {item!r}.")
        try:
            variables[name] = json.loads(value)  # numbers, booleans, lists as such
        except ValueError:
            variables[name] = value
    rendered = client(ctx).prompts.render(prompt, variables)
    if as_json:
        emit_json(rendered)
        return
    for message in rendered.messages:
        console.print(f"[{message['role']}]", style="bold", markup=False)
        console.print(message["content"], markup=False, highlight=False)


@prompts_app.command("diff")
def prompts_diff(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="project/name"),
    old: str = typer.Argument(...),
    new: str = typer.Argument(...),
    as_json: bool = JsonOption,
) -> None:
    """What changed between two versions."""
    change = client(ctx).prompts.diff(prompt, old, new)
    if as_json:
        emit_json(change)
        return
    console.print(change["template"] or "(templates identical)", markup=False, highlight=False)
    for field, values in change["changed"].items():
        console.print(f"{field}: {values['from']!r} -> {values['to']!r}", markup=False)


@prompts_app.command("approve")
def prompts_approve(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="p/name@v"),
    comment: str = typer.Option("", "--comment"),
    label: str = typer.Option(None, "--label"),
    as_json: bool = JsonOption,
) -> None:
    emit(client(ctx).prompts.approve(prompt, comment, label), as_json, VERSION_COLUMNS)


@prompts_app.command("evaluate")
def prompts_evaluate(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="p/name@v"),
    label: str = typer.Option("production", "--label"),
    as_json: bool = JsonOption,
) -> None:
    """What moving ``label`` to this version needs, and what is missing."""
    verdict = client(ctx).prompts.evaluate(prompt, label)
    if as_json:
        emit_json(verdict)
        return
    console.print(
        "Ready." if not verdict["missing"] else "Missing: " + "; ".join(verdict["missing"]),
        markup=False,
    )


@prompts_app.command("label")
def prompts_label(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="p/name@v"),
    label: str = typer.Argument(...),
    reason: str = typer.Option("", "--reason"),
    as_json: bool = JsonOption,
) -> None:
    """Point a label at a version (the project's release policy applies)."""
    emit(
        client(ctx).prompts.set_label(prompt, label, reason),
        as_json,
        ["prompt", "label", "from_version", "to_version", "actor", "kind"],
    )


@prompts_app.command("rollback")
def prompts_rollback(
    ctx: typer.Context,
    prompt: str = typer.Argument(..., help="p/name"),
    label: str = typer.Option("production", "--label"),
    reason: str = typer.Option("", "--reason"),
    as_json: bool = JsonOption,
) -> None:
    emit(
        client(ctx).prompts.rollback(prompt, label, reason),
        as_json,
        ["prompt", "label", "from_version", "to_version", "actor", "kind"],
    )


@prompts_app.command("history")
def prompts_history(
    ctx: typer.Context,
    prompt: str = typer.Argument(...),
    label: str = typer.Option(None, "--label"),
    as_json: bool = JsonOption,
) -> None:
    emit(
        client(ctx).prompts.history(prompt, label),
        as_json,
        ["at", "label", "kind", "from_version", "to_version", "actor", "reason"],
        "Label moves",
    )


# -- traces -------------------------------------------------------------------------------------


@traces_app.command("list")
def traces_list(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    app_name: str = typer.Option(None, "--app"),
    user: str = typer.Option(None, "--user", help="Who asked what: one user's traces."),
    status: str = typer.Option(None, "--status", help="ok, error or blocked."),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """Traces, newest first."""
    emit(
        client(ctx).traces.list(project, app_name, user, status, limit),
        as_json,
        [
            "id",
            "started_at",
            "app",
            "user",
            "status",
            "model",
            "input_tokens",
            "output_tokens",
            "duration_ms",
            "input_preview",
        ],
        "Traces",
    )


@traces_app.command("show")
def traces_show(
    ctx: typer.Context, trace_id: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    """A trace's spans as a waterfall, and its feedback."""
    found = client(ctx).traces.get(trace_id)
    if as_json:
        emit_json(found)
        return
    head = found["trace"]
    console.print(
        f"[bold]{head['id']}[/bold] {head['app']} by {head['user']}: {head['status']}, "
        f"{head['duration_ms'] or 0:.0f} ms, {head['input_tokens']} in / "
        f"{head['output_tokens']} out tokens"
    )
    table(
        None,
        ["span", "kind", "start ms", "ms", "status"],
        [
            [s["name"], s["kind"], f"{s['offset_ms']:.1f}", f"{s['duration_ms']:.1f}", s["status"]]
            for s in found["spans"]
        ],
    )
    for item in found["feedback"]:
        console.print(
            f"feedback by {item['user']}: {item['score']} {item['comment']}", markup=False
        )


@traces_app.command("feedback")
def traces_feedback(
    ctx: typer.Context,
    trace_id: str = typer.Argument(...),
    up: bool = typer.Option(False, "--up", help="Thumbs up."),
    down: bool = typer.Option(False, "--down", help="Thumbs down."),
    comment: str = typer.Option("", "--comment"),
    correction: str = typer.Option(None, "--correction"),
    as_json: bool = JsonOption,
) -> None:
    """Rate a trace's answer, comment on it, correct it."""
    if up and down:
        raise InvalidInput("Choose --up or --down, not both.")
    score = 1 if up else -1 if down else None
    emit(
        client(ctx).traces.feedback(trace_id, score, comment, correction),
        as_json,
        ["id", "trace_id", "user", "score", "comment", "prompt_version"],
    )
