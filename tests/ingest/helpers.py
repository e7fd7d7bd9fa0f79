"""Small helpers shared by the ingest tests."""
from __future__ import annotations

import uuid

import httpx

from spanlens_pipeline.extensions.keystore import KeyStore


def client(rs, key: str) -> httpx.Client:
    return rs.client(headers={"Authorization": f"Bearer {key}"})


def project_id(rs, name: str) -> str:
    store = KeyStore(rs.keystore_path)
    try:
        return store.project(name, create=False)[1]
    finally:
        store.close()


def get_trace(http: httpx.Client, trace_id: str) -> dict:
    r = http.get(f"/api/v1/traces/{trace_id}")
    assert r.status_code == 200, r.text
    return r.json()["data"]


def flatten(trace: dict) -> dict[str, dict]:
    """Every span of a trace tree by id, with ``tree_parent``: the node it is nested under."""
    out: dict[str, dict] = {}
    stack = [(node, None) for node in trace["spans"]]
    while stack:
        node, parent = stack.pop()
        assert node["id"] not in out, "a span appears twice in the tree"
        out[node["id"]] = {**node, "tree_parent": parent}
        stack.extend((child, node["id"]) for child in node["children"])
    return out


def hex_id(value: str) -> str:
    return uuid.UUID(value).hex
