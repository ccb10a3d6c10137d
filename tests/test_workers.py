"""Multi-worker servers: connections get TCP_NODELAY, and a real two-worker server answers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import uvicorn

from passline.server.workers import as_tcp


def _nodelay_of_accepted(listener: socket.socket) -> int:
    """TCP_NODELAY on the connection asyncio accepts from ``listener``."""

    async def main() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw = writer.get_extra_info("socket")
            seen.set_result(raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(accepted, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        value = await asyncio.wait_for(seen, 5)
        writer.close()
        server.close()
        return value

    return asyncio.run(main())


def _bound() -> socket.socket:
    config = uvicorn.Config("passline.server.asgi:app", host="127.0.0.1", port=0)
    return config.bind_socket()


def test_uvicorns_worker_socket_loses_nodelay_and_as_tcp_restores_it() -> None:
    assert _nodelay_of_accepted(_bound()) == 0  # why run_workers exists
    tcp = as_tcp(_bound())
    assert tcp.proto == socket.IPPROTO_TCP and tcp.get_inheritable()
    assert _nodelay_of_accepted(tcp) != 0


def test_passline_up_with_two_workers_answers(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PASSLINE_HOME": str(tmp_path / "ws")}
    command = [sys.executable, "-m", "passline.cli.main", "up", "--port", str(port)]
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [*command, "--workers", "2"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert answer is not None, (tmp_path / "server.log").read_text()
        assert answer.status_code == 200
    finally:
        server.terminate()
        server.wait(30)
        log.close()
