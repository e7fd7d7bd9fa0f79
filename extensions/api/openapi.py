"""The OpenAPI 3.1 description of the read API, served at ``/openapi.json``."""
from __future__ import annotations

from typing import Any


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "string"}}


def _obj(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


S, I, N, B = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
NS = {"type": ["string", "null"]}
NI = {"type": ["integer", "null"]}
NN = {"type": ["number", "null"]}
MONEY = {"type": ["string", "null"], "description": "USD as a decimal string; null when unknown"}
TIME = {"type": ["string", "null"], "format": "date-time"}

SINCE = _q("since", "ISO 8601 time or a relative age (7d, 24h, 30m): rows at or after it")
UNTIL = _q("until", "ISO 8601 time or a relative age: rows before it")
LIMIT = _q("limit", "page size (default 50)", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50})
CURSOR = _q("cursor", "next_cursor of the previous page")
COMMON = [_q("model", "model name (exact)"), _q("provider", "provider name (exact)"), _q("user_id", "end user id"),
          _q("session_id", "session id")]


def _page(item: str) -> dict[str, Any]:
    return _obj({"data": {"type": "array", "items": _ref(item)}, "next_cursor": NS})


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}},
            "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}


TRACE_ROW = _obj({
    "id": S, "project_id": S, "name": NS, "started_at": TIME, "ended_at": TIME, "duration_ms": NN,
    "span_count": I, "error_count": I, "input_tokens": I, "output_tokens": I, "total_tokens": I,
    "total_cost_usd": MONEY, "status": {"type": "string", "enum": ["completed", "error", "running"]},
    "user_id": NS, "session_id": NS, "models": {"type": "array", "items": S}})
REQUEST_ROW = _obj({
    "id": S, "project_id": S, "created_at": TIME, "provider": S, "model": S, "method": S, "path": S,
    "status_code": I, "streamed": B, "prompt_tokens": NI, "completion_tokens": NI, "total_tokens": NI,
    "cache_read_tokens": NI, "cache_write_tokens": NI, "reasoning_tokens": NI, "cost_usd": MONEY,
    "latency_ms": N, "proxy_overhead_ms": N, "duration_ms": N, "truncated": B, "error_message": NS,
    "trace_id": NS, "span_id": NS, "parent_span_id": NS, "user_id": NS, "session_id": NS,
    "flags": {"type": "array", "items": S}})
REQUEST_DETAIL = {"allOf": [_ref("Request"), _obj({"api_key_id": S, "provider_key_id": NS, "service_tier": S,
                                                   "request_body": S, "response_body": S})]}
SESSION_ROW = _obj({"session_id": S, "user_id": NS, "first_seen": TIME, "last_seen": TIME, "trace_count": I,
                    "input_tokens": I, "output_tokens": I, "total_tokens": I, "total_cost_usd": MONEY})
STATS_ROW = _obj({"key": S, "day": S, "hour": S, "model": S, "provider": S, "project": S, "user": S, "session": S,
                  "keys": {"type": "object", "additionalProperties": S}, "calls": I, "input_tokens": I,
                  "output_tokens": I, "cache_read_tokens": I,
                  "cache_write_tokens": I, "reasoning_tokens": I, "total_tokens": I, "cost_usd": MONEY,
                  "errors": I, "p50_latency_ms": N, "p95_latency_ms": N})
ERROR = _obj({"error": _obj({"code": S, "message": S, "details": {"type": ["object", "null"]}, "requestId": S})})

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Spanlens Pipeline read API", "version": "1",
             "description": "Read-only. A full key reads its project; a public key reads its organization's "
                            "projects. Ids of other tenants answer 404 like unknown ids."},
    "servers": [{"url": "/"}],
    "security": [{"bearer": []}, {"apiKey": []}],
    "paths": {
        "/api/v1/traces": {"get": {
            "summary": "Traces, newest first (keyset pagination)", "operationId": "listTraces",
            "parameters": [SINCE, UNTIL,
                           _q("status", "trace status", {"type": "string", "enum": ["ok", "error", "running"]}),
                           _q("name", "substring of the trace name, any case"), *COMMON,
                           _q("min_cost", "least total cost in USD"), LIMIT, CURSOR],
            "responses": _ok(_page("Trace"))}},
        "/api/v1/traces/{id}": {"get": {
            "summary": "One trace with its spans as a tree", "operationId": "getTrace",
            "parameters": [_path("id", "trace id: UUID or 32 hex digits")],
            "responses": {**_ok(_obj({"success": B, "data": {"type": "object"}})),
                          "404": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/requests": {"get": {
            "summary": "Proxied calls (the request log), newest first", "operationId": "listRequests",
            "parameters": [SINCE, UNTIL, _q("status", "ok (< 400) or error (>= 400)",
                                            {"type": "string", "enum": ["ok", "error"]}),
                           *COMMON, _q("min_cost", "least cost in USD"), LIMIT, CURSOR],
            "responses": _ok(_page("Request"))}},
        "/api/v1/requests/{id}": {"get": {
            "summary": "One proxied call with its bodies and its trace/span link", "operationId": "getRequest",
            "parameters": [_path("id", "the call's X-Request-Id")],
            "responses": {**_ok(_obj({"success": B, "data": _ref("RequestDetail")})),
                          "404": {"$ref": "#/components/responses/Error"}}}},
        "/api/v1/sessions": {"get": {
            "summary": "Sessions, most recently active first", "operationId": "listSessions",
            "parameters": [SINCE, UNTIL, _q("user_id", "end user id"), LIMIT, CURSOR],
            "responses": _ok(_page("Session"))}},
        "/api/v1/stats": {"get": {
            "summary": "Model-call usage grouped by one key", "operationId": "stats",
            "parameters": [_q("group_by", "grouping key (model, provider, project, user, session, day, hour), "
                                          "or two separated by a comma (day,model)",
                              {"type": "string", "default": "model"}),
                           SINCE, UNTIL, *COMMON],
            "responses": _ok(_obj({"data": {"type": "array", "items": _ref("Stats")}}))}},
        "/api/v1/openapi.json": {"get": {"summary": "This document", "operationId": "openapi", "security": [],
                                         "responses": {"200": {"description": "OpenAPI document"}}}},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}},
        "schemas": {"Trace": TRACE_ROW, "Request": REQUEST_ROW, "RequestDetail": REQUEST_DETAIL,
                    "Session": SESSION_ROW, "Stats": STATS_ROW, "Error": ERROR},
        "responses": {"Error": {"description": "Error envelope",
                                "content": {"application/json": {"schema": _ref("Error")}}}},
    },
}
