"""A fake OpenAI-compatible model for ``bench/llmops.py``: answers every chat completion at once.

``python bench/llmops_fake.py PORT`` serves ``POST /v1/chat/completions`` on 127.0.0.1 with
a fixed answer (JSON that the benchmark's ``schema`` guard accepts) and ``GET /health``.
HTTP/1.1 keep-alive, a thread per connection: the only time it adds is parsing one small
request and writing one small response, which the benchmark measures directly as its
baseline. It runs in its own process so it never competes for the benchmark's GIL.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = json.dumps({"answer": "You have 12 days of annual leave left; book them in the portal."})
BODY = json.dumps(
    {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": "fake-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59},
    }
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real model server
    disable_nagle_algorithm = True  # else headers and body wait for a delayed ACK (40 ms)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(BODY)

    def do_GET(self) -> None:
        self._send(b'{"ok": true}')

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
