"""How a :class:`~passline.sdk.client.Client` reaches the services.

A transport has one job, ``call(op, params)``, plus streaming file transfer. The local one
calls the service layer in this process; the HTTP one sends the operation's REST route.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

import httpx

from passline.artifacts.store import CHUNK_SIZE
from passline.errors import IntegrityError, InvalidInput, PasslineError, Unavailable, error_for_code
from passline.sdk.datasets import IngestRequest
from passline.sdk.operations import OPERATIONS
from passline.services.context import Origin

if TYPE_CHECKING:
    from passline.services.ingest import IngestOptions
    from passline.services.workspace import Services

__all__ = ["HttpTransport", "LocalTransport", "Progress", "Transport"]

Progress = Callable[[int], None] | None


class Transport(ABC):
    @abstractmethod
    def call(self, op: str, params: dict[str, Any]) -> Any:
        """Run operation ``op`` of :data:`OPERATIONS` with ``params``; return its result."""

    @abstractmethod
    def put_file(
        self, project: str, path: Path, name: str, media_type: str | None, progress: Progress
    ) -> Any:
        """Stream a file into the project's artifacts, calling ``progress(bytes)`` per chunk."""

    @abstractmethod
    def download(self, artifact_id: str, dest: Path) -> Path:
        """Write an artifact to ``dest``, verified."""

    @abstractmethod
    def ingest_path(self, dataset: str, path: str, request: IngestRequest) -> Any:
        """Ingest a file, glob or URL into ``project/name``."""

    @abstractmethod
    def ingest_data(self, dataset: str, data: Any, request: IngestRequest) -> Any:
        """Ingest in-memory data (Arrow, pandas, list of dicts)."""

    @abstractmethod
    def read_table(self, ref: str, columns: list[str] | None) -> Any:
        """A dataset version's rows as an Arrow table."""

    @abstractmethod
    def log_run_artifact(self, run_id: str, path: str, stream: BinaryIO) -> Any:
        """Store a file under a run."""

    @abstractmethod
    def run_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        """Write a run's artifact to ``dest``, verified."""

    @abstractmethod
    def register_model_file(
        self, model: str, stream: BinaryIO, filename: str, format: str | None, description: str
    ) -> Any:
        """A model version from a file."""

    @abstractmethod
    def model_file(self, model: str, version: str, item: dict[str, Any], folder: Path) -> Path:
        """Write one of a version's files into ``folder``, checked against its digest."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class LocalTransport(Transport):
    """Calls the service layer in-process, as the OS user (embedded mode)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @classmethod
    def open(cls, origin: Origin = "sdk", **settings: Any) -> LocalTransport:
        # Imported here: an HTTP-only client should not load SQLAlchemy and the services.
        from passline.services.workspace import Workspace
        from passline.settings import Settings

        workspace = Workspace.open(Settings.load(**settings))
        return cls(workspace.services(workspace.local_context(origin)))

    def call(self, op: str, params: dict[str, Any]) -> Any:
        operation = OPERATIONS[op]
        method = getattr(getattr(self.services, operation.service), operation.method)
        return method(**params)

    def put_file(
        self, project: str, path: Path, name: str, media_type: str | None, progress: Progress
    ) -> Any:
        if not path.is_file():
            raise InvalidInput(f"{path} is not a readable file.", hint="Check the path.")
        with path.open("rb") as stream:
            reader = _CountingReader(stream, progress)
            return self.services.artifacts.put_stream(project, reader, name, media_type)

    def download(self, artifact_id: str, dest: Path) -> Path:
        return self.services.artifacts.get_to(artifact_id, dest)

    def ingest_path(self, dataset: str, path: str, request: IngestRequest) -> Any:
        from passline.data.connectors import FileConnector

        connector = FileConnector(
            path,
            request.format,
            encoding=request.encoding,
            delimiter=request.delimiter,
            column_types=request.column_types,
            on_bad_lines=request.on_bad_lines,
            sheet=request.sheet,
            settings=self.services.workspace.settings,
        )
        return self.services.ingest.ingest(dataset, connector, ingest_options(request))

    def ingest_data(self, dataset: str, data: Any, request: IngestRequest) -> Any:
        from passline.data.connectors.memory import TableConnector

        return self.services.ingest.ingest(dataset, TableConnector(data), ingest_options(request))

    def read_table(self, ref: str, columns: list[str] | None) -> Any:
        return self.services.datasets.read(ref, columns)

    def log_run_artifact(self, run_id: str, path: str, stream: BinaryIO) -> Any:
        return self.services.tracking.log_artifact(run_id, path, stream)

    def run_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        item = self.services.tracking.artifact(run_id, path)
        return self.services.artifacts.get_to(item["artifact_id"], dest)

    def register_model_file(
        self, model: str, stream: BinaryIO, filename: str, format: str | None, description: str
    ) -> Any:
        project, _, name = model.rpartition("/")
        if not project:
            raise InvalidInput(f"Name the model as project/name. Got {model!r} instead.")
        return self.services.registry.register_file(
            name, project, stream, filename, format, description
        )

    def model_file(self, model: str, version: str, item: dict[str, Any], folder: Path) -> Path:
        record = self.services.artifacts.get(item["artifact_id"])
        if record.digest != item["digest"]:
            raise IntegrityError(
                f"{model} v{version}: {item['path']} no longer has its registered digest."
            )
        return self.services.artifacts.get_to(item["artifact_id"], folder / Path(item["path"]).name)

    def close(self) -> None:
        self.services.workspace.close()


class HttpTransport(Transport):
    """Sends each operation to a Passline server's REST API with a bearer token."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        origin: Origin = "sdk",
        timeout: float = 60.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = url.rstrip("/")
        # The origin header only labels audit entries (cli or sdk); auth rests on the token.
        headers = {"X-Passline-Origin": origin}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = client or httpx.Client(base_url=self.base_url, timeout=timeout)
        self._http.headers.update(headers)

    def call(self, op: str, params: dict[str, Any]) -> Any:
        operation = OPERATIONS[op]
        remaining = _prompt_parts(operation.path, dict(params))
        path = operation.path.format_map(_PathArgs(remaining))
        if operation.http_method in ("GET", "DELETE"):
            response = self._send(operation.http_method, path, params=remaining)
        else:
            response = self._send(operation.http_method, path, json=remaining)
        return response.json() if response.content else None

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, f"/api/v1{path}", **kwargs)
        except httpx.TransportError as exc:
            raise Unavailable(
                f"Cannot reach the Passline server at {self.base_url}: {exc}.",
                hint="Check the URL and that 'passline up' is running.",
            ) from None
        _raise_for_error(response)
        return response

    def put_file(
        self, project: str, path: Path, name: str, media_type: str | None, progress: Progress
    ) -> Any:
        if not path.is_file():
            raise InvalidInput(f"{path} is not a readable file.", hint="Check the path.")
        params = {"name": name, **({"media_type": media_type} if media_type else {})}
        with path.open("rb") as stream:
            response = self._send(
                "PUT",
                f"/projects/{quote(project, safe='')}/artifacts",
                params=params,
                content=_chunks(stream),
                headers={"Content-Type": "application/octet-stream"},
            )
        return response.json()

    def download(self, artifact_id: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                expected, actual = self._stream_to(artifact_id, out)
                out.flush()
                os.fsync(out.fileno())
            if expected != actual:
                raise IntegrityError(
                    f"Artifact {artifact_id} arrived with SHA-256 {actual[:12]}, "
                    f"expected {expected[:12]}; the download was damaged or cut short.",
                    hint="Try again; if it repeats, run 'passline artifacts verify' on the server.",
                )
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest

    def ingest_path(self, dataset: str, path: str, request: IngestRequest) -> Any:
        source = Path(path)
        if not source.is_file():
            raise InvalidInput(
                f"{path} is not a local file. Over HTTP, ingest one local file at a time; for "
                "globs, URLs, databases, APIs and streams, save a source on the server.",
                hint="passline data source add ... then passline data source run ...",
            )
        with source.open("rb") as stream:
            return self._upload(dataset, _chunks(stream), request, source.name)

    def ingest_data(self, dataset: str, data: Any, request: IngestRequest) -> Any:
        import io

        import pyarrow.parquet as pq

        from passline.data.connectors.memory import as_table

        buffer = io.BytesIO()
        pq.write_table(as_table(data), buffer)
        parquet = IngestRequest(**{**request.__dict__, "format": "parquet"})
        return self._upload(dataset, [buffer.getvalue()], parquet, "in-memory table")

    def _upload(self, dataset: str, body: Any, request: IngestRequest, filename: str) -> Any:
        from passline.data.refs import parse_dataset_ref

        ref = parse_dataset_ref(dataset)
        params = {k: v for k, v in request.__dict__.items() if v not in (None, False, [], {})}
        for key in ("column_types",):
            if key in params:
                params[key] = json.dumps(params[key])
        params["filename"] = filename
        path = f"/datasets/{ref.project or '-'}/{quote(ref.name, safe='')}/versions"
        response = self._send(
            "POST",
            path,
            params=params,
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )
        return response.json()

    def read_table(self, ref: str, columns: list[str] | None) -> Any:
        import pyarrow as pa

        from passline.data.refs import parse_dataset_ref

        parsed = parse_dataset_ref(ref)
        path = (
            f"/datasets/{parsed.project or '-'}/{quote(parsed.name, safe='')}"
            f"/versions/{parsed.selector}/data"
        )
        params = {"columns": columns} if columns else {}
        response = self._send("GET", path, params=params)
        return pa.ipc.open_stream(response.content).read_all()

    def log_run_artifact(self, run_id: str, path: str, stream: BinaryIO) -> Any:
        url = f"/runs/{quote(run_id, safe='')}/artifacts/{quote(path, safe='/')}"
        return self._send(
            "PUT",
            url,
            content=_chunks(stream),
            headers={"Content-Type": "application/octet-stream"},
        ).json()

    def run_artifact(self, run_id: str, path: str, dest: Path) -> Path:
        url = f"/api/v1/runs/{quote(run_id, safe='')}/artifacts/{quote(path, safe='/')}"
        return self._download_to(url, dest, f"{run_id}/{path}")

    def register_model_file(
        self, model: str, stream: BinaryIO, filename: str, format: str | None, description: str
    ) -> Any:
        project, _, name = model.rpartition("/")
        if not project:
            raise InvalidInput(f"Name the model as project/name. Got {model!r} instead.")
        params = {
            "filename": filename,
            "description": description,
            **({"format": format} if format else {}),
        }
        url = f"/models/{quote(project, safe='')}/{quote(name, safe='')}/versions:upload"
        return self._send(
            "PUT",
            url,
            params=params,
            content=_chunks(stream),
            headers={"Content-Type": "application/octet-stream"},
        ).json()

    def model_file(self, model: str, version: str, item: dict[str, Any], folder: Path) -> Path:
        project, _, name = model.rpartition("/")
        url = (
            f"/api/v1/models/{quote(project or '-', safe='')}/{quote(name, safe='')}/versions/"
            f"{quote(version, safe='')}/files/{quote(item['path'], safe='/')}"
        )
        target = self._download_to(url, folder / Path(item["path"]).name, item["path"])
        if _sha256(target) != item["digest"]:
            target.unlink(missing_ok=True)
            raise IntegrityError(
                f"{model} v{version}: {item['path']} does not match its registered digest."
            )
        return target

    def _download_to(self, url: str, dest: Path, label: str) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                expected, actual = self._stream_url(url, out, label)
                out.flush()
                os.fsync(out.fileno())
            if expected and expected != actual:
                raise IntegrityError(
                    f"{label} arrived damaged (SHA-256 {actual[:12]}, expected {expected[:12]})."
                )
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return dest

    def _stream_url(self, url: str, out: Any, label: str) -> tuple[str, str]:
        hasher = hashlib.sha256()
        try:
            with self._http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    hasher.update(chunk)
                    out.write(chunk)
                return response.headers.get("x-passline-digest", ""), hasher.hexdigest()
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise IntegrityError(f"The server stopped sending {label} part-way ({exc}).") from None

    def _stream_to(self, artifact_id: str, out: Any) -> tuple[str, str]:
        hasher = hashlib.sha256()
        path = f"/api/v1/artifacts/{quote(artifact_id, safe='')}/content"
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                for chunk in response.iter_bytes(CHUNK_SIZE):
                    hasher.update(chunk)
                    out.write(chunk)
                return response.headers.get("x-passline-digest", ""), hasher.hexdigest()
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise IntegrityError(
                f"The server stopped sending artifact {artifact_id} part-way ({exc}); "
                "its stored bytes may be damaged.",
                hint="Run 'passline artifacts verify' on the server.",
            ) from None

    def close(self) -> None:
        self._http.close()


def ingest_options(request: IngestRequest) -> IngestOptions:
    from passline.services.ingest import IngestOptions

    return IngestOptions(
        mode=request.mode,  # type: ignore[arg-type]
        allow_breaking=request.allow_breaking,
        inputs=list(request.inputs or []),
        description=request.description,
    )


def _prompt_parts(path: str, params: dict[str, Any]) -> dict[str, Any]:
    """``prompt`` (``project/name@selector``) as the path's two segments and its selector:
    in the path when it has a place for it, else as the ``version`` parameter."""
    if "{prompt_path}" not in path or "prompt" not in params:
        return params
    text, _, selector = str(params.pop("prompt")).removeprefix("prompts:/").partition("@")
    project, _, name = text.partition("/")
    params["prompt_path"] = f"{quote(project, safe='')}/{quote(name, safe='')}"
    if "{prompt_selector}" in path:
        params["prompt_selector"] = selector or "production"
    elif selector:
        params["version"] = selector
    return params


class _PathArgs(dict):  # type: ignore[type-arg]
    """Fills ``{placeholders}`` from call arguments, removing them from the rest.

    ``{dataset}`` and ``{selector}`` come from a dataset ``ref`` (``project/name@v3``): the
    project becomes a path segment (``-`` when the server should find it by name).
    """

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__()
        self._params = params
        self._ref: tuple[str, str] | None = None

    def __missing__(self, key: str) -> str:
        if key in ("dataset", "selector"):
            dataset, selector = self._dataset_parts()
            return dataset if key == "dataset" else selector
        if key == "model":  # project/name: two path segments; "-" lets the server find it
            project, _, name = str(self._params.pop(key)).rpartition("/")
            return f"{quote(project or '-', safe='')}/{quote(name, safe='')}"
        if key == "prompt_path":
            return str(self._params.pop(key))
        return quote(str(self._params.pop(key)), safe="")

    def _dataset_parts(self) -> tuple[str, str]:
        if self._ref is None:
            from passline.data.refs import parse_dataset_ref

            ref = parse_dataset_ref(str(self._params.pop("ref")))
            self._ref = (f"{ref.project or '-'}/{ref.name}", ref.selector)
        return self._ref


class _CountingReader:
    """A read-only file wrapper that reports how many bytes went through it."""

    def __init__(self, stream: BinaryIO, progress: Progress) -> None:
        self._stream = stream
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        if self._progress and chunk:
            self._progress(len(chunk))
        return chunk


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def _chunks(stream: Any) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK_SIZE):
        yield chunk


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = {}
    if isinstance(body, dict) and "code" in body:
        raise error_for_code(body["code"], body.get("message", ""), body.get("hint"))
    raise PasslineError(f"The server answered {response.status_code}: {response.text[:200]}")
