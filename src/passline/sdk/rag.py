"""Permission-aware retrieval from Python: ``client.rag`` and ``client.groups``.

    >>> pl.groups.create("hr-team"); pl.groups.add_member("hr-team", "alice")
    >>> pl.rag.index("hr/handbook", ["docs/hr"], acl_file="docs/hr/ACL.yaml")
    >>> answer = pl.rag.ask("How many days of leave do I get?", collection="hr/handbook",
    ...                     as_user="bob")
    >>> answer.text, [(s.number, s.path) for s in answer.sources]

Files are read on the caller's machine and sent in batches, so indexing works the same
in-process and against a server.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from passline.core.rag import (
    Acl,
    Answer,
    Audience,
    Collection,
    Document,
    Group,
    IndexReport,
    Retrieval,
    Retrieved,
    split_collection,
)
from passline.errors import NotFound
from passline.rag.acl import AclRules
from passline.rag.files import collect
from passline.sdk.tracking import _Namespace

__all__ = ["GroupsAPI", "RagAPI"]

BATCH_BYTES = 16 * 1024 * 1024


class GroupsAPI(_Namespace):
    """Workspace groups of users, named by document ACLs (changes: workspace admins)."""

    def list(self) -> list[Group]:
        return self._call("groups.list", list[Group])

    def get(self, name: str) -> Group:
        return self._call("groups.get", Group, name=name)

    def create(self, name: str, description: str = "") -> Group:
        return self._call("groups.create", Group, name=name, description=description)

    def add_member(self, group: str, user: str) -> Group:
        return self._call("groups.add_member", Group, group=group, user=user)

    def remove_member(self, group: str, user: str) -> Group:
        return self._call("groups.remove_member", Group, group=group, user=user)


class RagAPI(_Namespace):
    """Collections of documents with ACLs; questions answered under the asker's rights."""

    def _call(self, op: str, returns: Any, **params: Any) -> Any:
        if "collection" in params:  # checked here: over HTTP it becomes two path segments
            split_collection(params["collection"])
        return super()._call(op, returns, **params)

    def create_collection(
        self, collection: str, description: str = "", chunk_tokens: int = 150
    ) -> Collection:
        """``collection`` is ``project/name``."""
        project, name = split_collection(collection)
        return self._call(
            "rag.create_collection",
            Collection,
            project=project,
            name=name,
            description=description,
            chunk_tokens=chunk_tokens,
        )

    def collections(self, project: str | None = None) -> list[Collection]:
        return self._call("rag.collections", list[Collection], project=project)

    def collection(self, collection: str) -> Collection:
        return self._call("rag.collection", Collection, collection=collection)

    def documents(self, collection: str) -> list[Document]:
        """Documents with their ACLs (all for project admins, else those you may read)."""
        return self._call("rag.documents", list[Document], collection=collection)

    def document(self, document: str) -> Document:
        """By id, ``document:<id>`` or ``project/collection:path``."""
        return self._call("rag.document", Document, document=document)

    def index(
        self,
        collection: str,
        paths: str | Path | Sequence[str | Path],
        acl: dict[str, Any] | Acl | None = None,
        acl_file: str | Path | None = None,
        create: bool = True,
    ) -> IndexReport:
        """Index files and folders (paths inside a folder are relative to it).

        Each file gets the ACL of the first glob of ``acl_file`` that matches its path, else
        ``acl``; a file with neither is refused before anything is sent. Unchanged files are
        skipped, changed ones replaced atomically. The collection is created if missing.
        """
        items = [paths] if isinstance(paths, str | Path) else list(paths)
        mapping = _read_rules(acl_file)
        acl_value = acl.model_dump() if isinstance(acl, Acl) else acl
        files = list(collect(items, exclude=[Path(acl_file)] if acl_file else []))
        AclRules.from_mapping(mapping, acl_value, str(acl_file or "the ACL")).assign(
            rel for rel, _ in files
        )  # every file has an ACL: checked here, before a byte is sent
        if create:
            self._ensure(collection)
        reports = [
            self._call(
                "rag.add_documents",
                IndexReport,
                collection=collection,
                documents=batch,
                acl=acl_value,
                rules=mapping,
            )
            for batch in _batches(files)
        ]
        return IndexReport(
            collection=collection,
            files=[f for r in reports for f in r.files],
            parse_s=sum(r.parse_s for r in reports),
            embed_s=sum(r.embed_s for r in reports),
            store_s=sum(r.store_s for r in reports),
        )

    def retrieve(
        self, question: str, collection: str, as_user: str | None = None, k: int = 4
    ) -> Retrieved:
        """The passages ``as_user`` (you by default) may read that best match ``question``."""
        return self._call(
            "rag.retrieve", Retrieved, collection=collection, question=question,
            as_user=as_user, k=k,
        )  # fmt: skip

    def ask(
        self,
        question: str,
        collection: str,
        as_user: str | None = None,
        model: str | None = None,
        k: int = 4,
    ) -> Answer:
        """An answer citing its sources as [1], [2], from what ``as_user`` may read."""
        return self._call(
            "rag.ask", Answer, collection=collection, question=question, as_user=as_user,
            model=model, k=k,
        )  # fmt: skip

    def who_saw(self, document: str) -> Audience:
        """Who was shown a document, and in which traces (project admins)."""
        return self._call("rag.who_saw", Audience, document=document)

    def asked_by(self, user: str | None = None, limit: int = 200) -> list[Retrieval]:
        """What a user (you by default) was shown, newest first."""
        return self._call("rag.asked_by", list[Retrieval], user=user, limit=limit)

    def _ensure(self, collection: str) -> None:
        try:
            self.collection(collection)
        except NotFound:
            self.create_collection(collection)


def _read_rules(acl_file: str | Path | None) -> dict[str, Any] | None:
    if acl_file is None:
        return None
    source = Path(acl_file)
    rules = AclRules.from_yaml(_read_text(source), source=str(source))
    return rules.to_mapping()


def _read_text(source: Path) -> str:
    if not source.is_file():
        from passline.errors import InvalidInput

        raise InvalidInput(f"{source} is not a readable ACL file.", hint="Check the path.")
    return source.read_text("utf-8")


def _batches(files: list[tuple[str, Path]]) -> list[list[dict[str, str]]]:
    """Files base64-encoded, in batches of about :data:`BATCH_BYTES`."""
    batches: list[list[dict[str, str]]] = [[]]
    size = 0
    for rel, path in files:
        data = path.read_bytes()
        if batches[-1] and size + len(data) > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append({"path": rel, "content": base64.b64encode(data).decode()})
        size += len(data)
    return batches
