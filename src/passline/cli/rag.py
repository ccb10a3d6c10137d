"""passline rag ... and passline groups ..."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.markup import escape

from passline.cli.common import JsonOption, client, console, emit, emit_json, table
from passline.core.rag import Group

rag_app = typer.Typer(
    help="Permission-aware retrieval: collections, documents with ACLs, questions.",
    no_args_is_help=True,
)
groups_app = typer.Typer(help="Groups of users, named by document ACLs.", no_args_is_help=True)
GROUP_COLUMNS = ["name", "description", "members"]
COLLECTION_COLUMNS = ["project", "name", "documents", "chunks", "embedding_model", "chunk_tokens"]
CollectionOption = typer.Option(..., "--collection", "-c", help="PROJECT/NAME")
AsOption = typer.Option(
    None, "--as", help="Ask as this user (workspace admins, authorised service accounts)."
)


@groups_app.command("create")
def create_group(
    ctx: typer.Context,
    name: str,
    description: str = typer.Option("", "--description"),
    as_json: bool = JsonOption,
) -> None:
    """Create a group (workspace admins)."""
    _group(client(ctx).groups.create(name, description), as_json)


@groups_app.command("list")
def list_groups(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Every group and its members."""
    groups = client(ctx).groups.list()
    if as_json:
        emit_json(groups)
        return
    table("Groups", GROUP_COLUMNS, [[g.name, g.description, ", ".join(g.members)] for g in groups])


@groups_app.command("add-member")
def add_member(ctx: typer.Context, group: str, user: str, as_json: bool = JsonOption) -> None:
    """Put a user in a group (workspace admins)."""
    _group(client(ctx).groups.add_member(group, user), as_json)


@groups_app.command("remove-member")
def remove_member(ctx: typer.Context, group: str, user: str, as_json: bool = JsonOption) -> None:
    """Take a user out of a group (workspace admins)."""
    _group(client(ctx).groups.remove_member(group, user), as_json)


def _group(group: Group, as_json: bool) -> None:
    if as_json:
        emit_json(group)
        return
    table(None, GROUP_COLUMNS, [[group.name, group.description, ", ".join(group.members)]])


def _at(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


@rag_app.command("create")
def create(
    ctx: typer.Context,
    collection: str = typer.Argument(..., help="PROJECT/NAME"),
    description: str = typer.Option("", "--description"),
    chunk_tokens: int = typer.Option(150, "--chunk-tokens", help="Words per chunk."),
    as_json: bool = JsonOption,
) -> None:
    """Create a collection (project contributors); 'rag index' creates one when missing."""
    made = client(ctx).rag.create_collection(collection, description, chunk_tokens)
    emit(made, as_json, COLLECTION_COLUMNS)


@rag_app.command("index")
def index(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Files and folders (txt, md, pdf, docx, html)."),
    collection: str = CollectionOption,
    acl: Path = typer.Option(None, "--acl", help="ACL.yaml: path globs to ACLs."),
    as_json: bool = JsonOption,
) -> None:
    """Index documents with their ACLs; unchanged files are skipped."""
    report = client(ctx).rag.index(collection, paths, acl_file=acl)
    if as_json:
        emit_json(report)
        return
    table(
        f"{collection}",
        ["path", "status", "chunks", "title", "acl"],
        [[f.path, f.status, f.chunks, f.title, f.acl.describe()] for f in report.files],
    )
    counts = ", ".join(
        f"{report.count(s)} {s}" for s in ("added", "updated", "acl_changed", "unchanged")
    )
    console.print(
        f"{counts}; parse {report.parse_s:.2f} s, embed {report.embed_s:.2f} s, "
        f"store {report.store_s:.2f} s."
    )


@rag_app.command("collections")
def collections(
    ctx: typer.Context,
    project: str = typer.Option(None, "--project"),
    as_json: bool = JsonOption,
) -> None:
    """Collections of the projects you can view."""
    emit(client(ctx).rag.collections(project), as_json, COLLECTION_COLUMNS, title="Collections")


@rag_app.command("documents")
def documents(ctx: typer.Context, collection: str, as_json: bool = JsonOption) -> None:
    """Documents and their ACLs (all for project admins, else those you may read)."""
    found = client(ctx).rag.documents(collection)
    if as_json:
        emit_json(found)
        return
    table(
        collection,
        ["id", "path", "title", "chunks", "acl"],
        [[d.id, d.path, d.title, d.chunks, d.acl.describe()] for d in found],
    )


@rag_app.command("ask")
def ask(
    ctx: typer.Context,
    question: str,
    collection: str = CollectionOption,
    as_user: str = AsOption,
    model: str = typer.Option(None, "--model", help="A configured model; the default if unset."),
    k: int = typer.Option(4, "-k", help="Passages to retrieve."),
    as_json: bool = JsonOption,
) -> None:
    """Answer from the documents the asking user may read, with numbered citations."""
    answer = client(ctx).rag.ask(question, collection, as_user, model, k)
    if as_json:
        emit_json(answer)
        return
    console.print(escape(answer.text), soft_wrap=True)
    if answer.sources:
        console.print("\nSources:")
    for s in answer.sources:
        mark = "" if s.cited else "  (not cited)"
        console.print(f"  [{s.number}] {s.title} ({s.path}){mark}", markup=False)
    console.print(f"\ntrace {answer.trace_id}, as {answer.user}", style="dim")


@rag_app.command("retrieve")
def retrieve(
    ctx: typer.Context,
    question: str,
    collection: str = CollectionOption,
    as_user: str = AsOption,
    k: int = typer.Option(4, "-k", help="Passages to retrieve."),
    as_json: bool = JsonOption,
) -> None:
    """The passages the asking user may read that best match the question (no model)."""
    found = client(ctx).rag.retrieve(question, collection, as_user, k)
    if as_json:
        emit_json(found)
        return
    if not found.passages:
        console.print(f"No passage that {found.user} may read matches (trace {found.trace_id}).")
        return
    table(
        f"{collection}, as {found.user} (trace {found.trace_id})",
        ["rank", "score", "path", "chars", "text"],
        [
            [p.rank, f"{p.score:.3f}", p.path, f"{p.start}-{p.end}", " ".join(p.text.split())[:80]]
            for p in found.passages
        ],
    )


@rag_app.command("who-saw")
def who_saw(ctx: typer.Context, document: str, as_json: bool = JsonOption) -> None:
    """Who was shown a document (id or PROJECT/COLLECTION:PATH), when, in which traces."""
    seen = client(ctx).rag.who_saw(document)
    if as_json:
        emit_json(seen)
        return
    console.print(f"{seen.document.collection}:{seen.document.path} ({seen.document.title})")
    table(
        "Users",
        ["user", "times", "first_at", "last_at"],
        [[v.user, v.times, _at(v.first_at), _at(v.last_at)] for v in seen.users],
    )
    table(
        "Retrievals",
        ["at", "user", "rank", "score", "trace", "question"],
        [
            [_at(r.at), r.user, r.rank, f"{r.score:.3f}", r.trace_id, r.question]
            for r in seen.retrievals
        ],
    )


@rag_app.command("asked-by")
def asked_by(
    ctx: typer.Context,
    user: str = typer.Argument(None, help="A user; you by default."),
    limit: int = typer.Option(200, "--limit"),
    as_json: bool = JsonOption,
) -> None:
    """The documents a user was shown, and the questions that retrieved them."""
    found = client(ctx).rag.asked_by(user, limit)
    if as_json:
        emit_json(found)
        return
    table(
        "Retrievals",
        ["at", "user", "collection", "path", "rank", "trace", "question"],
        [[_at(r.at), r.user, r.collection, r.path, r.rank, r.trace_id, r.question] for r in found],
    )
