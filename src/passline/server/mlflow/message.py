"""The fields of one MLflow request, read the way MLflow's protobuf JSON writes them.

The MLflow client sends a JSON body for POST, PATCH and DELETE and the query string for GET.
Protobuf JSON may carry an int64 as a number or as a string, and an enum by name or number;
the accessors accept both and name the parameter when a value is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from passline.server.mlflow.errors import MlflowError, invalid

__all__ = ["Message", "read_message"]


class Message:
    """Typed access to a request's fields; errors name the parameter, as MLflow's do."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.fields.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, list):
            value = value[-1]
        if not isinstance(value, str | int | float):
            raise invalid(f"The parameter '{name}' must be a string. Got {value!r} instead.")
        return str(value)

    def require(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise invalid(f"Missing value for required parameter '{name}'.")
        return value

    def run_id(self) -> str:
        """``run_id``, or the older ``run_uuid`` some clients still send."""
        value = self.text("run_id") or self.text("run_uuid")
        if value is None:
            raise invalid("Missing value for required parameter 'run_id'.")
        return value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid(f"The parameter '{name}' must be an integer. Got {value!r}.") from None

    def flag(self, name: str) -> bool:
        value = self.fields.get(name)
        return value is True or str(value).lower() == "true"

    def texts(self, name: str) -> list[str]:
        value = self.fields.get(name)
        if value is None or value == "":
            return []
        values = value if isinstance(value, list) else [value]
        return [str(v) for v in values]

    def objects(self, name: str) -> list[dict[str, Any]]:
        value = self.fields.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise invalid(f"The parameter '{name}' must be a list of objects.")
        return value

    def pairs(self, name: str) -> dict[str, str]:
        """A list of ``{"key", "value"}`` objects (tags, params) as a dict."""
        out: dict[str, str] = {}
        for item in self.objects(name):
            if "key" not in item:
                raise invalid(f"Each entry of '{name}' needs a 'key'.")
            out[str(item["key"])] = "" if item.get("value") is None else str(item["value"])
        return out

    def enum(self, name: str, values: dict[int, str], default: str | None = None) -> str | None:
        """An enum sent by name (``"FINISHED"``) or by number (``3``)."""
        value = self.text(name)
        if value is None:
            return default
        if value.lstrip("-").isdigit():
            value = values.get(int(value), value)
        if value not in values.values():
            allowed = ", ".join(values.values())
            raise invalid(f"The parameter '{name}' must be one of {allowed}. Got {value!r}.")
        return value


async def read_message(request: Request) -> Message:
    """FastAPI dependency: the query string, overlaid with the JSON body when there is one."""
    query = request.query_params
    fields: dict[str, Any] = {
        key: (query.getlist(key) if len(query.getlist(key)) > 1 else query[key]) for key in query
    }
    raw = await request.body() if request.method != "GET" else b""
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            raise MlflowError("BAD_REQUEST", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise MlflowError("BAD_REQUEST", "The request body must be a JSON object.")
        fields.update(body)
    return Message(fields)
