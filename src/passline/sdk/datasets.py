"""The SDK's data block: ``client.datasets`` and ``client.sources``.

    >>> pl = passline.connect()
    >>> pl.datasets.ingest("retail/sales", path="sales/*.csv")
    >>> pl.datasets.ingest("retail/sales", data=dataframe, mode="append")
    >>> table = pl.datasets.get("retail/sales@latest").to_arrow()
    >>> pl.datasets.get("sales@v3").to_pandas()

Both transports offer the same methods. Over HTTP, a local file (or in-memory data, sent as
Parquet) is uploaded and ingested by the server; SQL, HTTP-API and stream sources run
where the data is reachable, as saved sources (``client.sources``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from passline.core.entities import Dataset, DatasetGrant, DatasetVersion, Source
from passline.sdk.reproduce import pinned_version

if TYPE_CHECKING:
    import pyarrow as pa

    from passline.sdk.client import Client

__all__ = ["DatasetHandle", "DatasetsAPI", "IngestRequest", "SourcesAPI"]


@dataclass(frozen=True)
class IngestRequest:
    """What to ingest and how; the same fields travel to the server as query parameters."""

    mode: str = "replace"
    allow_breaking: bool = False
    format: str | None = None
    encoding: str = "utf8"
    delimiter: str | None = None
    on_bad_lines: str = "error"
    column_types: dict[str, str] | None = None
    inputs: list[str] | None = None
    description: str | None = None
    sheet: str | None = None


class DatasetHandle:
    """One dataset version: its metadata, and its rows on demand."""

    def __init__(self, api: DatasetsAPI, ref: str, version: DatasetVersion) -> None:
        self._api = api
        self.ref = ref
        self.version = version

    def __repr__(self) -> str:
        return (
            f"<DatasetHandle {self.version.label} rows={self.version.rows} {self.version.status}>"
        )

    def to_arrow(self, columns: list[str] | None = None) -> pa.Table:
        return self._api.read(f"{self.version.dataset}@{self.version.id}", columns)

    def to_pandas(self, columns: list[str] | None = None) -> Any:
        try:
            import pandas  # noqa: F401
        except ModuleNotFoundError:
            from passline.errors import MissingExtra

            raise MissingExtra.for_extra("pandas", "DatasetHandle.to_pandas()") from None
        return self.to_arrow(columns).to_pandas()

    def profile(self) -> dict[str, Any]:
        return self._api.profile(f"{self.version.dataset}@{self.version.id}")


class DatasetsAPI:
    """Dataset operations; reached as ``client.datasets``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, op: str, returns: Any, **params: Any) -> Any:
        result = self._client.transport.call(op, {k: v for k, v in params.items() if v is not None})
        return TypeAdapter(returns).validate_python(result) if returns is not None else result

    def ingest(
        self, dataset: str, data: Any = None, *, path: str | Path | None = None, **options: Any
    ) -> DatasetVersion:
        """Ingest ``data`` (Arrow table, DataFrame, list of dicts) or the file(s) at ``path``
        into ``project/name``; options as :class:`IngestRequest` (mode, format, ...)."""
        request = IngestRequest(**options)
        if (data is None) == (path is None):
            from passline.errors import InvalidInput

            raise InvalidInput("Pass either data=... or path=... to ingest, not both or neither.")
        transport = self._client.transport
        if path is not None:
            result = transport.ingest_path(dataset, str(path), request)
        else:
            result = transport.ingest_data(dataset, data, request)
        return DatasetVersion.model_validate(result)

    def get(self, ref: str) -> DatasetHandle:
        """A handle on a version: ``project/name``, ``name@latest``, ``name@v3``, ``@dsv_...``.

        During ``passline runs reproduce``, ``latest`` means the version the original run used.
        """
        return DatasetHandle(self, ref, self.version(ref))

    def read(self, ref: str, columns: list[str] | None = None) -> pa.Table:
        return self._client.transport.read_table(pinned_version(ref), columns)

    def info(self, ref: str) -> Dataset:
        return self._call("datasets.get", Dataset, ref=ref)

    def search(
        self,
        text: str | None = None,
        tag: str | None = None,
        column: str | None = None,
        owner: str | None = None,
        sensitivity: str | None = None,
        project: str | None = None,
    ) -> list[Dataset]:
        return self._call(
            "datasets.search",
            list[Dataset],
            text=text,
            tag=tag,
            column=column,
            owner=owner,
            sensitivity=sensitivity,
            project=project,
        )

    def versions(self, ref: str) -> list[DatasetVersion]:
        return self._call("datasets.versions", list[DatasetVersion], ref=ref)

    def version(self, ref: str) -> DatasetVersion:
        return self._call("datasets.version", DatasetVersion, ref=pinned_version(ref))

    def profile(self, ref: str) -> dict[str, Any]:
        return self._call("datasets.profile", dict[str, Any], ref=ref)

    def profile_sketches(self, ref: str) -> dict[str, Any]:
        """The version's mergeable sketches, as stored (the reference of a drift report)."""
        return self._call("datasets.profile_sketches", dict[str, Any], ref=ref)

    def configure(
        self,
        ref: str,
        description: str | None = None,
        key: list[str] | None = None,
        expectations: str | None = None,
        tags: list[str] | None = None,
    ) -> Dataset:
        return self._call(
            "datasets.configure",
            Dataset,
            ref=ref,
            description=description,
            key=key,
            expectations=expectations,
            tags=tags,
        )

    def tag_column(self, ref: str, column: str, tags: list[str]) -> Dataset:
        return self._call("datasets.tag_column", Dataset, ref=ref, column=column, tags=tags)

    def set_sensitivity(self, ref: str, level: str, reason: str | None = None) -> Dataset:
        return self._call("datasets.set_sensitivity", Dataset, ref=ref, level=level, reason=reason)

    def grant(self, ref: str, user: str, reason: str) -> DatasetGrant:
        return self._call("datasets.grant", DatasetGrant, ref=ref, user=user, reason=reason)

    def revoke(self, ref: str, user: str) -> None:
        self._call("datasets.revoke", None, ref=ref, user=user)

    def grants(self, ref: str) -> list[DatasetGrant]:
        return self._call("datasets.grants", list[DatasetGrant], ref=ref)

    def diff(self, old: str, new: str, key: list[str] | None = None) -> dict[str, Any]:
        return self._call("datasets.diff", dict[str, Any], old=old, new=new, key=key)

    def check(self, ref: str) -> list[dict[str, Any]]:
        return self._call("datasets.check", list[dict[str, Any]], ref=ref)

    def scan(self, ref: str) -> dict[str, Any]:
        return self._call("datasets.scan", dict[str, Any], ref=ref)


class SourcesAPI:
    """Saved sources; reached as ``client.sources``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, op: str, returns: Any, **params: Any) -> Any:
        result = self._client.transport.call(op, {k: v for k, v in params.items() if v is not None})
        return TypeAdapter(returns).validate_python(result) if returns is not None else result

    def add(
        self,
        project: str,
        name: str,
        kind: str,
        config: dict[str, Any],
        dataset: str,
        mode: str = "replace",
        options: dict[str, Any] | None = None,
        schedule: str | None = None,
    ) -> Source:
        """Save a source; secrets in ``config`` only as refs (``env:``, ``secret:``, ``file:``)."""
        return self._call(
            "sources.add",
            Source,
            project=project,
            name=name,
            kind=kind,
            config=config,
            dataset=dataset,
            mode=mode,
            options=options,
            schedule=schedule,
        )

    def list(self, project: str | None = None) -> list[Source]:
        return self._call("sources.list", list[Source], project=project)

    def get(self, project: str, name: str) -> Source:
        return self._call("sources.get", Source, project=project, name=name)

    def run(self, project: str, name: str) -> DatasetVersion:
        return self._call("sources.run", DatasetVersion, project=project, name=name)

    def remove(self, project: str, name: str) -> None:
        self._call("sources.remove", None, project=project, name=name)
