"""Permission-aware retrieval: collections of documents with ACLs, indexed into a vector
index, searched and answered for a user under that user's rights.

The rights are applied before ranking: the documents the reader may see are worked out
here from the metadata (their ACL against the reader's name, groups and project role), and
the vector index searches those documents' chunks only (:mod:`passline.rag.index`). So a
chunk the reader may not read is never a candidate, never ranked, never sent to a model.

Every retrieval is recorded: a trace with a retrieval span, a ``retrievals`` row per
document shown, and a lineage edge ``document --retrieved_in--> trace``. That is what
answers "who has seen the salary file?" (:meth:`RagService.who_saw`) and "what did this
user ask?" (:meth:`RagService.asked_by`). Refusals are audited.
"""

from __future__ import annotations

import base64
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.rag import (
    Acl,
    Answer,
    Audience,
    Collection,
    Document,
    IndexReport,
    Retrieval,
    Retrieved,
    split_collection,
)
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.rag import AclRules, Reader, check_acl
from passline.rag.index import VectorIndex
from passline.services import rag_answers, rag_indexing
from passline.services.base import BaseService
from passline.services.groups import groups_of
from passline.services.lineage import ensure_node
from passline.store.models import (
    ArtifactRow,
    CollectionRow,
    DocumentRow,
    ProjectRow,
    UserRow,
)

if TYPE_CHECKING:
    from passline.services.workspace import Services, Workspace

__all__ = ["RagService", "read_files"]

MAX_BATCH_BYTES = 64 * 1024 * 1024
_INDEXES: weakref.WeakKeyDictionary[Workspace, dict[str, VectorIndex]] = weakref.WeakKeyDictionary()
_INDEX_LOCK = threading.Lock()


def _embed(texts: list[str]) -> Any:
    from passline.llm.embeddings import embedder

    return embedder().embed(texts)


def _embedding_model() -> tuple[str, int]:
    from passline.llm.embeddings import DIMENSIONS, EMBEDDING_MODEL

    return EMBEDDING_MODEL, DIMENSIONS


class RagService(BaseService):
    # -- collections -----------------------------------------------------------------------
    def create_collection(
        self, project: str, name: str, description: str = "", chunk_tokens: int = 150
    ) -> Collection:
        """A collection in ``project`` (contributors), embedded with the local model."""
        check_name("collection", name)
        if not 20 <= chunk_tokens <= 2000:
            raise InvalidInput(
                f"The 'chunk_tokens' must be an integer in [20, 2000]. Got {chunk_tokens} instead."
            )
        model, dimensions = _embedding_model()
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "create collections")
            if self._collection_or_none(session, prj.id, name) is not None:
                raise Conflict(f"Project {project!r} already has a collection named {name!r}.")
            row = CollectionRow(
                id=new_id("col"),
                project_id=prj.id,
                name=name,
                description=description,
                embedding_model=model,
                dimensions=dimensions,
                chunk_tokens=chunk_tokens,
                created_by=self.actor_name,
                created_at=utcnow(),
            )
            session.add(row)
            self._audit(
                session,
                "rag.collection.create",
                f"collection:{project}/{name}",
                project,
                {"embedding_model": model, "chunk_tokens": chunk_tokens},
            )
            return _collection(row, project, 0, 0)

    def collections(self, project: str | None = None) -> list[Collection]:
        """The collections of the projects the caller can view."""
        with self.db.read() as session:
            query = select(CollectionRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == CollectionRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "list collections")
                query = query.where(ProjectRow.name == project)
            rows = session.execute(query.order_by(ProjectRow.name, CollectionRow.name)).all()
            counts = dict(
                session.execute(
                    select(
                        DocumentRow.collection_id,
                        func.count(),
                    ).group_by(DocumentRow.collection_id)
                ).all()
            )
            chunks = dict(
                session.execute(
                    select(DocumentRow.collection_id, func.sum(DocumentRow.chunks)).group_by(
                        DocumentRow.collection_id
                    )
                ).all()
            )
            return [
                _collection(row, name, counts.get(row.id, 0), int(chunks.get(row.id) or 0))
                for row, name in rows
                if self._role_in(session, row.project_id) is not None
            ]

    def collection(self, collection: str) -> Collection:
        with self.db.read() as session:
            row, project = self._collection_row(session, collection, Role.VIEWER, "read it")
            documents, chunks = session.execute(
                select(func.count(), func.coalesce(func.sum(DocumentRow.chunks), 0)).where(
                    DocumentRow.collection_id == row.id
                )
            ).one()
            return _collection(row, project, documents, int(chunks))

    # -- documents -------------------------------------------------------------------------
    def documents(self, collection: str) -> list[Document]:
        """The documents and their ACLs: all of them for project admins, otherwise those
        the caller may read."""
        with self.db.read() as session:
            row, project = self._find_collection(session, collection)
            rows = session.execute(
                select(DocumentRow)
                .where(DocumentRow.collection_id == row.id)
                .order_by(DocumentRow.path)
            ).scalars()
            reader = self._reader(session, self.ctx.actor.user_id, self.actor_name, row)
            everything = reader.role == Role.ADMIN
            return [
                _document(d, collection)
                for d in rows
                if everything or check_acl(Acl(**d.acl), reader)
            ]

    def document(self, document: str) -> Document:
        """A document by id, ``document:<id>`` or ``project/collection:path``, if the caller
        may read it or administers its project."""
        with self.db.read() as session:
            doc, coll, name = self._document_row(session, document)
            reader = self._reader(session, self.ctx.actor.user_id, self.actor_name, coll)
            if reader.role != Role.ADMIN and not check_acl(Acl(**doc.acl), reader):
                raise NotFound(f"No document {document!r} that you may read.")
            return _document(doc, name)

    def index(
        self,
        collection: str,
        paths: Sequence[str | Path],
        acl: dict[str, Any] | Acl | None = None,
        acl_file: str | Path | None = None,
    ) -> IndexReport:
        """Index files and folders on this machine (in-process only; remote clients send
        contents with :meth:`add_documents`, which the SDK's ``rag.index`` does for them)."""
        files, rules = read_files(paths, acl_file)
        return self.add_documents(collection, files, acl=acl, rules=rules)

    def add_documents(
        self,
        collection: str,
        documents: list[dict[str, str]],
        acl: dict[str, Any] | Acl | None = None,
        rules: dict[str, Any] | None = None,
    ) -> IndexReport:
        """Index ``[{"path", "content" (base64)}]``: each document gets the ACL of the first
        rule glob matching its path, else ``acl``; same content and ACL is a no-op, changed
        content replaces the document's chunks atomically (contributors)."""
        ruleset = AclRules.from_mapping(rules, acl, "the ACL rules")
        incoming = self._decode(documents, ruleset)
        with self.db.read() as session:
            row, project = self._collection_row(session, collection, Role.CONTRIBUTOR, "index")
            rag_indexing.check_names(session, ruleset)
            rag_indexing.plan(session, row.id, incoming)
        batch = rag_indexing.Batch(incoming)
        rag_indexing.prepare(batch, row.chunk_tokens, _embed)
        return self._store(row, project, collection, batch)

    # -- reading ---------------------------------------------------------------------------
    def retrieve(
        self, collection: str, question: str, as_user: str | None = None, k: int = 4
    ) -> Retrieved:
        """The ``k`` passages nearest to ``question`` among those ``as_user`` may read
        (the caller by default); traced and recorded like an answer."""
        return rag_answers.retrieve(self, collection, question, as_user, k)

    def ask(
        self,
        collection: str,
        question: str,
        as_user: str | None = None,
        model: str | None = None,
        k: int = 4,
    ) -> Answer:
        """An answer from the passages ``as_user`` may read, citing them as [1], [2]."""
        return rag_answers.ask(self, collection, question, as_user, model, k)

    def who_saw(self, document: str) -> Audience:
        """Every user a document was shown to, and in which traces (project admins)."""
        with self.db.read() as session:
            doc, coll, name = self._document_row(session, document)
            project = session.get_one(ProjectRow, coll.project_id).name
            self._require(session, project, Role.ADMIN, "see who retrieved its documents")
            records = rag_answers.retrievals(session, document_id=doc.id)
            return rag_answers.audience(_document(doc, name), records)

    def asked_by(self, user: str | None = None, limit: int = 200) -> list[Retrieval]:
        """What ``user`` (the caller by default) was shown, newest first. Other users'
        records need workspace admin, or are limited to projects the caller administers."""
        target = user or self.actor_name
        with self.db.read() as session:
            projects = None
            if target != self.actor_name and not self.ctx.actor.is_admin:
                projects = self._administered(session)
                if not projects:
                    raise PermissionDenied(
                        f"User {self.actor_name!r} cannot see what {target!r} asked: only "
                        "workspace admins and admins of a project can.",
                    )
            return rag_answers.retrievals(session, user=target, projects=projects, limit=limit)

    # -- helpers shared with rag_answers -----------------------------------------------------
    @property
    def services(self) -> Services:
        return self.ws.services(self.ctx)

    def vector_index(self, row: CollectionRow) -> VectorIndex:
        with _INDEX_LOCK:
            opened = _INDEXES.setdefault(self.ws, {})
            if row.id not in opened:
                path = self.ws.settings.home / "rag" / f"{row.id}.sqlite"
                opened[row.id] = VectorIndex(path, row.dimensions, row.embedding_model)
            return opened[row.id]

    def reader(self, session: Session, user: str, row: CollectionRow) -> Reader:
        found = session.execute(select(UserRow).where(UserRow.name == user)).scalar_one_or_none()
        if found is None:
            raise NotFound(f"No user named {user!r}.", hint="List them: passline users list")
        if found.disabled:
            raise PermissionDenied(f"User {user!r} is disabled.")
        return self._reader(session, found.id, found.name, row, found.is_admin)

    def _reader(
        self, session: Session, user_id: str, name: str, row: CollectionRow, admin: bool = False
    ) -> Reader:
        from passline.store.models import MembershipRow

        admin = admin or (user_id == self.ctx.actor.user_id and self.ctx.actor.is_admin)
        held = session.execute(
            select(MembershipRow.role).where(
                MembershipRow.project_id == row.project_id, MembershipRow.user_id == user_id
            )
        ).scalar_one_or_none()
        role = Role.ADMIN if admin else (Role(held) if held else None)
        return Reader(name, groups_of(session, user_id), role)

    def _find_collection(self, session: Session, collection: str) -> tuple[CollectionRow, str]:
        project, name = split_collection(collection)
        prj = self._project(session, project)
        row = self._collection_or_none(session, prj.id, name)
        if row is None:
            raise NotFound(
                f"Project {project!r} has no collection named {name!r}.",
                hint="List them with 'passline rag collections'.",
            )
        return row, project

    def _collection_row(
        self, session: Session, collection: str, role: Role, action: str
    ) -> tuple[CollectionRow, str]:
        project, _ = split_collection(collection)
        self._require(session, project, role, f"{action} in collection {collection!r}")
        return self._find_collection(session, collection)

    def _collection_or_none(
        self, session: Session, project_id: str, name: str
    ) -> CollectionRow | None:
        return session.execute(
            select(CollectionRow).where(
                CollectionRow.project_id == project_id, CollectionRow.name == name
            )
        ).scalar_one_or_none()

    def _document_row(
        self, session: Session, document: str
    ) -> tuple[DocumentRow, CollectionRow, str]:
        if ":" in document and not document.startswith("document:"):
            collection, _, path = document.partition(":")
            coll, _ = self._find_collection(session, collection)
            doc = session.execute(
                select(DocumentRow).where(
                    DocumentRow.collection_id == coll.id, DocumentRow.path == path
                )
            ).scalar_one_or_none()
        else:
            doc = session.get(DocumentRow, document.removeprefix("document:"))
            coll = session.get_one(CollectionRow, doc.collection_id) if doc else None
        if doc is None or coll is None:
            raise NotFound(
                f"No document {document!r}.",
                hint="Name it by id, document:<id> or project/collection:path; "
                "list them with 'passline rag documents COLLECTION'.",
            )
        project = session.get_one(ProjectRow, coll.project_id).name
        return doc, coll, f"{project}/{coll.name}"

    def _administered(self, session: Session) -> list[str]:
        from passline.store.models import MembershipRow

        return list(
            session.execute(
                select(MembershipRow.project_id).where(
                    MembershipRow.user_id == self.ctx.actor.user_id,
                    MembershipRow.role == Role.ADMIN.value,
                )
            ).scalars()
        )

    def _decode(
        self, documents: list[dict[str, str]], rules: AclRules
    ) -> list[rag_indexing.Incoming]:
        if not documents:
            raise InvalidInput("No documents to index.", hint="Name files or a folder.")
        decoded: dict[str, bytes] = {}
        for item in documents:
            path = rag_indexing.check_path(str(item.get("path", "")))
            if path in decoded:
                raise InvalidInput(f"The path {path!r} appears twice in one batch.")
            try:
                decoded[path] = base64.b64decode(item.get("content", ""), validate=True)
            except ValueError:
                raise InvalidInput(f"{path}: 'content' must be base64.") from None
        if sum(len(d) for d in decoded.values()) > MAX_BATCH_BYTES:
            raise InvalidInput(
                f"A batch holds at most {MAX_BATCH_BYTES // 2**20} MiB of documents.",
                hint="Send them in several batches (the SDK does).",
            )
        acls = rules.assign(decoded)
        return [rag_indexing.Incoming(p, d, acls[p]) for p, d in decoded.items()]

    def _store(
        self, row: CollectionRow, project: str, name: str, batch: rag_indexing.Batch
    ) -> IndexReport:
        import time

        started = time.perf_counter()
        index = self.vector_index(row)
        offset = 0
        for f in batch.changed:
            f.document_id = f.document_id or new_id("doc")
            vectors = batch.vectors[offset : offset + len(f.spans)]
            offset += len(f.spans)
            self.ws.blobs.put_stream(rag_indexing.stream(f.data))
            index.add_version(f.document_id, f.digest, f.spans, vectors)
        replaced = self._commit_metadata(row, project, name, batch)
        index.drop(replaced)
        index.drop(index.stale(self._current(row)))
        return IndexReport(
            collection=name,
            files=[f.report() for f in batch.files],
            parse_s=round(batch.parse_s, 4),
            embed_s=round(batch.embed_s, 4),
            store_s=round(time.perf_counter() - started, 4),
        )

    def _commit_metadata(
        self, row: CollectionRow, project: str, name: str, batch: rag_indexing.Batch
    ) -> list[int]:
        """One transaction: documents, ACLs, artifacts, lineage nodes, audit. Returns the
        index keys of the versions it replaced."""
        index = self.vector_index(row)
        old = {f.document_id: f.old_digest for f in batch.changed if f.old_digest}
        replaced = list(index.versions(old.items()).values()) if old else []
        with self.db.write() as session:
            for f in batch.files:
                if f.status == "unchanged":
                    continue
                doc = session.get(DocumentRow, f.document_id) if f.document_id else None
                if f.status == "acl_changed" and doc is not None:
                    before = dict(doc.acl)
                    doc.acl = f.acl.model_dump()
                    self._audit(
                        session,
                        "rag.document.acl",
                        f"document:{doc.id}",
                        project,
                        {"path": f.path, "acl": {"from": before, "to": doc.acl}},
                    )
                    continue
                self._write_document(session, row, project, name, f, doc)
        return replaced

    def _write_document(
        self,
        session: Session,
        row: CollectionRow,
        project: str,
        name: str,
        f: rag_indexing.Incoming,
        doc: DocumentRow | None,
    ) -> None:
        assert f.parsed is not None and f.document_id is not None
        artifact = self._artifact(session, row.project_id, name, f)
        values = {
            "title": f.parsed.title[:500],
            "digest": f.digest,
            "artifact_id": artifact.id,
            "acl": f.acl.model_dump(),
            "chunks": len(f.spans),
            "characters": len(f.parsed.text),
        }
        if doc is None:
            doc = DocumentRow(
                id=f.document_id,
                collection_id=row.id,
                path=f.path,
                created_by=self.actor_name,
                created_at=utcnow(),
                **values,
            )
            session.add(doc)
        else:
            for key, value in values.items():
                setattr(doc, key, value)
        ensure_node(session, f"document:{doc.id}", f"{name}:{f.path}", row.project_id)
        self._audit(
            session,
            "rag.document.add" if f.status == "added" else "rag.document.update",
            f"document:{doc.id}",
            project,
            {"path": f.path, "digest": f.digest, "chunks": len(f.spans), "acl": values["acl"]},
        )

    def _artifact(
        self, session: Session, project_id: str, name: str, f: rag_indexing.Incoming
    ) -> ArtifactRow:
        """The original file, as an artifact of the project (readable by project admins
        only; everyone else reads documents through retrieval, under their ACL)."""
        label = f"rag/{name.partition('/')[2]}/{f.path}"[:255]
        found = session.execute(
            select(ArtifactRow).where(
                ArtifactRow.project_id == project_id,
                ArtifactRow.name == label,
                ArtifactRow.digest == f.digest,
            )
        ).scalar_one_or_none()
        if found is not None:
            return found
        artifact = ArtifactRow(
            id=new_id("art"),
            project_id=project_id,
            name=label,
            digest=f.digest,
            size=len(f.data),
            media_type=rag_indexing.media_type(f.path),
            created_at=utcnow(),
            created_by=self.actor_name,
        )
        session.add(artifact)
        ensure_node(session, f"artifact:{artifact.id}", label, project_id)
        return artifact

    def _current(self, row: CollectionRow) -> dict[str, str]:
        with self.db.read() as session:
            return dict(
                session.execute(
                    select(DocumentRow.id, DocumentRow.digest).where(
                        DocumentRow.collection_id == row.id
                    )
                ).all()
            )


def read_files(
    paths: Sequence[str | Path], acl_file: str | Path | None
) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """Files under ``paths`` as ``[{"path", "content"}]`` (paths relative to the folder
    given, or the file name), and the parsed ACL file."""
    from passline.rag.files import collect

    rules = None
    if acl_file is not None:
        source = Path(acl_file)
        if not source.is_file():
            raise InvalidInput(f"{source} is not a readable ACL file.", hint="Check the path.")
        rules = AclRules.from_yaml(source.read_text("utf-8"), source=str(source)).to_mapping()
    files = [
        {"path": rel, "content": base64.b64encode(path.read_bytes()).decode()}
        for rel, path in collect(paths, exclude=[Path(acl_file)] if acl_file else [])
    ]
    return files, rules


def _collection(row: CollectionRow, project: str, documents: int, chunks: int) -> Collection:
    return Collection(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        embedding_model=row.embedding_model,
        dimensions=row.dimensions,
        chunk_tokens=row.chunk_tokens,
        documents=documents,
        chunks=chunks,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
    )


def _document(row: DocumentRow, collection: str) -> Document:
    return Document(
        id=row.id,
        collection=collection,
        path=row.path,
        title=row.title,
        digest=row.digest,
        artifact_id=row.artifact_id,
        acl=Acl(**(row.acl or {})),
        chunks=row.chunks,
        characters=row.characters,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
    )
