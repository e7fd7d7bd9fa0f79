"""One test per hardening defect: each failed before its fix."""
from __future__ import annotations

import gzip
import logging
import os
import socket
import time
import zlib

import orjson
import pytest
import zstandard
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spanlens_pipeline import body as body_mod
from spanlens_pipeline import http as http_mod
from tests.support.otlp import json_request, json_span, pb_request, pb_span

PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}


@pytest.fixture
def client(hostile_service, project):
    key = hostile_service.new_key(project)
    with hostile_service.client(headers={"authorization": f"Bearer {key}"}) as c:
        yield c


def _rows(store, trace_hex: str, cols: str = "name") -> list[dict]:
    return store.query(f"SELECT {cols} FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace_hex})


@pytest.fixture
def auth(hostile_service, project) -> bytes:
    return b"authorization: Bearer " + hostile_service.new_key(project).encode() + b"\r\n"


def _host_port(service) -> tuple[str, int]:
    host, port = service.url.removeprefix("http://").split(":")
    return host, int(port)


def _response(s: socket.socket) -> bytes:
    """One whole HTTP response from a raw socket (head and Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


# 1 -- decompression ------------------------------------------------------------------
def test_many_empty_gzip_members_are_refused_not_inflated(client, health_watch):
    r = client.post("/v1/traces", content=gzip.compress(b"") * 100_000,
                    headers={**PB, "content-encoding": "gzip"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/x-protobuf"


@pytest.mark.parametrize("encoding,pack", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda b: (lambda c: c.compress(b) + c.flush())(zlib.compressobj(wbits=-15))),
    ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
])
def test_every_content_encoding_is_read(client, store, encoding, pack):
    trace = os.urandom(16)
    r = client.post("/v1/traces", content=pack(pb_request([pb_span(trace, name=f"enc-{encoding}")])),
                    headers={**PB, "content-encoding": encoding})
    assert r.status_code == 200, r.content
    assert [row["name"] for row in _rows(store, trace.hex())] == [f"enc-{encoding}"]


def test_a_zstd_bomb_is_413(client):
    bomb = zstandard.ZstdCompressor().compress(b"\0" * (64 << 20))
    r = client.post("/v1/traces", content=bomb, headers={**JS, "content-encoding": "zstd"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


# 2 -- resource attributes are bounded before they are copied into every row -------------
def test_a_huge_resource_attribute_is_cut_once_and_flagged(client, store):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    trace = os.urandom(16)
    req = ExportTraceServiceRequest.FromString(pb_request([pb_span(trace) for _ in range(300)]))
    attrs = req.resource_spans[0].resource.attributes
    attrs.append(KeyValue(key="blob", value=AnyValue(string_value="x" * (1 << 20))))
    for i in range(500):
        attrs.append(KeyValue(key=f"k{i}", value=AnyValue(string_value="v")))
    r = client.post("/v1/traces", content=req.SerializeToString(), headers=PB)
    assert r.status_code == 200
    rows = _rows(store, trace.hex(), "length(resource_attributes['blob']) AS n, "
                                     "length(mapKeys(resource_attributes)) AS keys, flags")
    assert len(rows) == 300
    assert all(row["n"] <= 4096 for row in rows)
    assert all(row["keys"] <= 128 for row in rows)
    assert all({"resource_attribute_value_truncated", "resource_attributes_dropped"} <= set(row["flags"])
               for row in rows)


# 3 -- times ------------------------------------------------------------------------------
@pytest.mark.parametrize("ns", [1, 1999, 10**8, 10**9, 10**12, 10**15, 946_684_799_000_000_000])
def test_otlp_times_are_stored_exactly(client, store, ns):
    trace = os.urandom(16)
    r = client.post("/v1/traces", content=pb_request([pb_span(trace, start=ns, end=ns + 1)]), headers=PB)
    assert r.status_code == 200
    rows = _rows(store, trace.hex(), "toUnixTimestamp64Nano(start_time) AS s, toUnixTimestamp64Nano(end_time) AS e")
    assert rows == [{"s": ns, "e": ns + 1}]


@pytest.mark.parametrize("iso,ns", [("1999-12-31T23:59:59Z", 946_684_799_000_000_000),
                                    ("1970-01-01T00:00:01Z", 1_000_000_000)])
def test_ingest_old_dates_are_stored_exactly(client, store, iso, ns):
    trace = os.urandom(16).hex()
    r = client.post(f"/ingest/traces/{trace}/spans", json={"name": "old", "started_at": iso})
    assert r.status_code == 201, r.text
    assert _rows(store, trace, "toUnixTimestamp64Nano(start_time) AS s") == [{"s": ns}]


def test_ingest_dates_before_1970_are_400(client):
    r = client.post(f"/ingest/traces/{os.urandom(16).hex()}/spans",
                    json={"name": "old", "started_at": "1969-12-31T23:59:59Z"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "VALIDATION_FAILED"


# 6 -- nesting depth -------------------------------------------------------------------
def _nested(levels: int) -> dict:
    value: dict = {"stringValue": "leaf"}
    for _ in range(levels):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    return value


@pytest.mark.parametrize("levels", [70, 200, 300])
def test_deep_otlp_json_is_400_not_500(client, levels):
    doc = json_request([json_span(attributes=[{"key": "deep", "value": _nested(levels)}])])
    raw = orjson.dumps(doc) if levels * 4 < 250 else _dumps_deep(doc)
    r = client.post("/v1/traces", content=raw, headers=JS)
    assert r.status_code in (200, 400), r.text
    if levels * 4 > 128:
        assert r.json()["error"]["code"] == "MALFORMED_PAYLOAD"


def test_moderately_deep_attribute_values_are_flattened_and_stored(client, store):
    trace = os.urandom(16).hex()
    doc = json_request([json_span(trace_id=trace, attributes=[{"key": "deep", "value": _nested(25)}])])
    r = client.post("/v1/traces", content=orjson.dumps(doc), headers=JS)
    assert r.status_code == 200, r.text
    assert "attribute_value_too_deep" in _rows(store, trace, "flags")[0]["flags"]


def _dumps_deep(doc) -> bytes:
    """orjson refuses to write past 255 levels; build the text by hand."""
    import json
    import sys
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        return json.dumps(doc).encode()
    finally:
        sys.setrecursionlimit(old)


def test_deep_ingest_json_is_400_not_500(client):
    deep = "[" * 300 + "]" * 300
    raw = b'{"name": "n", "input": ' + deep.encode() + b"}"
    r = client.post(f"/ingest/traces/{os.urandom(16).hex()}/spans", content=raw, headers=JS)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "VALIDATION_FAILED"


# 8 -- HTTP edges -------------------------------------------------------------------------
def test_application_protobuf_is_an_alias(client, store):
    trace = os.urandom(16)
    r = client.post("/v1/traces", content=pb_request([pb_span(trace)]), headers={"content-type": "application/protobuf"})
    assert r.status_code == 200
    assert len(_rows(store, trace.hex())) == 1


def test_a_megabyte_header_is_431_with_the_envelope(hostile_service):
    with hostile_service.client() as c:
        r = c.get("/health", headers={"x-big": "a" * (1 << 20)})
    assert r.status_code == 431
    assert r.json()["error"]["code"] == "HEADERS_TOO_LARGE"


def test_a_broken_request_line_gets_the_json_envelope(hostile_service):
    with socket.create_connection(_host_port(hostile_service), timeout=5) as s:
        s.sendall(b"NOT A REQUEST\r\n\r\n")
        data = _response(s)
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert orjson.loads(payload)["error"]["code"] == "BAD_REQUEST"


def test_a_body_that_never_finishes_is_408(hostile_service, monkeypatch, auth):
    monkeypatch.setattr(body_mod, "BODY_TIMEOUT_S", 1.5)
    with socket.create_connection(_host_port(hostile_service), timeout=10) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + auth +
                  b"content-length: 1000\r\n\r\n{")
        data = _response(s)
    assert data.startswith(b"HTTP/1.1 408"), data[:200]
    assert b"REQUEST_TIMEOUT" in data


def test_headers_that_never_finish_are_cut_off(hostile_service, monkeypatch):
    monkeypatch.setattr(http_mod, "HEADER_TIMEOUT_S", 1.0)
    with socket.create_connection(_host_port(hostile_service), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nhost: x\r\n")
        data = _response(s)
        assert data.startswith(b"HTTP/1.1 408"), data[:200]
        assert s.recv(65536) == b""  # closed


def test_slow_client_one_byte_a_second_is_closed_and_others_are_served(hostile_service, monkeypatch, auth, health_watch):
    monkeypatch.setattr(body_mod, "BODY_TIMEOUT_S", 2.5)
    with socket.create_connection(_host_port(hostile_service), timeout=10) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + auth +
                  b"content-length: 100000\r\n\r\n")
        answer = b""
        for _ in range(8):
            try:
                s.sendall(b" ")
            except OSError:
                break
            s.settimeout(1.0)
            try:
                answer += s.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_client_that_hangs_up_mid_body_logs_no_traceback(hostile_service, caplog, auth):
    caplog.set_level(logging.INFO)
    with socket.create_connection(_host_port(hostile_service), timeout=5) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n" + auth +
                  b"content-length: 100000\r\n\r\n{\"resourceSpans\": [")
        time.sleep(0.3)
    time.sleep(0.5)
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    with hostile_service.client() as c:
        assert c.get("/health").status_code == 200
