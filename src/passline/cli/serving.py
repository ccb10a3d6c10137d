"""passline serve, passline endpoints ..., passline labels, passline monitor ..."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from passline.cli.common import JsonOption, client, console, emit, emit_json, table
from passline.errors import InvalidInput

endpoints_app = typer.Typer(
    help="Endpoints: a model's alias served under a name, with canary and shadow.",
    no_args_is_help=True,
)
monitor_app = typer.Typer(
    help="Dashboards, realised performance, drift, monitors and alerts.", no_args_is_help=True
)
ENDPOINT_COLUMNS = [
    "project",
    "name",
    "model",
    "alias",
    "canary_version",
    "canary_percent",
    "shadow_version",
    "redact",
]


def serve(
    ctx: typer.Context,
    host: str = typer.Option(None, "--host", help="Default 127.0.0.1 (PASSLINE_HOST)."),
    port: int = typer.Option(None, "--port", help="Default 8766 (PASSLINE_GATEWAY_PORT)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes."),
) -> None:
    """Serve registered models: POST /v1/models/PROJECT/NAME@ALIAS/predict."""
    import os

    import uvicorn

    from passline.cli.server import _settings
    from passline.services.workspace import Workspace

    if workers < 1:
        raise InvalidInput(f"The '--workers' must be at least 1. Got {workers} instead.")
    settings = _settings(ctx, host=host, gateway_port=port)
    Workspace.open(settings).close()  # migrate once, before any worker starts
    url = f"http://{settings.host}:{settings.gateway_port}"
    console.print(
        f"Passline gateway {url}  (POST {url}/v1/models/PROJECT/NAME@ALIAS/predict, "
        f"metrics {url}/metrics). Ctrl-C stops it."
    )
    os.environ["PASSLINE_HOME"] = str(settings.home)
    level = settings.log_level.lower()
    if workers == 1:
        from passline.serving.gateway import create_gateway_app

        app = create_gateway_app(Workspace.open(settings))
        uvicorn.run(app, host=settings.host, port=settings.gateway_port, log_level=level)
        return
    _share_metrics(settings.home)
    from passline.server.workers import run_workers

    run_workers("passline.serving.asgi:app", settings.host, settings.gateway_port, workers, level)


def _share_metrics(home: Path) -> None:
    """Workers write Prometheus counters to files in one fresh folder (multiprocess mode)."""
    import os
    import shutil

    folder = home / "prometheus" / str(os.getpid())
    shutil.rmtree(home / "prometheus", ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


# -- endpoints ------------------------------------------------------------------------------


@endpoints_app.command("list")
def endpoints_list(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """Endpoints and what they serve."""
    emit(client(ctx).endpoints.list(project), as_json, ENDPOINT_COLUMNS, "Endpoints")


@endpoints_app.command("create")
def endpoints_create(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., help="project/name"),
    model: str = typer.Option(..., "--model", "-m", help="project/model"),
    alias: str = typer.Option("production", "--alias"),
    redact: list[str] = typer.Option(None, "--redact", help="An input the log must not keep."),
    as_json: bool = JsonOption,
) -> None:
    """Serve a model's alias as POST /v1/endpoints/PROJECT/NAME/predict."""
    emit(
        client(ctx).endpoints.create(endpoint, model, alias, redact or []),
        as_json,
        ENDPOINT_COLUMNS,
    )


@endpoints_app.command("show")
def endpoints_show(
    ctx: typer.Context, endpoint: str = typer.Argument(...), as_json: bool = JsonOption
) -> None:
    emit(client(ctx).endpoints.get(endpoint), as_json, ENDPOINT_COLUMNS)


@endpoints_app.command("canary")
def endpoints_canary(
    ctx: typer.Context,
    endpoint: str = typer.Argument(...),
    version: int = typer.Option(None, "--version", help="The candidate version."),
    percent: int = typer.Option(10, "--percent", help="Share of the traffic, 0-100."),
    clear: bool = typer.Option(False, "--clear", help="Stop the canary."),
    as_json: bool = JsonOption,
) -> None:
    """Send a share of the traffic to a candidate version (or stop doing so)."""
    pl = client(ctx)
    if clear:
        result = pl.endpoints.configure(endpoint, clear_canary=True)
    elif version is None:
        raise InvalidInput("Name the candidate with --version, or stop the canary with --clear.")
    else:
        result = pl.endpoints.canary(endpoint, version, percent)
    emit(result, as_json, ENDPOINT_COLUMNS)


@endpoints_app.command("shadow")
def endpoints_shadow(
    ctx: typer.Context,
    endpoint: str = typer.Argument(...),
    version: int = typer.Option(None, "--version", help="The version to copy traffic to."),
    clear: bool = typer.Option(False, "--clear", help="Stop shadowing."),
    as_json: bool = JsonOption,
) -> None:
    """Copy the traffic to a version whose answers are logged, never returned."""
    pl = client(ctx)
    if clear:
        result = pl.endpoints.configure(endpoint, clear_shadow=True)
    elif version is None:
        raise InvalidInput("Name the shadow version with --version, or stop with --clear.")
    else:
        result = pl.endpoints.shadow(endpoint, version)
    emit(result, as_json, ENDPOINT_COLUMNS)


# -- labels -----------------------------------------------------------------------------------


def labels(
    ctx: typer.Context,
    file: Path = typer.Argument(
        None, help="CSV, JSON or Parquet with request_id and label (or labels) columns."
    ),
    dataset: str = typer.Option(None, "--dataset", help="Or a dataset version: DS@V."),
    endpoint: str = typer.Option(None, "--endpoint", help="With --dataset: project/name."),
    key: str = typer.Option(None, "--key", help="With --dataset: its column of keys."),
    label: str = typer.Option(None, "--label", help="With --dataset: its column of labels."),
    window: str = typer.Option("30d", "--window", help="With --dataset: predictions to join."),
    as_json: bool = JsonOption,
) -> None:
    """Ground truth that arrived later, by request id or joined on a key from a dataset."""
    pl = client(ctx)
    if dataset:
        if not (endpoint and key and label):
            raise InvalidInput("With --dataset, give --endpoint, --key and --label too.")
        result = pl.monitoring.labels_from_dataset(endpoint, dataset, key, label, window)
    elif file is not None:
        result = pl.monitoring.add_labels(_label_records(file), source=f"file:{file.name}")
    else:
        raise InvalidInput("Give a labels FILE, or --dataset with --endpoint, --key, --label.")
    if as_json:
        emit_json(result)
        return
    console.print(
        f"{result['accepted']} requests labelled; {result['unknown_count']} unknown request ids"
        + (f" (first: {', '.join(result['unknown'][:5])})" if result["unknown"] else "")
    )


def _label_records(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InvalidInput(f"{path} is not a readable file.")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise InvalidInput(f"{path} is not JSON: {exc}.") from None
        return data.get("labels", data) if isinstance(data, dict) else data
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        rows = (
            pq.read_table(path) if path.suffix.lower() == ".parquet" else pacsv.read_csv(path)
        ).to_pylist()
    except Exception as exc:  # noqa: BLE001 - Arrow raises several kinds for a bad file
        raise InvalidInput(f"{path} could not be read: {exc}.") from None
    if rows and "request_id" not in rows[0]:
        raise InvalidInput(f"{path} has no 'request_id' column.")
    return rows


# -- monitor ----------------------------------------------------------------------------------


@monitor_app.command("dashboard")
def monitor_dashboard(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., help="project/name"),
    window: str = typer.Option("1h", "--window", help="15m, 24h, 7d ..."),
    as_json: bool = JsonOption,
) -> None:
    """Requests, error rate and p50/p95/p99 latency per minute and version."""
    board = client(ctx).monitoring.dashboard(endpoint, window)
    if as_json:
        emit_json(board)
        return
    totals = board["totals"]
    console.print(
        f"[bold]{endpoint}[/bold] last {window}: {totals['requests']} requests, error rate "
        f"{totals['error_rate']:.2%}, p50 {totals['p50_ms']} ms, p95 {totals['p95_ms']} ms, "
        f"p99 {totals['p99_ms']} ms"
    )
    table(
        None,
        ["minute", "version", "role", "requests", "errors", "p50_ms", "p95_ms", "p99_ms"],
        [
            [
                s["minute"][11:16],
                s["version"],
                s["role"],
                s["requests"],
                s["errors"],
                s["p50_ms"],
                s["p95_ms"],
                s["p99_ms"],
            ]
            for s in board["series"][-30:]
        ],
    )


@monitor_app.command("performance")
def monitor_performance(
    ctx: typer.Context,
    endpoint: str = typer.Argument(..., help="project/name"),
    window: str = typer.Option("7d", "--window"),
    segment: str = typer.Option(None, "--segment", help="An input to break the metrics down by."),
    as_json: bool = JsonOption,
) -> None:
    """Realised metrics from labels per version, per segment, with disparity ratios."""
    report = client(ctx).monitoring.performance(endpoint, window, segment)
    if as_json:
        emit_json(report)
        return
    console.print(
        f"[bold]{endpoint}[/bold]: {report['labelled_rows']} labelled rows, last {window}"
    )
    for version, entry in report["versions"].items():
        figures = {k: v for k, v in entry.items() if isinstance(v, float | int) and k != "rows"}
        console.print(
            f"  {version} ({entry['rows']} rows): "
            + ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items()
            )
        )
        for metric, spread in entry.get("disparity", {}).items():
            ratio = spread["ratio"]
            console.print(
                f"    {metric}: {spread['highest']['segment']} {spread['highest']['value']:.3f} vs "
                f"{spread['lowest']['segment']} {spread['lowest']['value']:.3f}"
                + (f" (ratio {ratio:.2f})" if ratio else "")
            )


@monitor_app.command("add")
def monitor_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="project/monitor"),
    endpoint: str = typer.Option(..., "--endpoint", help="project/name (same project)"),
    metric: str = typer.Option(
        ...,
        "--metric",
        help="p95_latency_ms, error_rate, drift_share, false_positive_rate, mae, accuracy ...",
    ),
    threshold: float = typer.Option(..., "--threshold"),
    window: str = typer.Option("15m", "--window"),
    role: str = typer.Option("primary", "--role", help="primary or canary traffic."),
    min_rows: int = typer.Option(20, "--min-rows", help="Fewer rows than this: no verdict."),
    schedule: str = typer.Option("* * * * *", "--schedule", help="Cron; run by passline up."),
    action: str = typer.Option("notify", "--action", help="notify or rollback."),
    webhook: str = typer.Option(None, "--webhook", help="POST each alert to this URL."),
    as_json: bool = JsonOption,
) -> None:
    """A rule checked on a schedule, with an alert and an optional automatic rollback."""
    project, _, monitor = name.partition("/")
    if not monitor or not endpoint.startswith(f"{project}/"):
        raise InvalidInput("Name the monitor project/name, on an endpoint of the same project.")
    result = client(ctx).monitoring.add_monitor(
        endpoint,
        monitor,
        metric,
        threshold,
        window=window,
        role=role,
        min_rows=min_rows,
        schedule=schedule,
        action=action,
        webhook_url=webhook,
    )
    if as_json:
        emit_json(result)
        return
    console.print(f"Monitor {project}/{monitor}: {result.description}, action {result.action}")


@monitor_app.command("list")
def monitor_list(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    monitors = client(ctx).monitoring.monitors(project)
    if as_json:
        emit_json(monitors)
        return
    table(
        "Monitors",
        ["monitor", "endpoint", "rule", "action", "last", "value"],
        [
            [
                f"{m.project}/{m.name}",
                m.endpoint,
                m.description,
                m.action,
                m.last_status,
                m.last_value,
            ]
            for m in monitors
        ],
    )


@monitor_app.command("run")
def monitor_run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="project/monitor"),
    as_json: bool = JsonOption,
) -> None:
    """Check a monitor now (alerts and rollbacks happen as on its schedule)."""
    outcome = client(ctx).monitoring.run_monitor(name)
    if as_json:
        emit_json(outcome)
        return
    console.print(f"{name}: {outcome['status']} (value {outcome['value']}, {outcome['rows']} rows)")
    if "alert" in outcome:
        console.print(
            f"  alert: {outcome['alert']['message']}; action {outcome['alert']['action']}"
        )


@monitor_app.command("alerts")
def monitor_alerts(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """The latest alerts, newest first."""
    alerts = client(ctx).monitoring.alerts(project, limit)
    if as_json:
        emit_json(alerts)
        return
    table(
        "Alerts",
        ["at", "monitor", "message", "action"],
        [
            [a.at.isoformat(timespec="seconds"), a.monitor, a.message, a.action.get("kind")]
            for a in alerts
        ],
    )


@monitor_app.command("drift")
def monitor_drift(
    ctx: typer.Context,
    reference: str = typer.Option(
        None,
        "--reference",
        help="DS@V (default for --endpoint: the training data of the version it serves).",
    ),
    current: str = typer.Option(None, "--current", help="A file (CSV, Parquet, JSON) or DS@V."),
    endpoint: str = typer.Option(
        None, "--endpoint", help="Or an endpoint's traffic: project/name."
    ),
    window: str = typer.Option("24h", "--window", help="With --endpoint: 15m, 24h, 7d ..."),
    role: str = typer.Option("primary", "--role", help="With --endpoint: primary or canary."),
    columns: str = typer.Option(None, "--columns", help="Comma-separated; default: all."),
    as_json: bool = JsonOption,
) -> None:
    """Per-column drift (KS, Wasserstein, chi-square, Jensen-Shannon, PSI) and the verdict."""
    pl = client(ctx)
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if endpoint:
        report = pl.monitoring.endpoint_drift(endpoint, window, role, reference)
    elif reference and current:
        is_version = "@" in current and not Path(current).exists()
        report = (
            pl.monitoring.drift(reference, current, names)
            if is_version
            else pl.monitoring.drift_of_file(reference, current, names)
        )
    else:
        raise InvalidInput("Give --reference DS@V with --current FILE|DS@V, or --endpoint E.")
    if as_json:
        emit_json(report)
        return
    _print_drift(report)


def _print_drift(report: dict[str, Any]) -> None:
    current = report.get("current") or f"{report['endpoint']} last {report['window']}"
    if report.get("message"):
        console.print(report["message"])
        return
    console.print(
        f"[bold]{report['reference']}[/bold] ({report['reference_rows']:,} rows) vs "
        f"[bold]{current}[/bold] ({report['current_rows']:,} rows): "
        f"{report['columns_drifted']} of {report['columns_checked']} columns drifted "
        f"(share {report['drift_share']:.2f}, threshold {report['drift_share_threshold']}): "
        + ("[red]DRIFT[/red]" if report["drifted"] else "[green]no drift[/green]")
    )
    rows = []
    for name, column in report["columns"].items():
        test = column.get("test") or {}
        psi = (column.get("psi") or {}).get("value")
        rows.append(
            [
                name,
                column["kind"],
                test.get("type", column["status"]),
                _number(column.get("statistic")),
                _number(column.get("p_value")),
                _number(test.get("threshold")),
                "yes" if column["drifted"] else "",
                _number(psi),
                column.get("message") or "",
            ]
        )
    table(
        None,
        ["column", "kind", "test", "statistic", "p-value", "threshold", "drifted", "psi", "note"],
        rows,
    )
    for name, side in report.get("missing_columns", {}).items():
        console.print(f"column {name!r} is missing from the {side} side")
    prediction = report.get("prediction")
    if prediction and prediction.get("status") == "checked":
        console.print(
            f"prediction drift: {prediction['test']['type']} {_number(prediction['score'])}"
            + (" [red]drifted[/red]" if prediction["drifted"] else " (no drift)")
        )


def _number(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
