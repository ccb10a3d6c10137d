"""MLflow-style error answers, scoped to the MLflow-compatible routes.

MLflow clients read ``{"error_code": "...", "message": "..."}`` and the HTTP status MLflow
pairs with that code (``mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS``). Passline's own error
tree maps onto it once, here::

    InvalidInput, Conflict   400  INVALID_PARAMETER_VALUE  (create of a taken name:
                                  RESOURCE_ALREADY_EXISTS, 400, raised by the handler)
    NotFound                 404  RESOURCE_DOES_NOT_EXIST
    Unauthenticated          401  UNAUTHENTICATED
    PermissionDenied         403  PERMISSION_DENIED  (with ``details``, e.g. what a release
                                  policy misses)
    Unavailable              503  TEMPORARILY_UNAVAILABLE
    MissingExtra             501  NOT_IMPLEMENTED
    IntegrityError           500  DATA_LOSS
    an unknown route         404  ENDPOINT_NOT_FOUND
    anything else            500  INTERNAL_ERROR  (logged under an incident id)

The MLflow client retries 429 and 5xx answers for minutes, so a mistake of the caller must
never come back as a 500.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from passline import errors

__all__ = ["STATUS", "MlflowError", "MlflowRoute", "creating", "error_response", "invalid"]

log = logging.getLogger("passline.server.mlflow")

STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "BAD_REQUEST": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "INTERNAL_ERROR": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
}

_FROM_PASSLINE: list[tuple[type[errors.PasslineError], str]] = [
    (errors.InvalidInput, "INVALID_PARAMETER_VALUE"),
    (errors.Conflict, "INVALID_PARAMETER_VALUE"),
    (errors.NotFound, "RESOURCE_DOES_NOT_EXIST"),
    (errors.Unauthenticated, "UNAUTHENTICATED"),
    (errors.PermissionDenied, "PERMISSION_DENIED"),
    (errors.Unavailable, "TEMPORARILY_UNAVAILABLE"),
    (errors.MissingExtra, "NOT_IMPLEMENTED"),
    (errors.IntegrityError, "DATA_LOSS"),
]


class MlflowError(Exception):
    """An answer in MLflow's error shape: ``error_code`` names one of :data:`STATUS`."""

    def __init__(
        self, error_code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        return STATUS.get(self.error_code, 400)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error_code": self.error_code, "message": self.message}
        if self.details:
            body["details"] = json.loads(json.dumps(self.details, default=str))
        return body


def invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def _translate(exc: Exception) -> MlflowError:
    if isinstance(exc, MlflowError):
        return exc
    if isinstance(exc, errors.PasslineError):
        for kind, code in _FROM_PASSLINE:
            if isinstance(exc, kind):
                return MlflowError(code, str(exc), exc.details)
        return MlflowError("INTERNAL_ERROR", str(exc))
    if isinstance(exc, RequestValidationError):
        return invalid(f"The request is not valid: {exc.errors()}")
    incident = uuid.uuid4().hex[:12]
    log.error("unhandled error %s in an MLflow route", incident, exc_info=exc)
    return MlflowError(
        "INTERNAL_ERROR",
        f"Passline hit an internal error (incident {incident}); the server log has the details.",
    )


def error_response(exc: Exception) -> JSONResponse:
    """The JSON answer an MLflow client understands, for any exception."""
    error = _translate(exc)
    response = JSONResponse(error.to_dict(), status_code=error.status)
    if error.error_code == "UNAUTHENTICATED":
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@contextmanager
def creating(what: str) -> Iterator[None]:
    """Turn the Conflict of a create into MLflow's RESOURCE_ALREADY_EXISTS."""
    try:
        yield
    except errors.Conflict as exc:
        raise MlflowError("RESOURCE_ALREADY_EXISTS", f"{what}: {exc}") from None


class MlflowRoute(APIRoute):
    """A route whose every failure, dependencies (the token) included, answers in MLflow's
    error shape instead of Passline's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure gets MLflow's shape
                return error_response(exc)

        return guarded
