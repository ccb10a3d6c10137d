"""The steps of indexing a batch of files into a collection, in the order that keeps every
state a reader can see whole.

1. check: paths, ACLs (every user, group and role must exist), what changed (digests);
2. parse every new or changed file, failing the whole batch if one cannot be read;
3. chunk and embed (no lock held, nothing written);
4. store the originals (content-addressed blobs) and write each new version to the vector
   index in its own transaction; no reader asks for a version the metadata does not name;
5. commit the metadata (documents, ACLs, artifacts, lineage nodes, audit) in one
   transaction: this is the moment readers switch to the new text and ACLs;
6. drop the versions the metadata no longer names.

A crash between 4 and 5 leaves only unnamed versions behind, swept on a later run.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import time
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passline.core.rag import Acl, IndexedFile
from passline.errors import InvalidInput
from passline.rag import AclRules, ParsedDocument, chunk_text, parse_document
from passline.store.models import DocumentRow, GroupRow, UserRow

__all__ = ["Batch", "Incoming", "check_names", "check_path", "plan", "prepare"]


@dataclass
class Incoming:
    """One file of a batch, and what indexing learns about it."""

    path: str
    data: bytes
    acl: Acl
    digest: str = ""
    document_id: str | None = None  # set when the path is already in the collection
    status: str = "added"
    parsed: ParsedDocument | None = None
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    old_digest: str | None = None

    def report(self) -> IndexedFile:
        chunks = len(self.spans)
        return IndexedFile(
            path=self.path,
            document_id=self.document_id or "",
            title=self.parsed.title if self.parsed else "",
            status=self.status,  # type: ignore[arg-type]
            chunks=chunks,
            acl=self.acl,
        )


@dataclass
class Batch:
    files: list[Incoming]
    parse_s: float = 0.0
    embed_s: float = 0.0
    vectors: Any = None  # one row per span of every file needing content, in order

    @property
    def changed(self) -> list[Incoming]:
        return [f for f in self.files if f.status in ("added", "updated")]


def check_path(path: str) -> str:
    """A relative POSIX path inside the collection (no '..', no leading '/')."""
    clean = PurePosixPath(path.replace("\\", "/"))
    if not path or clean.is_absolute() or ".." in clean.parts or len(str(clean)) > 500:
        raise InvalidInput(
            f"A document path must be relative, without '..', at most 500 characters. "
            f"Got {path!r} instead."
        )
    return str(clean)


def check_names(session: Session, rules: AclRules) -> None:
    """InvalidInput naming every user or group an ACL mentions that does not exist, and
    the rule that mentions it."""
    named = rules.named()
    wanted = {k: {n for _, acl in named for n in getattr(acl, k)} for k in ("users", "groups")}
    known = {
        "users": set(
            session.execute(select(UserRow.name).where(UserRow.name.in_(wanted["users"]))).scalars()
        ),
        "groups": set(
            session.execute(
                select(GroupRow.name).where(GroupRow.name.in_(wanted["groups"]))
            ).scalars()
        ),
    }
    unknown = [
        f"{kind[:-1]} {name!r} ({where})"
        for where, acl in named
        for kind in ("users", "groups")
        for name in getattr(acl, kind)
        if name not in known[kind]
    ]
    if unknown:
        raise InvalidInput(
            f"The ACL names {', '.join(unknown)}, which do not exist. Nothing was indexed.",
            hint="Create groups with 'passline groups create' and users with "
            "'passline users create', or fix the names.",
            unknown=unknown,
        )


def plan(session: Session, collection_id: str, files: list[Incoming]) -> None:
    """Mark each file added, updated, unchanged or acl_changed against what is stored."""
    paths = [f.path for f in files]
    rows = session.execute(
        select(DocumentRow).where(
            DocumentRow.collection_id == collection_id, DocumentRow.path.in_(paths)
        )
    ).scalars()
    stored = {r.path: r for r in rows}
    for f in files:
        f.digest = hashlib.sha256(f.data).hexdigest()
        row = stored.get(f.path)
        if row is None:
            continue
        f.document_id, f.old_digest = row.id, row.digest
        if row.digest != f.digest:
            f.status = "updated"
        else:
            same_acl = Acl(**(row.acl or {})) == f.acl
            f.status = "unchanged" if same_acl else "acl_changed"
            f.spans = [(0, 0, "")] * row.chunks  # for the report's chunk count
            f.parsed = ParsedDocument("", row.title, "")


def prepare(batch: Batch, chunk_tokens: int, embed: Any) -> None:
    """Parse, chunk and embed every new or changed file; InvalidInput naming each file that
    cannot be read, before anything is stored."""
    started = time.perf_counter()
    problems = []
    for f in batch.changed:
        try:
            f.parsed = parse_document(f.data, f.path)
        except InvalidInput as exc:
            problems.append(exc.message)
            continue
        f.spans = [(c.start, c.end, c.text) for c in chunk_text(f.parsed.text, chunk_tokens)]
    if problems:
        more = f" ({len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InvalidInput(
            f"{problems[0]}{more} Nothing was indexed.",
            hint="Fix or remove the file(s) and index again.",
            files=problems,
        )
    batch.parse_s = time.perf_counter() - started
    started = time.perf_counter()
    texts = [f"{f.parsed.title}\n{s[2]}" for f in batch.changed for s in f.spans if f.parsed]
    batch.vectors = embed(texts) if texts else None  # nothing new: the model is not loaded
    batch.embed_s = time.perf_counter() - started


def media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def stream(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)
