"""Artifacts: named, project-scoped records of content-addressed blobs."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import func, select

from passline.artifacts.store import BlobInfo, check_digest
from passline.core.clock import as_utc, utcnow
from passline.core.entities import Artifact
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import IntegrityError, InvalidInput, NotFound
from passline.services.base import BaseService
from passline.services.lineage import ensure_node
from passline.store.db import retry_on_conflict
from passline.store.models import ArtifactRow, DocumentRow, ProjectRow

__all__ = ["ArtifactService", "VerifyResult"]

Progress = Callable[[int, int], None]


def _artifact(row: ArtifactRow, project: str) -> Artifact:
    return Artifact(
        id=row.id,
        project=project,
        name=row.name,
        digest=row.digest,
        size=row.size,
        media_type=row.media_type,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
    )


def _check_artifact_name(name: str) -> str:
    if not name or len(name) > 255 or "\x00" in name or name.strip() != name:
        raise InvalidInput(
            f"The artifact name must be 1-255 characters without leading or trailing spaces. "
            f"Got {name!r} instead."
        )
    return name


def _document_originals():  # type: ignore[no-untyped-def]
    """Artifact ids that hold the original of a retrieval document."""
    return select(DocumentRow.artifact_id).where(DocumentRow.artifact_id.is_not(None))


class VerifyResult(dict):  # type: ignore[type-arg]
    """{'checked': n, 'bad': [{'digest', 'artifacts', 'problem'}]}: plain JSON for every surface."""


class ArtifactService(BaseService):
    def put_file(
        self, project: str, path: str | Path, name: str | None = None, media_type: str | None = None
    ) -> Artifact:
        """Store a file (streamed) and record it in the project."""
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(f"{source} is not a readable file.", hint="Check the path.")
        with source.open("rb") as stream:
            return self.put_stream(project, stream, name or source.name, media_type)

    def check_can_put(self, project: str, name: str) -> None:
        """Fail before any bytes move if the caller may not store this artifact."""
        _check_artifact_name(name)
        with self.db.read() as session:
            self._require(session, project, Role.CONTRIBUTOR, "store artifacts")

    def put_stream(
        self, project: str, stream: BinaryIO | IO[bytes], name: str, media_type: str | None = None
    ) -> Artifact:
        self.check_can_put(project, name)
        blob = self.ws.blobs.put_stream(stream)
        return self.record(project, blob, name, media_type)

    @retry_on_conflict  # the same bytes under the same name, stored twice at once
    def record(
        self, project: str, blob: BlobInfo, name: str, media_type: str | None = None
    ) -> Artifact:
        """Record a blob that is already in the store (the server streams uploads itself)."""
        kind = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "store artifacts")
            existing = session.execute(
                select(ArtifactRow).where(
                    ArtifactRow.project_id == prj.id,
                    ArtifactRow.name == name,
                    ArtifactRow.digest == blob.digest,
                )
            ).scalar_one_or_none()
            if existing is not None:
                return _artifact(existing, project)
            row = ArtifactRow(
                id=new_id("art"),
                project_id=prj.id,
                name=name,
                digest=blob.digest,
                size=blob.size,
                media_type=kind,
                created_at=utcnow(),
                created_by=self.actor_name,
            )
            session.add(row)
            ensure_node(session, f"artifact:{row.id}", name, prj.id)
            self._audit(
                session,
                "artifact.put",
                f"artifact:{row.id}",
                project,
                {"name": name, "digest": blob.digest, "size": blob.size, "new_bytes": blob.created},
            )
            return _artifact(row, project)

    def list(self, project: str, limit: int = 1000) -> list[Artifact]:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "list artifacts")
            query = select(ArtifactRow).where(ArtifactRow.project_id == prj.id)
            if not self._role_allows(session, prj.id, Role.ADMIN):
                query = query.where(ArtifactRow.id.not_in(_document_originals()))
            rows = session.execute(query.order_by(ArtifactRow.id.desc()).limit(limit)).scalars()
            return [_artifact(r, project) for r in rows]

    def get(self, artifact_id: str) -> Artifact:
        """The artifact record, if the caller may view its project. The original of a
        retrieval document needs the project's admin role: everyone else reads documents
        through retrieval, under each document's ACL."""
        with self.db.read() as session:
            row, project = self._row(session, artifact_id)
            backs_document = session.execute(
                select(DocumentRow.id).where(DocumentRow.artifact_id == artifact_id).limit(1)
            ).first()
            needed = Role.ADMIN if backs_document else Role.VIEWER
            self._require(session, project, needed, "read artifacts")
            return _artifact(row, project)

    def _role_allows(self, session, project_id: str, needed: Role) -> bool:  # type: ignore[no-untyped-def]
        held = self._role_in(session, project_id)
        return held is not None and held.allows(needed)

    def _row(self, session, artifact_id: str) -> tuple[ArtifactRow, str]:  # type: ignore[no-untyped-def]
        found = session.execute(
            select(ArtifactRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == ArtifactRow.project_id)
            .where(ArtifactRow.id == artifact_id)
        ).one_or_none()
        if found is None:
            raise NotFound(
                f"No artifact with id {artifact_id!r}.",
                hint="List them with 'passline artifacts list PROJECT'.",
            )
        return found[0], found[1]

    def get_verified(self, artifact_id: str, full: bool = True) -> Artifact:
        """The record, after checking the stored bytes: present, of the right size and (when
        ``full``) hashing to the digest. Streaming readers pass ``full=False``: the stream
        itself checks the hash and withholds the last chunk of a damaged blob."""
        artifact = self.get(artifact_id)
        problem = self._check_blob(artifact.digest, artifact.size, full)
        if problem == "missing":
            raise NotFound(
                f"The bytes of artifact {artifact_id} are missing from the store.",
                hint="Restore the artifact root from a backup.",
            )
        if problem:
            raise IntegrityError(
                f"Artifact {artifact_id} is damaged on disk ({problem}): its bytes no longer "
                "match the SHA-256 recorded when it was stored.",
                hint="Run 'passline artifacts verify', then restore it or store it again.",
            )
        return artifact

    def get_to(self, artifact_id: str, dest: str | Path) -> Path:
        """Write the artifact to ``dest``; a damaged blob raises and leaves ``dest`` alone."""
        artifact = self.get(artifact_id)
        return self.ws.blobs.get_to(artifact.digest, dest)

    def verify(self, progress: Progress | None = None) -> VerifyResult:
        """Re-hash every stored blob (workspace admins); name the artifacts that are damaged."""
        self._require_admin("verify every artifact")
        with self.db.read() as session:
            rows = session.execute(
                select(ArtifactRow.digest, func.min(ArtifactRow.size)).group_by(ArtifactRow.digest)
            ).all()
        total = sum(size for _, size in rows)
        done, bad = 0, []
        for digest, size in rows:
            problem = self._check_blob(digest, size)
            if problem:
                bad.append(
                    {
                        "digest": digest,
                        "problem": problem,
                        "artifacts": self._ids_with_digest(digest),
                    }
                )
            done += size
            if progress:
                progress(done, total)
        return VerifyResult(checked=len(rows), bad=bad)

    def _check_blob(self, digest: str, size: int, full: bool = True) -> str | None:
        blobs = self.ws.blobs
        if not blobs.exists(digest):
            return "missing"
        if blobs.size(digest) != size:
            return "truncated" if blobs.size(digest) < size else "size changed"
        return None if not full or blobs.verify(digest) else "altered"

    def _ids_with_digest(self, digest: str) -> list[str]:
        with self.db.read() as session:
            return list(
                session.execute(
                    select(ArtifactRow.id).where(ArtifactRow.digest == check_digest(digest))
                ).scalars()
            )
