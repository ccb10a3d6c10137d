"""Artifacts: streamed upload and verified download."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from passline.core.entities import Artifact
from passline.server.deps import api_services, workspace_of
from passline.services.workspace import Services

router = APIRouter(tags=["artifacts"])


_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put(
    "/projects/{project}/artifacts",
    response_model=Artifact,
    status_code=201,
    openapi_extra=_RAW_BODY,
)
async def put_artifact(
    project: str,
    name: str,
    request: Request,
    media_type: str | None = None,
    svc: Services = Depends(api_services),
) -> Artifact:
    """Upload the request body as an artifact (raw bytes, streamed to disk)."""
    await run_in_threadpool(svc.artifacts.check_can_put, project, name)
    writer = workspace_of(request).blobs.writer()
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        blob = await run_in_threadpool(writer.commit)
    finally:
        writer.abort()
    return await run_in_threadpool(svc.artifacts.record, project, blob, name, media_type)


@router.get("/projects/{project}/artifacts", response_model=list[Artifact])
def list_artifacts(project: str, svc: Services = Depends(api_services)) -> list[Artifact]:
    return svc.artifacts.list(project)


@router.get("/artifacts/{artifact_id}", response_model=Artifact)
def get_artifact(artifact_id: str, svc: Services = Depends(api_services)) -> Artifact:
    return svc.artifacts.get(artifact_id)


@router.get("/artifacts/{artifact_id}/content")
def artifact_content(artifact_id: str, svc: Services = Depends(api_services)) -> StreamingResponse:
    """The bytes, streamed once: size checked up front, SHA-256 while streaming.

    A blob altered on disk fails its hash before the last chunk is sent, so the response
    ends short of its Content-Length and no client takes it for complete.
    """
    artifact = svc.artifacts.get_verified(artifact_id, full=False)
    return StreamingResponse(
        svc.workspace.blobs.iter_verified(artifact.digest),
        media_type=artifact.media_type,
        headers={
            "Content-Length": str(artifact.size),
            "X-Passline-Digest": artifact.digest,
            "Content-Disposition": f'attachment; filename="{artifact.name.replace(chr(34), "")}"',
        },
    )


@router.post("/artifacts/verify")
def verify_artifacts(svc: Services = Depends(api_services)) -> dict[str, Any]:
    return dict(svc.artifacts.verify())
