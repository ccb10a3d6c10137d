"""PostgreSQL + S3: a whole workspace whose artifacts live in moto's real S3 server.

moto serves the S3 REST API over HTTP on loopback; s3fs reaches it through the standard
``AWS_ENDPOINT_URL`` and credential variables, the way it reaches MinIO or AWS.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from passline.artifacts.store import FsspecArtifactStore
from passline.data.connectors.memory import TableConnector
from passline.errors import IntegrityError, NotFound, Unavailable
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from tests.deploy._model import Doubler
from tests.deploy.conftest import free_port

pytestmark = [pytest.mark.serial, pytest.mark.postgres]


@pytest.fixture
def s3_workspace(tmp_path: Path, postgres_url: str, s3_root: str) -> Iterator[Workspace]:
    settings = Settings(home=tmp_path / "home", database_url=postgres_url, artifact_root=s3_root)
    workspace = Workspace.open(settings)
    yield workspace
    workspace.close()


@pytest.fixture
def svc(s3_workspace: Workspace) -> Services:
    services = s3_workspace.services(s3_workspace.local_context("sdk"))
    services.projects.create("shop")
    return services


def _object(workspace: Workspace, digest: str) -> str:
    store = workspace.blobs
    assert isinstance(store, FsspecArtifactStore)
    return store._key(digest)


def _register(svc: Services) -> int:
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("shop", "training").id)
    svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(Doubler())))
    svc.tracking.end_run(run.id)
    return svc.registry.register("shop/doubler", f"runs:/{run.id}/model", format="sklearn").version


def test_models_and_datasets_round_trip_through_s3(s3_workspace: Workspace, svc: Services) -> None:
    store = s3_workspace.blobs
    assert isinstance(store, FsspecArtifactStore) and store.url.startswith("s3://")
    version = svc.registry.version("shop/doubler", _register(svc))
    digest = version.files[0]["digest"]
    stored = store.fs.cat_file(_object(s3_workspace, digest))  # the bytes really are in S3
    assert hashlib.sha256(stored).hexdigest() == digest
    assert svc.registry.load("shop/doubler", version.version).predict({"x": [3]}) == [6.0]

    table = pa.table({"sku": ["a", "b", "c"], "qty": [1, 2, 3]})
    data = svc.ingest.ingest("shop/sales", TableConnector(table))
    assert svc.datasets.read("shop/sales").to_pylist() == table.to_pylist()
    again = svc.ingest.ingest("shop/sales", TableConnector(table))
    assert again.number == data.number  # same bytes: stored once, no new version
    assert svc.artifacts.verify()["bad"] == []


def test_a_damaged_or_missing_object_is_named(s3_workspace: Workspace, svc: Services) -> None:
    number = _register(svc)
    digest = svc.registry.version("shop/doubler", number).files[0]["digest"]
    key = _object(s3_workspace, digest)
    fs = s3_workspace.blobs.fs  # type: ignore[attr-defined]
    fs.pipe_file(key, b"not the model")
    with pytest.raises(IntegrityError, match="do not match their SHA-256"):
        svc.registry.load("shop/doubler", number)
    assert [b["problem"] for b in svc.artifacts.verify()["bad"]] == ["truncated"]
    fs.rm(key)
    with pytest.raises(NotFound, match=f"No stored bytes for artifact digest {digest}"):
        svc.registry.load("shop/doubler", number)


def test_an_unreachable_store_is_unavailable_and_records_nothing(
    tmp_path: Path, postgres_url: str, s3_root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nobody there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()
    settings = Settings(home=tmp_path / "home", database_url=postgres_url, artifact_root=s3_root)
    workspace = Workspace.open(settings)
    try:
        svc = workspace.services(workspace.local_context("sdk"))
        svc.projects.create("shop")
        with pytest.raises(Unavailable, match=f"artifact store at {s3_root}"):
            svc.artifacts.put_stream("shop", io.BytesIO(b"weights"), "model.bin")
        with pytest.raises(Unavailable, match="artifact store"):
            svc.ingest.ingest("shop/sales", TableConnector(pa.table({"a": [1]})))
        assert svc.artifacts.list("shop") == []
        assert svc.datasets.search() == []
        assert svc.audit.verify().ok
    finally:
        workspace.close()


def test_a_missing_bucket_is_named(s3_endpoint: str, s3_root: str) -> None:
    from passline.artifacts.store import open_store

    store = open_store("s3://no-such-bucket/prefix")
    with pytest.raises(Unavailable, match="bucket does not exist"):
        store.put_stream(io.BytesIO(b"weights"))
