"""SQLAlchemy tables of the metadata store (the head of the migration chain).

Timestamps are stored as UTC. Columns that a migration added say which one, so a reader
can match the models to ``migrations/versions``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ArtifactRow",
    "AuditEventRow",
    "AuditHeadRow",
    "Base",
    "LineageEdgeRow",
    "LineageNodeRow",
    "MembershipRow",
    "ProjectRow",
    "TokenRow",
    "UserRow",
]

UtcDateTime = DateTime(timezone=True)


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TokenRow(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # added by 0002
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ProjectRow(Base):
    __tablename__ = "projects"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class MembershipRow(Base):
    __tablename__ = "memberships"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("project_id", "name", "digest", name="uq_artifact"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class LineageNodeRow(Base):
    __tablename__ = "lineage_nodes"
    ref: Mapped[str] = mapped_column(String(250), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    label: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LineageEdgeRow(Base):
    __tablename__ = "lineage_edges"
    __table_args__ = (
        UniqueConstraint("src_ref", "dst_ref", "type", name="uq_lineage_edge"),
        Index("ix_lineage_edges_dst", "dst_ref"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    src_ref: Mapped[str] = mapped_column(ForeignKey("lineage_nodes.ref"))
    dst_ref: Mapped[str] = mapped_column(ForeignKey("lineage_nodes.ref"))
    type: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # added by 0002
    attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditEventRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_actor", "actor"),
        Index("ix_audit_object", "object_ref"),
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # ISO-8601 text, not a DateTime: the hash covers these exact characters on every backend.
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(80))
    object_ref: Mapped[str] = mapped_column(String(250))
    project: Mapped[str | None] = mapped_column(String(100), nullable=True)
    origin: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)
    changes: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """One row: the last sequence number and hash, locked by every audit write."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


# --- data block (added by 0003) ---------------------------------------------------------


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_dataset_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(100))
    sensitivity: Mapped[str] = mapped_column(String(16))
    sensitivity_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    column_tags: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    key_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    expectations: Mapped[str | None] = mapped_column(Text, nullable=True)
    latest_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_dataset_version_number"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # ok | quarantined
    mode: Mapped[str] = mapped_column(String(16))  # replace | append
    parts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    schema_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    new_bytes: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    parent_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    profile_digest: Mapped[str] = mapped_column(String(64))
    quality: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    pii: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    bad_rows: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)


class DatasetGrantRow(Base):
    __tablename__ = "dataset_grants"
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True)
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text)


class SourceRow(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_source_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    dataset: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    schedule: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


# --- experiments and the model registry (added by 0004) ---------------------------------


class ExperimentRow(Base):
    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_experiment_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    experiment_id: Mapped[str] = mapped_column(ForeignKey("experiments.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # RUNNING FINISHED FAILED KILLED
    start_time: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch, like MLflow
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    user: Mapped[str] = mapped_column(String(100))
    entry_point: Mapped[str | None] = mapped_column(Text, nullable=True)
    code: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # commit, dirty, diff
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    lifecycle: Mapped[str] = mapped_column(String(16), default="active")


class RunParamRow(Base):
    __tablename__ = "run_params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RunTagRow(Base):
    __tablename__ = "run_tags"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class MetricRow(Base):
    """Every logged value. NaN is kept as ``is_nan`` because SQLite stores NaN as NULL."""

    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_key", "run_id", "key", "step"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger, default=0)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class LatestMetricRow(Base):
    """The value at the highest (step, timestamp) per run and key: what search filters on."""

    __tablename__ = "run_latest_metrics"
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)


class RunInputRow(Base):
    __tablename__ = "run_inputs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    dataset_version_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    context: Mapped[str] = mapped_column(String(40), default="training")


class RunArtifactRow(Base):
    __tablename__ = "run_artifacts"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(500), primary_key=True)
    artifact_id: Mapped[str] = mapped_column(String(40))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)


class RegisteredModelRow(Base):
    __tablename__ = "registered_models"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_model_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(100))
    intended_use: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    source: Mapped[str] = mapped_column(Text)  # runs:/<run>/<path>, a file, or a logged model
    format: Mapped[str] = mapped_column(String(20))  # sklearn | onnx | python | mlflow
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # path, artifact id, digest, size
    signature: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dataset_versions: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ModelAliasRow(Base):
    __tablename__ = "model_aliases"
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"))


class AliasMoveRow(Base):
    __tablename__ = "alias_moves"
    __table_args__ = (Index("ix_alias_moves_model_alias", "model_id", "alias"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id"))
    alias: Mapped[str] = mapped_column(String(100))
    from_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    to_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))  # set | promote | rollback | delete
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ApprovalRow(Base):
    __tablename__ = "model_approvals"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("model_versions.id"), index=True)
    approver: Mapped[str] = mapped_column(String(100))
    alias: Mapped[str | None] = mapped_column(String(100), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReleasePolicyRow(Base):
    __tablename__ = "release_policies"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    require_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- serving and monitoring (added by 0005) ------------------------------------------------


class EndpointRow(Base):
    """A served model: an alias, an optional canary version and share, an optional shadow."""

    __tablename__ = "endpoints"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_endpoint_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    model_id: Mapped[str] = mapped_column(ForeignKey("registered_models.id"))
    alias: Mapped[str] = mapped_column(String(100))
    canary_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    canary_percent: Mapped[int] = mapped_column(Integer, default=0)
    shadow_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    redact: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PredictionSummaryRow(Base):
    """Per endpoint, version and minute: counts and a latency histogram (the dashboards)."""

    __tablename__ = "prediction_summaries"
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id"), primary_key=True)
    version_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # primary | canary | shadow
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_buckets: Mapped[list[int]] = mapped_column(JSON, default=list)


class PredictionRequestRow(Base):
    """Every answered request (written in batches by the log writer): what labels join to."""

    __tablename__ = "prediction_requests"
    __table_args__ = (Index("ix_prediction_requests_endpoint_at", "endpoint_id", "at"),)
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id"))
    version_id: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    rows: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)


class PredictionLabelRow(Base):
    """Ground truth that arrived after the prediction, by request id."""

    __tablename__ = "prediction_labels"
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id"), index=True)
    labels: Mapped[list[Any]] = mapped_column(JSON)  # one per row of the request
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(100), default="api")


class MonitorRow(Base):
    __tablename__ = "monitors"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_monitor_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("endpoints.id"))
    name: Mapped[str] = mapped_column(String(100))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)  # metric, op, threshold, window, role
    schedule: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16), default="notify")  # notify | rollback
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text)
    action: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    delivered: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# --- LLM operations (added by 0006) -----------------------------------------------------------


class GroupRow(Base):
    """A workspace group of users (HR, finance): what document ACLs name besides users."""

    __tablename__ = "groups"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GroupMemberRow(Base):
    __tablename__ = "group_members"
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)


class LlmModelRow(Base):
    """A configured model: the embedded one or an OpenAI-compatible endpoint, with prices."""

    __tablename__ = "llm_models"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))  # embedded | openai
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # url, model, secret ref
    input_price_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    output_price_per_mtok: Mapped[float] = mapped_column(Float, default=0.0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PromptRow(Base):
    __tablename__ = "prompts"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_prompt_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PromptVersionRow(Base):
    """An immutable prompt: template, typed variables, model and parameters, output schema."""

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("prompt_id", "version", name="uq_prompt_version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    template: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # chat messages
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # name -> type
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    digest: Mapped[str] = mapped_column(String(80))
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PromptLabelRow(Base):
    __tablename__ = "prompt_labels"
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"), primary_key=True)
    label: Mapped[str] = mapped_column(String(100), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("prompt_versions.id"))


class PromptLabelMoveRow(Base):
    __tablename__ = "prompt_label_moves"
    __table_args__ = (Index("ix_prompt_label_moves_prompt_label", "prompt_id", "label"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    prompt_id: Mapped[str] = mapped_column(ForeignKey("prompts.id"))
    label: Mapped[str] = mapped_column(String(100))
    from_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    to_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(16))  # set | promote | rollback | delete
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PromptApprovalRow(Base):
    __tablename__ = "prompt_approvals"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("prompt_versions.id"), index=True)
    approver: Mapped[str] = mapped_column(String(100))
    label: Mapped[str | None] = mapped_column(String(100), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class TraceRow(Base):
    """One request of an LLM app: its spans' totals, who asked, which prompt version."""

    __tablename__ = "traces"
    __table_args__ = (
        Index("ix_traces_project_started", "project_id", "started_at"),
        Index("ix_traces_user_started", "user_name", "started_at"),
    )
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # OTel trace id (hex)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    app: Mapped[str] = mapped_column(String(200), default="")  # service.name
    name: Mapped[str] = mapped_column(String(200), default="")  # the root span's name
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | error | blocked
    spans: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prompt_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    input_preview: Mapped[str | None] = mapped_column(Text, nullable=True)  # redacted
    output_preview: Mapped[str | None] = mapped_column(Text, nullable=True)  # redacted
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SpanRow(Base):
    """An OpenTelemetry span, GenAI attributes kept as sent (after redaction)."""

    __tablename__ = "spans"
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # OTel span id (hex)
    parent_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(
        String(32), default="internal"
    )  # chat | retrieval | guard ...
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class GuardEventRow(Base):
    """A guard's verdict on an input or output: what it found (types and counts, never the
    sensitive text itself) and what it did."""

    __tablename__ = "guard_events"
    __table_args__ = (Index("ix_guard_events_app_at", "app", "at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id"), nullable=True)
    app: Mapped[str] = mapped_column(String(200), default="")
    stage: Mapped[str] = mapped_column(String(16))  # input | output
    guard: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # allow | redact | block
    enforced: Mapped[bool] = mapped_column(Boolean, default=True)  # False in shadow mode
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class GuardPolicyRow(Base):
    __tablename__ = "guard_policies"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    app: Mapped[str] = mapped_column(String(200), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class FeedbackRow(Base):
    __tablename__ = "feedback"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32), index=True)
    prompt_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    user_name: Mapped[str] = mapped_column(String(200))
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)  # +1 | -1
    comment: Mapped[str] = mapped_column(Text, default="")
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class CollectionRow(Base):
    """Documents for retrieval, chunked and embedded into a vector index in the home."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_collection_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    embedding_model: Mapped[str] = mapped_column(String(200))
    dimensions: Mapped[int] = mapped_column(Integer)
    chunk_tokens: Mapped[int] = mapped_column(Integer, default=200)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DocumentRow(Base):
    """A document and who may read it: users, groups and project roles (its ACL)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "path", name="uq_document_path"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id"), index=True)
    path: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(500), default="")
    digest: Mapped[str] = mapped_column(String(80))
    artifact_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    acl: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # users, groups, roles
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    characters: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RetrievalRow(Base):
    """Who was shown which document, in which trace: "who has seen the salary file?"."""

    __tablename__ = "retrievals"
    __table_args__ = (
        Index("ix_retrievals_document_at", "document_id", "at"),
        Index("ix_retrievals_user_at", "user_name", "at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    trace_id: Mapped[str] = mapped_column(String(32), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"))
    user_name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class LlmCacheRow(Base):
    """A cached answer; exact hits by key digest, semantic hits by the vector index."""

    __tablename__ = "llm_cache"
    __table_args__ = (UniqueConstraint("namespace", "key_digest", name="uq_llm_cache_key"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(200))  # model + prompt version + params
    key_digest: Mapped[str] = mapped_column(String(80))
    request_text: Mapped[str] = mapped_column(Text)  # redacted
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_hit_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


# Later blocks' tables live in their own modules; imported here so the metadata holds them.
from passline.store import models_backlog as _models_backlog  # noqa: E402, F401
from passline.store import models_envs as _models_envs  # noqa: E402, F401
from passline.store import models_eval as _models_eval  # noqa: E402, F401
from passline.store import models_gates as _models_gates  # noqa: E402, F401
from passline.store import models_pipelines as _models_pipelines  # noqa: E402, F401
from passline.store import models_redteam as _models_redteam  # noqa: E402, F401
