"""Fixtures for the data tests: a real redis-server and a real HTTP API on free local ports.

The Redis server is started by the tests (never the shared one on 6379), without persistence.
When ``redis-server`` is missing, its tests are skipped, unless ``PASSLINE_REQUIRE_REDIS=1``,
in which case they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

# Read at import: the root conftest removes PASSLINE_* variables around each test.
REQUIRE_REDIS = os.environ.get("PASSLINE_REQUIRE_REDIS") == "1"
BEARER = "Bearer tok-0123456789-secret"
API_KEY = "key-9876543210-secret"
RECORDS = [{"id": i, "name": f"n{i}", "meta": {"score": i / 2, "tag": "t"}} for i in range(1, 26)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """The URL of a fresh redis-server, for the whole session."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        if REQUIRE_REDIS:
            pytest.fail("redis-server is not installed but Redis tests are required.")
        pytest.skip("redis-server not installed")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_redis(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis-server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail("redis-server did not start within 10 s")


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_server)
    yield client
    client.close()


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class ApiLog:
    """What the test API saw: requests per route and when they arrived."""

    hits: Counter[str] = field(default_factory=Counter)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, route: str) -> int:
        with self.lock:
            self.hits[route] += 1
            self.arrivals.setdefault(route, []).append(time.monotonic())
            return self.hits[route]


@dataclass
class Api:
    url: str
    log: ApiLog


Reply = tuple[int, dict[str, str], bytes]


def _json(body: Any, status: int = 200, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def _routes(log: ApiLog) -> dict[str, Callable[[dict[str, str], dict[str, str]], Reply]]:
    def page(q: dict[str, str], h: dict[str, str]) -> Reply:
        number, size = int(q["page"]), int(q["page_size"])
        return _json({"data": RECORDS[(number - 1) * size : number * size]})

    def offset(q: dict[str, str], h: dict[str, str]) -> Reply:
        start, limit = int(q["offset"]), int(q["limit"])
        return _json({"items": RECORDS[start : start + limit]})

    def cursor(q: dict[str, str], h: dict[str, str]) -> Reply:
        start = int(q.get("cursor", "0"))
        following = str(start + 10) if start + 10 < len(RECORDS) else None
        return _json({"data": RECORDS[start : start + 10], "meta": {"next": following}})

    def link(q: dict[str, str], h: dict[str, str]) -> Reply:
        number = int(q.get("p", "1"))
        headers = {"Link": f'</link?p={number + 1}>; rel="next"'} if number < 3 else {}
        return _json(RECORDS[(number - 1) * 9 : number * 9], **headers)

    def flaky429(q: dict[str, str], h: dict[str, str]) -> Reply:
        if log.hits["/flaky429"] <= 2:
            return _json({"error": "slow down"}, 429, **{"Retry-After": "0"})
        return _json({"data": RECORDS[:3]})

    def flaky500(q: dict[str, str], h: dict[str, str]) -> Reply:
        if log.hits["/flaky500"] <= 2:
            return 500, {"Content-Type": "text/plain"}, b"oops"
        return _json({"data": RECORDS[:3]})

    def busy(q: dict[str, str], h: dict[str, str]) -> Reply:
        if log.hits["/busy"] == 1:
            return _json({"error": "busy"}, 503, **{"Retry-After": "1"})
        return _json({"data": RECORDS[:1]})

    def down(q: dict[str, str], h: dict[str, str]) -> Reply:
        return 500, {"Content-Type": "text/plain"}, b"still broken"

    def html(q: dict[str, str], h: dict[str, str]) -> Reply:
        body = b"<!doctype html><html><body><h1>Please log in</h1>" + b"x" * 200
        return 200, {"Content-Type": "text/html; charset=utf-8"}, body

    def badjson(q: dict[str, str], h: dict[str, str]) -> Reply:
        return 200, {"Content-Type": "application/json"}, b"{not json"

    def secure(q: dict[str, str], h: dict[str, str]) -> Reply:
        if h.get("authorization") != BEARER:
            return _json({"error": "unauthorized"}, 401)
        return _json({"data": RECORDS[:2]})

    def keyed(q: dict[str, str], h: dict[str, str]) -> Reply:
        if q.get("api_key") != API_KEY:
            return _json({"error": "forbidden"}, 403)
        return _json({"data": RECORDS[:2]})

    def typed(q: dict[str, str], h: dict[str, str]) -> Reply:
        rows = [{"id": 1}, {"id": 2}] if q["page"] == "1" else [{"id": "three"}]
        return _json({"data": rows if int(q["page"]) <= 2 else []})

    return {
        "/page": page,
        "/rate": page,
        "/offset": offset,
        "/cursor": cursor,
        "/link": link,
        "/flaky429": flaky429,
        "/flaky500": flaky500,
        "/busy": busy,
        "/down": down,
        "/html": html,
        "/badjson": badjson,
        "/secure": secure,
        "/keyed": keyed,
        "/typed": typed,
    }


@pytest.fixture
def api() -> Iterator[Api]:
    """A real HTTP server on a free local port, serving JSON in every pagination style."""
    log = ApiLog()
    routes = _routes(log)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            parts = urlsplit(self.path)
            log.record(parts.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, reply_headers, body = routes[parts.path](query, headers)
            self.send_response(status)
            for name, value in reply_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Api(f"http://127.0.0.1:{server.server_address[1]}", log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
