"""The prompt registry: prompts with immutable versions, labels that move under the same
release policies as model aliases, diffs, and rendering with typed variables.

A version is a chat template (a list of messages whose contents are Jinja templates, run in
Jinja's sandbox with undefined variables refused), the variables it takes with their types,
the model and parameters it was written for, and an optional output schema. Saving the
same content again returns the existing version. ``prompts:/project/name@production`` (or
``project/name@production``, ``@3``, ``@v3``) names a version anywhere a prompt is taken.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from datetime import datetime
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.names import check_name
from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from passline.services.base import BaseService, next_version
from passline.services.lineage import ensure_node, insert_ignore
from passline.services.release_checks import run_check
from passline.store.db import retry_on_conflict
from passline.store.models import (
    LineageEdgeRow,
    ProjectRow,
    PromptApprovalRow,
    PromptLabelMoveRow,
    PromptLabelRow,
    PromptRow,
    PromptVersionRow,
    ReleasePolicyRow,
)

__all__ = ["Prompt", "PromptLabelMove", "PromptService", "PromptVersion", "RenderedPrompt"]

TYPES = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "list": list,
    "object": dict,
}
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class Prompt(Entity):
    id: str
    project: str
    name: str
    description: str
    labels: dict[str, int]
    latest_version: int | None
    created_by: str
    created_at: datetime


class PromptVersion(Entity):
    id: str
    prompt: str  # project/name
    version: int
    template: list[dict[str, str]]
    variables: dict[str, str]
    model: str | None
    params: dict[str, Any]
    output_schema: dict[str, Any] | None
    description: str
    digest: str
    author: str
    created_at: datetime
    labels: list[str] = []
    approvals: list[dict[str, Any]] = []
    # What release checks read (the same checks as for model versions).
    metrics: dict[str, float] = {}
    dataset_versions: list[str] = []
    run_id: str | None = None

    @property
    def ref(self) -> str:
        return f"prompt_version:{self.id}"

    @property
    def label(self) -> str:
        return f"{self.prompt}@v{self.version}"

    @property
    def signature(self) -> dict[str, Any]:
        return {"inputs": [{"name": k, "type": v} for k, v in self.variables.items()]}


class PromptLabelMove(Entity):
    prompt: str
    label: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str
    kind: str
    evidence: dict[str, Any] = {}


class RenderedPrompt(Entity):
    version_id: str
    label: str  # project/name@vN
    messages: list[dict[str, str]]
    model: str | None
    params: dict[str, Any]
    output_schema: dict[str, Any] | None


def parse_prompt_ref(ref: str) -> tuple[str, str, str]:
    """``prompts:/p/name@label`` -> (project, name, selector); the selector defaults to
    ``production``."""
    text = ref.removeprefix("prompts:/").removeprefix("/")
    path, _, selector = text.partition("@")
    project, _, name = path.partition("/")
    if not project or not name or "/" in name:
        raise InvalidInput(
            f"Name a prompt as project/name[@label or @version]. Got {ref!r} instead."
        )
    return project, name, selector or "production"


class PromptService(BaseService):
    # -- versions ---------------------------------------------------------------------------

    @retry_on_conflict
    def create(
        self,
        prompt: str,
        template: str | list[dict[str, str]],
        variables: dict[str, str] | None = None,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        description: str = "",
    ) -> PromptVersion:
        """A new version of ``project/name`` (the prompt is created with its first version);
        identical content returns the version that already holds it."""
        project, name, _ = parse_prompt_ref(prompt)
        check_name("prompt", name)
        messages = _messages(template)
        declared = _variables(variables or {})
        _check_template(messages, declared)
        if output_schema is not None and not isinstance(output_schema, dict):
            raise InvalidInput("The output schema must be a JSON Schema object.")
        content = {
            "template": messages,
            "variables": declared,
            "model": model,
            "params": params or {},
            "output_schema": output_schema,
        }
        digest = (
            "sha256:" + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
        )
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "write prompts")
            row = self._prompt_row(session, prj.id, name, lock=True)
            if row is None:
                row = PromptRow(
                    id=new_id("prm"),
                    project_id=prj.id,
                    name=name,
                    description=description,
                    created_by=self.actor_name,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
            same = session.execute(
                select(PromptVersionRow).where(
                    PromptVersionRow.prompt_id == row.id, PromptVersionRow.digest == digest
                )
            ).scalar_one_or_none()
            if same is not None:
                return self._version(session, same, project, row.name)
            number = next_version(
                session, PromptVersionRow.version, PromptVersionRow.prompt_id == row.id
            )
            version = PromptVersionRow(
                id=new_id("pv"),
                prompt_id=row.id,
                version=number,
                template=messages,
                variables=declared,
                model=model,
                params=params or {},
                output_schema=output_schema,
                description=description,
                digest=digest,
                author=self.actor_name,
                created_at=utcnow(),
            )
            session.add(version)
            session.flush()
            ensure_node(
                session, f"prompt_version:{version.id}", f"{project}/{name}@v{number}", prj.id
            )
            ensure_node(session, f"prompt:{project}/{name}", f"prompt {name}", prj.id)
            insert_ignore(
                session,
                LineageEdgeRow.__table__,
                [
                    {
                        "id": new_id("edg"),
                        "src_ref": f"prompt:{project}/{name}",
                        "dst_ref": f"prompt_version:{version.id}",
                        "type": "has_version",
                        "actor": self.actor_name,
                        "created_at": utcnow(),
                        "attrs": {},
                    }
                ],
            )
            self._audit(
                session,
                "prompt.version.create",
                f"prompt_version:{version.id}",
                project,
                {"prompt": f"{project}/{name}", "version": number, "digest": digest},
            )
            return self._version(session, version, project, name)

    def list(self, project: str | None = None) -> list[Prompt]:
        with self.db.read() as session:
            query = select(PromptRow, ProjectRow.name).join(
                ProjectRow, ProjectRow.id == PromptRow.project_id
            )
            if project:
                self._require(session, project, Role.VIEWER, "read prompts")
                query = query.where(ProjectRow.name == project)
            rows = [
                (r, p)
                for r, p in session.execute(query.order_by(ProjectRow.name, PromptRow.name)).all()
                if self._role_in(session, r.project_id)
            ]
            return [self._prompt(session, r, p) for r, p in rows]

    def get(self, prompt: str) -> Prompt:
        with self.db.read() as session:
            row, project = self._resolve(session, prompt, Role.VIEWER)
            return self._prompt(session, row, project)

    def versions(self, prompt: str) -> list[PromptVersion]:
        with self.db.read() as session:
            row, project = self._resolve(session, prompt, Role.VIEWER)
            rows = session.execute(
                select(PromptVersionRow)
                .where(PromptVersionRow.prompt_id == row.id)
                .order_by(PromptVersionRow.version.desc())
            ).scalars()
            return [self._version(session, v, project, row.name) for v in rows]

    def version(self, prompt: str) -> PromptVersion:
        """``project/name@label`` or ``@N``: the version it names."""
        with self.db.read() as session:
            row, project = self._resolve(session, prompt, Role.VIEWER)
            found = self._version_row(session, row, parse_prompt_ref(prompt)[2])
            return self._version(session, found, project, row.name)

    def render(self, prompt: str, variables: dict[str, Any] | None = None) -> RenderedPrompt:
        """The messages of the version ``prompt`` names, with ``variables`` filled in;
        a missing, extra or mistyped variable is refused by name."""
        version = self.version(prompt)
        values = dict(variables or {})
        missing = [v for v in version.variables if v not in values]
        if missing:
            raise InvalidInput(
                f"Prompt {version.label} needs the variable{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}.",
                hint=f"It takes: {', '.join(f'{k} ({t})' for k, t in version.variables.items())}.",
            )
        extra = sorted(set(values) - set(version.variables))
        if extra:
            raise InvalidInput(
                f"Prompt {version.label} takes no variable {extra[0]!r}.",
                hint=f"It takes: {', '.join(version.variables) or 'none'}.",
            )
        for name, kind in version.variables.items():
            if not isinstance(values[name], TYPES[kind]) or (
                kind in ("integer", "number") and isinstance(values[name], bool)
            ):
                raise InvalidInput(
                    f"Variable {name!r} of {version.label} must be a {kind}. "
                    f"Got {type(values[name]).__name__}."
                )
        try:
            messages = [
                {"role": m["role"], "content": _ENV.from_string(m["content"]).render(values)}
                for m in version.template
            ]
        except UndefinedError as exc:
            raise InvalidInput(f"Rendering {version.label} failed: {exc}.") from None
        return RenderedPrompt(
            version_id=version.id,
            label=version.label,
            messages=messages,
            model=version.model,
            params=version.params,
            output_schema=version.output_schema,
        )

    def diff(self, prompt: str, old: int | str, new: int | str) -> dict[str, Any]:
        """A unified diff of the two templates and the fields that changed."""
        base = parse_prompt_ref(prompt)
        path = f"{base[0]}/{base[1]}"
        a, b = self.version(f"{path}@{old}"), self.version(f"{path}@{new}")
        text = difflib.unified_diff(
            _as_text(a.template).splitlines(),
            _as_text(b.template).splitlines(),
            f"{path}@v{a.version}",
            f"{path}@v{b.version}",
            lineterm="",
        )
        fields = {
            f: {"from": getattr(a, f), "to": getattr(b, f)}
            for f in ("variables", "model", "params", "output_schema")
            if getattr(a, f) != getattr(b, f)
        }
        return {"from": a.version, "to": b.version, "template": "\n".join(text), "changed": fields}

    # -- labels ----------------------------------------------------------------------------------

    def approve(self, prompt: str, comment: str = "", label: str | None = None) -> PromptVersion:
        """Approve the version ``prompt`` names (approver role; never its author)."""
        with self.db.write() as session:
            row, project = self._resolve(session, prompt, Role.APPROVER)
            target = self._version_row(session, row, parse_prompt_ref(prompt)[2])
            if target.author == self.actor_name:
                raise PermissionDenied(
                    f"{self.actor_name!r} wrote {project}/{row.name}@v{target.version} and cannot "
                    "approve it.",
                    hint="Ask another approver of the project.",
                )
            session.add(
                PromptApprovalRow(
                    id=new_id("pap"),
                    version_id=target.id,
                    approver=self.actor_name,
                    label=label,
                    comment=comment,
                    at=utcnow(),
                )
            )
            self._audit(
                session,
                "prompt.approve",
                f"prompt_version:{target.id}",
                project,
                {
                    "prompt": f"{project}/{row.name}",
                    "version": target.version,
                    "label": label,
                    "comment": comment,
                },
            )
            session.flush()
            return self._version(session, target, project, row.name)

    def evaluate(self, prompt: str, label: str) -> dict[str, Any]:
        """What the project's release policy for ``label`` demands of the version, and what
        is missing (the same policies and checks as model aliases)."""
        target = self.version(prompt)
        with self.db.read() as session:
            row, _ = self._resolve(session, prompt, Role.VIEWER)
            policy = session.get(ReleasePolicyRow, (row.project_id, label))
        approvers = [
            a["approver"]
            for a in target.approvals
            if a["approver"] != target.author and a["label"] in (None, label)
        ]
        if policy is None:
            return {"policy": None, "missing": [], "checks": [], "approvers": approvers}
        missing = []
        if policy.require_approval and not approvers:
            missing.append(f"an approval by an approver other than the author ({target.author})")
        services = self.ws.services(self.ctx)
        results = [run_check(target, spec, services) for spec in policy.checks]  # type: ignore[arg-type]
        missing += [f"check {r.name}: {r.message}" for r in results if not r.passed]
        return {
            "policy": {"require_approval": policy.require_approval, "checks": policy.checks},
            "missing": missing,
            "checks": [r.to_dict() for r in results],
            "approvers": approvers,
        }

    def set_label(
        self, prompt: str, label: str, reason: str = "", kind: str = "set"
    ) -> PromptLabelMove:
        """Point ``label`` at the version ``prompt`` names; refused with what the policy misses."""
        check_name("label", label)
        started = time.perf_counter()
        verdict = self.evaluate(prompt, label)
        if verdict["missing"]:
            raise PermissionDenied(
                f"Label {label!r} cannot move to {prompt}: it misses "
                + "; ".join(verdict["missing"])
                + ".",
                hint="See: passline prompts evaluate " + prompt + f" --label {label}",
            )
        with self.db.write() as session:
            row, project = self._resolve(session, prompt, Role.CONTRIBUTOR)
            target = self._version_row(session, row, parse_prompt_ref(prompt)[2])
            return self._move(
                session,
                row,
                project,
                label,
                target,
                reason,
                kind,
                {"checks": verdict["checks"], "approvers": verdict["approvers"]},
                started,
            )

    def rollback(self, prompt: str, label: str = "production", reason: str = "") -> PromptLabelMove:
        """Back to the version the label held before its last move (no policy asked)."""
        started = time.perf_counter()
        with self.db.write() as session:
            row, project = self._resolve(session, prompt, Role.CONTRIBUTOR)
            current = session.get(PromptLabelRow, (row.id, label))
            moves = session.execute(
                select(PromptLabelMoveRow)
                .where(PromptLabelMoveRow.prompt_id == row.id, PromptLabelMoveRow.label == label)
                .order_by(PromptLabelMoveRow.at.desc(), PromptLabelMoveRow.id.desc())
            ).scalars()
            previous = next(
                (
                    m.from_version_id
                    for m in moves
                    if current
                    and m.to_version_id == current.version_id
                    and m.from_version_id
                    and m.from_version_id != current.version_id
                ),
                None,
            )
            if previous is None:
                raise Conflict(f"Label {label!r} of {project}/{row.name} has no earlier version.")
            target = session.get(PromptVersionRow, previous)
            return self._move(
                session, row, project, label, target, reason or "rollback", "rollback", {}, started
            )

    def history(self, prompt: str, label: str | None = None) -> list[PromptLabelMove]:
        with self.db.read() as session:
            row, project = self._resolve(session, prompt, Role.VIEWER)
            query = select(PromptLabelMoveRow).where(PromptLabelMoveRow.prompt_id == row.id)
            if label:
                query = query.where(PromptLabelMoveRow.label == label)
            moves = session.execute(query.order_by(PromptLabelMoveRow.at.desc())).scalars().all()
            numbers = self._numbers(session, row.id)
            return [_move_entity(m, f"{project}/{row.name}", numbers) for m in moves]

    def _move(
        self,
        session: Session,
        row: PromptRow,
        project: str,
        label: str,
        target: PromptVersionRow,
        reason: str,
        kind: str,
        evidence: dict[str, Any],
        started: float,
    ) -> PromptLabelMove:
        current = session.get(PromptLabelRow, (row.id, label))
        from_id = current.version_id if current else None
        if current is None:
            session.add(PromptLabelRow(prompt_id=row.id, label=label, version_id=target.id))
        else:
            current.version_id = target.id
        evidence = {**evidence, "duration_ms": round((time.perf_counter() - started) * 1000, 2)}
        move = PromptLabelMoveRow(
            id=new_id("plm"),
            prompt_id=row.id,
            label=label,
            from_version_id=from_id,
            to_version_id=target.id,
            actor=self.actor_name,
            at=utcnow(),
            reason=reason,
            kind=kind,
            evidence=json.loads(json.dumps(evidence, default=str)),
        )
        session.add(move)
        self._audit(
            session,
            f"prompt.label.{kind}",
            f"prompt:{project}/{row.name}",
            project,
            {"label": label, "to": target.version, "reason": reason},
        )
        session.flush()
        return _move_entity(move, f"{project}/{row.name}", self._numbers(session, row.id))

    # -- rows and entities -------------------------------------------------------------------------

    def _prompt_row(
        self, session: Session, project_id: str, name: str, lock: bool = False
    ) -> PromptRow | None:
        """The prompt; ``lock`` holds its row until commit, so versions are numbered in turn."""
        query = select(PromptRow).where(PromptRow.project_id == project_id, PromptRow.name == name)
        return session.execute(query.with_for_update() if lock else query).scalar_one_or_none()

    def _resolve(self, session: Session, prompt: str, role: Role) -> tuple[PromptRow, str]:
        project, name, _ = parse_prompt_ref(prompt)
        prj = self._require(session, project, role, "use prompts")
        row = self._prompt_row(session, prj.id, name)
        if row is None:
            raise NotFound(
                f"Project {project!r} has no prompt named {name!r}.",
                hint="List them with 'passline prompts list'.",
            )
        return row, project

    def _version_row(self, session: Session, row: PromptRow, selector: str) -> PromptVersionRow:
        text = (
            selector.removeprefix("v")
            if selector[:1] == "v" and selector[1:].isdigit()
            else selector
        )
        if text.isdigit():
            found = session.execute(
                select(PromptVersionRow).where(
                    PromptVersionRow.prompt_id == row.id, PromptVersionRow.version == int(text)
                )
            ).scalar_one_or_none()
        else:
            label = session.get(PromptLabelRow, (row.id, text))
            found = session.get(PromptVersionRow, label.version_id) if label else None
        if found is None:
            raise NotFound(
                f"Prompt {row.name!r} has no version or label {selector!r}.",
                hint=f"See its versions: passline prompts show {selector and row.name}",
            )
        return found

    def _numbers(self, session: Session, prompt_id: str) -> dict[str, int]:
        return dict(
            session.execute(
                select(PromptVersionRow.id, PromptVersionRow.version).where(
                    PromptVersionRow.prompt_id == prompt_id
                )
            ).all()
        )

    def _prompt(self, session: Session, row: PromptRow, project: str) -> Prompt:
        numbers = self._numbers(session, row.id)
        labels = {
            lbl.label: numbers[lbl.version_id]
            for lbl in session.execute(
                select(PromptLabelRow).where(PromptLabelRow.prompt_id == row.id)
            ).scalars()
        }
        return Prompt(
            id=row.id,
            project=project,
            name=row.name,
            description=row.description,
            labels=labels,
            latest_version=max(numbers.values(), default=None),
            created_by=row.created_by,
            created_at=as_utc(row.created_at),
        )

    def _version(
        self, session: Session, row: PromptVersionRow, project: str, name: str
    ) -> PromptVersion:
        labels = sorted(
            session.execute(
                select(PromptLabelRow.label).where(PromptLabelRow.version_id == row.id)
            ).scalars()
        )
        approvals = [
            {
                "approver": a.approver,
                "label": a.label,
                "comment": a.comment,
                "at": as_utc(a.at).isoformat(),
            }
            for a in session.execute(
                select(PromptApprovalRow).where(PromptApprovalRow.version_id == row.id)
            ).scalars()
        ]
        return PromptVersion(
            id=row.id,
            prompt=f"{project}/{name}",
            version=row.version,
            template=row.template,
            variables=row.variables,
            model=row.model,
            params=row.params or {},
            output_schema=row.output_schema,
            description=row.description,
            digest=row.digest,
            author=row.author,
            created_at=as_utc(row.created_at),
            labels=labels,
            approvals=approvals,
        )


def _messages(template: str | list[dict[str, str]]) -> list[dict[str, str]]:
    if isinstance(template, str):
        return [{"role": "user", "content": template}]
    if not isinstance(template, list) or not template:
        raise InvalidInput("A template is a string or a non-empty list of messages.")
    out = []
    for index, message in enumerate(template):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "user", "assistant")
            or not isinstance(message.get("content"), str)
        ):
            raise InvalidInput(
                f"Message {index} of the template needs a role (system, user, "
                "assistant) and a string content."
            )
        out.append({"role": message["role"], "content": message["content"]})
    return out


def _variables(variables: dict[str, str]) -> dict[str, str]:
    for name, kind in variables.items():
        if not name.isidentifier():
            raise InvalidInput(f"Variable name {name!r} is not an identifier.")
        if kind not in TYPES:
            raise InvalidInput(
                f"Variable {name!r} has unknown type {kind!r}; use one of {', '.join(TYPES)}."
            )
    return dict(variables)


def _check_template(messages: list[dict[str, str]], declared: dict[str, str]) -> None:
    """Every variable the template uses is declared, and every declared one is used."""
    used: set[str] = set()
    for index, message in enumerate(messages):
        try:
            used |= meta.find_undeclared_variables(_ENV.parse(message["content"]))
        except TemplateSyntaxError as exc:
            raise InvalidInput(
                f"Message {index} of the template: {exc.message} (line {exc.lineno})."
            ) from None
    undeclared = sorted(used - set(declared))
    if undeclared:
        raise InvalidInput(
            f"The template uses {', '.join(undeclared)} but does not declare "
            f"{'them' if len(undeclared) > 1 else 'it'}.",
            hint='Declare variables with their types, e.g. {"question": "string"}.',
        )
    unused = sorted(set(declared) - used)
    if unused:
        raise InvalidInput(f"Variable {unused[0]!r} is declared but the template never uses it.")


def _as_text(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def _move_entity(move: PromptLabelMoveRow, prompt: str, numbers: dict[str, int]) -> PromptLabelMove:
    return PromptLabelMove(
        prompt=prompt,
        label=move.label,
        from_version=numbers.get(move.from_version_id or ""),
        to_version=numbers.get(move.to_version_id or ""),
        actor=move.actor,
        at=as_utc(move.at),
        reason=move.reason,
        kind=move.kind,
        evidence=move.evidence or {},
    )
