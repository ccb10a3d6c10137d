"""Environments and releases: a project's promotion path, and every move along it.

A project has named environments in order (``dev``, ``staging``, ``production`` unless it
configures others). The environment's name is the model alias, or the prompt label, that
a release moves, so an endpoint serving ``model@staging`` follows what is released there.

A release moves one version into an environment, and only from the environment just
before it in the path (the first takes any version). It passes, in this order:

1. the path: the version must hold the previous environment's alias (else ``Conflict``);
2. the environment's approval rule and its gates, each checked with the gate service and
   stored (else ``PermissionDenied`` naming every failing criterion);
3. the release policy of the alias or label, as ``set_alias``/``set_label`` apply it.

Every outcome past the role check is a record: ``released``, or ``refused`` with the
reasons and nothing moved. A rollback puts back the version the environment held before
a release, without waiting for gates or approvals (getting back to known good must never
wait for a vote), and is a record of its own with its measured duration.

Roles: viewers read; contributors release and roll back; project admins configure. An
environment with ``require_approval`` (``production`` by default) also needs an approval
of the version by someone other than its author, or a releaser who holds the approver
role and is not the author (their release is the second pair of eyes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.environments import DEFAULT_ENVIRONMENTS, Environment, Release
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, insert_ignore, record_edges
from passline.store.models import ProjectRow
from passline.store.models_envs import EnvironmentRow, ReleaseRow
from passline.store.models_gates import GateRow

__all__ = ["EnvironmentService"]

_LIVE = ("released", "rollback")


@dataclass(frozen=True)
class _Target:
    """A version to release, read once: what the gates and the record need."""

    kind: str  # model | prompt
    project: str
    name: str  # project/name
    version: int
    subject: Any  # passline.services.gates.Subject

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class _Clock:
    """When a release began (wall clock, for the record) and a monotonic start (for its
    duration)."""

    at: datetime
    perf: float

    @classmethod
    def start(cls) -> _Clock:
        return cls(utcnow(), time.perf_counter())

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.perf) * 1000, 3)


class _Refused(Exception):
    """A release stopped on purpose: recorded, then raised as ``error``."""

    def __init__(self, error: Conflict | PermissionDenied, reasons: list[str]) -> None:
        super().__init__(error.message)
        self.error, self.reasons = error, reasons


class EnvironmentService(BaseService):
    # -- environments --------------------------------------------------------------------

    def list(self, project: str) -> list[Environment]:
        """The project's environments in path order; the defaults are created on first use."""
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read environments")
            found = [_environment(r, project) for r in self._rows(session, prj.id)]
        if found:
            return found
        with self.db.write() as session:
            rows = self._ensure(session, self._project(session, project), project)
            return [_environment(r, project) for r in rows]

    def get(self, project: str, name: str) -> Environment:
        return _find(self.list(project), name, project)

    def configure(
        self,
        project: str,
        name: str,
        *,
        position: int | None = None,
        description: str | None = None,
        settings: dict[str, Any] | None = None,
        endpoints: list[str] | None = None,
        gates: list[str] | None = None,
        require_approval: bool | None = None,
    ) -> Environment:
        """Create or update an environment (project admins). ``settings`` are merged into
        the current ones (a key set to ``None`` is removed); ``endpoints`` and ``gates``
        replace the current lists; ``position`` (0 first) moves it along the path, and a
        new environment goes last unless given one."""
        _check_environment_name(name)
        with self.db.write() as session:
            prj = self._require(session, project, Role.ADMIN, "configure environments")
            rows = self._ensure(session, prj, project)
            row = next((r for r in rows if r.name == name), None)
            before = _snapshot(row) if row else None
            if row is None:
                row = self._new_row(prj.id, name, len(rows))
                session.add(row)
                rows.append(row)
            if gates is not None:
                row.gates = self._checked_gates(session, project, gates)
            _apply(row, description, settings, endpoints, require_approval)
            if position is not None:
                _place(rows, row, position)
            row.updated_at = utcnow()
            self._audit(
                session,
                "environment.configure",
                f"environment:{project}/{name}",
                project,
                {"from": before, "to": _snapshot(row)},
            )
            session.flush()
            return _environment(row, project)

    def delete(self, project: str, name: str) -> None:
        """Remove an environment (project admins). Refused while release records name it
        (they must keep their meaning) and for a project's only environment."""
        with self.db.write() as session:
            prj = self._require(session, project, Role.ADMIN, "delete environments")
            rows = self._ensure(session, prj, project)
            row = _find_row(rows, name, project)
            if len(rows) == 1:
                raise Conflict(f"{name!r} is the only environment of project {project!r}.")
            used = session.execute(
                select(func.count())
                .select_from(ReleaseRow)
                .where(ReleaseRow.project_id == prj.id, ReleaseRow.to_environment == name)
            ).scalar_one()
            if used:
                raise Conflict(
                    f"Environment {project}/{name} is named by {used} release record(s) and "
                    "stays, so that they keep their meaning.",
                    hint="Stop using it: clear its endpoints and gates, or move it with "
                    "--position.",
                )
            session.delete(row)
            _renumber([r for r in rows if r is not row])
            self._audit(session, "environment.delete", f"environment:{project}/{name}", project, {})

    def _rows(self, session: Session, project_id: str) -> list[EnvironmentRow]:
        return list(
            session.execute(
                select(EnvironmentRow)
                .where(EnvironmentRow.project_id == project_id)
                .order_by(EnvironmentRow.position, EnvironmentRow.name)
            ).scalars()
        )

    def _ensure(self, session: Session, prj: ProjectRow, project: str) -> list[EnvironmentRow]:
        rows = self._rows(session, prj.id)
        if rows:
            return rows
        defaults = [
            _columns(self._new_row(prj.id, name, i, description, approval))
            for i, (name, description, approval) in enumerate(DEFAULT_ENVIRONMENTS)
        ]
        insert_ignore(session, EnvironmentRow.__table__, defaults)
        self._audit(
            session,
            "environment.defaults",
            f"project:{project}",
            project,
            {"environments": [d["name"] for d in defaults]},
        )
        return self._rows(session, prj.id)

    def _new_row(
        self,
        project_id: str,
        name: str,
        position: int,
        description: str = "",
        require_approval: bool = False,
    ) -> EnvironmentRow:
        now = utcnow()
        return EnvironmentRow(
            id=new_id("env"),
            project_id=project_id,
            name=name,
            position=position,
            description=description,
            settings={},
            endpoints=[],
            gates=[],
            require_approval=require_approval,
            created_by=self.actor_name,
            created_at=now,
            updated_at=now,
        )

    def _checked_gates(self, session: Session, project: str, gates: list[str]) -> list[str]:
        """Gates as ``project/name``, each of which must exist (refused when set, not when a
        release runs into it)."""
        named = [g if "/" in g else f"{project}/{g}" for g in dict.fromkeys(gates)]
        for gate in named:
            owner, _, name = gate.partition("/")
            found = session.execute(
                select(GateRow.id)
                .join(ProjectRow, ProjectRow.id == GateRow.project_id)
                .where(ProjectRow.name == owner, GateRow.name == name)
            ).scalar_one_or_none()
            if found is None:
                raise NotFound(
                    f"No gate {gate}; an environment can only require existing gates.",
                    hint=f"List them with 'passline gate list {owner}'.",
                )
        return named

    # -- releases ------------------------------------------------------------------------

    def release(self, subject: str, version: int | str, to: str, reason: str = "") -> Release:
        """Move ``version`` of ``subject`` (``project/model`` or ``prompt:project/name``)
        into environment ``to``; see the module docstring for what it must pass."""
        started = _Clock.start()
        target = self._target(subject, version)
        environments = self.list(target.project)
        env = _find(environments, to, target.project)
        index = environments.index(env)
        before = environments[index - 1] if index else None
        gates: list[dict[str, Any]] = []
        try:
            approvals = self._admit(target, env, before)
            gates = self._gates(target, env)
            failing = [f for g in gates for f in g["failing"]]
            if failing or approvals["missing"]:
                reasons = approvals["missing"] + failing
                raise _Refused(self._denied(target, env, reasons), reasons)
            move = self._move(target, env.name, reason)
        except _Refused as refusal:
            self._record_refusal(target, env, before, reason, started, refusal, gates)
            raise refusal.error from None
        return self._record(target, env, before, reason, started, gates, approvals, move)

    def _target(self, subject: str, version: int | str) -> _Target:
        kind, name = (
            ("prompt", subject.removeprefix("prompt:"))
            if subject.startswith("prompt:")
            else ("model", subject.removeprefix("model:"))
        )
        project, sep, short = name.partition("/")
        if not sep or not project or not short or "/" in short or "@" in short:
            raise InvalidInput(
                "A release names its subject as PROJECT/MODEL or prompt:PROJECT/NAME, and the "
                f"version apart. Got {subject!r} instead."
            )
        text = str(version).removeprefix("v")
        if not text.isdigit():
            raise InvalidInput(
                f"The version of a release is a number such as 3 or v3. Got {version!r} instead."
            )
        found = self.ws.services(self.ctx).gates.subject(f"{kind}:{name}@{int(text)}")
        return _Target(kind, project, name, found.version, found)

    def _holds(self, target: _Target) -> dict[str, int]:
        """Which version each alias (model) or label (prompt) of the subject points at."""
        svc = self.ws.services(self.ctx)
        if target.kind == "model":
            return svc.registry.get_model(target.name).aliases
        return svc.prompts.get(target.name).labels

    def _admit(
        self, target: _Target, env: Environment, before: Environment | None
    ) -> dict[str, Any]:
        """The role, the path and the approval rule: what stops a release before its gates."""
        with self.db.read() as session:
            prj = self._require(
                session, target.project, Role.CONTRIBUTOR, f"release into {env.name}"
            )
            role = self._role_in(session, prj.id)
        holds = self._holds(target)
        if holds.get(env.name) == target.version:
            raise Conflict(
                f"{target.label} is already in {env.name}.",
                hint=f"See: passline release list {target.project} --env {env.name}",
            )
        if before is not None and holds.get(before.name) != target.version:
            there = holds.get(before.name)
            message = (
                f"v{target.version} is not in {before.name}; release it there first "
                f"({before.name} holds {f'v{there}' if there else 'nothing'})."
            )
            raise _Refused(
                Conflict(
                    f"{target.name}: {message}",
                    hint=f"passline release create {_cli_subject(target)} "
                    f"--version {target.version} --to {before.name}",
                ),
                [message],
            )
        return _approvals(target, env, role, self.actor_name)

    def _gates(self, target: _Target, env: Environment) -> list[dict[str, Any]]:
        """Check each gate of the environment for the version; every evaluation is stored."""
        from passline.services.gates import split_gate

        gates = self.ws.services(self.ctx).gates
        results = []
        for gate in env.gates:
            evaluation = gates.check(*split_gate(gate), target.subject)
            results.append(
                {
                    "gate": gate,
                    "evaluation": evaluation.id,
                    "passed": evaluation.passed,
                    "failing": [
                        f"gate {gate}: {r['criterion']} ({r['status']}: {r['message']})"
                        for r in evaluation.failing()
                    ],
                }
            )
        return results

    def _denied(
        self,
        target: _Target,
        env: Environment,
        reasons: list[str],
    ) -> PermissionDenied:
        return PermissionDenied(
            f"Release of {target.label} into {env.name} refused; nothing moved: "
            + "; ".join(reasons)
            + ".",
            hint="Approve the version or make the gates pass, then release again.",
            failing=reasons,
        )

    def _move(self, target: _Target, environment: str, reason: str) -> dict[str, Any]:
        """Move the alias or label through the registry's own policy; a policy refusal
        becomes a refused release."""
        svc = self.ws.services(self.ctx)
        why = reason or f"release into {environment}"
        try:
            if target.kind == "model":
                moved = svc.registry.set_alias(
                    target.name, environment, target.version, why, kind="release"
                )
                return {
                    "move": moved.id,
                    "from_version": moved.from_version,
                    "policy": moved.evidence,
                    "move_duration_ms": moved.duration_ms,
                }
            label = svc.prompts.set_label(
                f"{target.name}@{target.version}", environment, why, kind="release"
            )
        except PermissionDenied as exc:
            message = f"release policy of {environment!r}: {exc.message}"
            raise _Refused(
                PermissionDenied(
                    f"Release of {target.label} into {environment} refused; nothing moved: "
                    f"{message}",
                    hint=exc.hint,
                    failing=[message],
                ),
                [message],
            ) from exc
        return {
            "from_version": label.from_version,
            "policy": label.evidence,
            "move_duration_ms": label.evidence.get("duration_ms"),
        }

    def _record(
        self,
        target: _Target,
        env: Environment,
        before: Environment | None,
        reason: str,
        started: _Clock,
        gates: list[dict[str, Any]],
        approvals: dict[str, Any],
        move: dict[str, Any],
    ) -> Release:
        evidence = {**move, "approvals": approvals["approvers"], "subject": target.subject.ref}
        row = self._row(target, env.name, before, reason, gates, evidence, started)
        row.version, row.previous_version = target.version, move["from_version"]
        return self._write(row, target.subject.ref, started, "release.create")

    def _record_refusal(
        self,
        target: _Target,
        env: Environment,
        before: Environment | None,
        reason: str,
        started: _Clock,
        refusal: _Refused,
        gates: list[dict[str, Any]],
    ) -> None:
        evidence = {"refused": refusal.reasons, "subject": target.subject.ref}
        row = self._row(target, env.name, before, reason, gates, evidence, started)
        row.version, row.status = target.version, "refused"
        recorded = self._write(row, None, started, "release.refuse")
        refusal.error.details["release"] = recorded.id

    def _row(
        self,
        target: _Target,
        environment: str,
        before: Environment | None,
        reason: str,
        gates: list[dict[str, Any]],
        evidence: dict[str, Any],
        started: _Clock,
    ) -> ReleaseRow:
        return ReleaseRow(
            id=new_id("rel"),
            kind=target.kind,
            subject=target.name,
            from_environment=before.name if before else None,
            to_environment=environment,
            status="released",
            actor=self.actor_name,
            reason=reason,
            gates=gates,
            evidence=_jsonable(evidence),
            started_at=started.at,
        )

    def _write(
        self,
        row: ReleaseRow,
        version_ref: str | None,
        started: _Clock,
        action: str,
        undoes: str | None = None,
    ) -> Release:
        """Store a record (its duration measured up to now), link it, audit it; with
        ``undoes``, mark that release rolled back in the same transaction."""
        project = row.subject.split("/", 1)[0]
        with self.db.write() as session:
            row.project_id = self._project(session, project).id
            if undoes is not None:
                _mark_rolled_back(session, undoes, row.id)
            row.duration_ms = started.elapsed_ms()
            session.add(row)
            if version_ref is not None:
                self._link(session, row, version_ref)
            self._audit(
                session,
                action,
                f"release:{row.id}",
                project,
                {
                    "subject": _cli_subject_of(row.kind, row.subject),
                    "version": row.version,
                    "from": row.from_environment,
                    "to": row.to_environment,
                    "status": row.status,
                    "duration_ms": row.duration_ms,
                    "rollback_of": row.rollback_of,
                },
            )
            session.flush()
            return _release(row, project)

    def _link(self, session: Session, row: ReleaseRow, version_ref: str) -> None:
        """The release is a lineage node of its own: ``version --released_to--> release``."""
        node = f"release:{row.id}"
        label = f"{row.subject} v{row.version} -> {row.to_environment} ({row.status})"
        ensure_node(session, node, label, row.project_id)
        attrs = {"environment": row.to_environment, "status": row.status}
        record_edges(session, self.actor_name, [(version_ref, node, "released_to", attrs)])

    # -- reading releases ----------------------------------------------------------------

    def releases(
        self,
        project: str,
        environment: str | None = None,
        limit: int = 50,
        subject: str | None = None,
    ) -> list[Release]:
        """The project's release records, newest first; ``environment`` and ``subject``
        (``project/model`` or ``prompt:project/name``) narrow them."""
        if environment is not None:
            _find(self.list(project), environment, project)
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read releases")
            query = select(ReleaseRow).where(ReleaseRow.project_id == prj.id)
            if environment is not None:
                query = query.where(ReleaseRow.to_environment == environment)
            if subject is not None:
                kind = "prompt" if subject.startswith("prompt:") else "model"
                name = subject.removeprefix("prompt:").removeprefix("model:")
                query = query.where(ReleaseRow.kind == kind, ReleaseRow.subject == name)
            rows = session.execute(
                query.order_by(ReleaseRow.started_at.desc(), ReleaseRow.id.desc()).limit(limit)
            ).scalars()
            return [_release(r, project) for r in rows]

    def get_release(self, release_id: str) -> Release:
        with self.db.read() as session:
            found = session.execute(
                select(ReleaseRow, ProjectRow.name)
                .join(ProjectRow, ProjectRow.id == ReleaseRow.project_id)
                .where(ReleaseRow.id == release_id)
            ).one_or_none()
            if found is None or self._role_in(session, found[0].project_id) is None:
                raise NotFound(
                    f"No release {release_id!r}.",
                    hint="List them with 'passline release list PROJECT'.",
                )
            return _release(found[0], found[1])

    # -- rollback ------------------------------------------------------------------------

    def rollback(self, release_id: str, reason: str = "") -> Release:
        """Put back what the environment held before release ``release_id``, at once: no
        gate, approval or policy is asked. Only the environment's live release of that
        subject can be rolled back. The rollback is a record with its measured duration;
        the original is marked ``rolled_back``."""
        started = _Clock.start()
        original = self.get_release(release_id)
        with self.db.read() as session:
            self._require(
                session,
                original.project,
                Role.CONTRIBUTOR,
                f"roll back releases of {original.to_environment}",
            )
            self._check_live(session, original)
        self._check_untouched(original)
        move = self._move_back(original, reason or f"rollback of {original.id}")
        row = ReleaseRow(
            id=new_id("rel"),
            kind=original.kind,
            subject=original.subject,
            version=original.previous_version,
            previous_version=original.version,
            from_environment=None,
            to_environment=original.to_environment,
            status="rollback",
            actor=self.actor_name,
            reason=reason,
            gates=[],
            evidence=_jsonable({**move, "rolled_back": original.id}),
            started_at=started.at,
            rollback_of=original.id,
        )
        return self._write_rollback(row, original, started)

    def _check_live(self, session: Session, original: Release) -> None:
        if original.status == "refused":
            raise Conflict(
                f"Release {original.id} was refused; nothing moved, so there is nothing to "
                "roll back."
            )
        if original.status == "rolled_back":
            raise Conflict(
                f"Release {original.id} was already rolled back by {original.rolled_back_by}."
            )
        if original.status == "rollback":
            raise Conflict(
                f"Release {original.id} is itself a rollback; release the version again instead.",
                hint=f"passline release create {original.target} --version "
                f"{original.previous_version} --to {original.to_environment}",
            )
        live = session.execute(
            select(ReleaseRow)
            .join(ProjectRow, ProjectRow.id == ReleaseRow.project_id)
            .where(
                ProjectRow.name == original.project,
                ReleaseRow.kind == original.kind,
                ReleaseRow.subject == original.subject,
                ReleaseRow.to_environment == original.to_environment,
                ReleaseRow.status.in_(_LIVE),
            )
            .order_by(ReleaseRow.started_at.desc(), ReleaseRow.id.desc())
            .limit(1)
        ).scalar_one()
        if live.id != original.id:
            raise Conflict(
                f"Release {original.id} is not the live release of {original.subject} in "
                f"{original.to_environment}: {live.id} (v{live.version}, {live.status}) is.",
                hint=f"Roll back {live.id} instead: passline release rollback {live.id}",
            )

    def _check_untouched(self, original: Release) -> None:
        """The alias or label must still be where the release left it (no move since)."""
        svc = self.ws.services(self.ctx)
        env = original.to_environment
        if original.kind == "model":
            history = svc.registry.history(original.subject, env)
            latest = history[0] if history else None
            same = latest is not None and latest.id == original.evidence.get("move")
        else:
            moves = svc.prompts.history(original.subject, env)
            latest = moves[0] if moves else None  # type: ignore[assignment]
            same = latest is not None and (latest.kind, latest.to_version) == (
                "release",
                original.version,
            )
        if not same:
            now = f"v{latest.to_version}" if latest and latest.to_version else "nothing"
            raise Conflict(
                f"{env} of {original.subject} was moved outside releases since {original.id} "
                f"(it now holds {now}); a rollback would undo someone else's move.",
                hint=f"Release the version you want: passline release create {original.target} "
                f"--version N --to {env}",
            )

    def _move_back(self, original: Release, reason: str) -> dict[str, Any]:
        svc = self.ws.services(self.ctx)
        env, previous = original.to_environment, original.previous_version
        if original.kind == "prompt":
            if previous is None:
                raise Conflict(
                    f"Label {env!r} of {original.subject} held no version before "
                    f"{original.id}, and a prompt label cannot be emptied.",
                    hint="Release the version you want there instead.",
                )
            label = svc.prompts.rollback(original.subject, env, reason)
            return {
                "to_version": label.to_version,
                "move_duration_ms": label.evidence.get("duration_ms"),
            }
        if previous is None:
            moved = svc.registry.delete_alias(original.subject, env, reason)
        else:
            moved = svc.registry.rollback(original.subject, env, reason)
        return {
            "move": moved.id,
            "to_version": moved.to_version,
            "move_duration_ms": moved.duration_ms,
        }

    def _write_rollback(self, row: ReleaseRow, original: Release, started: _Clock) -> Release:
        version_ref = None
        if row.version is not None:
            version_ref = self._target(original.target, row.version).subject.ref
        return self._write(row, version_ref, started, "release.rollback", undoes=original.id)


def _mark_rolled_back(session: Session, release_id: str, by: str) -> None:
    row = session.get(ReleaseRow, release_id)
    if row is None or row.status != "released":
        raise Conflict(f"Release {release_id} was rolled back meanwhile.")
    row.status, row.rolled_back_by = "rolled_back", by


def _approvals(target: _Target, env: Environment, role: Role | None, actor: str) -> dict[str, Any]:
    """Who approved the version for ``env`` (never its author), and what is missing."""
    scope = "alias" if target.kind == "model" else "label"
    author = target.subject.author
    approvers = sorted(
        {
            a["approver"]
            for a in target.subject.approvals
            if a["approver"] != author and a.get(scope) in (None, env.name)
        }
    )
    missing: list[str] = []
    if env.require_approval and not approvers:
        if role is not None and role.allows(Role.APPROVER) and actor != author:
            approvers = [actor]  # an approver who did not write it releases it: four eyes
        else:
            missing.append(
                f"{env.name} needs an approval of v{target.version} by someone other than its "
                f"author ({author}), or a release by such an approver"
            )
    return {"approvers": approvers, "missing": missing}


def _check_environment_name(name: str) -> None:
    check_name("environment", name)
    if name.isdigit() or (name.startswith("v") and name[1:].isdigit()):
        raise InvalidInput(
            f"An environment name is an alias, and cannot look like a version number. "
            f"Got {name!r} instead."
        )


def _find(environments: list[Environment], name: str, project: str) -> Environment:
    for env in environments:
        if env.name == name:
            return env
    names = ", ".join(e.name for e in environments)
    raise NotFound(
        f"Project {project!r} has no environment {name!r}; its environments are {names}.",
        hint=f"Add one with 'passline env set {project} {name}'.",
    )


def _find_row(rows: list[EnvironmentRow], name: str, project: str) -> EnvironmentRow:
    for row in rows:
        if row.name == name:
            return row
    names = ", ".join(r.name for r in rows)
    raise NotFound(
        f"Project {project!r} has no environment {name!r}; its environments are {names}."
    )


def _apply(
    row: EnvironmentRow,
    description: str | None,
    settings: dict[str, Any] | None,
    endpoints: list[str] | None,
    require_approval: bool | None,
) -> None:
    if description is not None:
        row.description = description
    if settings is not None:
        merged = {**(row.settings or {}), **settings}
        row.settings = {k: v for k, v in merged.items() if v is not None}
    if endpoints is not None:
        for endpoint in endpoints:
            check_name("endpoint", endpoint.rpartition("/")[2])
        row.endpoints = list(dict.fromkeys(endpoints))
    if require_approval is not None:
        row.require_approval = require_approval


def _place(rows: list[EnvironmentRow], row: EnvironmentRow, position: int) -> None:
    if not isinstance(position, int) or not 0 <= position < len(rows):
        raise InvalidInput(
            f"The position of an environment must be an integer in [0, {len(rows) - 1}]. "
            f"Got {position!r} instead."
        )
    others = [r for r in sorted(rows, key=lambda r: r.position) if r is not row]
    others.insert(position, row)
    _renumber(others)


def _renumber(rows: list[EnvironmentRow]) -> None:
    """Positions 0..n-1 in the order given."""
    for i, row in enumerate(rows):
        row.position = i


def _snapshot(row: EnvironmentRow) -> dict[str, Any]:
    return {
        "position": row.position,
        "description": row.description,
        "settings": row.settings,
        "endpoints": row.endpoints,
        "gates": row.gates,
        "require_approval": row.require_approval,
    }


def _columns(row: EnvironmentRow) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in EnvironmentRow.__table__.columns}


def _environment(row: EnvironmentRow, project: str) -> Environment:
    return Environment(
        id=row.id,
        project=project,
        name=row.name,
        position=row.position,
        description=row.description,
        settings=row.settings or {},
        endpoints=row.endpoints or [],
        gates=row.gates or [],
        require_approval=row.require_approval,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _release(row: ReleaseRow, project: str) -> Release:
    return Release(
        id=row.id,
        project=project,
        kind=row.kind,
        subject=row.subject,
        version=row.version,
        previous_version=row.previous_version,
        from_environment=row.from_environment,
        to_environment=row.to_environment,
        status=row.status,
        actor=row.actor,
        reason=row.reason,
        gates=row.gates or [],
        evidence=row.evidence or {},
        started_at=as_utc(row.started_at),
        duration_ms=row.duration_ms,
        rolled_back_by=row.rolled_back_by,
        rollback_of=row.rollback_of,
    )


def _cli_subject(target: _Target) -> str:
    return _cli_subject_of(target.kind, target.name)


def _cli_subject_of(kind: str, name: str) -> str:
    return name if kind == "model" else f"prompt:{name}"


def _jsonable(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))
