"""Datasets and saved sources. A dataset is addressed as ``/datasets/{project}/{name}``;
``-`` as the project lets the server find a name that is unique among your projects."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from passline.core.entities import Dataset, DatasetGrant, DatasetVersion, Source
from passline.errors import InvalidInput
from passline.server.deps import api_services, workspace_of
from passline.services.workspace import Services

router = APIRouter(tags=["datasets"])
sources_router = APIRouter(tags=["sources"])

_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _ref(project: str, name: str, selector: str = "latest") -> str:
    prefix = "" if project == "-" else f"{project}/"
    return f"{prefix}{name}@{selector}"


class DatasetChanges(BaseModel):
    description: str | None = None
    key: list[str] | None = None
    expectations: str | None = None
    tags: list[str] | None = None


class ColumnTags(BaseModel):
    tags: list[str]


class Sensitivity(BaseModel):
    level: str
    reason: str | None = None


class NewGrant(BaseModel):
    user: str
    reason: str


class NewSource(BaseModel):
    project: str
    name: str
    kind: str
    config: dict[str, Any]
    dataset: str
    mode: str = "replace"
    options: dict[str, Any] = Field(default_factory=dict)
    schedule: str | None = None


@router.get("/datasets", response_model=list[Dataset])
def search(
    text: str | None = None,
    tag: str | None = None,
    column: str | None = None,
    owner: str | None = None,
    sensitivity: str | None = None,
    project: str | None = None,
    svc: Services = Depends(api_services),
) -> list[Dataset]:
    """The catalog: datasets you can see, filtered by text, tag, column, owner, level."""
    return svc.datasets.search(text, tag, column, owner, sensitivity, project)


@router.get("/datasets/{project}/{name}", response_model=Dataset)
def get(project: str, name: str, svc: Services = Depends(api_services)) -> Dataset:
    return svc.datasets.get(_ref(project, name))


@router.patch("/datasets/{project}/{name}", response_model=Dataset)
def configure(
    project: str, name: str, body: DatasetChanges, svc: Services = Depends(api_services)
) -> Dataset:
    return svc.datasets.configure(_ref(project, name), **body.model_dump())


@router.get("/datasets/{project}/{name}/versions", response_model=list[DatasetVersion])
def versions(
    project: str, name: str, svc: Services = Depends(api_services)
) -> list[DatasetVersion]:
    return svc.datasets.versions(_ref(project, name))


@router.post(
    "/datasets/{project}/{name}/versions",
    response_model=DatasetVersion,
    status_code=201,
    openapi_extra=_RAW_BODY,
)
async def upload(
    project: str,
    name: str,
    request: Request,
    filename: str = "upload",
    format: str | None = None,
    mode: str = "replace",
    allow_breaking: bool = False,
    encoding: str = "utf8",
    delimiter: str | None = None,
    on_bad_lines: str = "error",
    column_types: str | None = None,
    inputs: list[str] | None = Query(None),
    description: str | None = None,
    sheet: str | None = None,
    svc: Services = Depends(api_services),
) -> DatasetVersion:
    """Ingest the request body (a CSV, TSV, JSON Lines, Parquet or Excel file), streamed."""
    if project == "-":
        raise InvalidInput("Name the project to ingest into: /datasets/{project}/{name}/versions.")
    spool = _spool_dir(request)
    suffix = Path(filename).suffix if format is None else f".{format}"
    with tempfile.NamedTemporaryFile(dir=spool, suffix=suffix, delete=True) as upload_file:
        async for chunk in request.stream():
            upload_file.write(chunk)
        upload_file.flush()
        return await run_in_threadpool(
            _ingest_upload,
            svc,
            f"{project}/{name}",
            upload_file.name,
            filename,
            {
                "format": format,
                "encoding": encoding,
                "delimiter": delimiter,
                "on_bad_lines": on_bad_lines,
                "sheet": sheet,
                "column_types": json.loads(column_types) if column_types else None,
            },
            {
                "mode": mode,
                "allow_breaking": allow_breaking,
                "inputs": inputs or [],
                "description": description,
            },
        )


def _spool_dir(request: Request) -> Path:
    folder = workspace_of(request).settings.home / "uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _ingest_upload(
    svc: Services,
    dataset: str,
    path: str,
    filename: str,
    reader: dict[str, Any],
    options: dict[str, Any],
) -> DatasetVersion:
    from passline.data.connectors import FileConnector
    from passline.data.connectors.memory import Relabelled
    from passline.services.ingest import IngestOptions

    connector = FileConnector(
        path, settings=svc.workspace.settings, **{k: v for k, v in reader.items() if v is not None}
    )
    return svc.ingest.ingest(
        dataset, Relabelled(connector, f"upload:{filename}"), IngestOptions(**options)
    )


@router.post("/datasets/{project}/{name}/records", response_model=DatasetVersion, status_code=201)
def push_records(
    project: str, name: str, records: list[dict[str, Any]], svc: Services = Depends(api_services)
) -> DatasetVersion:
    """HTTP push: append a JSON list of records as a new version."""
    from passline.data.connectors.memory import TableConnector
    from passline.services.ingest import IngestOptions

    if not records:
        raise InvalidInput("Send a non-empty JSON list of records.")
    connector = TableConnector(records, label="http push")
    return svc.ingest.ingest(f"{project}/{name}", connector, IngestOptions(mode="append"))


@router.get("/datasets/{project}/{name}/versions/{selector}", response_model=DatasetVersion)
def version(
    project: str, name: str, selector: str, svc: Services = Depends(api_services)
) -> DatasetVersion:
    return svc.datasets.version(_ref(project, name, selector))


@router.get("/datasets/{project}/{name}/versions/{selector}/data")
def data(
    project: str,
    name: str,
    selector: str,
    columns: list[str] | None = Query(None),
    svc: Services = Depends(api_services),
) -> StreamingResponse:
    """The rows as an Arrow IPC stream (``application/vnd.apache.arrow.stream``)."""
    import pyarrow as pa

    table = svc.datasets.read(_ref(project, name, selector), columns)

    def stream() -> Any:
        # Drain the buffer after each batch, so the response streams batch by batch.
        buffer = io.BytesIO()
        with pa.ipc.new_stream(pa.PythonFile(buffer, mode="w"), table.schema) as writer:
            for batch in table.to_batches(max_chunksize=65_536):
                writer.write_batch(batch)
                yield _drain(buffer)
        yield _drain(buffer)

    return StreamingResponse(stream(), media_type="application/vnd.apache.arrow.stream")


def _drain(buffer: io.BytesIO) -> bytes:
    data = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return data


@router.get("/datasets/{project}/{name}/versions/{selector}/profile")
def profile(
    project: str, name: str, selector: str, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    return svc.datasets.profile(_ref(project, name, selector))


@router.get("/datasets/{project}/{name}/versions/{selector}/sketches")
def profile_sketches(
    project: str, name: str, selector: str, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """The profile's mergeable sketches (a drift reference); needs read access to the data."""
    return svc.datasets.profile_sketches(_ref(project, name, selector))


@router.post("/datasets/{project}/{name}/versions/{selector}/check")
def check(
    project: str, name: str, selector: str, svc: Services = Depends(api_services)
) -> list[dict[str, Any]]:
    return svc.datasets.check(_ref(project, name, selector))


@router.post("/datasets/{project}/{name}/versions/{selector}/scan")
def scan(
    project: str, name: str, selector: str, svc: Services = Depends(api_services)
) -> dict[str, Any]:
    return svc.datasets.scan(_ref(project, name, selector))


@router.put("/datasets/{project}/{name}/columns/{column}/tags", response_model=Dataset)
def tag_column(
    project: str, name: str, column: str, body: ColumnTags, svc: Services = Depends(api_services)
) -> Dataset:
    return svc.datasets.tag_column(_ref(project, name), column, body.tags)


@router.put("/datasets/{project}/{name}/sensitivity", response_model=Dataset)
def set_sensitivity(
    project: str, name: str, body: Sensitivity, svc: Services = Depends(api_services)
) -> Dataset:
    return svc.datasets.set_sensitivity(_ref(project, name), body.level, body.reason)


@router.get("/datasets/{project}/{name}/grants", response_model=list[DatasetGrant])
def grants(project: str, name: str, svc: Services = Depends(api_services)) -> list[DatasetGrant]:
    return svc.datasets.grants(_ref(project, name))


@router.post("/datasets/{project}/{name}/grants", response_model=DatasetGrant, status_code=201)
def grant(
    project: str, name: str, body: NewGrant, svc: Services = Depends(api_services)
) -> DatasetGrant:
    return svc.datasets.grant(_ref(project, name), body.user, body.reason)


@router.delete("/datasets/{project}/{name}/grants/{user}", status_code=204)
def revoke(project: str, name: str, user: str, svc: Services = Depends(api_services)) -> None:
    svc.datasets.revoke(_ref(project, name), user)


@router.get("/dataset-diff")
def diff(
    old: str, new: str, key: list[str] | None = Query(None), svc: Services = Depends(api_services)
) -> dict[str, Any]:
    """Compare two versions: schema, rows, profile deltas and (with a key) changed rows."""
    return svc.datasets.diff(old, new, key)


@sources_router.post("/sources", response_model=Source, status_code=201)
def add_source(body: NewSource, svc: Services = Depends(api_services)) -> Source:
    return svc.sources.add(**body.model_dump())


@sources_router.get("/sources", response_model=list[Source])
def list_sources(project: str | None = None, svc: Services = Depends(api_services)) -> list[Source]:
    return svc.sources.list(project)


@sources_router.get("/sources/{project}/{name}", response_model=Source)
def get_source(project: str, name: str, svc: Services = Depends(api_services)) -> Source:
    return svc.sources.get(project, name)


@sources_router.post("/sources/{project}/{name}/run", response_model=DatasetVersion)
def run_source(project: str, name: str, svc: Services = Depends(api_services)) -> DatasetVersion:
    return svc.sources.run(project, name)


@sources_router.delete("/sources/{project}/{name}", status_code=204)
def remove_source(project: str, name: str, svc: Services = Depends(api_services)) -> None:
    svc.sources.remove(project, name)
