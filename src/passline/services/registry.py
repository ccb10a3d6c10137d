"""The model registry: models, versions, aliases with history, approvals, release policies,
rollback, and loading a version safely.

A version records where it came from (its run, the run's metrics and dataset versions) and
the SHA-256 of every file. Aliases (production, staging, champion, anything) point at
versions; every move is kept with who, when, why, from and to. A release policy per
project and alias can demand an approval by someone other than the version's author and a
list of named checks (``release_checks.py``); a move that lacks them is refused with the
list of what is missing.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import AliasMove, ModelVersion, RegisteredModel, ReleasePolicy
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, insert_ignore
from passline.services.release_checks import run_check, validate_checks
from passline.services.tracking import TrackingService, metric_out
from passline.store.db import retry_on_conflict
from passline.store.models import (
    AliasMoveRow,
    ApprovalRow,
    LatestMetricRow,
    LineageEdgeRow,
    ModelAliasRow,
    ModelVersionRow,
    ProjectRow,
    RegisteredModelRow,
    ReleasePolicyRow,
    RunInputRow,
)

__all__ = ["FORMATS", "RegistryService"]

FORMATS = ("sklearn", "onnx", "python", "mlflow")
_SUFFIX_FORMATS = {
    ".pkl": "sklearn",
    ".joblib": "sklearn",
    ".pickle": "sklearn",
    ".onnx": "onnx",
    ".py": "python",
}


def _model(
    row: RegisteredModelRow, project: str, aliases: dict[str, int], latest: int | None
) -> RegisteredModel:
    return RegisteredModel(
        id=row.id,
        project=project,
        name=row.name,
        description=row.description,
        owner=row.owner,
        intended_use=row.intended_use or {},
        created_at=as_utc(row.created_at),
        aliases=aliases,
        latest_version=latest,
    )


class RegistryService(BaseService):
    # -- models --------------------------------------------------------------------------

    def create_model(
        self,
        project: str,
        name: str,
        description: str = "",
        intended_use: dict[str, Any] | None = None,
    ) -> RegisteredModel:
        check_name("model", name)
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "register models")
            existing = self._model_row(session, prj.id, name)
            if existing is not None:
                raise Conflict(
                    f"Project {project!r} already has a model named {name!r} (id {existing.id})."
                )
            row = self._new_model(session, prj.id, project, name, description, intended_use)
            return _model(row, project, {}, None)

    def _new_model(
        self,
        session: Session,
        project_id: str,
        project: str,
        name: str,
        description: str,
        intended_use: dict[str, Any] | None,
    ) -> RegisteredModelRow:
        row = RegisteredModelRow(
            id=new_id("mdl"),
            project_id=project_id,
            name=name,
            description=description,
            owner=self.actor_name,
            intended_use=intended_use or {},
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        ensure_node(session, f"model:{project}/{name}", f"model {name}", project_id)
        self._audit(
            session, "model.create", f"model:{project}/{name}", project, {"owner": self.actor_name}
        )
        return row

    def _model_row(
        self, session: Session, project_id: str, name: str, lock: bool = False
    ) -> RegisteredModelRow | None:
        """The model; ``lock`` holds its row until commit, so versions are numbered in turn."""
        query = select(RegisteredModelRow).where(
            RegisteredModelRow.project_id == project_id, RegisteredModelRow.name == name
        )
        return session.execute(query.with_for_update() if lock else query).scalar_one_or_none()

    def _resolve(self, session: Session, model: str, role: Role) -> tuple[RegisteredModelRow, str]:
        """A model by ``project/name`` (or ``name`` when unique among your projects)."""
        project, _, name = model.rpartition("/")
        query = (
            select(RegisteredModelRow, ProjectRow.name)
            .join(ProjectRow, ProjectRow.id == RegisteredModelRow.project_id)
            .where(RegisteredModelRow.name == name)
        )
        if project:
            query = query.where(ProjectRow.name == project)
        found = [
            (r, p) for r, p in session.execute(query).all() if self._role_in(session, r.project_id)
        ]
        if not found:
            raise NotFound(
                f"No model named {model!r}.", hint="List them with 'passline models list'."
            )
        if len(found) > 1:
            raise InvalidInput(
                f"Several models are named {name!r}; prefix the project: project/{name}."
            )
        row, project_name = found[0]
        self._require(session, project_name, role, "use this model")
        return row, project_name

    def update_model(
        self, model: str, description: str | None = None, intended_use: dict[str, Any] | None = None
    ) -> RegisteredModel:
        """The owner's fields that go into the model card."""
        with self.db.write() as session:
            row, project = self._resolve(session, model, Role.CONTRIBUTOR)
            if description is not None:
                row.description = description
            if intended_use is not None:
                row.intended_use = {**(row.intended_use or {}), **intended_use}
            self._audit(
                session,
                "model.update",
                f"model:{project}/{row.name}",
                project,
                {"description": description, "intended_use": intended_use},
            )
        return self.get_model(f"{project}/{row.name}")

    def get_model(self, model: str) -> RegisteredModel:
        with self.db.read() as session:
            row, project = self._resolve(session, model, Role.VIEWER)
            return _model(
                row, project, self._aliases(session, row.id), self._latest(session, row.id)
            )

    def models(self, project: str | None = None) -> list[RegisteredModel]:
        with self.db.read() as session:
            query = select(RegisteredModelRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == RegisteredModelRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "list models")
                query = query.where(ProjectRow.name == project)
            rows = [
                (r, p)
                for r, p in session.execute(
                    query.order_by(ProjectRow.name, RegisteredModelRow.name)
                ).all()
                if self._role_in(session, r.project_id)
            ]
            return [
                _model(r, p, self._aliases(session, r.id), self._latest(session, r.id))
                for r, p in rows
            ]

    def _aliases(self, session: Session, model_id: str) -> dict[str, int]:
        return dict(
            session.execute(
                select(ModelAliasRow.alias, ModelVersionRow.version)
                .join(ModelVersionRow, ModelVersionRow.id == ModelAliasRow.version_id)
                .where(ModelAliasRow.model_id == model_id)
            ).all()
        )

    def _latest(self, session: Session, model_id: str) -> int | None:
        return session.execute(
            select(func.max(ModelVersionRow.version)).where(ModelVersionRow.model_id == model_id)
        ).scalar_one()

    # -- versions --------------------------------------------------------------------------

    def register(
        self,
        model: str,
        source: str,
        format: str | None = None,
        description: str = "",
        signature: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """A new version from a run's artifact (``runs:/RUN/path``): its files, run, metrics,
        training data and author are recorded. The model is created on first use."""
        run_id, path = _parse_run_source(source)
        tracking = TrackingService(self.ws, self.ctx)
        run = tracking.get_run(run_id)
        files = [
            a
            for a in tracking.list_artifacts(run_id)
            if a["path"] == path or a["path"].startswith(path + "/")
        ]
        if not files:
            raise NotFound(
                f"Run {run_id} has no artifact at {path!r}.",
                hint=f"List them with 'passline runs show {run_id}'.",
            )
        kind = format or _infer_format(files)
        if kind not in FORMATS:
            raise InvalidInput(
                f"The model format must be one of {', '.join(FORMATS)}. Got {kind!r} instead."
            )
        return self._add_version(
            model,
            run.project,
            source,
            kind,
            files,
            run_id,
            description,
            signature or self._signature_from_run(run),
            run.user,
        )

    def register_file(
        self,
        model: str,
        project: str,
        stream: BinaryIO | io.BytesIO,
        filename: str,
        format: str | None = None,
        description: str = "",
        signature: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """A new version from a file (no run): its digest is recorded like a run's."""
        kind = format or _SUFFIX_FORMATS.get(Path(filename).suffix.lower())
        if kind not in FORMATS:
            raise InvalidInput(
                f"Cannot tell the model format of {filename!r}; pass format= one of "
                f"{', '.join(FORMATS)}."
            )
        from passline.services.artifacts import ArtifactService

        artifact = ArtifactService(self.ws, self.ctx).put_stream(
            project, stream, f"models/{filename}"
        )
        files = [
            {
                "path": filename,
                "artifact_id": artifact.id,
                "digest": artifact.digest,
                "size": artifact.size,
            }
        ]
        return self._add_version(
            f"{project}/{model.rpartition('/')[2]}",
            project,
            f"file:{filename}",
            kind,
            files,
            None,
            description,
            signature or {},
            self.actor_name,
        )

    @retry_on_conflict
    def _add_version(
        self,
        model: str,
        project: str,
        source: str,
        kind: str,
        files: list[dict[str, Any]],
        run_id: str | None,
        description: str,
        signature: dict[str, Any],
        author: str,
    ) -> ModelVersion:
        name = model.rpartition("/")[2]
        check_name("model", name)
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "register models")
            row = self._model_row(session, prj.id, name, lock=True) or self._new_model(
                session, prj.id, project, name, "", None
            )
            number = (self._latest(session, row.id) or 0) + 1
            version = ModelVersionRow(
                id=new_id("mv"),
                model_id=row.id,
                version=number,
                run_id=run_id,
                source=source,
                format=kind,
                files=files,
                signature=signature,
                metrics=self._run_metrics(session, run_id),
                dataset_versions=self._run_inputs(session, run_id),
                description=description,
                author=author,
                created_at=utcnow(),
            )
            session.add(version)
            session.flush()
            self._link_version(session, version, row, project)
            self._audit(
                session,
                "model.version.create",
                f"model_version:{version.id}",
                project,
                {
                    "model": f"{project}/{name}",
                    "version": number,
                    "source": source,
                    "format": kind,
                    "files": [f["digest"] for f in files],
                },
            )
            return self._version_entity(session, version, f"{project}/{name}")

    def _link_version(
        self, session: Session, version: ModelVersionRow, model: RegisteredModelRow, project: str
    ) -> None:
        node = f"model_version:{version.id}"
        ensure_node(session, node, f"{project}/{model.name}/v{version.version}", model.project_id)
        edges = [(f"model:{project}/{model.name}", node, "has_version")]
        if version.run_id:
            edges.append((f"run:{version.run_id}", node, "produced"))
        insert_ignore(
            session,
            LineageEdgeRow.__table__,
            [
                {
                    "id": new_id("edg"),
                    "src_ref": s,
                    "dst_ref": d,
                    "type": t,
                    "actor": self.actor_name,
                    "created_at": utcnow(),
                    "attrs": {},
                }
                for s, d, t in edges
            ],
        )

    def _run_metrics(self, session: Session, run_id: str | None) -> dict[str, Any]:
        if run_id is None:
            return {}
        rows = session.execute(
            select(LatestMetricRow).where(LatestMetricRow.run_id == run_id)
        ).scalars()
        return {r.key: metric_out(r.value, r.is_nan) for r in rows}

    def _run_inputs(self, session: Session, run_id: str | None) -> list[str]:
        if run_id is None:
            return []
        return list(
            session.execute(
                select(RunInputRow.dataset_version_id).where(RunInputRow.run_id == run_id)
            ).scalars()
        )

    def _signature_from_run(self, run: Any) -> dict[str, Any]:
        """Inputs: the training dataset's columns (less the target, when a param names it;
        only those listed when a ``features`` param names them, comma-separated)."""
        training = [i for i in run.inputs if i.get("context") == "training"] or run.inputs
        if not training:
            return {}
        from passline.services.datasets import DatasetService

        version = DatasetService(self.ws, self.ctx).version(
            f"{training[0]['dataset']}@{training[0]['version']}"
        )
        target = run.params.get("target") or run.params.get("label")
        listed = [f.strip() for f in str(run.params.get("features", "")).split(",") if f.strip()]
        inputs = [
            {"name": c["name"], "type": c["type"]}
            for c in version.columns
            if c["name"] != target and (not listed or c["name"] in listed)
        ]
        outputs = [
            {"name": c["name"], "type": c["type"]} for c in version.columns if c["name"] == target
        ]
        return {"inputs": inputs, "outputs": outputs, "from": version.label}

    def version(self, model: str, version: int | str) -> ModelVersion:
        """A version by number, ``vN`` or alias name."""
        with self.db.read() as session:
            row, project = self._resolve(session, model, Role.VIEWER)
            found = self._version_row(session, row, version)
            return self._version_entity(session, found, f"{project}/{row.name}")

    def versions(self, model: str) -> list[ModelVersion]:
        with self.db.read() as session:
            row, project = self._resolve(session, model, Role.VIEWER)
            rows = (
                session.execute(
                    select(ModelVersionRow)
                    .where(ModelVersionRow.model_id == row.id)
                    .order_by(ModelVersionRow.version.desc())
                )
                .scalars()
                .all()
            )
            return [self._version_entity(session, v, f"{project}/{row.name}") for v in rows]

    def _version_row(
        self, session: Session, model: RegisteredModelRow, version: int | str
    ) -> ModelVersionRow:
        text = str(version)
        number = text[1:] if text.startswith("v") and text[1:].isdigit() else text
        if number.isdigit():
            query = select(ModelVersionRow).where(
                ModelVersionRow.model_id == model.id, ModelVersionRow.version == int(number)
            )
        else:
            query = (
                select(ModelVersionRow)
                .join(ModelAliasRow, ModelAliasRow.version_id == ModelVersionRow.id)
                .where(ModelAliasRow.model_id == model.id, ModelAliasRow.alias == text)
            )
        found = session.execute(query).scalar_one_or_none()
        if found is None:
            raise NotFound(
                f"Model {model.name!r} has no version or alias {text!r}.",
                hint="List them with 'passline models show'.",
            )
        return found

    def _version_entity(self, session: Session, row: ModelVersionRow, model: str) -> ModelVersion:
        aliases = list(
            session.execute(
                select(ModelAliasRow.alias).where(ModelAliasRow.version_id == row.id)
            ).scalars()
        )
        approvals = [
            {
                "approver": a.approver,
                "alias": a.alias,
                "comment": a.comment,
                "at": as_utc(a.at).isoformat(),
            }
            for a in session.execute(
                select(ApprovalRow).where(ApprovalRow.version_id == row.id)
            ).scalars()
        ]
        return ModelVersion(
            id=row.id,
            model=model,
            version=row.version,
            run_id=row.run_id,
            source=row.source,
            format=row.format,
            files=row.files,
            signature=row.signature or {},
            metrics=row.metrics or {},
            dataset_versions=self._dataset_labels(session, row),
            description=row.description,
            author=row.author,
            created_at=as_utc(row.created_at),
            aliases=sorted(aliases),
            approvals=approvals,
        )

    def _dataset_labels(self, session: Session, row: ModelVersionRow) -> list[str]:
        from passline.store.models import DatasetRow, DatasetVersionRow

        ids = list(row.dataset_versions or [])
        if not ids:
            return []
        found = session.execute(
            select(DatasetVersionRow.id, DatasetVersionRow.number, DatasetRow.name, ProjectRow.name)
            .join(DatasetRow, DatasetRow.id == DatasetVersionRow.dataset_id)
            .join(ProjectRow, ProjectRow.id == DatasetRow.project_id)
            .where(DatasetVersionRow.id.in_(ids))
        ).all()
        labels = {i: f"{p}/{d}@v{n}" for i, n, d, p in found}
        return [labels.get(i, i) for i in ids]

    # -- approvals, policies, aliases -----------------------------------------------------

    def approve(
        self, model: str, version: int | str, comment: str = "", alias: str | None = None
    ) -> ModelVersion:
        """Approve a version (approver role; never the version's own author)."""
        with self.db.write() as session:
            row, project = self._resolve(session, model, Role.APPROVER)
            target = self._version_row(session, row, version)
            if target.author == self.actor_name:
                raise PermissionDenied(
                    f"{self.actor_name!r} is the author of {project}/{row.name}/v{target.version} "
                    "and "
                    "cannot approve it.",
                    hint="Ask another approver of the project.",
                )
            session.add(
                ApprovalRow(
                    id=new_id("apr"),
                    version_id=target.id,
                    approver=self.actor_name,
                    alias=alias,
                    comment=comment,
                    at=utcnow(),
                )
            )
            self._audit(
                session,
                "model.approve",
                f"model_version:{target.id}",
                project,
                {
                    "model": f"{project}/{row.name}",
                    "version": target.version,
                    "alias": alias,
                    "comment": comment,
                },
            )
            session.flush()
            return self._version_entity(session, target, f"{project}/{row.name}")

    def set_policy(
        self,
        project: str,
        alias: str,
        require_approval: bool = True,
        checks: list[dict[str, Any]] | None = None,
    ) -> ReleasePolicy:
        """What an alias of this project's models needs before it moves (project admins)."""
        _check_alias(alias)
        validate_checks(checks or [])
        with self.db.write() as session:
            prj = self._require(session, project, Role.ADMIN, "set release policies")
            row = session.get(ReleasePolicyRow, (prj.id, alias))
            before = (
                {"require_approval": row.require_approval, "checks": row.checks} if row else None
            )
            if row is None:
                row = ReleasePolicyRow(project_id=prj.id, alias=alias)
                session.add(row)
            row.require_approval, row.checks = require_approval, checks or []
            row.updated_by, row.updated_at = self.actor_name, utcnow()
            self._audit(
                session,
                "policy.set",
                f"project:{project}",
                project,
                {
                    "alias": alias,
                    "from": before,
                    "to": {"require_approval": require_approval, "checks": checks or []},
                },
            )
            return ReleasePolicy(
                project=project,
                alias=alias,
                require_approval=require_approval,
                checks=checks or [],
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )

    def policies(self, project: str) -> list[ReleasePolicy]:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "view release policies")
            rows = session.execute(
                select(ReleasePolicyRow).where(ReleasePolicyRow.project_id == prj.id)
            ).scalars()
            return [
                ReleasePolicy(
                    project=project,
                    alias=r.alias,
                    require_approval=r.require_approval,
                    checks=r.checks,
                    updated_by=r.updated_by,
                    updated_at=as_utc(r.updated_at),
                )
                for r in rows
            ]

    def evaluate(self, model: str, version: int | str, alias: str) -> dict[str, Any]:
        """What the alias's policy demands of this version, and what is missing."""
        target = self.version(model, version)
        with self.db.read() as session:
            row, project = self._resolve(session, model, Role.VIEWER)
            prj_id = row.project_id
            policy = session.get(ReleasePolicyRow, (prj_id, alias))
        if policy is None:
            approvers = [a["approver"] for a in target.approvals]
            return {"policy": None, "missing": [], "checks": [], "approvers": approvers}
        missing: list[str] = []
        approvers = [
            a["approver"]
            for a in target.approvals
            if a["approver"] != target.author and a["alias"] in (None, alias)
        ]
        if policy.require_approval and not approvers:
            missing.append(f"an approval by an approver other than the author ({target.author})")
        services = self.ws.services(self.ctx)
        results = [run_check(target, spec, services) for spec in policy.checks]
        missing += [f"check {r.name}: {r.message}" for r in results if not r.passed]
        return {
            "policy": {"require_approval": policy.require_approval, "checks": policy.checks},
            "missing": missing,
            "checks": [r.to_dict() for r in results],
            "approvers": approvers,
        }

    def set_alias(
        self, model: str, alias: str, version: int | str, reason: str = "", kind: str = "set"
    ) -> AliasMove:
        """Point ``alias`` at a version; refused with the list of what the policy misses."""
        _check_alias(alias)
        started = time.perf_counter()
        verdict = self.evaluate(model, version, alias)
        if verdict["missing"]:
            raise PermissionDenied(
                f"Cannot move {alias!r} of {model} to version {version}: "
                + "; ".join(verdict["missing"])
                + ".",
                hint="Approve it (passline models approve), make the checks pass, promote again.",
                missing=verdict["missing"],
            )
        with self.db.write() as session:
            row, project = self._resolve(session, model, Role.CONTRIBUTOR)
            target = self._version_row(session, row, version)
            return self._move(session, row, project, alias, target, reason, kind, verdict, started)

    def _move(
        self,
        session: Session,
        row: RegisteredModelRow,
        project: str,
        alias: str,
        target: ModelVersionRow | None,
        reason: str,
        kind: str,
        evidence: dict[str, Any],
        started: float,
    ) -> AliasMove:
        current = session.get(ModelAliasRow, (row.id, alias))
        from_id = current.version_id if current else None
        from_number = session.get(ModelVersionRow, from_id).version if from_id else None  # type: ignore[union-attr]
        if target is None:
            if current is not None:
                session.delete(current)
        elif current is None:
            session.add(ModelAliasRow(model_id=row.id, alias=alias, version_id=target.id))
        else:
            current.version_id = target.id
        move = AliasMoveRow(
            id=new_id("mov"),
            model_id=row.id,
            alias=alias,
            from_version_id=from_id,
            to_version_id=target.id if target else None,
            actor=self.actor_name,
            at=utcnow(),
            reason=reason,
            kind=kind,
            evidence=_jsonable(evidence),
        )
        if kind == "rollback":  # the measured time to recover, read by rollback_rehearsed gates
            move.evidence = {**move.evidence, "duration_ms": _elapsed_ms(started)}
        session.add(move)
        if target is not None:
            self._record_move(session, move, target, row, project, alias, kind)
        self._audit(
            session,
            f"model.alias.{kind}",
            f"model:{project}/{row.name}",
            project,
            {
                "alias": alias,
                "from": from_number,
                "to": target.version if target else None,
                "reason": reason,
            },
        )
        session.flush()
        return AliasMove(
            id=move.id,
            model=f"{project}/{row.name}",
            alias=alias,
            from_version=from_number,
            to_version=target.version if target else None,
            actor=move.actor,
            at=move.at,
            reason=reason,
            kind=kind,
            evidence=move.evidence,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    def _record_move(
        self,
        session: Session,
        move: AliasMoveRow,
        target: ModelVersionRow,
        model: RegisteredModelRow,
        project: str,
        alias: str,
        kind: str,
    ) -> None:
        """The move is a node of its own (``version --aliased_as--> alias_move``), as the
        architecture's spine has it; an edge back to the model would make every version
        upstream of every other one."""
        node = f"alias_move:{move.id}"
        label = f"{project}/{model.name} {alias} -> v{target.version} ({kind})"
        ensure_node(session, node, label, model.project_id)
        insert_ignore(
            session,
            LineageEdgeRow.__table__,
            [
                {
                    "id": new_id("edg"),
                    "src_ref": f"model_version:{target.id}",
                    "dst_ref": node,
                    "type": "aliased_as",
                    "actor": self.actor_name,
                    "created_at": utcnow(),
                    "attrs": {"alias": alias, "kind": kind},
                }
            ],
        )

    def promote(
        self, model: str, version: int | str, alias: str = "production", reason: str = ""
    ) -> AliasMove:
        return self.set_alias(model, alias, version, reason, kind="promote")

    def delete_alias(self, model: str, alias: str, reason: str = "") -> AliasMove:
        started = time.perf_counter()
        with self.db.write() as session:
            row, project = self._resolve(session, model, Role.CONTRIBUTOR)
            if session.get(ModelAliasRow, (row.id, alias)) is None:
                raise NotFound(f"Model {project}/{row.name} has no alias {alias!r}.")
            return self._move(session, row, project, alias, None, reason, "delete", {}, started)

    def rollback(self, model: str, alias: str = "production", reason: str = "") -> AliasMove:
        """Point ``alias`` back at the version it held before its last move, in one step.

        A rollback restores a version that already held the alias, so the policy is not
        asked again: getting back to the last known good state must never wait for a vote.
        """
        started = time.perf_counter()
        with self.db.write() as session:
            row, project = self._resolve(session, model, Role.CONTRIBUTOR)
            current = session.get(ModelAliasRow, (row.id, alias))
            previous = self._previous_version(
                session, row.id, alias, current.version_id if current else None
            )
            if previous is None:
                raise Conflict(
                    f"Alias {alias!r} of {project}/{row.name} has no earlier version to roll "
                    "back to.",
                    hint=f"See: passline models history {project}/{row.name} --alias {alias}",
                )
            target = session.get(ModelVersionRow, previous)
            return self._move(
                session, row, project, alias, target, reason or "rollback", "rollback", {}, started
            )

    def _previous_version(
        self, session: Session, model_id: str, alias: str, current: str | None
    ) -> str | None:
        moves = session.execute(
            select(AliasMoveRow)
            .where(AliasMoveRow.model_id == model_id, AliasMoveRow.alias == alias)
            .order_by(AliasMoveRow.at.desc(), AliasMoveRow.id.desc())
        ).scalars()
        for (
            move
        ) in moves:  # the newest move that arrived at the current version: where it came from
            if (
                move.to_version_id == current
                and move.from_version_id
                and move.from_version_id != current
            ):
                return move.from_version_id
        return None

    def history(self, model: str, alias: str | None = None) -> list[AliasMove]:
        with self.db.read() as session:
            row, project = self._resolve(session, model, Role.VIEWER)
            query = select(AliasMoveRow).where(AliasMoveRow.model_id == row.id)
            if alias:
                query = query.where(AliasMoveRow.alias == alias)
            moves = (
                session.execute(query.order_by(AliasMoveRow.at.desc(), AliasMoveRow.id.desc()))
                .scalars()
                .all()
            )
            numbers = dict(
                session.execute(
                    select(ModelVersionRow.id, ModelVersionRow.version).where(
                        ModelVersionRow.model_id == row.id
                    )
                ).all()
            )
            return [
                AliasMove(
                    id=m.id,
                    model=f"{project}/{row.name}",
                    alias=m.alias,
                    from_version=numbers.get(m.from_version_id),
                    to_version=numbers.get(m.to_version_id),
                    actor=m.actor,
                    at=as_utc(m.at),
                    reason=m.reason,
                    kind=m.kind,
                    evidence=m.evidence or {},
                )
                for m in moves
            ]

    # -- loading ---------------------------------------------------------------------------

    def download(self, model: str, version: int | str, dest: str | Path) -> Path:
        """Write the version's files under ``dest``, each checked against its recorded digest."""
        target = self.version(model, version)
        from passline.services.artifacts import ArtifactService

        artifacts = ArtifactService(self.ws, self.ctx)
        folder = Path(dest)
        for item in target.files:
            record = artifacts.get(item["artifact_id"])
            if record.digest != item["digest"]:
                raise InvalidInput(
                    f"Artifact {item['artifact_id']} no longer has digest {item['digest'][:12]}."
                )
            artifacts.get_to(item["artifact_id"], folder / Path(item["path"]).name)
        return folder

    def load(self, model: str, version: int | str = "production") -> Any:
        """The model object. Pickle executes code, so a scikit-learn file is only unpickled
        after its bytes hash to the digest the registry recorded when it was registered."""
        import tempfile

        from passline.services.model_loading import load_model

        target = self.version(model, version)
        with tempfile.TemporaryDirectory(prefix="passline-model-") as folder:
            self.download(model, target.version, folder)
            return load_model(target, Path(folder))

    def card(self, model: str, version: int | str | None = None) -> dict[str, str]:
        """The model card as Markdown and HTML."""
        from passline.services.model_cards import render_card

        entity = self.get_model(model)
        chosen = (
            version
            if version is not None
            else (entity.aliases.get("production") or entity.latest_version)
        )
        if chosen is None:
            raise NotFound(f"Model {model} has no version yet.")
        target = self.version(model, chosen)
        return render_card(
            entity, target, self.history(model), self.evaluate(model, target.version, "production")
        )


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _parse_run_source(source: str) -> tuple[str, str]:
    if not source.startswith("runs:/"):
        raise InvalidInput(
            f"A model source from a run looks like 'runs:/RUN_ID/path'. Got {source!r} instead."
        )
    run_id, _, path = source.removeprefix("runs:/").partition("/")
    if not run_id or not path:
        raise InvalidInput(
            f"A model source from a run looks like 'runs:/RUN_ID/path'. Got {source!r} instead."
        )
    return run_id, path.strip("/")


def _infer_format(files: list[dict[str, Any]]) -> str:
    names = [Path(f["path"]).name for f in files]
    if "MLmodel" in names:
        return "mlflow"
    for name in names:
        if Path(name).suffix.lower() in _SUFFIX_FORMATS:
            return _SUFFIX_FORMATS[Path(name).suffix.lower()]
    raise InvalidInput(
        f"Cannot tell the model format from {names}; pass format= one of {', '.join(FORMATS)}."
    )


def _check_alias(alias: str) -> str:
    check_name("alias", alias)
    if alias.startswith("v") and alias[1:].isdigit() or alias.isdigit():
        raise InvalidInput(f"An alias cannot look like a version number. Got {alias!r} instead.")
    return alias


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
