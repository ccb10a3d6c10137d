"""``uvicorn passline.server.asgi:app --workers N``: each worker builds the app from settings.

Workers share nothing in memory: the database, the artifact root and the audit key are
the shared state, so N workers (or N replicas behind a load balancer) behave as one.
"""

from passline.server.app import create_app

app = create_app()
