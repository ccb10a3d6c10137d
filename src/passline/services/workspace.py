"""A workspace (settings, database, artifact store) and the services bound to a caller."""

from __future__ import annotations

import getpass
import os
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import select

from passline.artifacts.store import ArtifactStore, open_store
from passline.core.clock import utcnow
from passline.core.ids import new_id
from passline.services.artifacts import ArtifactService
from passline.services.audit import AuditChain, load_audit_key
from passline.services.audit_service import AuditService
from passline.services.context import Actor, CallContext, Origin
from passline.services.identity import IdentityService
from passline.services.lineage import LineageService
from passline.services.projects import ProjectService
from passline.settings import Settings
from passline.store import migrations
from passline.store.db import Database
from passline.store.models import UserRow

if TYPE_CHECKING:
    from passline.data.crypto import KeyProvider
    from passline.services.backlog import BacklogService
    from passline.services.datasets import DatasetService
    from passline.services.drift_service import DriftService
    from passline.services.endpoints import EndpointService
    from passline.services.environments import EnvironmentService
    from passline.services.evaluation import EvaluationService
    from passline.services.gates import GateService
    from passline.services.groups import GroupService
    from passline.services.guards import GuardService
    from passline.services.ingest import IngestService
    from passline.services.llm import LlmService
    from passline.services.maturity import MaturityService
    from passline.services.model_optimize import ModelOptimizer
    from passline.services.monitoring import MonitoringService
    from passline.services.monitors import MonitorService
    from passline.services.pipelines import PipelineService
    from passline.services.prompts import PromptService
    from passline.services.rag import RagService
    from passline.services.redteam import RedteamService
    from passline.services.registry import RegistryService
    from passline.services.sources import SourceService
    from passline.services.tracing import TraceService
    from passline.services.tracking import TrackingService

__all__ = ["Services", "Workspace"]


class Workspace:
    """Everything a process needs to serve calls; cheap to share across threads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings)
        self.blobs: ArtifactStore = open_store(settings.resolved_artifact_root)
        self.audit = AuditChain(load_audit_key(settings))

    @classmethod
    def open(cls, settings: Settings | None = None, *, migrate: bool = True) -> Workspace:
        """Open a workspace, checking the database and applying pending migrations."""
        workspace = cls(settings or Settings.load())
        workspace.db.check_connection()
        if migrate:
            workspace.migrate()
        workspace.blobs.sweep_spool()
        return workspace

    def migrate(self) -> str:
        """Apply pending migrations; return the revision the schema is now at."""
        engine = self.db.write_engine
        try:
            current = migrations.current_revision(engine)
            if current != migrations.HEAD_REVISION:
                migrations.upgrade(engine)
        except Exception as exc:
            from sqlalchemy.exc import OperationalError

            if isinstance(exc, OperationalError):
                raise self.db.unavailable(exc) from None
            raise
        return migrations.HEAD_REVISION

    @cached_property
    def data_keys(self) -> KeyProvider:
        """Keys for restricted data at rest: PASSLINE_DATA_KEY, else a keyring in the home."""
        from passline.data.crypto import EnvKeyProvider, FileKeyProvider

        if os.environ.get("PASSLINE_DATA_KEY"):
            return EnvKeyProvider()
        return FileKeyProvider(self.settings.home / "data-keys.json")

    def services(self, ctx: CallContext) -> Services:
        return Services(self, ctx)

    def local_context(self, origin: Origin = "sdk") -> CallContext:
        """Embedded mode acts as the OS user, who administers their own workspace."""
        name = _os_user()
        with self.db.write() as session:
            row = session.execute(select(UserRow).where(UserRow.name == name)).scalar_one_or_none()
            if row is None:
                row = UserRow(
                    id=new_id("usr"),
                    name=name,
                    display_name=f"{name} (local)",
                    kind="user",
                    is_admin=True,
                    disabled=False,
                    created_at=utcnow(),
                )
                session.add(row)
                ctx = CallContext(Actor(row.id, name, True), "system")
                self.audit.append(session, ctx, "user.bootstrap", f"user:{name}", None, {})
        return CallContext(Actor(row.id, row.name, row.is_admin, row.kind), origin)

    def close(self) -> None:
        self.db.dispose()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid{os.getuid()}"


class Services:
    """The services, bound to one caller. Build one per request or per SDK client."""

    def __init__(self, workspace: Workspace, ctx: CallContext) -> None:
        self.workspace = workspace
        self.ctx = ctx
        self.identity = IdentityService(workspace, ctx)
        self.projects = ProjectService(workspace, ctx)
        self.artifacts = ArtifactService(workspace, ctx)
        self.lineage = LineageService(workspace, ctx)
        self.audit = AuditService(workspace, ctx)

    # The data block pulls in pyarrow and NumPy: loaded on first use, so a process that
    # only serves artifacts or metadata stays small.
    @cached_property
    def datasets(self) -> DatasetService:
        from passline.services.datasets import DatasetService

        return DatasetService(self.workspace, self.ctx)

    @cached_property
    def ingest(self) -> IngestService:
        from passline.services.ingest import IngestService

        return IngestService(self.workspace, self.ctx)

    @cached_property
    def tracking(self) -> TrackingService:
        from passline.services.tracking import TrackingService

        return TrackingService(self.workspace, self.ctx)

    @cached_property
    def registry(self) -> RegistryService:
        from passline.services.registry import RegistryService

        return RegistryService(self.workspace, self.ctx)

    @cached_property
    def sources(self) -> SourceService:
        from passline.services.sources import SourceService

        return SourceService(self.workspace, self.ctx)

    @cached_property
    def optimizer(self) -> ModelOptimizer:
        from passline.services.model_optimize import ModelOptimizer

        return ModelOptimizer(self.workspace, self.ctx)

    @cached_property
    def drift(self) -> DriftService:
        from passline.services.drift_service import DriftService

        return DriftService(self.workspace, self.ctx)

    @cached_property
    def endpoints(self) -> EndpointService:
        from passline.services.endpoints import EndpointService

        return EndpointService(self.workspace, self.ctx)

    @cached_property
    def monitoring(self) -> MonitoringService:
        from passline.services.monitoring import MonitoringService

        return MonitoringService(self.workspace, self.ctx)

    @cached_property
    def monitors(self) -> MonitorService:
        from passline.services.monitors import MonitorService

        return MonitorService(self.workspace, self.ctx)

    @cached_property
    def groups(self) -> GroupService:
        from passline.services.groups import GroupService

        return GroupService(self.workspace, self.ctx)

    @cached_property
    def rag(self) -> RagService:
        from passline.services.rag import RagService

        return RagService(self.workspace, self.ctx)

    @cached_property
    def guards(self) -> GuardService:
        from passline.services.guards import GuardService

        return GuardService(self.workspace, self.ctx)

    @cached_property
    def llm(self) -> LlmService:
        from passline.services.llm import LlmService

        return LlmService(self.workspace, self.ctx)

    @cached_property
    def prompts(self) -> PromptService:
        from passline.services.prompts import PromptService

        return PromptService(self.workspace, self.ctx)

    @cached_property
    def tracing(self) -> TraceService:
        from passline.services.tracing import TraceService

        return TraceService(self.workspace, self.ctx)

    @cached_property
    def evaluation(self) -> EvaluationService:
        from passline.services.evaluation import EvaluationService

        return EvaluationService(self.workspace, self.ctx)

    @cached_property
    def redteam(self) -> RedteamService:
        from passline.services.redteam import RedteamService

        return RedteamService(self.workspace, self.ctx)

    @cached_property
    def backlog(self) -> BacklogService:
        from passline.services.backlog import BacklogService

        return BacklogService(self.workspace, self.ctx)

    @cached_property
    def gates(self) -> GateService:
        from passline.services.gates import GateService

        return GateService(self.workspace, self.ctx)

    @cached_property
    def maturity(self) -> MaturityService:
        from passline.services.maturity import MaturityService

        return MaturityService(self.workspace, self.ctx)

    @cached_property
    def environments(self) -> EnvironmentService:
        from passline.services.environments import EnvironmentService

        return EnvironmentService(self.workspace, self.ctx)

    @cached_property
    def pipelines(self) -> PipelineService:
        from passline.services.pipelines import PipelineService

        return PipelineService(self.workspace, self.ctx)
