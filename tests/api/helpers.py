"""Building and sending gen_ai OTLP traces for the read API tests."""
from __future__ import annotations

import os

import httpx

from spanlens_pipeline.extensions.keystore import KeyStore

from ..support.otlp import pb_request, pb_span

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z


def new_key(rs, project: str, public: bool = False, organization: str | None = None) -> str:
    store = KeyStore(rs.keystore_path)
    try:
        return store.create_key(project, public=public, organization=organization)[0]
    finally:
        store.close()


def project_id(rs, project: str, organization: str | None = None) -> str:
    store = KeyStore(rs.keystore_path)
    try:
        return store.project(project, create=False, organization=organization)[1]
    finally:
        store.close()


def client(rs, key: str) -> httpx.Client:
    return rs.client(headers={"Authorization": f"Bearer {key}"})


def llm_trace(start: int, model: str = "gpt-4o-mini", user: str | None = None, session: str | None = None,
              name: str = "agent", error: bool = False, tokens: tuple[int, int] = (100, 20)) -> list:
    """An agent span with one llm child: (spans, trace_id hex)."""
    tid, root = os.urandom(16), os.urandom(8)
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": model,
             "gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]}
    if user:
        attrs["user.id"] = user
    if session:
        attrs["session.id"] = session
    if error:
        attrs["error.type"] = "timeout"
    spans = [pb_span(tid, root, name=name, start=start, end=start + 3_000_000_000),
             pb_span(tid, os.urandom(8), name="chat " + model, parent=root, attrs=attrs,
                     start=start + 1_000_000, end=start + 1_000_000 + 250_000_000 * (1 + len(model) % 3))]
    if error:
        spans[1].status.code = 2
    return spans, tid.hex()


def post(rs, key: str, spans: list) -> None:
    r = client(rs, key).post("/v1/traces", content=pb_request(spans),
                             headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200, r.text
