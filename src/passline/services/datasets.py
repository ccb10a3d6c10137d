"""The catalog: datasets, versions, reading data, profiles, quality, sensitivity and grants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from typing import Any, BinaryIO

import pyarrow as pa
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Dataset, DatasetGrant, DatasetVersion
from passline.core.roles import Role
from passline.data.parts import read_part
from passline.data.refs import parse_dataset_ref
from passline.errors import Conflict, InvalidInput, NotFound
from passline.services.dataset_common import (
    LEVELS,
    DatasetAccess,
    check_level,
    to_dataset,
    to_version,
)
from passline.services.lineage import walk
from passline.store.models import (
    DatasetGrantRow,
    DatasetRow,
    DatasetVersionRow,
    LineageNodeRow,
    ProjectRow,
    UserRow,
)

__all__ = ["DatasetService"]


class DatasetService(DatasetAccess):
    # -- catalog -----------------------------------------------------------------------

    def get(self, ref: str) -> Dataset:
        with self.db.read() as session:
            row, project = self._dataset_row(session, ref)
            latest = (
                session.get(DatasetVersionRow, row.latest_version_id)
                if row.latest_version_id
                else None
            )
            return to_dataset(row, project, latest)

    def search(
        self,
        text: str | None = None,
        tag: str | None = None,
        column: str | None = None,
        owner: str | None = None,
        sensitivity: str | None = None,
        project: str | None = None,
    ) -> list[Dataset]:
        """Datasets the caller can see, filtered by name/description text, tag, column,
        owner, sensitivity or project (all optional, combined with AND). One query: the
        latest version of each dataset comes along in an outer join."""
        if sensitivity:
            check_level(sensitivity)
        with self.db.read() as session:
            query = self._catalog_query(session, text, owner, sensitivity, project)
            rows = session.execute(query.order_by(ProjectRow.name, DatasetRow.name)).all()
        found = [
            to_dataset(row, name, latest)
            for row, name, latest in rows
            if _matches(row, latest, tag, column)
        ]
        return found

    def _catalog_query(
        self,
        session: Session,
        text: str | None,
        owner: str | None,
        sensitivity: str | None,
        project: str | None,
    ) -> Any:
        query = (
            select(DatasetRow, ProjectRow.name, DatasetVersionRow)
            .join(ProjectRow, ProjectRow.id == DatasetRow.project_id)
            .outerjoin(DatasetVersionRow, DatasetVersionRow.id == DatasetRow.latest_version_id)
        )
        visible = self._visible_project_ids(session)
        if visible is not None:
            query = query.where(DatasetRow.project_id.in_(visible))
        if text:
            like = f"%{text.lower()}%"
            query = query.where(or_(DatasetRow.name.like(like), DatasetRow.description.ilike(like)))
        if owner:
            query = query.where(DatasetRow.owner == owner)
        if sensitivity:
            query = query.where(DatasetRow.sensitivity == sensitivity)
        if project:
            query = query.where(ProjectRow.name == project)
        return query

    def versions(self, ref: str) -> list[DatasetVersion]:
        """Every version, newest first, quarantined ones included."""
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require(session, project, Role.VIEWER, "list versions")
            rows = session.execute(
                select(DatasetVersionRow)
                .where(DatasetVersionRow.dataset_id == dataset.id)
                .order_by(DatasetVersionRow.number.desc())
            ).scalars()
            label = f"{project}/{dataset.name}"
            shown = self._can_read_data(session, dataset)
            return [_visible(to_version(r, label, dataset.latest_version_id), shown) for r in rows]

    def version(self, ref: str) -> DatasetVersion:
        parsed = parse_dataset_ref(ref)
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, parsed)
            self._require(session, project, Role.VIEWER, "view versions")
            row = self._version_row(session, dataset, parsed.selector)
            version = to_version(row, f"{project}/{dataset.name}", dataset.latest_version_id)
            return _visible(version, self._can_read_data(session, dataset))

    def can_read(self, ref: str) -> bool:
        """Whether the caller may see this dataset's values (restricted needs a grant)."""
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require(session, project, Role.VIEWER, "view datasets")
            return self._can_read_data(session, dataset)

    # -- data ---------------------------------------------------------------------------

    def read(self, ref: str, columns: list[str] | None = None) -> pa.Table:
        """The version's rows as one Arrow table (restricted data needs a grant)."""
        parsed = parse_dataset_ref(ref)
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, parsed)
            self._require_read(session, dataset, project)
            row = self._version_row(session, dataset, parsed.selector)
            parts, schema_columns = list(row.parts), [c["name"] for c in row.schema_json["columns"]]
        missing = [c for c in columns or [] if c not in schema_columns]
        if missing:
            raise InvalidInput(
                f"No column {missing[0]!r} in {ref}; it has {', '.join(schema_columns)}."
            )
        tables = [read_part(p, self.ws.blobs, self._decrypt, columns) for p in parts]
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def _decrypt(self, stream: BinaryIO) -> Iterator[bytes]:
        from passline.data.crypto import decrypt_stream

        return decrypt_stream(stream, self.ws.data_keys)

    def profile(self, ref: str) -> dict[str, Any]:
        """Per-column summary numbers; restricted data without a grant shows counts only."""
        parsed = parse_dataset_ref(ref)
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, parsed)
            self._require(session, project, Role.VIEWER, "view profiles")
            row = self._version_row(session, dataset, parsed.selector)
            allowed = self._can_read_data(session, dataset)
            digest = row.profile_digest
        from passline.data.profile import DatasetProfile

        summary = DatasetProfile.from_dict(self._load_json_blob(digest)).summary()
        return summary if allowed else {c: _counts_only(s) for c, s in summary.items()}

    def profile_sketches(self, ref: str) -> dict[str, Any]:
        """The mergeable sketches (the drift reference); needs read access to the data."""
        parsed = parse_dataset_ref(ref)
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, parsed)
            self._require_read(session, dataset, project)
            digest = self._version_row(session, dataset, parsed.selector).profile_digest
        return self._load_json_blob(digest)  # type: ignore[no-any-return]

    def bad_rows(self, ref: str) -> pa.Table:
        """The rows an ingest set aside with on_bad_lines=quarantine (line, text, reason)."""
        version = self.version(ref)
        digest = version.bad_rows.get("quarantine_digest")
        if not digest:
            raise NotFound(f"Version {version.label} set no rows aside.")
        self.read(
            ref, columns=[version.columns[0]["name"]] if version.columns else None
        )  # access check
        return read_part({"digest": digest}, self.ws.blobs)

    # -- settings owned by the dataset's owner -------------------------------------------

    def configure(
        self,
        ref: str,
        description: str | None = None,
        key: list[str] | None = None,
        expectations: str | None = None,
        tags: list[str] | None = None,
    ) -> Dataset:
        """Change a dataset's description, key columns, quality expectations (YAML) or tags."""
        if expectations is not None:
            from passline.data.expectations import parse_expectations

            parse_expectations(expectations)  # refuse bad YAML now, not at the next ingest
        with self.db.write() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require(session, project, Role.CONTRIBUTOR, "configure datasets")
            changes = _apply(
                dataset,
                description=description,
                key_columns=key,
                expectations=expectations,
                tags=tags,
            )
            self._audit(
                session, "dataset.configure", f"dataset:{project}/{dataset.name}", project, changes
            )
            return to_dataset(dataset, project)

    def tag_column(self, ref: str, column: str, tags: list[str]) -> Dataset:
        with self.db.write() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require(session, project, Role.CONTRIBUTOR, "tag columns")
            current = dict(dataset.column_tags or {})
            before = current.get(column, [])
            current[column] = sorted(set(tags))
            dataset.column_tags = current
            self._audit(
                session,
                "dataset.column.tag",
                f"dataset:{project}/{dataset.name}",
                project,
                {"column": column, "from": before, "to": current[column]},
            )
            return to_dataset(dataset, project)

    def set_sensitivity(self, ref: str, level: str, reason: str | None = None) -> Dataset:
        """Set the level; going below an input's level (see lineage) needs a reason."""
        check_level(level)
        with self.db.write() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require_owner(session, dataset, project, "set the sensitivity")
            floor = self._inherited_floor(session, dataset)
            if LEVELS.index(level) < LEVELS.index(floor) and not reason:
                raise InvalidInput(
                    f"{project}/{dataset.name} derives from data marked {floor!r}; lowering it to "
                    f"{level!r} needs a reason.",
                    hint="Pass --reason '...' (it is audited).",
                )
            before = dataset.sensitivity
            dataset.sensitivity, dataset.sensitivity_reason = level, reason
            self._audit(
                session,
                "dataset.sensitivity.set",
                f"dataset:{project}/{dataset.name}",
                project,
                {"from": before, "to": level, "reason": reason, "inherited_floor": floor},
            )
            if level == "restricted" and before != "restricted":
                self._encrypt_existing(session, dataset)
            return to_dataset(dataset, project)

    def _inherited_floor(self, session: Session, dataset: DatasetRow) -> str:
        """The highest level among datasets upstream of this one's latest version."""
        if dataset.latest_version_id is None:
            return "public"
        upstream = walk(session, f"dataset_version:{dataset.latest_version_id}", "up", 100)
        version_ids = [r.split(":", 1)[1] for r in upstream if r.startswith("dataset_version:")]
        levels = (
            session.execute(
                select(DatasetRow.sensitivity)
                .join(DatasetVersionRow, DatasetVersionRow.dataset_id == DatasetRow.id)
                .where(DatasetVersionRow.id.in_(version_ids), DatasetRow.id != dataset.id)
            )
            .scalars()
            .all()
        )
        return max(levels, key=LEVELS.index, default="public")

    def _encrypt_existing(self, session: Session, dataset: DatasetRow) -> None:
        """Newly restricted: store every plaintext part encrypted (version ids stay the same)."""
        from passline.data.crypto import encrypt_file

        for version in session.execute(
            select(DatasetVersionRow).where(DatasetVersionRow.dataset_id == dataset.id)
        ).scalars():
            version.parts = [self._encrypt_part(p, encrypt_file) for p in version.parts]
            version.encrypted = True

    def _encrypt_part(self, part: dict[str, Any], encrypt_file: Any) -> dict[str, Any]:
        if part.get("encrypted"):
            return part
        blobs = self.ws.blobs
        spool = blobs.root / "tmp" / f"enc-{part['digest']}"
        spool.parent.mkdir(parents=True, exist_ok=True)
        plain = blobs.get_to(part["digest"], spool.with_suffix(".plain"))
        try:
            encrypt_file(plain, spool, self.ws.data_keys)
            stored = blobs.put_file(spool)
        finally:
            plain.unlink(missing_ok=True)
            spool.unlink(missing_ok=True)
        # The plaintext blob stays until no version references it; a sweep can remove it.
        return {
            **part,
            "digest": stored.digest,
            "bytes": stored.size,
            "encrypted": True,
            "key_id": self.ws.data_keys.current_key_id(),
        }

    # -- grants ---------------------------------------------------------------------------

    def grant(self, ref: str, user: str, reason: str) -> DatasetGrant:
        """Let ``user`` read a restricted dataset's data (owner or project admin)."""
        if not reason or not reason.strip():
            raise InvalidInput("A grant needs a reason; it is kept in the audit log.")
        with self.db.write() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require_owner(session, dataset, project, "grant access")
            target = self._user(session, user)
            if session.get(DatasetGrantRow, (dataset.id, target.id)) is not None:
                raise Conflict(f"User {user!r} already has a grant on {project}/{dataset.name}.")
            row = DatasetGrantRow(
                dataset_id=dataset.id,
                user_id=target.id,
                granted_by=self.actor_name,
                granted_at=utcnow(),
                reason=reason,
            )
            session.add(row)
            self._audit(
                session,
                "dataset.grant",
                f"dataset:{project}/{dataset.name}",
                project,
                {"user": user, "reason": reason},
            )
            return DatasetGrant(
                dataset=f"{project}/{dataset.name}",
                user=user,
                granted_by=row.granted_by,
                granted_at=row.granted_at,
                reason=reason,
            )

    def revoke(self, ref: str, user: str) -> None:
        with self.db.write() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require_owner(session, dataset, project, "revoke access")
            row = session.get(DatasetGrantRow, (dataset.id, self._user(session, user).id))
            if row is None:
                raise NotFound(f"User {user!r} has no grant on {project}/{dataset.name}.")
            session.delete(row)
            self._audit(
                session,
                "dataset.revoke",
                f"dataset:{project}/{dataset.name}",
                project,
                {"user": user},
            )

    def grants(self, ref: str) -> list[DatasetGrant]:
        with self.db.read() as session:
            dataset, project = self._dataset_row(session, ref)
            self._require(session, project, Role.VIEWER, "list grants")
            rows = session.execute(
                select(DatasetGrantRow, UserRow.name)
                .join(UserRow, UserRow.id == DatasetGrantRow.user_id)
                .where(DatasetGrantRow.dataset_id == dataset.id)
                .order_by(UserRow.name)
            ).all()
            return [
                DatasetGrant(
                    dataset=f"{project}/{dataset.name}",
                    user=name,
                    granted_by=g.granted_by,
                    granted_at=as_utc(g.granted_at),
                    reason=g.reason,
                )
                for g, name in rows
            ]

    def _user(self, session: Session, name: str) -> UserRow:
        row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
        if row is None:
            raise NotFound(
                f"No user named {name!r}.", hint="List users with 'passline users list'."
            )
        return row

    # -- comparing and re-checking --------------------------------------------------------

    def diff(self, old: str, new: str, key: list[str] | None = None) -> dict[str, Any]:
        """Schema changes, row counts, profile deltas and, with a key, a row diff."""
        from passline.data.diff import profile_delta, row_diff, schema_diff

        a, b = self.version(old), self.version(new)
        old_table, new_table = self.read(old), self.read(new)
        schema = schema_diff(old_table.schema, new_table.schema)
        out: dict[str, Any] = {
            "old": a.label,
            "new": b.label,
            "rows": {"old": a.rows, "new": b.rows},
            "schema": schema.render(),
            "breaking": schema.is_breaking,
            "profile": profile_delta(self.profile(old), self.profile(new)),
        }
        keys = key or self.get(new).key_columns
        if keys:
            rows = row_diff(old_table, new_table, keys)
            out["row_diff"] = {**_jsonable(asdict(rows)), "summary": rows.render()}
        return out

    def check(self, ref: str) -> list[dict[str, Any]]:
        """Run the dataset's current expectations on a stored version (results not stored)."""
        from passline.data.expectations import ExpectationRunner, parse_expectations

        dataset = self.get(ref)
        if not dataset.expectations:
            raise NotFound(
                f"Dataset {dataset.project}/{dataset.name} has no expectations.",
                hint="Set them with 'passline data expect DATASET FILE.yaml'.",
            )
        runner = ExpectationRunner(parse_expectations(dataset.expectations))
        for batch in self.read(ref).to_batches(max_chunksize=65_536):
            runner.update(batch)
        from passline.services.ingest import IngestService

        lookup = IngestService(self.ws, self.ctx)._reference_lookup(dataset.project)
        return [r.to_dict() for r in runner.finish(lookup, utcnow())]

    def scan(self, ref: str) -> dict[str, Any]:
        """Scan a stored version for personal data again (e.g. after a detector update)."""
        from passline.data.pii import PiiScanner

        scanner = PiiScanner(max_rows=None)  # asked for explicitly: every row
        for batch in self.read(ref).to_batches(max_chunksize=65_536):
            scanner.update(batch)
        from passline.services.ingest import scan_summary

        return scan_summary(scanner.result())

    def lineage_ref(self, ref: str) -> str:
        version = self.version(ref)
        with self.db.read() as session:
            if session.get(LineageNodeRow, version.ref) is None:
                raise NotFound(f"{version.label} is not in the lineage graph.")
        return version.ref


def _jsonable(value: Any) -> Any:
    """Row examples hold dates, decimals and bytes: make them plain JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _matches(
    row: DatasetRow, latest: DatasetVersionRow | None, tag: str | None, column: str | None
) -> bool:
    if (
        tag
        and tag not in (row.tags or [])
        and not any(tag in tags for tags in (row.column_tags or {}).values())
    ):
        return False
    if column:
        columns = latest.schema_json["columns"] if latest is not None else []
        return any(c["name"] == column for c in columns)
    return True


def _visible(version: DatasetVersion, shown: bool) -> DatasetVersion:
    """Quality messages and PII examples quote values: hide them without a read grant."""
    if shown:
        return version
    quality = [
        {
            **r,
            "message": f"{r.get('column') or 'dataset'}: {'passed' if r['passed'] else 'failed'}"
            " (values hidden: restricted dataset)",
            "observed": {
                k: v for k, v in r.get("observed", {}).items() if isinstance(v, int | float)
            },
        }
        for r in version.quality
    ]
    columns = {
        c: {k: v for k, v in f.items() if k != "examples"}
        for c, f in version.pii.get("columns", {}).items()
    }
    pii = {**version.pii, "columns": columns}
    bad_rows = {k: v for k, v in version.bad_rows.items() if k in ("skipped", "quarantined")}
    return version.model_copy(update={"quality": quality, "pii": pii, "bad_rows": bad_rows})


def _counts_only(summary: dict[str, Any]) -> dict[str, Any]:
    keep = ("type", "kind", "rows", "nulls", "null_fraction")
    return {
        **{k: summary[k] for k in keep if k in summary},
        "hidden": "restricted: values need a grant",
    }


def _apply(dataset: DatasetRow, **values: Any) -> dict[str, Any]:
    changes = {}
    for field, value in values.items():
        if value is not None:
            changes[field] = {"from": getattr(dataset, field), "to": value}
            setattr(dataset, field, value)
    return changes
