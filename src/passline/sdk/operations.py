"""Every operation the SDK offers: which service method runs it, which REST route serves it.

One table drives both transports, so the in-process and HTTP clients cannot drift apart:
the embedded transport calls ``services.<service>.<method>``; the HTTP transport sends the
route below. ``tests/test_sdk_parity.py`` runs one scenario through both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from passline.core.entities import (
    Artifact,
    AuditEntry,
    AuditVerification,
    CreatedToken,
    LineageEdge,
    LineageGraph,
    LineageNode,
    Member,
    Project,
    TokenInfo,
    User,
)

__all__ = ["OPERATIONS", "Operation"]


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    http_method: str
    path: str  # placeholders are filled from the call's arguments
    returns: Any = None


OPERATIONS: dict[str, Operation] = {
    "whoami": Operation("identity", "whoami", "GET", "/me", User),
    "create_user": Operation("identity", "create_user", "POST", "/users", User),
    "list_users": Operation("identity", "list_users", "GET", "/users", list[User]),
    "set_user_disabled": Operation(
        "identity", "set_disabled", "PUT", "/users/{name}/disabled", User
    ),
    "create_token": Operation("identity", "create_token", "POST", "/tokens", CreatedToken),
    "list_tokens": Operation("identity", "list_tokens", "GET", "/tokens", list[TokenInfo]),
    "revoke_token": Operation(
        "identity", "revoke_token", "DELETE", "/tokens/{token_id}", TokenInfo
    ),
    "create_project": Operation("projects", "create", "POST", "/projects", Project),
    "list_projects": Operation("projects", "list", "GET", "/projects", list[Project]),
    "get_project": Operation("projects", "get", "GET", "/projects/{name}", Project),
    "project_members": Operation(
        "projects", "members", "GET", "/projects/{name}/members", list[Member]
    ),
    "add_member": Operation(
        "projects", "add_member", "PUT", "/projects/{name}/members/{user}", Member
    ),
    "remove_member": Operation(
        "projects", "remove_member", "DELETE", "/projects/{name}/members/{user}"
    ),
    "list_artifacts": Operation(
        "artifacts", "list", "GET", "/projects/{project}/artifacts", list[Artifact]
    ),
    "get_artifact": Operation("artifacts", "get", "GET", "/artifacts/{artifact_id}", Artifact),
    "verify_artifacts": Operation(
        "artifacts", "verify", "POST", "/artifacts/verify", dict[str, Any]
    ),
    "register_node": Operation("lineage", "register", "POST", "/lineage/nodes", LineageNode),
    "link": Operation("lineage", "link", "POST", "/lineage/edges", LineageEdge),
    "link_many": Operation(
        "lineage", "link_many", "POST", "/lineage/edges:batch", list[LineageEdge]
    ),
    "lineage": Operation("lineage", "graph", "GET", "/lineage/graph", LineageGraph),
    "audit_log": Operation("audit", "log", "GET", "/audit", list[AuditEntry]),
    # data block: {dataset} and {selector} come from the call's ``ref`` (project/name@sel)
    "datasets.get": Operation("datasets", "get", "GET", "/datasets/{dataset}"),
    "datasets.search": Operation("datasets", "search", "GET", "/datasets"),
    "datasets.versions": Operation("datasets", "versions", "GET", "/datasets/{dataset}/versions"),
    "datasets.version": Operation(
        "datasets", "version", "GET", "/datasets/{dataset}/versions/{selector}"
    ),
    "datasets.profile": Operation(
        "datasets", "profile", "GET", "/datasets/{dataset}/versions/{selector}/profile"
    ),
    "datasets.profile_sketches": Operation(
        "datasets", "profile_sketches", "GET", "/datasets/{dataset}/versions/{selector}/sketches"
    ),
    "datasets.configure": Operation("datasets", "configure", "PATCH", "/datasets/{dataset}"),
    "datasets.tag_column": Operation(
        "datasets", "tag_column", "PUT", "/datasets/{dataset}/columns/{column}/tags"
    ),
    "datasets.set_sensitivity": Operation(
        "datasets", "set_sensitivity", "PUT", "/datasets/{dataset}/sensitivity"
    ),
    "datasets.grant": Operation("datasets", "grant", "POST", "/datasets/{dataset}/grants"),
    "datasets.revoke": Operation(
        "datasets", "revoke", "DELETE", "/datasets/{dataset}/grants/{user}"
    ),
    "datasets.grants": Operation("datasets", "grants", "GET", "/datasets/{dataset}/grants"),
    "datasets.diff": Operation("datasets", "diff", "GET", "/dataset-diff"),
    "datasets.check": Operation(
        "datasets", "check", "POST", "/datasets/{dataset}/versions/{selector}/check"
    ),
    "datasets.scan": Operation(
        "datasets", "scan", "POST", "/datasets/{dataset}/versions/{selector}/scan"
    ),
    "sources.add": Operation("sources", "add", "POST", "/sources"),
    "sources.list": Operation("sources", "list", "GET", "/sources"),
    "sources.get": Operation("sources", "get", "GET", "/sources/{project}/{name}"),
    "sources.run": Operation("sources", "run", "POST", "/sources/{project}/{name}/run"),
    "sources.remove": Operation("sources", "remove", "DELETE", "/sources/{project}/{name}"),
    # experiments and runs
    "tracking.ensure_experiment": Operation(
        "tracking", "ensure_experiment", "POST", "/experiments:ensure"
    ),
    "tracking.experiments": Operation("tracking", "experiments", "GET", "/experiments"),
    "tracking.start_run": Operation("tracking", "start_run", "POST", "/runs"),
    "tracking.get_run": Operation("tracking", "get_run", "GET", "/runs/{run_id}"),
    "tracking.search_runs": Operation("tracking", "search_runs", "POST", "/runs:search"),
    "tracking.compare": Operation("tracking", "compare", "POST", "/runs:compare"),
    "tracking.metric_history": Operation(
        "tracking", "metric_history", "GET", "/runs/{run_id}/metrics/{key}"
    ),
    "tracking.list_artifacts": Operation(
        "tracking", "list_artifacts", "GET", "/runs/{run_id}/artifacts"
    ),
    "tracking.log_params": Operation("tracking", "log_params", "POST", "/runs/{run_id}/params"),
    "tracking.log_metrics": Operation("tracking", "log_metrics", "POST", "/runs/{run_id}/metrics"),
    "tracking.set_tags": Operation("tracking", "set_tags", "POST", "/runs/{run_id}/tags"),
    "tracking.log_input": Operation("tracking", "log_input", "POST", "/runs/{run_id}/inputs"),
    "tracking.end_run": Operation("tracking", "end_run", "PATCH", "/runs/{run_id}"),
    # the model registry: {model} is project/name
    "registry.models": Operation("registry", "models", "GET", "/models"),
    "registry.get_model": Operation("registry", "get_model", "GET", "/models/{model}"),
    "registry.create_model": Operation("registry", "create_model", "POST", "/models"),
    "registry.update_model": Operation("registry", "update_model", "PATCH", "/models/{model}"),
    "registry.register": Operation("registry", "register", "POST", "/models/{model}/versions"),
    "registry.versions": Operation("registry", "versions", "GET", "/models/{model}/versions"),
    "registry.version": Operation(
        "registry", "version", "GET", "/models/{model}/versions/{version}"
    ),
    "registry.approve": Operation(
        "registry", "approve", "POST", "/models/{model}/versions/{version}/approve"
    ),
    "registry.evaluate": Operation("registry", "evaluate", "GET", "/models/{model}/evaluate"),
    "registry.set_alias": Operation(
        "registry", "set_alias", "PUT", "/models/{model}/aliases/{alias}"
    ),
    "registry.promote": Operation(
        "registry", "promote", "POST", "/models/{model}/aliases/{alias}:promote"
    ),
    "registry.rollback": Operation(
        "registry", "rollback", "POST", "/models/{model}/aliases/{alias}:rollback"
    ),
    "registry.delete_alias": Operation(
        "registry", "delete_alias", "DELETE", "/models/{model}/aliases/{alias}"
    ),
    "registry.history": Operation("registry", "history", "GET", "/models/{model}/history"),
    "registry.card": Operation("registry", "card", "GET", "/models/{model}/card"),
    "registry.optimize": Operation(
        "optimizer", "optimize", "POST", "/models/{model}/versions/{version}:optimize"
    ),
    "registry.set_policy": Operation(
        "registry", "set_policy", "PUT", "/projects/{project}/policies/{alias}"
    ),
    "registry.policies": Operation("registry", "policies", "GET", "/projects/{project}/policies"),
    # serving and monitoring: {endpoint} is project/name
    "endpoints.list": Operation("endpoints", "list", "GET", "/endpoints"),
    "endpoints.create": Operation("endpoints", "create", "POST", "/endpoints"),
    "endpoints.get": Operation("endpoints", "get", "GET", "/endpoints/{endpoint}"),
    "endpoints.configure": Operation("endpoints", "configure", "PATCH", "/endpoints/{endpoint}"),
    "monitoring.dashboard": Operation(
        "monitoring", "dashboard", "GET", "/endpoints/{endpoint}/dashboard"
    ),
    "monitoring.predictions": Operation(
        "monitoring", "predictions", "GET", "/endpoints/{endpoint}/predictions"
    ),
    "monitoring.realised": Operation(
        "monitoring", "realised", "GET", "/endpoints/{endpoint}/performance"
    ),
    "monitoring.add_labels": Operation("monitoring", "add_labels", "POST", "/labels"),
    "monitoring.labels_from_dataset": Operation(
        "monitoring", "labels_from_dataset", "POST", "/endpoints/{endpoint}/labels:join"
    ),
    "drift.compare": Operation("drift", "compare", "POST", "/drift"),
    "drift.endpoint_drift": Operation(
        "drift", "endpoint_drift", "GET", "/endpoints/{endpoint}/drift"
    ),
    "monitors.list": Operation("monitors", "list", "GET", "/monitors"),
    "monitors.add": Operation("monitors", "add", "POST", "/monitors"),
    "monitors.run": Operation("monitors", "run", "POST", "/monitors/{monitor}:run"),
    "monitors.alerts": Operation("monitors", "alerts", "GET", "/alerts"),
    # LLM operations: {prompt_path} and {prompt_selector} come from a prompt reference
    "llm.chat": Operation("llm", "chat", "POST", "/llm/chat"),
    "llm.models": Operation("llm", "models", "GET", "/llm/models"),
    "llm.add_model": Operation("llm", "add_model", "POST", "/llm/models"),
    "llm.add_router": Operation("llm", "add_router", "POST", "/llm/routers"),
    "llm.embed": Operation("llm", "embed", "POST", "/llm/embeddings"),
    "llm.cache_stats": Operation("llm", "cache_stats", "GET", "/llm/cache"),
    "prompts.list": Operation("prompts", "list", "GET", "/prompts"),
    "prompts.get": Operation("prompts", "get", "GET", "/prompts/{prompt_path}"),
    "prompts.create": Operation("prompts", "create", "POST", "/prompts/{prompt_path}/versions"),
    "prompts.versions": Operation("prompts", "versions", "GET", "/prompts/{prompt_path}/versions"),
    "prompts.version": Operation(
        "prompts", "version", "GET", "/prompts/{prompt_path}/versions/{prompt_selector}"
    ),
    "prompts.render": Operation(
        "prompts", "render", "POST", "/prompts/{prompt_path}/versions/{prompt_selector}/render"
    ),
    "prompts.approve": Operation(
        "prompts", "approve", "POST", "/prompts/{prompt_path}/versions/{prompt_selector}/approve"
    ),
    "prompts.diff": Operation("prompts", "diff", "GET", "/prompts/{prompt_path}/diff"),
    "prompts.evaluate": Operation("prompts", "evaluate", "GET", "/prompts/{prompt_path}/evaluate"),
    "prompts.set_label": Operation(
        "prompts", "set_label", "PUT", "/prompts/{prompt_path}/labels/{label}"
    ),
    "prompts.rollback": Operation(
        "prompts", "rollback", "POST", "/prompts/{prompt_path}/labels/{label}:rollback"
    ),
    "prompts.history": Operation("prompts", "history", "GET", "/prompts/{prompt_path}/history"),
    "tracing.list": Operation("tracing", "list", "GET", "/traces"),
    "tracing.get": Operation("tracing", "get", "GET", "/traces/{trace_id}"),
    "tracing.add_feedback": Operation(
        "tracing", "add_feedback", "POST", "/traces/{trace_id}/feedback"
    ),
    "tracing.feedback_summary": Operation(
        "tracing", "feedback_summary", "GET", "/projects/{project}/feedback"
    ),
    "verify_audit": Operation("audit", "verify", "POST", "/audit/verify", AuditVerification),
    # groups and permission-aware retrieval: {collection} is project/name
    "groups.list": Operation("groups", "list", "GET", "/groups"),
    "groups.create": Operation("groups", "create", "POST", "/groups"),
    "groups.get": Operation("groups", "get", "GET", "/groups/{name}"),
    "groups.add_member": Operation("groups", "add_member", "PUT", "/groups/{group}/members/{user}"),
    "groups.remove_member": Operation(
        "groups", "remove_member", "DELETE", "/groups/{group}/members/{user}"
    ),
    "rag.create_collection": Operation("rag", "create_collection", "POST", "/collections"),
    "rag.collections": Operation("rag", "collections", "GET", "/collections"),
    "rag.collection": Operation("rag", "collection", "GET", "/collections/{collection}"),
    "rag.documents": Operation("rag", "documents", "GET", "/collections/{collection}/documents"),
    "rag.add_documents": Operation(
        "rag", "add_documents", "POST", "/collections/{collection}/documents"
    ),
    "rag.retrieve": Operation("rag", "retrieve", "POST", "/collections/{collection}/retrieve"),
    "rag.ask": Operation("rag", "ask", "POST", "/collections/{collection}/ask"),
    "rag.document": Operation("rag", "document", "GET", "/documents/{document}"),
    "rag.who_saw": Operation("rag", "who_saw", "GET", "/documents/{document}/audience"),
    "rag.asked_by": Operation("rag", "asked_by", "GET", "/retrievals"),
    # guardrails: policies per app, checks, PII scans, events
    "guards.set_policy": Operation(
        "guards", "set_policy", "PUT", "/projects/{project}/guard-policies/{app}"
    ),
    "guards.get_policy": Operation(
        "guards", "get_policy", "GET", "/projects/{project}/guard-policies/{app}"
    ),
    "guards.check": Operation("guards", "check", "POST", "/guard/check"),
    "guards.scan": Operation("guards", "scan", "POST", "/guard/scan"),
    "guards.events": Operation("guards", "events", "GET", "/guard/events"),
    # evaluation: {suite} is project/name, optionally @N (two path segments on the wire)
    "eval.scorers": Operation("evaluation", "scorers", "GET", "/eval/scorers"),
    "eval.suites": Operation("evaluation", "suites", "GET", "/eval/suites"),
    "eval.create_suite": Operation("evaluation", "create_suite", "POST", "/eval/suites"),
    "eval.suite": Operation("evaluation", "suite", "GET", "/eval/suites/{suite}"),
    "eval.suite_versions": Operation(
        "evaluation", "suite_versions", "GET", "/eval/suites/{suite}/versions"
    ),
    "eval.add_cases": Operation("evaluation", "add_cases", "POST", "/eval/suites/{suite}/cases"),
    "eval.case_from_trace": Operation(
        "evaluation", "case_from_trace", "POST", "/eval/suites/{suite}/cases:from-trace"
    ),
    "eval.run": Operation("evaluation", "run", "POST", "/eval/runs"),
    "eval.runs": Operation("evaluation", "runs", "GET", "/eval/runs"),
    "eval.get_run": Operation("evaluation", "get_run", "GET", "/eval/runs/{run_id}"),
    "eval.label_run": Operation(
        "evaluation", "label_run", "PUT", "/eval/runs/{run_id}/labels/{label}"
    ),
    "eval.compare": Operation("evaluation", "compare", "POST", "/eval/compare"),
    "eval.online_evaluate": Operation(
        "evaluation", "online_evaluate", "POST", "/projects/{project}/eval/online"
    ),
    "eval.hallucination_rate": Operation(
        "evaluation", "hallucination_rate", "GET", "/projects/{project}/eval/online"
    ),
    "eval.schedule_online": Operation(
        "evaluation", "schedule_online", "PUT", "/projects/{project}/eval/online/schedule"
    ),
    # red teaming
    "redteam.probes": Operation("redteam", "probes", "GET", "/redteam/probes"),
    "redteam.run": Operation("redteam", "run", "POST", "/redteam/runs"),
    "redteam.runs": Operation("redteam", "runs", "GET", "/redteam/runs"),
    "redteam.get_run": Operation("redteam", "get_run", "GET", "/redteam/runs/{run_id}"),
    "redteam.attempt": Operation("redteam", "attempt", "GET", "/redteam/attempts/{attempt_id}"),
    "redteam.to_case": Operation(
        "redteam", "to_case", "POST", "/redteam/attempts/{attempt_id}/case"
    ),
    # release gates and the maturity scorecard
    "gates.types": Operation("gates", "types", "GET", "/gates/types"),
    "gates.acceptance": Operation("gates", "acceptance", "GET", "/gates/acceptance-criteria"),
    "gates.create": Operation("gates", "create", "POST", "/projects/{project}/gates"),
    "gates.list": Operation("gates", "list", "GET", "/projects/{project}/gates"),
    "gates.get": Operation("gates", "get", "GET", "/projects/{project}/gates/{name}"),
    "gates.check": Operation("gates", "check", "POST", "/projects/{project}/gates/{name}/check"),
    "gates.evaluations": Operation(
        "gates", "evaluations", "GET", "/projects/{project}/gates/{name}/evaluations"
    ),
    "gates.audit_pack": Operation("gates", "audit_pack", "GET", "/audit-pack"),
    # environments and releases
    "environments.list": Operation(
        "environments", "list", "GET", "/projects/{project}/environments"
    ),
    "environments.get": Operation(
        "environments", "get", "GET", "/projects/{project}/environments/{name}"
    ),
    "environments.configure": Operation(
        "environments", "configure", "PUT", "/projects/{project}/environments/{name}"
    ),
    "environments.delete": Operation(
        "environments", "delete", "DELETE", "/projects/{project}/environments/{name}"
    ),
    "environments.release": Operation("environments", "release", "POST", "/releases"),
    "environments.releases": Operation(
        "environments", "releases", "GET", "/projects/{project}/releases"
    ),
    "environments.get_release": Operation(
        "environments", "get_release", "GET", "/releases/{release_id}"
    ),
    "environments.rollback": Operation(
        "environments", "rollback", "POST", "/releases/{release_id}/rollback"
    ),
    "maturity.scorecard": Operation("maturity", "scorecard", "GET", "/maturity"),
    "maturity.block_map": Operation("maturity", "block_map", "GET", "/projects/{project}/map"),
    # pipelines
    "pipelines.list": Operation("pipelines", "list", "GET", "/projects/{project}/pipelines"),
    "pipelines.get": Operation("pipelines", "get", "GET", "/pipelines/{ref}"),
    "pipelines.enqueue": Operation("pipelines", "enqueue", "POST", "/pipelines/{ref}/runs"),
    "pipelines.runs": Operation("pipelines", "runs", "GET", "/pipeline-runs"),
    "pipelines.run": Operation("pipelines", "run", "GET", "/pipeline-runs/{run_id}"),
    "pipelines.add_trigger": Operation(
        "pipelines", "add_trigger", "POST", "/pipelines/{ref}/triggers"
    ),
    "pipelines.triggers": Operation(
        "pipelines", "triggers", "GET", "/projects/{project}/pipeline-triggers"
    ),
    "pipelines.remove_trigger": Operation(
        "pipelines", "remove_trigger", "DELETE", "/pipeline-triggers/{trigger_id}"
    ),
    # backlog
    "backlog.draft": Operation("backlog", "draft", "POST", "/backlog/drafts"),
    "backlog.batches": Operation("backlog", "batches", "GET", "/backlog/batches"),
    "backlog.batch": Operation("backlog", "batch", "GET", "/backlog/batches/{batch_id}"),
    "backlog.stories": Operation("backlog", "stories", "GET", "/backlog/stories"),
    "backlog.story": Operation("backlog", "story", "GET", "/backlog/stories/{story_id}"),
    "backlog.accept": Operation("backlog", "accept", "POST", "/backlog/stories/{story_id}/accept"),
    "backlog.reject": Operation("backlog", "reject", "POST", "/backlog/stories/{story_id}/reject"),
    "backlog.edit": Operation("backlog", "edit", "PATCH", "/backlog/stories/{story_id}"),
    "backlog.link": Operation("backlog", "link", "POST", "/backlog/stories/{story_id}/links"),
    "backlog.export": Operation("backlog", "export", "GET", "/backlog/export"),
    "backlog.import_stories": Operation("backlog", "import_stories", "POST", "/backlog/import"),
    "backlog.analyse": Operation("backlog", "analyse", "GET", "/backlog/analysis"),
    "backlog.summary": Operation("backlog", "summary", "POST", "/backlog/summary"),
}
