"""passline data ... : ingest, versions, show, diff, check, scan, grant, source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from passline.cli.common import JsonOption, client, console, emit, emit_json, err_console, table
from passline.core.entities import DatasetVersion
from passline.errors import InvalidInput

app = typer.Typer(
    help="Datasets: ingest, versions, profiles, quality, access, catalog.", no_args_is_help=True
)
source_app = typer.Typer(
    help="Saved sources: connector configs that run on demand or on a schedule.",
    no_args_is_help=True,
)
app.add_typer(source_app, name="source")

VERSION_COLUMNS = ["number", "status", "mode", "rows", "new_bytes", "actor", "created_at", "id"]


def _types(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    pairs = [v.split("=", 1) for v in values]
    if any(len(p) != 2 or not p[0] or not p[1] for p in pairs):
        raise InvalidInput(f"--type takes COLUMN=TYPE, e.g. zip=string. Got {values!r} instead.")
    return {column: kind for column, kind in pairs}


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    dataset: str = typer.Argument(..., help="project/name to ingest into."),
    source: str = typer.Argument(..., help="A file, a glob (data/*.csv) or a URL (s3://...)."),
    format: str = typer.Option(None, "--format", help="csv, tsv, jsonl, parquet or xlsx."),
    mode: str = typer.Option(
        "replace",
        "--mode",
        help="replace: the new rows are the version; append: they are added to the latest version.",
    ),
    allow_breaking: bool = typer.Option(
        False, "--allow-breaking", help="Accept a dropped column or a narrowed type."
    ),
    on_bad_lines: str = typer.Option(
        "error", "--on-bad-lines", help="error, skip or quarantine malformed CSV rows."
    ),
    encoding: str = typer.Option("utf8", "--encoding", help="Text encoding, e.g. latin-1."),
    delimiter: str = typer.Option(None, "--delimiter", help="CSV field separator."),
    types: list[str] = typer.Option(None, "--type", help="COLUMN=TYPE, repeatable."),
    inputs: list[str] = typer.Option(
        None,
        "--input",
        help="A dataset version this data was derived from (lineage and sensitivity), repeatable.",
    ),
    description: str = typer.Option(None, "--description", "-d"),
    sheet: str = typer.Option(None, "--sheet", help="Excel sheet name."),
    as_json: bool = JsonOption,
) -> None:
    """Ingest a file into a new, immutable version of a dataset."""
    with console.status(f"Ingesting {source} into {dataset}..."):
        version = client(ctx).datasets.ingest(
            dataset,
            path=source,
            format=format,
            mode=mode,
            allow_breaking=allow_breaking,
            on_bad_lines=on_bad_lines,
            encoding=encoding,
            delimiter=delimiter,
            column_types=_types(types),
            inputs=inputs or None,
            description=description,
            sheet=sheet,
        )
    if as_json:
        emit_json(version)
        return
    _print_ingested(version)


def _print_ingested(version: DatasetVersion) -> None:
    if version.unchanged:
        console.print(f"{version.label} already holds exactly this data: nothing new stored.")
        return
    console.print(
        f"{version.label}: {version.rows:,} rows, {version.new_bytes:,} new bytes "
        f"({version.status}) {version.id}"
    )
    for result in version.quality:
        if not result["passed"]:
            style = "red" if result["level"] == "error" else "yellow"
            console.print(
                f"  [{style}]{result['level']}[/{style}] {result['message']}", markup=True
            )
    if version.status == "quarantined":
        err_console.print(
            "Quarantined: stored, but not the latest. Fix the data or the "
            "expectations; see 'passline data show'."
        )
    bad = version.bad_rows
    if bad.get("skipped") or bad.get("quarantined"):
        console.print(
            f"  bad lines: {bad.get('skipped', 0)} skipped, {bad.get('quarantined', 0)} set aside"
        )
    tags = {c: f["tags"] for c, f in version.pii.get("columns", {}).items() if f.get("tags")}
    if tags:
        console.print(
            f"  personal data suggested: {tags} (set a level with 'passline data sensitivity')"
        )


@app.command("list")
def list_(
    ctx: typer.Context,
    text: str = typer.Option(None, "--text", help="In the name or description."),
    tag: str = typer.Option(None, "--tag"),
    column: str = typer.Option(None, "--column", help="Datasets with this column."),
    owner: str = typer.Option(None, "--owner"),
    sensitivity: str = typer.Option(None, "--sensitivity"),
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """The catalog: datasets you can see, with filters."""
    found = client(ctx).datasets.search(text, tag, column, owner, sensitivity, project)
    if as_json:
        emit_json(found)
        return
    table(
        "Datasets",
        ["dataset", "sensitivity", "owner", "tags", "latest", "description"],
        [
            [
                f"{d.project}/{d.name}",
                d.sensitivity,
                d.owner,
                ",".join(d.tags),
                d.latest_version,
                d.description,
            ]
            for d in found
        ],
    )


@app.command("versions")
def versions(ctx: typer.Context, dataset: str, as_json: bool = JsonOption) -> None:
    """Every version of a dataset, newest first (quarantined ones too)."""
    emit(client(ctx).datasets.versions(dataset), as_json, VERSION_COLUMNS, title=dataset)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="project/name[@vN]"),
    as_json: bool = JsonOption,
) -> None:
    """A version: schema, source, quality results, PII suggestions and profile."""
    pl = client(ctx)
    version, profile = pl.datasets.version(ref), pl.datasets.profile(ref)
    dataset = pl.datasets.info(ref)
    if as_json:
        emit_json({"dataset": dataset, "version": version, "profile": profile})
        return
    console.print(
        f"[bold]{version.label}[/bold] {version.status}, {version.rows:,} rows, "
        f"sensitivity {dataset.sensitivity}, owner {dataset.owner}"
        + (", encrypted" if version.encrypted else "")
    )
    console.print(f"source: {json.dumps(version.source, default=str)}")
    table(
        "Columns",
        ["column", "type", "nulls", "distinct", "min", "max", "mean", "pii"],
        [_column_row(c, profile.get(c["name"], {}), version.pii) for c in version.columns],
    )
    if version.quality:
        table(
            "Quality",
            ["level", "passed", "message"],
            [[r["level"], r["passed"], r["message"]] for r in version.quality],
        )


def _column_row(column: dict[str, Any], summary: dict[str, Any], pii: dict[str, Any]) -> list[Any]:
    finding = pii.get("columns", {}).get(column["name"], {})
    mean = summary.get("mean")
    return [
        column["name"],
        column["type"],
        summary.get("nulls"),
        summary.get("distinct"),
        summary.get("min"),
        summary.get("max"),
        f"{mean:.4g}" if isinstance(mean, float) else "",
        ",".join(finding.get("tags", [])),
    ]


@app.command("profile")
def profile(ctx: typer.Context, ref: str, as_json: bool = JsonOption) -> None:
    """Per-column statistics of a version (JSON has the quantiles and histograms)."""
    summary = client(ctx).datasets.profile(ref)
    if as_json:
        emit_json(summary)
        return
    table(
        f"Profile of {ref}",
        ["column", "kind", "rows", "nulls", "distinct", "p50", "top"],
        [
            [
                c,
                s.get("kind"),
                s.get("rows"),
                s.get("nulls"),
                s.get("distinct"),
                s.get("quantiles", {}).get("p50", ""),
                ", ".join(f"{t['value']}:{t['count']}" for t in s.get("top", [])[:3]),
            ]
            for c, s in summary.items()
        ],
    )


@app.command("diff")
def diff(
    ctx: typer.Context,
    old: str,
    new: str,
    key: list[str] = typer.Option(None, "--key", help="Key column(s) for a row diff."),
    as_json: bool = JsonOption,
) -> None:
    """Compare two versions: schema, row counts, profile deltas, and rows by key."""
    result = client(ctx).datasets.diff(old, new, key or None)
    if as_json:
        emit_json(result)
        return
    console.print(
        f"{result['old']} -> {result['new']}: rows {result['rows']['old']:,} -> "
        f"{result['rows']['new']:,}"
    )
    for line in result["schema"] or ["schema unchanged"]:
        console.print(f"  {line}", markup=False)
    if "row_diff" in result:
        for line in result["row_diff"]["summary"]:
            console.print(f"  rows: {line}", markup=False)
    table(
        "Profile changes",
        ["column", "stat", "old", "new", "relative"],
        [
            [p["column"], stat, v.get("old"), v.get("new"), v.get("relative")]
            for p in result["profile"]
            for stat, v in p.get("stats", {}).items()
            if v.get("relative") not in (None, 0, 0.0)
        ],
    )


@app.command("check")
def check(ctx: typer.Context, ref: str, as_json: bool = JsonOption) -> None:
    """Run the dataset's current expectations on a stored version."""
    results = client(ctx).datasets.check(ref)
    if as_json:
        emit_json(results)
    else:
        table(
            f"Quality of {ref}",
            ["type", "column", "level", "passed", "message"],
            [[r["type"], r["column"], r["level"], r["passed"], r["message"]] for r in results],
        )
    if any(not r["passed"] and r["level"] == "error" for r in results):
        raise typer.Exit(2)


@app.command("scan")
def scan(ctx: typer.Context, ref: str, as_json: bool = JsonOption) -> None:
    """Scan a stored version for personal data and suggest column tags."""
    result = client(ctx).datasets.scan(ref)
    if as_json:
        emit_json(result)
        return
    table(
        f"Personal data in {ref} (NER: {result.get('ner')})",
        ["column", "tags", "examples"],
        [
            [c, ",".join(f.get("tags", [])), "; ".join(_examples(f))]
            for c, f in result.get("columns", {}).items()
            if f.get("tags")
        ],
    )


def _examples(finding: dict[str, Any]) -> list[str]:
    examples = finding.get("examples", {})
    if isinstance(examples, dict):
        return [e for values in examples.values() for e in values][:3]
    return list(examples)[:3]


@app.command("configure")
def configure(
    ctx: typer.Context,
    dataset: str,
    description: str = typer.Option(None, "--description", "-d"),
    key: str = typer.Option(None, "--key", help="Comma-separated key columns."),
    expectations: Path = typer.Option(None, "--expectations", help="A YAML file of checks."),
    tags: str = typer.Option(None, "--tags", help="Comma-separated tags."),
    as_json: bool = JsonOption,
) -> None:
    """Set a dataset's description, key, quality expectations or tags."""
    yaml_text = _read_text(expectations) if expectations else None
    result = client(ctx).datasets.configure(
        dataset,
        description,
        key.split(",") if key else None,
        yaml_text,
        tags.split(",") if tags else None,
    )
    emit(result, as_json, ["project", "name", "description", "key_columns", "tags"])


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InvalidInput(f"Cannot read {path}: {exc.strerror}.") from None


@app.command("tag")
def tag(
    ctx: typer.Context,
    dataset: str,
    column: str,
    tags: list[str] = typer.Argument(..., help="e.g. pii email"),
    as_json: bool = JsonOption,
) -> None:
    """Set a column's tags."""
    emit(
        client(ctx).datasets.tag_column(dataset, column, tags),
        as_json,
        ["project", "name", "column_tags"],
    )


@app.command("sensitivity")
def sensitivity(
    ctx: typer.Context,
    dataset: str,
    level: str = typer.Argument(..., help="public, internal, confidential, restricted"),
    reason: str = typer.Option(None, "--reason", help="Needed to go below an input's level."),
    as_json: bool = JsonOption,
) -> None:
    """Set the sensitivity level (restricted: encrypted, readable with a grant only)."""
    emit(
        client(ctx).datasets.set_sensitivity(dataset, level, reason),
        as_json,
        ["project", "name", "sensitivity", "sensitivity_reason"],
    )


@app.command("grant")
def grant(
    ctx: typer.Context,
    dataset: str,
    user: str,
    reason: str = typer.Option(..., "--reason"),
    as_json: bool = JsonOption,
) -> None:
    """Let a user read a restricted dataset (owner or project admin)."""
    emit(
        client(ctx).datasets.grant(dataset, user, reason),
        as_json,
        ["dataset", "user", "granted_by", "reason"],
    )


@app.command("revoke")
def revoke(ctx: typer.Context, dataset: str, user: str) -> None:
    """Take back a user's read grant."""
    client(ctx).datasets.revoke(dataset, user)
    console.print(f"Revoked {user}'s grant on {dataset}.")


@app.command("grants")
def grants(ctx: typer.Context, dataset: str, as_json: bool = JsonOption) -> None:
    """Who may read a restricted dataset."""
    emit(
        client(ctx).datasets.grants(dataset),
        as_json,
        ["user", "granted_by", "granted_at", "reason"],
        title=f"Grants on {dataset}",
    )


@app.command("export")
def export(
    ctx: typer.Context,
    ref: str,
    dest: Path,
    columns: str = typer.Option(None, "--columns", help="Comma-separated."),
) -> None:
    """Write a version's rows to a .parquet, .csv or .jsonl file."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    data = client(ctx).datasets.read(ref, columns.split(",") if columns else None)
    suffix = dest.suffix.lower()
    if suffix == ".parquet":
        pq.write_table(data, dest)
    elif suffix == ".csv":
        pacsv.write_csv(data, dest)
    elif suffix in (".jsonl", ".ndjson"):
        dest.write_text("".join(json.dumps(r, default=str) + "\n" for r in data.to_pylist()))
    else:
        raise InvalidInput(f"Export to .parquet, .csv or .jsonl. Got {dest.name!r} instead.")
    console.print(f"Wrote {data.num_rows:,} rows to {dest}.")


@source_app.command("add")
def source_add(
    ctx: typer.Context,
    project: str,
    name: str,
    kind: str = typer.Option(..., "--kind", help="file, sql, http or redis"),
    config: str = typer.Option(
        ...,
        "--config",
        help="JSON object, or @file.json. Secrets "
        "only as refs: env:NAME, secret:NAME, file:path#key.",
    ),
    dataset: str = typer.Option(..., "--dataset", help="Dataset name in the project."),
    mode: str = typer.Option("replace", "--mode"),
    schedule: str = typer.Option(None, "--schedule", help="Cron, e.g. '0 6 * * *'."),
    as_json: bool = JsonOption,
) -> None:
    """Save a source; `passline up` runs it on its schedule."""
    parsed = _json_arg(config)
    result = client(ctx).sources.add(project, name, kind, parsed, dataset, mode, None, schedule)
    emit(result, as_json, ["project", "name", "kind", "dataset", "mode", "schedule", "next_run_at"])


def _json_arg(text: str) -> dict[str, Any]:
    raw = _read_text(Path(text[1:])) if text.startswith("@") else text
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--config must be a JSON object: {exc}.") from None
    if not isinstance(value, dict):
        raise InvalidInput("--config must be a JSON object.")
    return value


@source_app.command("list")
def source_list(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project", "-p"),
    as_json: bool = JsonOption,
) -> None:
    """Saved sources and how their last run went."""
    emit(
        client(ctx).sources.list(project),
        as_json,
        ["project", "name", "kind", "dataset", "schedule", "last_status", "last_message"],
        title="Sources",
    )


@source_app.command("run")
def source_run(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="project/name"),
    as_json: bool = JsonOption,
) -> None:
    """Run a saved source now."""
    project, _, name = source.partition("/")
    if not name:
        raise InvalidInput(f"Name the source as project/name. Got {source!r} instead.")
    with console.status(f"Running {source}..."):
        version = client(ctx).sources.run(project, name)
    if as_json:
        emit_json(version)
    else:
        _print_ingested(version)


@source_app.command("remove")
def source_remove(
    ctx: typer.Context, source: str = typer.Argument(..., help="project/name")
) -> None:
    """Delete a saved source (its datasets stay)."""
    project, _, name = source.partition("/")
    client(ctx).sources.remove(project, name)
    console.print(f"Removed source {source}.")
