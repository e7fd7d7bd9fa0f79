"""Bad input to /v1/traces: a clear 4xx (or partialSuccess for the bad spans only), never a 5xx,
the service keeps serving, and data accepted earlier stays intact."""
from __future__ import annotations

import gzip
import os
import zlib

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ..support.otlp import json_request, json_span, pb_request, pb_span

PB = {"content-type": "application/x-protobuf"}
JS = {"content-type": "application/json"}


@pytest.fixture
def client(service, project):
    key = service.new_key(project)
    with service.client(headers={"authorization": f"Bearer {key}"}) as c:
        # something good stored first, checked at the end of each test
        trace = os.urandom(16)
        r = c.post("/v1/traces", content=pb_request([pb_span(trace, name="good-before")]), headers=PB)
        assert r.status_code == 200
        c.good_trace = trace.hex()
        yield c
        assert c.get("/health").status_code == 200


def _count(store, trace_id: str) -> int:
    return store.query("SELECT count() AS n FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": trace_id})[0]["n"]


def _envelope(r, code: str) -> dict:
    body = r.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["requestId"] == r.headers["x-request-id"]
    return body["error"]


def test_malformed_protobuf_is_400_with_a_status_body(client, store):
    r = client.post("/v1/traces", content=b"\xff\xff\xff\xffnot a protobuf" * 10, headers=PB)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/x-protobuf"
    assert b"MALFORMED_PAYLOAD" in r.content
    assert _count(store, client.good_trace) == 1


def test_invalid_json_is_400_envelope(client, store):
    r = client.post("/v1/traces", content=b'{"resourceSpans": [', headers=JS)
    assert r.status_code == 400
    _envelope(r, "MALFORMED_PAYLOAD")
    r = client.post("/v1/traces", content=b'{"resourceSpans": "nope"}', headers=JS)
    assert r.status_code == 400
    assert _count(store, client.good_trace) == 1


def test_invalid_utf8_is_400(client):
    bad = b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"\xff\xfe"}]}]}]}'
    assert client.post("/v1/traces", content=bad, headers=JS).status_code == 400
    # a span name whose bytes are not UTF-8, inside an otherwise valid protobuf frame
    # (fixed ids, so the only "Z" byte in the body is the name)
    body = pb_request([pb_span(bytes(range(1, 17)), bytes(range(1, 9)), name="Z")], service="svc")
    assert body.count(b"Z") == 1
    body = body.replace(b"Z", b"\xff")
    assert client.post("/v1/traces", content=body, headers=PB).status_code == 400


def test_truncated_and_corrupt_gzip_are_400(client):
    good = gzip.compress(pb_request([pb_span()]))
    r = client.post("/v1/traces", content=good[: len(good) // 2], headers={**PB, "content-encoding": "gzip"})
    assert r.status_code == 400
    r = client.post("/v1/traces", content=b"this is not gzip at all", headers={**JS, "content-encoding": "gzip"})
    assert r.status_code == 400
    _envelope(r, "MALFORMED_PAYLOAD")


def test_gzip_bomb_is_413_without_inflating(client):
    # 64 MiB of zeros compresses to ~64 KiB; the limit (20 MiB) is checked while inflating.
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(comp.compress(bytes(1024 * 1024)) for _ in range(64)) + comp.flush()
    assert len(bomb) < 200_000
    r = client.post("/v1/traces", content=bomb, headers={**PB, "content-encoding": "gzip"})
    assert r.status_code == 413
    assert b"PAYLOAD_TOO_LARGE" in r.content


def test_oversized_plain_body_is_413(client):
    r = client.post("/v1/traces", content=b"{" + b" " * (21 * 1024 * 1024) + b"}", headers=JS)
    assert r.status_code == 413
    _envelope(r, "PAYLOAD_TOO_LARGE")


def test_unknown_content_type_and_encoding(client):
    r = client.post("/v1/traces", content=b"x", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    _envelope(r, "UNSUPPORTED_MEDIA_TYPE")
    r = client.post("/v1/traces", content=b"x", headers={**JS, "content-encoding": "br"})
    assert r.status_code == 415


def test_wrong_method_and_path(client):
    assert client.get("/v1/traces").status_code == 405
    r = client.post("/v1/nothing", content=b"{}", headers=JS)
    assert r.status_code == 404
    _envelope(r, "NOT_FOUND")


def test_bad_ids_are_rejected_alone_json(client, store):
    good = json_span(name="ok")
    spans = [good, json_span(trace_id="abc"), json_span(span_id="1234"), json_span(trace_id="0" * 32),
             {"name": "no ids"}, json_span(parentSpanId="xyz"), json_span(startTimeUnixNano={"x": 1}), "not a span"]
    r = client.post("/v1/traces", content=orjson.dumps(json_request(spans)), headers=JS)
    assert r.status_code == 200
    partial = r.json()["partialSuccess"]
    assert partial["rejectedSpans"] == 7
    assert partial["errorMessage"]
    assert _count(store, good["traceId"]) == 1


def test_bad_ids_are_rejected_alone_protobuf(client, store):
    trace = os.urandom(16)
    spans = [pb_span(trace, name="ok"), pb_span(os.urandom(15)), pb_span(span_id=os.urandom(9)),
             pb_span(parent=os.urandom(3)), pb_span(trace_id=b"")]
    r = client.post("/v1/traces", content=pb_request(spans), headers=PB)
    assert r.status_code == 200
    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 4
    assert "invalid" in resp.partial_success.error_message
    assert _count(store, trace.hex()) == 1


def test_wrong_types_inside_a_span_do_not_500(client, store):
    trace = os.urandom(16).hex()
    weird = json_span(trace_id=trace, name=12345, attributes=[
        {"key": 5}, {"key": "a", "value": {"intValue": "x"}},
        {"key": "big", "value": {"intValue": "99999999999999999999"}}, {"key": "n", "value": None},
        {"key": "arr", "value": {"arrayValue": {"values": "nope"}}}], status={"code": "2"},
        events="x", links=[{"traceId": 5}])
    enum_as_name = json_span(kind="SPAN_KIND_SERVER")  # OTLP/JSON enums must be integers
    r = client.post("/v1/traces", content=orjson.dumps(json_request([weird, enum_as_name])), headers=JS)
    assert r.status_code == 200, r.text
    assert r.json()["partialSuccess"]["rejectedSpans"] == 1
    row = store.query("SELECT name, status_code, attributes FROM spanlens.spans FINAL WHERE trace_id=%(t)s",
                      {"t": trace})[0]
    assert row["name"] == "" and row["status_code"] == "error"
    assert row["attributes"]["big"] == "99999999999999999999"


def test_out_of_range_times_are_flagged_not_fatal(client, store):
    trace = os.urandom(16)
    r = client.post("/v1/traces", content=pb_request([pb_span(trace, start=2**64 - 1, end=2**63 + 5)]), headers=PB)
    assert r.status_code == 200
    row = store.query("SELECT start_time, flags FROM spanlens.spans FINAL WHERE trace_id=%(t)s", {"t": trace.hex()})[0]
    assert row["start_time"] is None and "invalid_timestamp" in row["flags"]


def test_ten_thousand_attributes_are_cut_and_flagged(client, store):
    trace = os.urandom(16)
    attrs = {f"k{i}": i for i in range(10_000)}
    r = client.post("/v1/traces", content=pb_request([pb_span(trace, attrs=attrs)]), headers=PB)
    assert r.status_code == 200
    row = store.query("SELECT length(attributes) AS n, flags FROM spanlens.spans FINAL WHERE trace_id=%(t)s",
                      {"t": trace.hex()})[0]
    assert row["n"] == 1024
    assert "attributes_dropped" in row["flags"]


def test_multi_megabyte_value_is_cut_and_flagged(client, store):
    trace = os.urandom(16).hex()
    big = "x" * (5 * 1024 * 1024)
    span = json_span(trace_id=trace, attributes=[{"key": "gen_ai.input.messages", "value": {"stringValue": big}}])
    r = client.post("/v1/traces", content=gzip.compress(orjson.dumps(json_request([span]))),
                    headers={**JS, "content-encoding": "gzip"})
    assert r.status_code == 200
    row = store.query("SELECT length(attributes['gen_ai.input.messages']) AS n, flags FROM spanlens.spans FINAL "
                      "WHERE trace_id=%(t)s", {"t": trace})[0]
    assert row["n"] == 256 * 1024
    assert "attribute_value_truncated" in row["flags"]


def test_empty_bodies_are_success(client):
    r = client.post("/v1/traces", content=b"", headers=PB)
    assert r.status_code == 200 and ExportTraceServiceResponse.FromString(r.content).partial_success.rejected_spans == 0
    r = client.post("/v1/traces", content=b"{}", headers=JS)
    assert r.status_code == 200 and r.json() == {}
