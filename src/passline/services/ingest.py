"""Ingestion: a connector's batches become an immutable, content-addressed dataset version.

The long part (reading, writing Parquet, profiling, scanning, checking) runs outside any
database transaction. The short part (schema rules against the latest version, version
row, latest pointer, lineage, audit) runs in one transaction at the end, with the dataset
row locked, so a crash or kill at any point leaves either nothing or a whole version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session

from passline.core.clock import utcnow
from passline.core.entities import DatasetVersion
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.data.connectors.base import Connector
from passline.data.parts import NoBatches, PartInfo, write_part
from passline.data.profile import DatasetProfile
from passline.data.refs import DatasetRef, parse_dataset_ref
from passline.errors import InvalidInput
from passline.services.dataset_common import LEVELS, DatasetAccess, schema_to_json, to_version
from passline.services.lineage import ensure_node, insert_ignore
from passline.store.db import retry_on_conflict
from passline.store.models import DatasetRow, DatasetVersionRow, LineageEdgeRow, ProjectRow

__all__ = ["IngestOptions", "IngestService"]

Mode = Literal["replace", "append"]


@dataclass
class IngestOptions:
    mode: Mode = "replace"
    allow_breaking: bool = False
    inputs: list[str] = field(default_factory=list)  # dataset refs this data was derived from
    description: str | None = None
    source_ref: str | None = None  # a saved source's lineage ref, when run from one
    after_cursor: dict[str, Any] | None = None


@dataclass
class _Written:
    part: PartInfo
    schema: pa.Schema
    profile: DatasetProfile
    observers: dict[str, Any]


class IngestService(DatasetAccess):
    """Writes new dataset versions; reading lives in :class:`DatasetService`."""

    def ingest(
        self, dataset: str, connector: Connector, options: IngestOptions | None = None
    ) -> DatasetVersion:
        """Read everything ``connector`` yields into a new version of ``project/name``.

        The dataset is created by the first ingest that stores a version; an ingest that
        fails leaves no trace in the catalog.
        """
        options = options or IngestOptions()
        ref = self._target(dataset)
        if options.mode not in ("replace", "append"):
            raise InvalidInput(
                f"The mode must be 'replace' or 'append'. Got {options.mode!r} instead."
            )
        existing = self._existing_dataset(ref)
        fingerprint = connector.fingerprint()
        known = self._known_source(ref, existing, fingerprint)
        if known is not None:
            return known  # the very same source bytes as the latest version: nothing to do
        try:
            written = self._write(ref, existing, connector, options)
        except NoBatches:
            # An idle stream or an empty API page: nothing new, so the latest version stands.
            if existing is None or existing.latest_version_id is None:
                raise
            connector.commit()
            return self._latest_unchanged(ref, existing.id)
        version = self._commit(ref, connector, written, options, fingerprint)
        connector.commit()
        from passline.services.pipelines import fire_triggers

        fire_triggers(self.ws, "dataset", f"{ref.project}/{ref.name}", {"version": version.label})
        return version

    def _latest_unchanged(self, ref: DatasetRef, dataset_id: str) -> DatasetVersion:
        with self.db.read() as session:
            dataset = session.get(DatasetRow, dataset_id)
            assert dataset is not None and dataset.latest_version_id is not None
            row = session.get(DatasetVersionRow, dataset.latest_version_id)
            assert row is not None
            label = f"{ref.project}/{ref.name}"
            return _unchanged_version(row, label, dataset.latest_version_id)

    def _known_source(
        self, ref: DatasetRef, dataset: DatasetRow | None, fingerprint: str | None
    ) -> DatasetVersion | None:
        if fingerprint is None or dataset is None or dataset.latest_version_id is None:
            return None
        with self.db.read() as session:
            latest = session.get(DatasetVersionRow, dataset.latest_version_id)
        if latest is None or latest.source.get("fingerprint") != fingerprint:
            return None
        return _unchanged_version(latest, f"{ref.project}/{ref.name}", latest.id)

    # -- before the write ---------------------------------------------------------------

    def _target(self, text: str) -> DatasetRef:
        ref = parse_dataset_ref(text)
        if ref.project is None:
            raise InvalidInput(
                f"Name the project of the dataset to ingest into: project/{ref.name}."
            )
        if ref.selector != "latest":
            raise InvalidInput("Ingest into a dataset, not into a version: drop the '@...' part.")
        check_name("dataset", ref.name)
        return ref

    def _existing_dataset(self, ref: DatasetRef) -> DatasetRow | None:
        """The dataset if it exists, after checking the caller may ingest into the project."""
        with self.db.read() as session:
            project = self._require(session, ref.project or "", Role.CONTRIBUTOR, "ingest data")
            return session.execute(
                select(DatasetRow).where(
                    DatasetRow.project_id == project.id, DatasetRow.name == ref.name
                )
            ).scalar_one_or_none()

    def _lock_or_create(
        self, session: Session, ref: DatasetRef, options: IngestOptions
    ) -> DatasetRow:
        """The dataset row, locked for this commit; made now if this is its first version."""
        project = self._project(session, ref.project or "")
        query = select(DatasetRow).where(
            DatasetRow.project_id == project.id, DatasetRow.name == ref.name
        )
        row = session.execute(query.with_for_update()).scalar_one_or_none()
        if row is not None:
            return row
        insert_ignore(
            session,
            DatasetRow.__table__,
            [
                {
                    "id": new_id("dst"),
                    "project_id": project.id,
                    "name": ref.name,
                    "description": options.description or "",
                    "owner": self.actor_name,
                    "sensitivity": "internal",
                    "tags": [],
                    "column_tags": {},
                    "key_columns": [],
                    "created_at": utcnow(),
                    "created_by": self.actor_name,
                }
            ],
        )
        self._audit(
            session,
            "dataset.create",
            f"dataset:{ref.project}/{ref.name}",
            ref.project,
            {"owner": self.actor_name},
        )
        return session.execute(query.with_for_update()).scalar_one()

    def _write(
        self,
        ref: DatasetRef,
        dataset: DatasetRow | None,
        connector: Connector,
        options: IngestOptions,
    ) -> _Written:
        parent = self._latest_schema(dataset)
        holder: dict[str, Any] = {}

        def on_schema(schema: pa.Schema) -> list[Any]:
            if parent is not None:
                self._check_schema(ref.name, parent, schema, options)
            holder["profile"] = DatasetProfile.for_schema(schema)
            holder["observers"] = self._observers(dataset, schema)
            return [holder["profile"], *holder["observers"].values()]

        restricted = dataset is not None and dataset.sensitivity == "restricted"
        encryptor = self._encryptor() if restricted else None
        part, schema = write_part(
            connector.batches(),
            self.ws.blobs,
            on_schema=on_schema,
            encryptor=encryptor,
            row_group_bytes=self._row_group_bytes(),
        )
        return _Written(part, schema, holder["profile"], holder["observers"])

    def _row_group_bytes(self) -> int:
        # Bigger row groups compress better and encode faster; a sixteenth of the budget
        # keeps them inside it: two groups are held while one is written, and Parquet
        # encoding needs about three times a group.
        return max(1 << 20, self.ws.settings.memory_budget_mb * (1 << 20) // 16)

    def _latest_schema(self, dataset: DatasetRow | None) -> pa.Schema | None:
        if dataset is None or dataset.latest_version_id is None:
            return None
        with self.db.read() as session:
            row = session.get(DatasetVersionRow, dataset.latest_version_id)
            return schema_from_json(row.schema_json) if row else None

    def _check_schema(
        self, name: str, old: pa.Schema, new: pa.Schema, options: IngestOptions
    ) -> None:
        from passline.data.diff import schema_diff

        diff = schema_diff(old, new)
        changed = diff.added or diff.dropped or diff.type_changes or diff.nullability_changes
        if options.mode == "append" and changed:
            raise InvalidInput(
                f"Cannot append to {name}: the new rows' schema differs from the latest "
                "version's:\n" + "\n".join(diff.render()),
                hint="Append rows with the same columns and types, or ingest with mode replace.",
            )
        if diff.is_breaking and not options.allow_breaking:
            raise InvalidInput(
                f"The new schema of {name} breaks the latest version's:\n"
                + "\n".join(diff.render()),
                hint="Additive changes pass; to accept a breaking one, use --allow-breaking.",
            )

    def _observers(self, dataset: DatasetRow | None, schema: pa.Schema) -> dict[str, Any]:
        from passline.data.pii import PiiScanner

        observers: dict[str, Any] = {"pii": PiiScanner()}
        if dataset is not None and dataset.expectations:
            from passline.data.expectations import ExpectationRunner, parse_expectations

            observers["quality"] = ExpectationRunner(parse_expectations(dataset.expectations))
        return observers

    def _encryptor(self) -> Any:
        from passline.data.crypto import encrypt_file

        provider = self.ws.data_keys

        def encrypt(plain: Any) -> tuple[Any, str]:
            target = plain.with_name(plain.name + ".enc")
            encrypt_file(plain, target, provider)
            return target, provider.current_key_id()

        return encrypt

    # -- the commit ---------------------------------------------------------------------

    @retry_on_conflict
    def _commit(
        self,
        ref: DatasetRef,
        connector: Connector,
        written: _Written,
        options: IngestOptions,
        fingerprint: str | None,
    ) -> DatasetVersion:
        quality = self._quality(ref, written)
        bad_rows = self._bad_rows(connector)
        source = {**connector.describe(), **({"fingerprint": fingerprint} if fingerprint else {})}
        label = f"{ref.project}/{ref.name}"
        with self.db.write() as session:
            dataset = self._lock_or_create(session, ref, options)
            parent = self._parent(session, dataset, options)
            parts = self._parts(parent, written.part, options)
            version_id = content_id(dataset.id, parts, written.schema)
            existing = session.get(DatasetVersionRow, version_id)
            if existing is not None:
                return self._unchanged(session, dataset, existing, label)
            profile = self._profile_for(parent, written, options)
            failed = any(r["level"] == "error" and not r["passed"] for r in quality)
            row = DatasetVersionRow(
                id=version_id,
                dataset_id=dataset.id,
                number=self._next_number(session, dataset.id),
                status="quarantined" if failed else "ok",
                mode=options.mode,
                parts=parts,
                schema_json=schema_to_json(written.schema),
                rows=sum(p["rows"] for p in parts),
                bytes=sum(p["bytes"] for p in parts),
                new_bytes=written.part.bytes if written.part.created else 0,
                source=source,
                parent_id=parent.id if parent else None,
                actor=self.actor_name,
                created_at=utcnow(),
                profile_digest=self._store_json(profile.to_dict()),
                quality=quality,
                pii=self._pii(written),
                bad_rows=bad_rows,
                cursor=connector.report.cursor,
                encrypted=written.part.encrypted,
            )
            session.add(row)
            if row.status == "ok":
                dataset.latest_version_id = row.id
            self._propagate_sensitivity(session, dataset, options)
            self._record_lineage(session, dataset, row, parent, connector, options, label)
            self._audit(
                session,
                "dataset.version.create",
                f"dataset_version:{row.id}",
                ref.project,
                {
                    "dataset": label,
                    "number": row.number,
                    "rows": row.rows,
                    "status": row.status,
                    "mode": options.mode,
                    "new_bytes": row.new_bytes,
                },
            )
            return to_version(row, label, dataset.latest_version_id)

    def _parent(
        self, session: Session, dataset: DatasetRow, options: IngestOptions
    ) -> DatasetVersionRow | None:
        if dataset.latest_version_id is None:
            return None
        return session.get(DatasetVersionRow, dataset.latest_version_id)

    def _parts(
        self, parent: DatasetVersionRow | None, part: PartInfo, options: IngestOptions
    ) -> list[dict[str, Any]]:
        if options.mode == "replace" or parent is None:
            return [part.to_json()]
        if part.rows == 0 or any(p["plain_digest"] == part.plain_digest for p in parent.parts):
            return list(parent.parts)  # nothing new to append: the parent's content, unchanged
        return [*parent.parts, part.to_json()]

    def _unchanged(
        self, session: Session, dataset: DatasetRow, existing: DatasetVersionRow, label: str
    ) -> DatasetVersion:
        if existing.status == "ok" and dataset.latest_version_id != existing.id:
            before = dataset.latest_version_id
            dataset.latest_version_id = existing.id
            self._audit(
                session,
                "dataset.latest.move",
                f"dataset_version:{existing.id}",
                label.split("/")[0],
                {
                    "dataset": label,
                    "from": before,
                    "to": existing.id,
                    "why": "same content re-ingested",
                },
            )
        return _unchanged_version(existing, label, dataset.latest_version_id)

    def _profile_for(
        self, parent: DatasetVersionRow | None, written: _Written, options: IngestOptions
    ) -> DatasetProfile:
        if options.mode != "append" or parent is None:
            return written.profile
        # Sketches merge: the appended version's profile never re-reads the parent's data.
        stored = DatasetProfile.from_dict(self._load_json_blob(parent.profile_digest))
        return stored.merge(written.profile)

    def _quality(self, ref: DatasetRef, written: _Written) -> list[dict[str, Any]]:
        runner = written.observers.get("quality")
        if runner is None:
            return []
        results = runner.finish(self._reference_lookup(ref.project or ""), utcnow())
        return [r.to_dict() for r in results]

    def _reference_lookup(self, project: str) -> Any:
        def lookup(dataset: str, column: str) -> pa.Array:
            from passline.services.datasets import DatasetService

            table = DatasetService(self.ws, self.ctx).read(f"{project}/{dataset}", columns=[column])
            return table.column(column).combine_chunks()

        return lookup

    def _pii(self, written: _Written) -> dict[str, Any]:
        scanner = written.observers.get("pii")
        if scanner is None:
            return {}
        return scan_summary(scanner.result())

    def _bad_rows(self, connector: Connector) -> dict[str, Any]:
        report = connector.report
        out: dict[str, Any] = {
            "skipped": len(report.skipped),
            "quarantined": len(report.quarantined),
        }
        if len(report.skipped):
            out["skipped_lines"] = report.skipped.line_numbers[:20]
        if len(report.quarantined):
            out["quarantined_lines"] = report.quarantined.line_numbers[:20]
            out["quarantine_digest"] = self._store_table(report.quarantined.to_table())
        return out

    def _store_json(self, data: Any) -> str:
        payload = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return self.ws.blobs.put_stream(io.BytesIO(payload)).digest

    def _store_table(self, table: pa.Table) -> str:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return self.ws.blobs.put_stream(io.BytesIO(sink.getvalue().to_pybytes())).digest

    def _propagate_sensitivity(
        self, session: Session, dataset: DatasetRow, options: IngestOptions
    ) -> None:
        """A derived dataset is at least as sensitive as its most sensitive input."""
        if not options.inputs:
            return
        levels = [self._input_row(session, ref)[0].sensitivity for ref in options.inputs]
        highest = max(levels, key=LEVELS.index)
        if LEVELS.index(highest) > LEVELS.index(dataset.sensitivity):
            before = dataset.sensitivity
            dataset.sensitivity = highest
            dataset.sensitivity_reason = "inherited from its inputs"
            self._audit(
                session,
                "dataset.sensitivity.inherit",
                f"dataset:{self._label(session, dataset)}",
                None,
                {"from": before, "to": highest, "inputs": options.inputs},
            )

    def _input_row(self, session: Session, ref: str) -> tuple[DatasetRow, DatasetVersionRow]:
        parsed = parse_dataset_ref(ref)
        dataset, project = self._dataset_row(session, parsed)
        self._require_read(session, dataset, project)
        return dataset, self._version_row(session, dataset, parsed.selector)

    def _label(self, session: Session, dataset: DatasetRow) -> str:
        project = session.get(ProjectRow, dataset.project_id)
        return f"{project.name if project else '?'}/{dataset.name}"

    def _record_lineage(
        self,
        session: Session,
        dataset: DatasetRow,
        row: DatasetVersionRow,
        parent: DatasetVersionRow | None,
        connector: Connector,
        options: IngestOptions,
        label: str,
    ) -> None:
        node = f"dataset_version:{row.id}"
        ensure_node(session, node, f"{label}@v{row.number}", dataset.project_id)
        source = options.source_ref or self._adhoc_source(session, dataset, connector, label)
        edges = [(source, node, "ingested_as")]
        if parent is not None:
            edges.append((f"dataset_version:{parent.id}", node, "next_version"))
        for ref in options.inputs:
            _, version = self._input_row(session, ref)
            edges.append((f"dataset_version:{version.id}", node, "derived_into"))
        insert_ignore(
            session,
            LineageEdgeRow.__table__,
            [
                {
                    "id": new_id("edg"),
                    "src_ref": src,
                    "dst_ref": dst,
                    "type": kind,
                    "actor": self.actor_name,
                    "created_at": utcnow(),
                    "attrs": {},
                }
                for src, dst, kind in edges
            ],
        )

    def _adhoc_source(
        self, session: Session, dataset: DatasetRow, connector: Connector, label: str
    ) -> str:
        described = connector.describe()
        digest = hashlib.sha256(
            json.dumps(described, sort_keys=True, default=str).encode()
        ).hexdigest()[:12]
        ref = f"source:{label.split('/')[0]}/{described.get('kind', 'source')}-{digest}"
        location = str(
            described.get("location") or described.get("url") or described.get("stream") or ""
        )
        ensure_node(
            session, ref, f"{described.get('kind', 'source')}: {location}"[:255], dataset.project_id
        )
        return ref


def _unchanged_version(row: DatasetVersionRow, label: str, latest_id: str | None) -> DatasetVersion:
    """An existing version, as the answer to an ingest that stored nothing new."""
    return to_version(row, label, latest_id, unchanged=True).model_copy(update={"new_bytes": 0})


def scan_summary(result: Any) -> dict[str, Any]:
    """A PII scan as stored with a version: whether NER ran, and findings per column."""
    return {
        "ner": result.ner,
        "rows_scanned": result.rows,
        "columns": {c: f.to_dict() for c, f in result.items()},
    }


def content_id(dataset_id: str, parts: list[dict[str, Any]], schema: pa.Schema) -> str:
    """Same dataset, same Parquet content and schema: same version id."""
    material = "|".join([dataset_id, *(p["plain_digest"] for p in parts), schema.to_string()])
    return "dsv_" + hashlib.sha256(material.encode()).hexdigest()[:24]


def schema_from_json(stored: dict[str, Any]) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(stored["ipc"])))
