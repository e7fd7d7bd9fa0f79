"""The golden corpus: OTLP requests in every dialect and edge case, for the two-path test."""
from __future__ import annotations

import os

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from ..support.otlp import END_NS, START_NS, kv, pb_request, pb_span

DAY = 86_400 * 10**9


def arr(*values: AnyValue) -> AnyValue:
    return AnyValue(array_value=ArrayValue(values=list(values)))


def kvl(**values: AnyValue) -> AnyValue:
    return AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in values.items()]))


def raw(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def span(attrs: dict | None = None, extra: list[KeyValue] = (), **kw) -> Span:
    sp = pb_span(attrs=attrs, **kw)
    sp.attributes.extend(extra)
    return sp


def chat(model: str = "gpt-4o", provider: str = "openai", **usage) -> dict:
    return {"gen_ai.operation.name": "chat", "gen_ai.system": provider, "gen_ai.request.model": model, **usage}


S, V = AnyValue(string_value="x"), AnyValue(int_value=7)

# (name, spans of one request; service name or None)
SPANS: list[tuple[str, list[Span]]] = [
    ("semconv chat", [span(chat(**{"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
                                     "gen_ai.response.model": "gpt-4o-2024-08-06"}))]),
    ("anthropic legacy net input + cache", [span({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-3-5-sonnet-20241022",
                                                   "gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5,
                                                   "gen_ai.usage.cache_read_input_tokens": 1000,
                                                   "gen_ai.usage.cache_creation_input_tokens": 200})]),
    ("gross smaller than cache", [span(chat(**{"gen_ai.usage.input_tokens": 50,
                                                "gen_ai.usage.cache_read.input_tokens": 80}))]),
    ("reasoning apart", [span(chat("gemini-2.5-pro", "gcp.gemini", **{"gen_ai.usage.input_tokens": 10,
                                                                        "gen_ai.usage.output_tokens": 3,
                                                                        "gen_ai.usage.reasoning.output_tokens": 40}))]),
    ("reasoning included", [span(chat("o3", **{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 50,
                                              "gen_ai.usage.reasoning_tokens": 40}))]),
    ("openinference", [span({"openinference.span.kind": "LLM", "llm.provider": "openai", "llm.model_name": "gpt-4o-mini",
                             "llm.token_count.prompt": 12, "llm.token_count.completion": 4, "llm.token_count.total": 16,
                             "session.id": "sess-1", "user.id": "u-1", "input.value": "hello", "output.value": "hi"})]),
    ("traceloop workflow", [span({"traceloop.span.kind": "workflow", "traceloop.entity.input": "{\"a\": 1}",
                                  "llm.usage.total_tokens": 9, "traceloop.association.properties.user_id": "u2"})]),
    ("vercel ai", [span({"ai.model.provider": "openai.chat", "ai.model.id": "gpt-4o", "ai.usage.promptTokens": 7,
                         "ai.usage.completionTokens": 3, "ai.telemetry.metadata.sessionId": "s3"})]),
    ("llm.request.type", [span({"llm.request.type": "embedding", "llm.request.model": "text-embedding-3-small",
                                "llm.usage.prompt_tokens": 30, "gen_ai.system": "OpenAI"})]),
    ("explicit span type", [span({"spanlens.span_type": "RETRIEVAL", "gen_ai.request.model": "x"})]),
    ("tool", [span({"gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": "{\"q\": 1}"})]),
    ("embedding.model_name", [span({"embedding.model_name": "bge-small"})]),
    ("model only", [span({"gen_ai.response.model": "  mistral-large  ", "gen_ai.provider.name": "mistral_ai"})]),
    ("unknown operation", [span({"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "gpt-4o"})]),
    ("extra operation", [span({"gen_ai.operation.name": "rerank", "gen_ai.request.model": "rerank-v3"})]),
    ("unknown model", [span(chat("my-finetune-xyz", "openai", **{"gen_ai.usage.input_tokens": 5,
                                                                   "gen_ai.usage.output_tokens": 5}))]),
    ("unknown provider", [span(chat("gpt-4o-mini", "acme", **{"gen_ai.usage.input_tokens": 1000,
                                                               "gen_ai.usage.output_tokens": 1000}))]),
    ("azure", [span(chat("gpt-4o", "az.ai.openai", **{"gen_ai.usage.input_tokens": 1000}))]),
    ("openrouter vendor/model", [span(chat("anthropic/claude-3.5-sonnet", "openrouter",
                                           **{"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10}))]),
    ("openrouter free", [span(chat("meta-llama/llama-3-8b:free", "openrouter",
                                   **{"gen_ai.usage.input_tokens": 100}))]),
    ("models/ prefix", [span(chat("models/gemini-1.5-flash", "google", **{"gen_ai.usage.input_tokens": 100,
                                                                        "gen_ai.usage.output_tokens": 10}))]),
    ("dated model prefix", [span(chat("gpt-4o-mini-2024-07-18", **{"gen_ai.usage.input_tokens": 1,
                                                                    "gen_ai.usage.output_tokens": 2}))]),
    ("service tier flex", [span(chat("o3", **{"gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100,
                                              "gen_ai.openai.response.service_tier": "flex"}))]),
    ("service tier batch gemini", [span(chat("gemini-2.5-flash", "gemini", **{"gen_ai.usage.input_tokens": 300,
                                                                             "gen_ai.request.service_tier": "BATCH"}))]),
    ("long context", [span(chat("gemini-2.5-pro", "gemini", **{"gen_ai.usage.input_tokens": 300_000,
                                                               "gen_ai.usage.output_tokens": 1000}))]),
    ("later price period", [span(chat(**{"gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20}),
                                 start=START_NS + 40 * DAY, end=START_NS + 40 * DAY + 5)]),
    ("reported cost", [span(chat(**{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": 0.0123}))]),
    ("reported cost text", [span(chat(**{"gen_ai.usage.input_tokens": 10, "llm.cost.total": "0.5"}))]),
    ("reported zero cost", [span(chat(**{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": 0}))]),
    ("garbage cost", [span(chat(**{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": "lots"}))]),
    ("negative cost", [span(chat(**{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": -1.5}))]),
    ("huge cost", [span(chat(**{"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cost": 5e9}))]),
    ("garbage tokens", [span(chat(**{"gen_ai.usage.input_tokens": "many", "gen_ai.usage.output_tokens": -3,
                                     "gen_ai.usage.total_tokens": 1.5}))]),
    ("token text and float", [span(chat(**{"gen_ai.usage.input_tokens": " 42 ", "gen_ai.usage.output_tokens": 7.0}))]),
    ("token bool", [span(chat(**{"gen_ai.usage.input_tokens": True, "llm.usage.prompt_tokens": 9}))]),
    ("tokens too large", [span(chat(**{"gen_ai.usage.input_tokens": 10**12, "gen_ai.usage.output_tokens": 1}))]),
    ("usage without model", [span({"gen_ai.usage.input_tokens": 5, "gen_ai.operation.name": "chat"})]),
    ("int model", [span({"gen_ai.request.model": 4, "gen_ai.operation.name": "chat", "user.id": 12})]),
    ("semconv messages", [span(chat(**{"gen_ai.input.messages": "[{\"role\": \"user\"}]",
                                       "gen_ai.output.messages": "[]"}))]),
    ("plain io", [span({"gen_ai.prompt": "Say hi sk-abcdefghijklmnopqrstuv", "gen_ai.completion": "hi"})]),
    ("plain empty", [span({"input.value": "", "traceloop.entity.input": "x", "output.value": False})]),
    ("status", [span({"a": 1}, name="failing")]),
    ("zero ids", [span(trace_id=bytes(16)), span(span_id=bytes(8)), span(trace_id=b"short"),
                  span(parent=b"abc"), span(parent=bytes(8))]),
    ("self parent", [span(span_id=b"12345678", parent=b"12345678")]),
    ("zero and huge times", [span(start=0, end=0), span(start=2**64 - 1, end=2**63), span(start=1, end=2**63 - 1)]),
    ("kinds", [span(kind=k) for k in (0, 1, 2, 3, 4, 5, 6, 99)]),
    ("scalars", [span(extra=[raw("s", AnyValue(string_value="")), raw("i", AnyValue(int_value=-2**63)),
                             raw("d", AnyValue(double_value=1e-7)), raw("nan", AnyValue(double_value=float("nan"))),
                             raw("inf", AnyValue(double_value=float("-inf"))), raw("b", AnyValue(bool_value=False)),
                             raw("bytes", AnyValue(bytes_value=b"\x00\xffab")), raw("none", AnyValue()),
                             raw("dup", S), raw("dup", V), raw("", S), raw("slash", AnyValue(string_value="a/b\u2028\"\\\x01é"))])]),
    ("arrays and maps", [span(extra=[raw("strs", arr(S, S)), raw("mixed", arr(S, V, AnyValue(double_value=2.5),
                                                                           AnyValue(bool_value=True), AnyValue(),
                                                                           AnyValue(string_value=""),
                                                                           AnyValue(bytes_value=b"\x01"))),
                                     raw("empty", arr()), raw("map", kvl(a=S, b=V, c=AnyValue(double_value=0.5))),
                                     raw("emptymap", kvl())])]),
    ("deep values", [span(extra=[raw("nested", arr(arr(S), kvl(k=arr(V))))])]),
    ("deep map", [span(extra=[raw("m", kvl(inner=kvl(x=S)))])]),
    ("long values", [span({"long": "é" * 300_000, "gen_ai.input.messages": "y" * 70_000},
                          extra=[raw("longarr", arr(*[AnyValue(string_value="z" * 1000)] * 300)),
                                 raw("k" * 300_000, S), raw("longbytes", AnyValue(bytes_value=b"\x01" * 200_000))])]),
    ("too many attributes", [span({f"a{i}": i for i in range(1100)})]),
    ("events", [span(chat(), events=[("gen_ai.content.prompt", {"gen_ai.prompt": "p"}), ("exception", {"x": 1.5})])]),
    ("plain events", [span({"a": "b"}, events=[("exception", {"exception.message": "boom", "n": 3}),
                                              ("log", {})])]),
    ("too many events", [span({}, events=[("e", {"i": i}) for i in range(300)])]),
    ("message events", [span(chat(), events=[("gen_ai.user.message", {"content": "hi"}),
                                             ("gen_ai.choice", {"message": "yo", "index": 0})])]),
    ("indexed prompt", [span({"gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "hi",
                              "gen_ai.completion.0.content": "yo", "gen_ai.request.model": "gpt-4o"})]),
    ("system instructions", [span(chat(**{"gen_ai.system_instructions": "be brief",
                                          "gen_ai.input.messages": "[{\"role\":\"user\"}]"}))]),
    ("api key in status", [span(chat())]),
    ("no attributes", [span({})]),
]


def typed_events_span() -> Span:
    """Event and link attributes of every shape (rendered as JSON text in events/links)."""
    sp = pb_span(attrs={"a": 1})
    values = [raw("arr", arr(S, V, AnyValue(double_value=1e21))), raw("map", kvl(k=S, n=AnyValue())),
              raw("b", AnyValue(bytes_value=b"\x10")), raw("d", AnyValue(double_value=float("nan"))),
              raw("t", AnyValue(bool_value=True)), raw("none", AnyValue()), raw("q", AnyValue(string_value='"\n/'))]
    sp.events.add(time_unix_nano=5, name="e\u2028", attributes=values)
    sp.events.add(time_unix_nano=2**64 - 1, name="", attributes=[raw("dup", S), raw("dup", V)])
    sp.links.add(trace_id=b"\x01\x02", span_id=b"", trace_state="x" * 1100, attributes=values)
    return sp


def links_span() -> Span:
    sp = pb_span(attrs={"a": 1})
    for i in range(130):
        sp.links.add(trace_id=os.urandom(16), span_id=os.urandom(8), trace_state="t=1" if i % 2 else "",
                     attributes=[kv("i", i)])
    return sp


def requests() -> list[tuple[str, bytes]]:
    """(case name, request body) for every case."""
    out = [(name, pb_request(spans)) for name, spans in SPANS]
    out.append(("links", pb_request([links_span()])))
    out.append(("typed event and link values", pb_request([typed_events_span()])))
    failing = pb_span(attrs={"gen_ai.request.model": "gpt-4o"})
    failing.status.CopyFrom(Status(code=2, message="key sk-proj-abcdefghijklmnop leaked" + "!" * 10))
    out.append(("error status", pb_request([failing, pb_span(name="odd status")])))
    odd = pb_span()
    odd.status.code = 7
    out.append(("status code out of range", pb_request([odd])))
    out.append(("empty resource", ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(scope_spans=[ScopeSpans(spans=[pb_span(attrs={"gen_ai.request.model": "gpt-4o"})])])]).SerializeToString()))
    out.append(("no spans", ExportTraceServiceRequest(resource_spans=[ResourceSpans()]).SerializeToString()))
    big = Resource(attributes=[kv(f"r{i}", "v" * 5000 if i == 3 else i) for i in range(140)] + [kv("service.name", 5)])
    scope = InstrumentationScope(name="s" * 2000, version="1.0")
    out.append(("big resource and scope", ExportTraceServiceRequest(resource_spans=[
        ResourceSpans(resource=big, scope_spans=[ScopeSpans(scope=scope, spans=[pb_span(), pb_span()])]),
        ResourceSpans(resource=Resource(attributes=[kv("service.name", "two")]),
                      scope_spans=[ScopeSpans(scope=InstrumentationScope(name="n", version="v" * 1500),
                                              spans=[pb_span(start=START_NS + 40 * DAY, end=END_NS)])]),
    ]).SerializeToString()))
    return out
