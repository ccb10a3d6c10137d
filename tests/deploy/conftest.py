"""Deploying at scale: moto's real S3 server, and `passline up` / `passline serve` replicas.

The S3 tests talk HTTP to ``moto.server`` on loopback through s3fs, exactly as Passline talks
to MinIO or AWS: the endpoint and credentials come from the standard ``AWS_*`` variables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

BUCKET = "passline-deploy"
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port, with one bucket; shared by the deploy tests."""
    server_module = pytest.importorskip("moto.server")
    s3fs = pytest.importorskip("s3fs")
    port = free_port()
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        fs = s3fs.S3FileSystem(
            key="testing", secret="testing", endpoint_url=endpoint, skip_instance_cache=True
        )
        fs.mkdir(BUCKET)
        yield endpoint
    finally:
        server.stop()


def s3_env(endpoint: str) -> dict[str, str]:
    return {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


@pytest.fixture
def s3_root(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh ``s3://`` artifact root; the AWS variables point s3fs at the moto server."""
    import s3fs

    for name, value in s3_env(s3_endpoint).items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # a cached instance remembers its endpoint
    yield f"s3://{BUCKET}/ws-{uuid.uuid4().hex[:8]}"
    s3fs.S3FileSystem.clear_instance_cache()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in 60 s:\n{log.read_text()}")


@contextmanager
def _process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "passline.cli.main", *command],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).parents[2],  # tests.deploy._model stays importable
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@contextmanager
def replicas(tmp_path: Path, env: dict[str, str], kinds: tuple[str, ...]) -> Iterator[list[str]]:
    """One process per entry of ``kinds`` (``up`` or ``serve``) on a loopback port, each with
    its own home (as on separate machines) and the shared settings in ``env``; yields their
    URLs in the same order. They start in parallel, then each must answer its health route."""
    started = []
    with ExitStack() as stack:
        for index, kind in enumerate(kinds):
            port = free_port()
            child_env = {**os.environ, **env, "PASSLINE_HOME": str(tmp_path / f"replica{index}")}
            log = tmp_path / f"{kind}{index}.log"
            process = stack.enter_context(_process([kind, "--port", str(port)], child_env, log))
            started.append((f"http://127.0.0.1:{port}", kind, process, log))
        for url, kind, process, log in started:
            _wait_healthy(f"{url}/api/v1" if kind == "up" else f"{url}/v1", process, log)
        yield [url for url, _, _, _ in started]
