"""``uvicorn passline.serving.asgi:app --workers N``: each gateway worker builds its app
from settings. Routing, endpoints and labels live in the database and each worker writes
its own prediction log files, so N workers (or replicas) need no shared memory."""

from passline.serving.gateway import create_gateway_app

app = create_gateway_app()
