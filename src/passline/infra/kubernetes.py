"""``passline.yaml``: the deployment as Kubernetes objects, one multi-document file.

Namespace, ConfigMap, an artifacts PersistentVolumeClaim (when no object store is given),
Deployments and Services for the server and the gateway, and a HorizontalPodAutoscaler for
the gateway. No Secret is written: the containers read the database URL and the audit key
by ``secretKeyRef`` from a Secret the user creates (docs/infra.md).
"""

from __future__ import annotations

from typing import Any

from passline.infra.spec import HOME, Component, DeploySpec, EnvVar
from passline.infra.yamltext import dump_all

__all__ = ["kubernetes_documents", "kubernetes_files"]

CONFIG_MAP = "passline-config"
ARTIFACTS_CLAIM = "passline-artifacts"


def kubernetes_files(spec: DeploySpec) -> dict[str, str]:
    """``passline.yaml`` as text."""
    header = "# Written by `passline infra export --target kubernetes`; see docs/infra.md.\n"
    body = dump_all(kubernetes_documents(spec))
    return {"passline.yaml": header + body}


def kubernetes_documents(spec: DeploySpec) -> list[dict[str, Any]]:
    """Every object, in the order ``kubectl apply`` should create them."""
    documents = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.namespace}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(spec, CONFIG_MAP),
            "data": spec.config,
        },
    ]
    if spec.uses_volume:
        documents.append(_claim(spec))
    for component in (spec.server, spec.gateway):
        documents += [_deployment(spec, component), _service(spec, component)]
    documents.append(_autoscaler(spec))
    return documents


def _meta(spec: DeploySpec, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": spec.namespace}
    if labels:
        meta["labels"] = labels
    return meta


def _claim(spec: DeploySpec) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(spec, ARTIFACTS_CLAIM),
        "spec": {
            # Server and gateway pods share the artifacts: the storage class must allow it.
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": "20Gi"}},
        },
    }


def env_entry(spec: DeploySpec, var: EnvVar) -> dict[str, Any]:
    """One ``env`` item: a ``configMapKeyRef`` or a ``secretKeyRef``, never a value."""
    if var.config_key:
        ref = {"configMapKeyRef": {"name": CONFIG_MAP, "key": var.config_key}}
    else:
        secret: dict[str, Any] = {"name": spec.secret_name, "key": var.secret_key}
        if var.optional:
            secret["optional"] = True
        ref = {"secretKeyRef": secret}
    return {"name": var.name, "valueFrom": ref}


def _container(spec: DeploySpec, component: Component) -> dict[str, Any]:
    probe = {"httpGet": {"path": component.health_path, "port": component.port}}
    return {
        "name": component.name,
        "image": spec.image,
        "command": ["passline"],
        "args": list(component.args),
        "ports": [{"name": "http", "containerPort": component.port}],
        "env": [env_entry(spec, var) for var in spec.env],
        "resources": {"requests": component.requests, "limits": component.limits},
        "readinessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 10},
        "livenessProbe": {
            **probe,
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "volumeMounts": _mounts(spec),
    }


def _mounts(spec: DeploySpec) -> list[dict[str, str]]:
    mounts = [{"name": "home", "mountPath": HOME}]
    if spec.uses_volume:
        mounts.append({"name": "artifacts", "mountPath": spec.resolved_artifact_root})
    return mounts


def _volumes(spec: DeploySpec) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": "home", "emptyDir": {}}]
    if spec.uses_volume:
        claim = {"claimName": ARTIFACTS_CLAIM}
        volumes.append({"name": "artifacts", "persistentVolumeClaim": claim})
    return volumes


def _deployment(spec: DeploySpec, component: Component) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [_container(spec, component)]}
    if component.name == "server":
        # Migrations run once per rollout, before the new server answers.
        upgrade = {
            "name": "db-upgrade",
            "image": spec.image,
            "command": ["passline"],
            "args": ["db", "upgrade"],
            "env": [env_entry(spec, var) for var in spec.env],
            "volumeMounts": _mounts(spec),
        }
        pod = {"initContainers": [upgrade], **pod}
    pod["volumes"] = _volumes(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(spec, component.full_name, component.labels),
        "spec": {
            "replicas": component.replicas,
            "selector": {"matchLabels": component.labels},
            "template": {"metadata": {"labels": component.labels}, "spec": pod},
        },
    }


def _service(spec: DeploySpec, component: Component) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(spec, component.full_name, component.labels),
        "spec": {
            "selector": component.labels,
            "ports": [{"name": "http", "port": component.port, "targetPort": component.port}],
        },
    }


def _autoscaler(spec: DeploySpec) -> dict[str, Any]:
    gateway = spec.gateway
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(spec, gateway.full_name, gateway.labels),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": gateway.full_name,
            },
            "minReplicas": gateway.replicas,
            "maxReplicas": spec.gateway_max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
