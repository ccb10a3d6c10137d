"""The ``mlflow-artifacts`` proxy: the MLflow client uploads, lists and downloads files here.

Two trees are served, both behind the token and the project's roles:

    runs/<run_id>/<path>                     a run's artifacts (PUT, GET, list); a logged
                                             model's files are under models/<model_id>/
    registry/<project>/<model>/<version>/... a registered version's files, read-only and
                                             pinned to the SHA-256 recorded at registration

Uploads stream to a spool file and then into the content-addressed store (with the run's
lineage edge); downloads stream the stored bytes, checking their hash on the way.
"""

from __future__ import annotations

import mimetypes
import tempfile
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from passline.core.entities import ModelVersion
from passline.errors import NotFound
from passline.server.deps import api_services
from passline.server.mlflow.convert import file_info
from passline.server.mlflow.errors import MlflowRoute, invalid
from passline.server.mlflow.message import Message, read_message
from passline.services.workspace import Services

__all__ = ["list_run", "router"]

router = APIRouter(route_class=MlflowRoute)
SPOOL_IN_MEMORY = 1 << 20
Auth = Depends(api_services)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _children(files: dict[str, int]) -> list[dict[str, Any]]:
    """The entries directly under a folder, from ``{relative path: size}`` of all below it."""
    entries: dict[str, dict[str, Any]] = {}
    for rel, size in files.items():
        head, slash, _ = rel.partition("/")
        entries[head] = file_info(head, True) if slash else file_info(head, False, size)
    return [entries[k] for k in sorted(entries)]


def list_run(svc: Services, run_id: str, folder: str) -> list[dict[str, Any]]:
    """What is directly in a run's artifact folder (empty for a file or a missing folder)."""
    prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
    found = svc.tracking.list_artifacts(run_id, prefix)
    return _children({a["path"][len(prefix) :]: a["size"] for a in found})


def _version_files(
    svc: Services, parts: list[str]
) -> tuple[ModelVersion, dict[str, dict[str, Any]]]:
    """A registered version's files by their path inside the model folder."""
    if len(parts) < 3:
        raise NotFound("A registry artifact path is registry/<project>/<model>/<version>/...")
    project, model, number = parts[:3]
    version = svc.registry.version(f"{project}/{model}", number)
    root = version.source.removeprefix("runs:/").partition("/")[2].strip("/")
    prefix = f"{root}/" if root and version.source.startswith("runs:/") else ""
    return version, {f["path"].removeprefix(prefix): f for f in version.files}


def _listing(svc: Services, path: str) -> list[dict[str, Any]]:
    parts = _parts(path)
    if len(parts) >= 2 and parts[0] == "runs":
        return list_run(svc, parts[1], "/".join(parts[2:]))
    if parts and parts[0] == "registry":
        _, files = _version_files(svc, parts[1:])
        folder = "/".join(parts[4:])
        prefix = f"{folder}/" if folder else ""
        return _children(
            {rel[len(prefix) :]: f["size"] for rel, f in files.items() if rel.startswith(prefix)}
        )
    raise NotFound(f"No artifact folder {path!r}: Passline serves runs/<run_id>/... here.")


@router.get("/artifacts")
def list_artifacts(svc: Services = Auth, msg: Message = Depends(read_message)) -> dict[str, Any]:
    return {"files": _listing(svc, msg.text("path") or "")}


def _stored(svc: Services, path: str) -> tuple[str, int]:
    """The digest and size of the file at ``path``, after the caller's permission check."""
    parts = _parts(path)
    if len(parts) >= 3 and parts[0] == "runs":
        found = svc.tracking.artifact(parts[1], "/".join(parts[2:]))
        artifact = svc.artifacts.get_verified(found["artifact_id"], full=False)
        return artifact.digest, artifact.size
    if parts and parts[0] == "registry":
        version, files = _version_files(svc, parts[1:])
        item = files.get("/".join(parts[4:]))
        if item is None:
            raise NotFound(f"Version {version.label} has no file {'/'.join(parts[4:])!r}.")
        svc.artifacts.get_verified(item["artifact_id"], full=False)
        return item["digest"], item["size"]
    raise NotFound(f"No artifact {path!r}: Passline serves runs/<run_id>/... here.")


@router.get("/artifacts/{path:path}")
def download(path: str, svc: Services = Auth) -> StreamingResponse:
    digest, size = _stored(svc, path)
    return StreamingResponse(
        svc.workspace.blobs.iter_verified(digest),
        media_type=mimetypes.guess_type(path)[0] or "application/octet-stream",
        headers={"Content-Length": str(size), "X-Passline-Digest": digest},
    )


@router.put("/artifacts/{path:path}")
async def upload(path: str, request: Request, svc: Services = Auth) -> dict[str, Any]:
    parts = _parts(path)
    if len(parts) < 3 or parts[0] != "runs":
        raise invalid(f"Files are uploaded under runs/<run_id>/...; got {path!r}.")
    run_id, name = parts[1], "/".join(parts[2:])
    run = await run_in_threadpool(svc.tracking.get_run, run_id)
    await run_in_threadpool(svc.artifacts.check_can_put, run.project, f"runs/{run_id}/{name}")
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        await run_in_threadpool(svc.tracking.log_artifact, run_id, name, spool)
    return {}
