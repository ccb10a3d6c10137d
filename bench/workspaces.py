"""Scratch workspaces, embedded clients and a real server in a subprocess for the benchmarks.

Every benchmark works in a throwaway workspace under ``bench/.data/`` (never the user's
``PASSLINE_HOME``), and every HTTP figure crosses a real loopback socket to a real uvicorn
process, because an in-process ASGI transport would hide the cost we want to measure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from passline.sdk.client import Client
from passline.sdk.transports import HttpTransport, LocalTransport
from passline.services.workspace import Workspace
from passline.settings import Settings

__all__ = [
    "RunningServer",
    "local_client",
    "make_token",
    "open_local_client",
    "peak_rss_of",
    "reset_peak_rss_of",
    "scrub_passline_env",
    "serve",
    "settings_for",
]

DATA_DIR = Path(__file__).parent / ".data"
_READY_TIMEOUT_S = 60.0


def scrub_passline_env() -> None:
    """Drop ``PASSLINE_*`` variables so nothing points the bench at a real workspace.

    The Makefile exports ``PASSLINE_HOME``, and a user's ``PASSLINE_DATABASE_URL`` or
    ``PASSLINE_AUDIT_KEY`` would silently change what the scratch workspaces and the server
    subprocess use (a different audit key in each would even break the chain's verify).
    """
    for key in list(os.environ):
        if key.startswith("PASSLINE_") and not key.startswith("PASSLINE_BENCH_"):
            del os.environ[key]


def settings_for(home: Path, database_url: str | None = None) -> Settings:
    """Settings of a scratch workspace: SQLite in ``home`` unless a URL is given."""
    return Settings(home=home, database_url=database_url)


def open_local_client(settings: Settings) -> Client:
    """The SDK client on the embedded transport, acting as the local admin."""
    workspace = Workspace.open(settings)
    return Client(LocalTransport(workspace.services(workspace.local_context("sdk"))))


@contextmanager
def local_client(settings: Settings) -> Iterator[Client]:
    """:func:`open_local_client`, closed on exit."""
    client = open_local_client(settings)
    try:
        yield client
    finally:
        client.close()


def make_token(settings: Settings) -> str:
    """An API token for the local admin, made in-process before the server starts."""
    with local_client(settings) as client:
        return client.create_token("bench").secret


@dataclass(frozen=True)
class RunningServer:
    url: str
    pid: int
    token: str

    def client(self) -> Client:
        return Client(HttpTransport(self.url, self.token, timeout=600.0))


@contextmanager
def serve(home: Path, database_url: str | None = None) -> Iterator[RunningServer]:
    """``passline up`` on ``home``'s workspace on a free port; stopped on exit.

    With ``database_url`` the workspace's metadata lives there (PostgreSQL) instead of
    SQLite in ``home``; the server gets it as ``PASSLINE_DATABASE_URL``.
    """
    token = make_token(settings_for(home, database_url))
    port = _free_port()
    log_path = home / "server.log"
    command = [sys.executable, "-m", "passline.cli.main", "--home", str(home), "up"]
    env = {**os.environ, **({"PASSLINE_DATABASE_URL": database_url} if database_url else {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, process, log_path)
            yield RunningServer(url, process.pid, token)
        finally:
            _stop(process)


def _free_port() -> int:
    # The OS picks a free port; the tiny race until uvicorn binds it is harmless here.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"The server did not answer within {_READY_TIMEOUT_S:.0f} s.")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def peak_rss_of(pid: int) -> int | None:
    """Another process's RSS high-water mark in bytes (Linux ``VmHWM``), or None."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def reset_peak_rss_of(pid: int) -> bool:
    """Reset a process's ``VmHWM`` to its current RSS, so the next peak is one operation's."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
