"""How a :class:`~passline.sdk.client.Client` reaches the services.

A transport has one job, ``call(op, params)``, plus streaming file transfer. The local one
calls the service layer in this process; the HTTP one sends the operation's REST route.
"""

from __future__ import annotations

import hashlib
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
from passline.sdk.operations import OPERATIONS
from passline.services.context import Origin

if TYPE_CHECKING:
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
        remaining = dict(params)
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


class _PathArgs(dict):  # type: ignore[type-arg]
    """Fills ``{placeholders}`` from call arguments, removing them from the rest."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__()
        self._params = params

    def __missing__(self, key: str) -> str:
        return quote(str(self._params.pop(key)), safe="")


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
