"""The genai normaliser on hand-made records: receivers' columns survive, the token rule per dialect."""
from __future__ import annotations

import orjson

from spanlens_pipeline.model import SOURCE_INGEST, SOURCE_OTLP, SOURCE_PROXY, SpanRecord
from spanlens_pipeline.processors.genai.normalise import normalise


def _otlp(**attrs) -> SpanRecord:
    return SpanRecord(trace_id="ab" * 16, span_id="01" * 8, source=SOURCE_OTLP, span_type="custom", attributes=attrs)


def test_proxy_and_ingest_records_keep_what_their_receiver_set():
    proxy = SpanRecord(trace_id="ab" * 16, span_id="01" * 8, source=SOURCE_PROXY, span_type="llm", provider="openai",
                       operation="chat", response_model="gpt-4o", input_tokens=1200, output_tokens=300,
                       cache_read_tokens=1000, input="{}", attributes={"gen_ai.response.service_tier": "flex",
                                                                      "http.request.method": "POST"})
    normalise(proxy)
    assert (proxy.span_type, proxy.provider, proxy.response_model, proxy.input_tokens, proxy.cache_read_tokens,
            proxy.input) == ("llm", "openai", "gpt-4o", 1200, 1000, "{}")
    end = SpanRecord(trace_id="ab" * 16, span_id="02" * 8, source=SOURCE_INGEST, output="done")
    normalise(end)
    assert end.span_type is None and end.operation is None and end.output == "done"
    created = SpanRecord(trace_id="ab" * 16, span_id="03" * 8, source=SOURCE_INGEST, span_type="tool",
                         attributes={"model": "gpt-4o"})
    normalise(created)
    assert created.span_type == "tool"


def test_legacy_anthropic_input_gets_its_cache_added_even_without_a_provider():
    s = _otlp(**{"gen_ai.response.model": "claude-3-5-haiku-20241022", "gen_ai.usage.prompt_tokens": 50,
                 "gen_ai.usage.cache_read_input_tokens": 2000, "gen_ai.usage.cache_creation_input_tokens": 300,
                 "gen_ai.usage.completion_tokens": 80})
    normalise(s)
    assert (s.input_tokens, s.output_tokens, s.total_tokens) == (2350, 80, 2430)


def test_an_input_smaller_than_its_cache_cannot_be_gross():
    s = _otlp(**{"gen_ai.usage.input_tokens": 50, "gen_ai.usage.cache_read.input_tokens": 2000,
                 "gen_ai.usage.output_tokens": 1})
    normalise(s)
    assert s.input_tokens == 2050


def test_openai_legacy_input_already_includes_its_cache():
    s = _otlp(**{"gen_ai.system": "openai", "gen_ai.usage.prompt_tokens": 1200,
                 "gen_ai.usage.cache_read_input_tokens": 1000, "gen_ai.usage.completion_tokens": 300})
    normalise(s)
    assert (s.input_tokens, s.cache_read_tokens) == (1200, 1000)


def test_reasoning_reported_apart_from_output_is_added():
    s = _otlp(**{"gen_ai.system": "gcp.gemini", "gen_ai.usage.output_tokens": 20,
                 "gen_ai.usage.reasoning.output_tokens": 50, "gen_ai.usage.input_tokens": 10})
    normalise(s)
    assert (s.provider, s.output_tokens, s.reasoning_tokens, s.total_tokens) == ("gemini", 70, 50, 80)


def test_invalid_first_name_falls_back_to_the_next_and_flags():
    s = _otlp(**{"gen_ai.usage.input_tokens": "n/a", "gen_ai.usage.prompt_tokens": 40})
    normalise(s)
    assert s.input_tokens == 40 and s.flags == ["invalid_usage"]


def test_indexed_messages_with_tool_calls_nest():
    s = _otlp(**{"gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.tool_calls.0.name": "lookup",
                 "gen_ai.completion.0.tool_calls.0.arguments": "{}", "gen_ai.completion.1.role": "assistant",
                 "gen_ai.completion.1.content": "x", "gen_ai.completion.10.content": "last"})
    normalise(s)
    out = orjson.loads(s.output)
    assert out[0] == {"role": "assistant", "tool_calls": [{"name": "lookup", "arguments": "{}"}]}
    assert out[-1] == {"content": "last"} and len(out) == 3
