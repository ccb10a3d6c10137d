"""A Terraform module (hashicorp/kubernetes provider) describing the Kubernetes export.

``versions.tf``, ``variables.tf``, ``main.tf`` and ``outputs.tf``: the same ConfigMap,
Deployments, Services and autoscaler as ``passline.yaml``, with the image, namespace,
replicas and Secret name as variables whose defaults are the export's options.
"""

from __future__ import annotations

from passline.infra.hcl import Block, Expr, render
from passline.infra.kubernetes import ARTIFACTS_CLAIM
from passline.infra.spec import HOME, Component, DeploySpec, EnvVar

__all__ = ["terraform_files"]

Body = list[tuple[str, object] | Block]
NAMESPACE = Expr("var.namespace")
CONFIG = Expr("kubernetes_config_map_v1.passline.metadata[0].name")


def terraform_files(spec: DeploySpec) -> dict[str, str]:
    """The module's four files, as text by file name."""
    header = "# Written by `passline infra export --target terraform`; see docs/infra.md.\n\n"
    return {
        "versions.tf": header + render(_versions()),
        "variables.tf": header + render(_variables(spec)),
        "main.tf": header + render(_main(spec)),
        "outputs.tf": header + render(_outputs()),
    }


def _versions() -> list[Block]:
    provider = {"source": "hashicorp/kubernetes", "version": ">= 2.23"}
    required = Block("required_providers", body=[("kubernetes", provider)])
    return [Block("terraform", body=[("required_version", ">= 1.3"), required])]


def _variable(name: str, kind: str, default: object, description: str) -> Block:
    body: Body = [("type", Expr(kind)), ("description", description)]
    if default is not None:
        body.append(("default", default))
    return Block("variable", (name,), body)


def _variables(spec: DeploySpec) -> list[Block]:
    return [
        _variable("image", "string", spec.image, "The Passline container image."),
        _variable("namespace", "string", spec.namespace, "The namespace to deploy into."),
        _variable(
            "secret_name",
            "string",
            spec.secret_name,
            "The Secret holding database-url and audit-key (created outside this module).",
        ),
        _variable("server_replicas", "number", spec.server_replicas, "passline up pods."),
        _variable("gateway_replicas", "number", spec.gateway_replicas, "Fewest gateway pods."),
        _variable(
            "gateway_max_replicas", "number", spec.gateway_max_replicas, "Most gateway pods."
        ),
        _variable(
            "artifact_root",
            "string",
            spec.resolved_artifact_root,
            "Folder or object-store URL (s3://bucket/prefix) for artifacts.",
        ),
        _variable("log_level", "string", spec.log_level, "debug, info, warning or error."),
    ]


def _outputs() -> list[Block]:
    return [
        Block(
            "output",
            (f"{name}_service_name",),
            [
                ("description", f"The Service of passline {name}."),
                ("value", Expr(f"kubernetes_service_v1.{name}.metadata[0].name")),
            ],
        )
        for name in ("server", "gateway")
    ]


def _meta(name: str | Expr, labels: dict[str, str] | None = None) -> Block:
    body: Body = [("name", name), ("namespace", NAMESPACE)]
    if labels:
        body.append(("labels", labels))
    return Block("metadata", body=body)


def _main(spec: DeploySpec) -> list[Block]:
    config = {key: spec.config[key] for key in spec.config}
    config["PASSLINE_ARTIFACT_ROOT"] = Expr("var.artifact_root")  # type: ignore[assignment]
    config["PASSLINE_LOG_LEVEL"] = Expr("var.log_level")  # type: ignore[assignment]
    blocks = [
        Block(
            "resource",
            ("kubernetes_config_map_v1", "passline"),
            [_meta("passline-config"), ("data", config)],
        )
    ]
    if spec.uses_volume:
        blocks.append(_claim())
    for component in (spec.server, spec.gateway):
        blocks += [_deployment(spec, component), _service(component)]
    blocks.append(_autoscaler(spec))
    return blocks


def _claim() -> Block:
    spec = Block(
        "spec",
        body=[
            ("access_modes", ["ReadWriteMany"]),
            Block("resources", body=[("requests", {"storage": "20Gi"})]),
        ],
    )
    return Block(
        "resource",
        ("kubernetes_persistent_volume_claim_v1", "artifacts"),
        [_meta(ARTIFACTS_CLAIM), spec, ("wait_until_bound", False)],
    )


def _env(var: EnvVar) -> Block:
    if var.config_key:
        ref = Block("config_map_key_ref", body=[("name", CONFIG), ("key", var.config_key)])
    else:
        body: Body = [("name", Expr("var.secret_name")), ("key", var.secret_key)]
        if var.optional:
            body.append(("optional", True))
        ref = Block("secret_key_ref", body=body)
    return Block("env", body=[("name", var.name), Block("value_from", body=[ref])])


def _probe(kind: str, component: Component, delay: int, period: int) -> Block:
    get = Block("http_get", body=[("path", component.health_path), ("port", component.port)])
    timing = [("initial_delay_seconds", delay), ("period_seconds", period)]
    return Block(kind, body=[get, *timing, ("failure_threshold", 3)])


def _mounts(spec: DeploySpec) -> list[Block]:
    mounts = [Block("volume_mount", body=[("name", "home"), ("mount_path", HOME)])]
    if spec.uses_volume:
        path = spec.resolved_artifact_root
        mounts.append(Block("volume_mount", body=[("name", "artifacts"), ("mount_path", path)]))
    return mounts


def _container(spec: DeploySpec, component: Component) -> Block:
    body: Body = [
        ("name", component.name),
        ("image", Expr("var.image")),
        ("command", ["passline"]),
        ("args", list(component.args)),
        Block("port", body=[("name", "http"), ("container_port", component.port)]),
        *(_env(var) for var in spec.env),
        Block(
            "resources",
            body=[("requests", component.requests), ("limits", component.limits)],
        ),
        _probe("readiness_probe", component, 5, 10),
        _probe("liveness_probe", component, 30, 20),
        *_mounts(spec),
    ]
    return Block("container", body=body)


def _pod(spec: DeploySpec, component: Component) -> Block:
    body: Body = []
    if component.name == "server":
        body.append(
            Block(
                "init_container",
                body=[
                    ("name", "db-upgrade"),
                    ("image", Expr("var.image")),
                    ("command", ["passline"]),
                    ("args", ["db", "upgrade"]),
                    *(_env(var) for var in spec.env),
                    *_mounts(spec),
                ],
            )
        )
    body.append(_container(spec, component))
    body.append(Block("volume", body=[("name", "home"), Block("empty_dir")]))
    if spec.uses_volume:
        claim = Block(
            "persistent_volume_claim",
            body=[
                (
                    "claim_name",
                    Expr("kubernetes_persistent_volume_claim_v1.artifacts.metadata[0].name"),
                )
            ],
        )
        body.append(Block("volume", body=[("name", "artifacts"), claim]))
    return Block("spec", body=body)


def _deployment(spec: DeploySpec, component: Component) -> Block:
    labels = component.labels
    template = Block(
        "template", body=[Block("metadata", body=[("labels", labels)]), _pod(spec, component)]
    )
    body: Body = [
        ("replicas", Expr(f"var.{component.name}_replicas")),
        Block("selector", body=[("match_labels", labels)]),
        template,
    ]
    return Block(
        "resource",
        ("kubernetes_deployment_v1", component.name),
        [_meta(component.full_name, labels), Block("spec", body=body)],
    )


def _service(component: Component) -> Block:
    port = Block(
        "port",
        body=[("name", "http"), ("port", component.port), ("target_port", component.port)],
    )
    spec = Block("spec", body=[("selector", component.labels), port])
    return Block(
        "resource",
        ("kubernetes_service_v1", component.name),
        [_meta(component.full_name, component.labels), spec],
    )


def _autoscaler(spec: DeploySpec) -> Block:
    gateway = spec.gateway
    target = Block(
        "scale_target_ref",
        body=[
            ("api_version", "apps/v1"),
            ("kind", "Deployment"),
            ("name", Expr("kubernetes_deployment_v1.gateway.metadata[0].name")),
        ],
    )
    utilization = Block("target", body=[("type", "Utilization"), ("average_utilization", 70)])
    metric = Block(
        "metric",
        body=[("type", "Resource"), Block("resource", body=[("name", "cpu"), utilization])],
    )
    body: Body = [
        ("min_replicas", Expr("var.gateway_replicas")),
        ("max_replicas", Expr("var.gateway_max_replicas")),
        target,
        metric,
    ]
    return Block(
        "resource",
        ("kubernetes_horizontal_pod_autoscaler_v2", "gateway"),
        [_meta(gateway.full_name, gateway.labels), Block("spec", body=body)],
    )
