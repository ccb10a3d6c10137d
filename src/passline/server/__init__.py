"""The HTTP server: REST API under /api/v1 and the web UI, one process, one app factory."""

from passline.server.app import create_app

__all__ = ["create_app"]
