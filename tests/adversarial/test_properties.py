"""Property tests: random OTLP (protobuf and JSON), random bytes, random compression and random
ingest bodies against every route. No answer is a 5xx except a retryable 503; /health answers
within a second throughout (see ``health_watch``); memory stays bounded; data acknowledged
before the attack is intact afterwards."""
from __future__ import annotations

import gzip
import json
import os
import zlib

import httpx
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from spanlens_pipeline.processors.memory_limiter import rss_bytes
from tests.support.otlp import pb_request, pb_span

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
ROUTES = ["/v1/traces", "/ingest/traces", "/ingest/traces/{id}/spans", "/ingest/spans/{id}",
          "/proxy/openai/v1/chat/completions"]
MEMORY_BOUND = 1536 << 20  # the whole test process (service included)

text = st.text(max_size=40)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
i64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def any_values(depth: int = 3):
    scalars = st.one_of(text.map(lambda s: AnyValue(string_value=s)), i64.map(lambda n: AnyValue(int_value=n)),
                        st.floats().map(lambda f: AnyValue(double_value=f)),
                        st.booleans().map(lambda b: AnyValue(bool_value=b)),
                        st.binary(max_size=20).map(lambda b: AnyValue(bytes_value=b)))
    if depth == 0:
        return scalars
    inner = any_values(depth - 1)
    return st.one_of(scalars,
                     st.lists(inner, max_size=3).map(lambda v: AnyValue(array_value=ArrayValue(values=v))),
                     st.lists(st.tuples(text, inner), max_size=3).map(
                         lambda kvs: AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs]))))


key_values = st.lists(st.tuples(text, any_values()).map(lambda t: KeyValue(key=t[0], value=t[1])), max_size=5)
spans = st.builds(Span, trace_id=st.one_of(st.binary(min_size=16, max_size=16), st.binary(max_size=20)),
                  span_id=st.one_of(st.binary(min_size=8, max_size=8), st.binary(max_size=10)),
                  parent_span_id=st.binary(max_size=9), name=text, kind=st.integers(0, 10),
                  start_time_unix_nano=u64, end_time_unix_nano=u64, attributes=key_values)
requests = st.lists(st.builds(lambda attrs, sp: ResourceSpans(resource=Resource(attributes=attrs),
                                                              scope_spans=[ScopeSpans(spans=sp)]),
                              key_values, st.lists(spans, max_size=4)), max_size=3).map(
    lambda rs: ExportTraceServiceRequest(resource_spans=rs))

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
                           lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
                           max_leaves=20)
encodings = st.sampled_from(["identity", "gzip", "deflate", "zstd", "br"])


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(body)
    return body


@pytest.fixture(scope="module")
def attacked(hostile_service):
    """A client with a key, and one trace stored before any attack (checked afterwards)."""
    key = hostile_service.new_key("adversarial-props")
    with hostile_service.client(headers={"authorization": f"Bearer {key}"}) as c:
        trace = os.urandom(16)
        r = c.post("/v1/traces", content=pb_request([pb_span(trace, name="before-attack")]),
                   headers={"content-type": "application/x-protobuf"})
        assert r.status_code == 200
        c.before = trace.hex()
        yield c


def _ok(r: httpx.Response) -> None:
    if r.status_code == 503:
        assert "retry-after" in r.headers, r.content
        return
    assert r.status_code < 500, (r.status_code, r.content[:300])


@pytest.fixture(autouse=True)
def _after(attacked, store, health_watch):
    yield
    assert rss_bytes() < MEMORY_BOUND
    rows = store.query("SELECT name FROM spanlens.spans FINAL WHERE trace_id = %(t)s", {"t": attacked.before})
    assert [r["name"] for r in rows] == ["before-attack"]


@SETTINGS
@given(req=requests, encoding=encodings)
def test_random_otlp_protobuf(attacked, req, encoding):
    body = compress(req.SerializeToString(), encoding)
    _ok(attacked.post("/v1/traces", content=body, headers={"content-type": "application/x-protobuf",
                                                          "content-encoding": encoding}))


@SETTINGS
@given(req=requests, encoding=encodings)
def test_random_otlp_json(attacked, req, encoding):
    from google.protobuf.json_format import MessageToJson
    body = compress(MessageToJson(req).encode(), encoding)
    _ok(attacked.post("/v1/traces", content=body, headers={"content-type": "application/json",
                                                          "content-encoding": encoding}))


@SETTINGS
@given(raw=st.binary(max_size=2000), route=st.sampled_from(ROUTES),
       media=st.sampled_from(["application/json", "application/x-protobuf", "application/protobuf", "text/plain"]),
       encoding=encodings, compressed=st.booleans())
def test_random_bytes_on_every_route(attacked, raw, route, media, encoding, compressed):
    body = compress(raw, encoding) if compressed else raw
    _ok(attacked.post(route.format(id=os.urandom(16).hex()), content=body,
                      headers={"content-type": media, "content-encoding": encoding}))


@SETTINGS
@given(doc=st.dictionaries(st.sampled_from(["name", "id", "started_at", "ended_at", "status", "input", "output",
                                            "metadata", "parent_span_id", "prompt_tokens", "cost_usd",
                                            "span_type", "request_id", "error_message", "messages", "model"]),
                           json_values, max_size=8),
       route=st.sampled_from(ROUTES), method=st.sampled_from(["POST", "PATCH"]), encoding=encodings)
def test_random_json_bodies_on_every_route(attacked, doc, route, method, encoding):
    body = compress(json.dumps(doc).encode(), encoding)  # big integers included
    _ok(attacked.request(method, route.format(id=os.urandom(16).hex()), content=body,
                         headers={"content-type": "application/json", "content-encoding": encoding}))


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=4000), cut=st.integers(0, 4000), encoding=st.sampled_from(["gzip", "deflate", "zstd"]))
def test_truncated_and_corrupt_compression(attacked, data, cut, encoding):
    body = compress(data, encoding)
    body = body[: cut % (len(body) + 1)]
    _ok(attacked.post("/v1/traces", content=body, headers={"content-type": "application/json",
                                                          "content-encoding": encoding}))
