"""OTLP/HTTP trace requests (``ExportTraceServiceRequest``) to plain span dictionaries.

Protobuf bodies are decoded with the OpenTelemetry project's own generated classes
(``opentelemetry-proto``); JSON bodies follow OTLP's JSON mapping (hex trace and span ids,
lowerCamelCase keys, 64-bit integers as strings). Both become the same dictionaries.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from passline.errors import InvalidInput, MissingExtra

__all__ = ["MAX_SPANS", "parse_otlp"]

MAX_SPANS = 50_000
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {0: "ok", 1: "ok", 2: "error"}


def parse_otlp(body: bytes, content_type: str) -> list[dict[str, Any]]:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("application/x-protobuf", "application/protobuf"):
        return _checked(_spans_from_protobuf(_from_protobuf(body)))
    if kind == "application/json":
        try:
            payload = json.loads(body or b"{}")
        except ValueError as exc:
            raise InvalidInput(f"The OTLP body is not JSON: {exc}.") from None
    else:
        raise InvalidInput(
            f"Send OTLP traces as application/x-protobuf or application/json, not {kind!r}."
        )
    if not isinstance(payload, dict):
        raise InvalidInput("An OTLP trace request is a JSON object with resourceSpans.")
    return _checked(
        [span for resource in payload.get("resourceSpans") or [] for span in _resource(resource)]
    )


def _checked(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(spans) > MAX_SPANS:
        raise InvalidInput(f"Send at most {MAX_SPANS:,} spans per request. Got {len(spans):,}.")
    return spans


def _from_protobuf(body: bytes) -> Any:
    try:
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )
    except ModuleNotFoundError:
        raise MissingExtra.for_extra("llm", "Receiving OTLP protobuf traces") from None
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise InvalidInput(f"The OTLP body is not an ExportTraceServiceRequest: {exc}.") from None
    return request


def _spans_from_protobuf(request: Any) -> list[dict[str, Any]]:
    """The same dictionaries as the JSON path, read from the messages directly: going
    through ``MessageToDict`` first cost more than everything else in parsing."""
    out = []
    for resource in request.resource_spans:
        attributes = _proto_attributes(resource.resource.attributes)
        service = str(attributes.get("service.name") or "unknown")
        for scope in resource.scope_spans:
            for span in scope.spans:
                out.append(_span(_proto_span(span), service, attributes))
    return out


def _proto_span(span: Any) -> dict[str, Any]:
    """A protobuf span in the shape ``_span`` reads (ids as hex, attributes decoded)."""
    return {
        "traceId": span.trace_id.hex(),
        "spanId": span.span_id.hex(),
        "parentSpanId": span.parent_span_id.hex(),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano,
        "endTimeUnixNano": span.end_time_unix_nano,
        "status": {"code": span.status.code},
        "attributes": _proto_attributes(span.attributes),
        "events": [
            {
                "name": e.name,
                "timeUnixNano": e.time_unix_nano,
                "attributes": _proto_attributes(e.attributes),
            }
            for e in span.events
        ],
    }


def _proto_attributes(items: Any) -> Any:
    return _Decoded({kv.key: _proto_value(kv.value) for kv in items if kv.key})


def _proto_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _proto_value(kv.value) for kv in value.kvlist_value.values if kv.key}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


class _Decoded(dict):  # type: ignore[type-arg]
    """Attributes already decoded from protobuf: ``_attributes`` passes them through."""


def _resource(resource: dict[str, Any]) -> list[dict[str, Any]]:
    attributes = _attributes((resource.get("resource") or {}).get("attributes"))
    service = str(attributes.get("service.name") or "unknown")
    out = []
    for scope in resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []:
        for span in scope.get("spans") or []:
            out.append(_span(span, service, attributes))
    return out


def _span(span: dict[str, Any], service: str, resource: dict[str, Any]) -> dict[str, Any]:
    trace_id, span_id = _id(span.get("traceId"), 16), _id(span.get("spanId"), 8)
    if not trace_id or not span_id:
        raise InvalidInput("Every OTLP span needs a traceId (16 bytes) and a spanId (8 bytes).")
    parent = _id(span.get("parentSpanId"), 8) or None
    start, end = _time(span.get("startTimeUnixNano")), _time(span.get("endTimeUnixNano"))
    attributes = _attributes(span.get("attributes"))
    operation = attributes.get("gen_ai.operation.name")
    status = span.get("status") or {}
    code = status.get("code", 0)
    code = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}.get(code, code)
    return {
        "trace_id": trace_id,
        "id": span_id,
        "parent_id": parent,
        "name": str(span.get("name") or "span")[:200],
        "service": service,
        "kind": str(operation or _KINDS.get(_int(span.get("kind")), "internal"))[:32],
        "started_at": start,
        "ended_at": max(end, start),
        "duration_ms": max((end - start).total_seconds() * 1000, 0.0),
        "status": _STATUS.get(int(code), "ok"),
        "attributes": {
            **{
                f"resource.{k}": v
                for k, v in resource.items()
                if k in ("service.name", "service.version")
            },
            **attributes,
        },
        "events": [
            {
                "name": e.get("name", ""),
                "at": _time(e.get("timeUnixNano")).isoformat(),
                **_attributes(e.get("attributes")),
            }
            for e in span.get("events") or []
        ],
    }


def _id(value: Any, size: int) -> str:
    """Hex ids from OTLP/JSON, base64 ids from the protobuf mapping."""
    if not value:
        return ""
    text = str(value)
    if len(text) == size * 2 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a valid OTLP id.") from None
    if len(raw) != size:
        raise InvalidInput(f"{text!r} is not a {size}-byte OTLP id.")
    return raw.hex()


def _time(value: Any) -> datetime:
    nanos = _int(value)
    if nanos <= 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(nanos / 1e9, UTC)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _attributes(items: Any) -> dict[str, Any]:
    if isinstance(items, _Decoded):
        return dict(items)
    out: dict[str, Any] = {}
    for item in items or []:
        key = item.get("key")
        if key:
            out[str(key)] = _value(item.get("value") or {})
    return out


def _value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return _int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_value(v) for v in (value["arrayValue"].get("values") or [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values"))
    if "bytesValue" in value:
        return str(value["bytesValue"])
    return None
