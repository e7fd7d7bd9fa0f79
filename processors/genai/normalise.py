"""One span's gen_ai attributes, whatever their dialect, onto the typed columns.

The attribute names read for each column, in order, are the tables below (documented in
``README.md``). A column a receiver already set is never overwritten or cleared; the span's
``attributes`` are never changed.

Token rule: ``input_tokens`` is gross (includes cache reads and cache writes) and
``output_tokens`` includes reasoning tokens, as the OpenTelemetry gen_ai conventions define.
See ``gross_input`` for how net dialects are brought onto that rule.
"""
from __future__ import annotations

from typing import Any

from spanlens_pipeline.amounts import token_count
from spanlens_pipeline.model import SOURCE_OTLP, SPAN_TYPES, SpanRecord
from spanlens_pipeline.semconv import OPERATION_SPAN_TYPE

from .messages import MESSAGE_KEYS, extract
from .providers import canonical_provider

FLAG_INVALID_USAGE = "invalid_usage"

PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "ai.model.provider")
REQUEST_MODEL_KEYS = ("gen_ai.request.model", "llm.request.model", "ai.model.id", "model", "embedding.model_name")
# OpenInference's llm.model_name is the model that answered (its request model hides in a JSON blob).
RESPONSE_MODEL_KEYS = ("gen_ai.response.model", "llm.response.model", "ai.response.model", "llm.model_name")

# Input-token names whose count follows the provider's own API (net of cache for Anthropic).
# The others (current semconv, OpenInference, Vercel AI) are defined as gross.
LEGACY_INPUT_KEYS = ("gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens", "llm.usage.input_tokens")
INPUT_KEYS = ("gen_ai.usage.input_tokens", "llm.token_count.prompt", "ai.usage.inputTokens",
              "ai.usage.promptTokens", *LEGACY_INPUT_KEYS)
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "llm.token_count.completion", "ai.usage.outputTokens",
               "ai.usage.completionTokens", "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens",
               "llm.usage.output_tokens")
TOTAL_KEYS = ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total", "ai.usage.totalTokens")
CACHE_READ_KEYS = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                   "llm.token_count.prompt_details.cache_read", "llm.usage.cache_read_input_tokens",
                   "ai.usage.cachedInputTokens")
CACHE_WRITE_KEYS = ("gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens",
                    "llm.token_count.prompt_details.cache_write", "llm.usage.cache_creation_input_tokens")
REASONING_KEYS = ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning",
                  "gen_ai.usage.reasoning_tokens", "llm.usage.reasoning_tokens", "ai.usage.reasoningTokens")

SESSION_KEYS = ("gen_ai.conversation.id", "session.id", "traceloop.association.properties.session_id",
                "langfuse.session.id", "ai.telemetry.metadata.sessionId")
USER_KEYS = ("user.id", "enduser.id", "traceloop.association.properties.user_id", "langfuse.user.id",
             "ai.telemetry.metadata.userId")

SPAN_TYPE_KEY = "spanlens.span_type"
# Span-kind attributes → (span_type, operation).
OPENINFERENCE_KINDS = {
    "LLM": ("llm", "chat"), "EMBEDDING": ("embedding", "embeddings"), "RETRIEVER": ("retrieval", "retrieval"),
    "RERANKER": ("retrieval", "rerank"), "TOOL": ("tool", "execute_tool"), "AGENT": ("custom", "invoke_agent"),
    "CHAIN": ("custom", "chain"), "GUARDRAIL": ("custom", "guardrail"), "EVALUATOR": ("custom", "evaluate"),
    "PROMPT": ("custom", "prompt"),
}
TRACELOOP_KINDS = {"workflow": ("custom", "invoke_workflow"), "task": ("custom", "task"),
                   "agent": ("custom", "invoke_agent"), "tool": ("tool", "execute_tool")}
REQUEST_TYPES = {"chat": ("llm", "chat"), "completion": ("llm", "text_completion"),
                 "embedding": ("embedding", "embeddings"), "rerank": ("retrieval", "rerank")}
# gen_ai.operation.name values beyond the receiver's seed table (which maps the rest to custom).
EXTRA_OPERATIONS = {"completion": "llm", "generate": "llm", "embedding": "embedding", "rerank": "retrieval"}
TOOL_KEYS = ("gen_ai.tool.name", "gen_ai.tool.call.id", "gen_ai.tool.call.arguments", "tool.name")

# Field → attribute names, most preferred first ("tool" and "messages" only say "present").
FIELD_KEYS = {
    "provider": PROVIDER_KEYS, "request_model": REQUEST_MODEL_KEYS, "response_model": RESPONSE_MODEL_KEYS,
    "session_id": SESSION_KEYS, "user_id": USER_KEYS,
    "input_tokens": INPUT_KEYS, "output_tokens": OUTPUT_KEYS, "total_tokens": TOTAL_KEYS,
    "cache_read_tokens": CACHE_READ_KEYS, "cache_write_tokens": CACHE_WRITE_KEYS, "reasoning_tokens": REASONING_KEYS,
    "tool": TOOL_KEYS, "messages": MESSAGE_KEYS,
}
_RANKS: dict[str, tuple[tuple[str, int], ...]] = {}
for _field, _keys in FIELD_KEYS.items():
    for _rank, _key in enumerate(_keys):
        _RANKS[_key] = _RANKS.get(_key, ()) + ((_field, _rank),)
_KNOWN = frozenset(_RANKS)
# Sources whose span_type is a guess to refine. The native ingest API and the proxy give the type
# explicitly (a partial "end span" record has none, and must not get one: it would overwrite).
_GUESSED_TYPE_SOURCES = (SOURCE_OTLP, None)
_TEXT_FIELDS = ("request_model", "response_model", "session_id", "user_id")
_USAGE_FIELDS = frozenset({"input_tokens", "output_tokens", "total_tokens", "cache_read_tokens",
                           "cache_write_tokens", "reasoning_tokens"})


def _first_str(attrs: dict[str, Any], keys: list[str]) -> str | None:
    for key in keys:
        value = attrs[key]
        if isinstance(value, str):
            value = value.strip()
            if value:
                return value
        elif isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _tokens(attrs: dict[str, Any], keys: list[str] | None, span: SpanRecord) -> tuple[int | None, str | None]:
    """The first valid count among ``keys`` and the key it came from; invalid values flag the span."""
    for key in keys or ():
        value = attrs[key]
        if value is None:
            continue
        n = token_count(value)
        if n is None:
            span.flag(FLAG_INVALID_USAGE)
            continue
        return n, key
    return None, None


def gross_input(n: int, key: str | None, provider: str | None, model: str | None,
                cache_read: int | None, cache_write: int | None) -> int:
    """``n`` input tokens as a gross count.

    Legacy names (``gen_ai.usage.prompt_tokens``, ``llm.usage.*``) copy the provider's own
    usage field, which for Anthropic excludes cached tokens: those get cache read and cache
    write added. Any count smaller than its own cache parts cannot be gross and is treated
    the same way. Every other count is gross already.
    """
    cached = (cache_read or 0) + (cache_write or 0)
    if not cached:
        return n
    anthropic = provider == "anthropic" or (model or "").lower().startswith("claude")
    if (key in LEGACY_INPUT_KEYS and anthropic) or n < cached:
        return n + cached
    return n


def _index(attrs: dict[str, Any]) -> dict[str, list[str]]:
    """The known attribute names present in ``attrs``, by field, most preferred first.

    One pass over the span's keys instead of probing every alias of every field.
    """
    found: dict[str, list[tuple[int, str]]] = {}
    for key in _KNOWN.intersection(attrs):
        for field, rank in _RANKS[key]:
            found.setdefault(field, []).append((rank, key))
    return {f: [k for _, k in sorted(v)] if len(v) > 1 else [v[0][1]] for f, v in found.items()}


def _span_type(attrs: dict[str, Any], idx: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """(span_type, operation) by the ordered rules; (None, None) when no rule applies."""
    explicit = attrs.get(SPAN_TYPE_KEY)
    if isinstance(explicit, str) and explicit.lower() in SPAN_TYPES:
        return explicit.lower(), None
    kind = attrs.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[kind.upper()]
    kind = attrs.get("traceloop.span.kind")
    if isinstance(kind, str) and kind.lower() in TRACELOOP_KINDS:
        return TRACELOOP_KINDS[kind.lower()]
    op = attrs.get("gen_ai.operation.name")
    if isinstance(op, str):
        return OPERATION_SPAN_TYPE.get(op) or EXTRA_OPERATIONS.get(op, "custom"), op
    kind = attrs.get("llm.request.type")
    if isinstance(kind, str) and kind.lower() in REQUEST_TYPES:
        return REQUEST_TYPES[kind.lower()]
    if "tool" in idx:
        return "tool", "execute_tool"
    if "embedding.model_name" in attrs:
        return "embedding", "embeddings"
    if "request_model" in idx or "response_model" in idx:
        return "llm", None
    return None, None


def normalise(span: SpanRecord, messages: bool = True) -> None:
    """Fill the typed gen_ai columns of ``span`` from its attributes (in place)."""
    attrs = span.attributes
    idx = _index(attrs) if attrs else {}
    if span.source in _GUESSED_TYPE_SOURCES and attrs:
        span_type, operation = _span_type(attrs, idx)
        if span_type is not None:
            span.span_type = span_type
        if span.operation is None and operation is not None:
            span.operation = operation
    if idx:
        keys = idx.get("provider")
        if keys and span.provider is None:
            span.provider = canonical_provider(_first_str(attrs, keys))
        for field in _TEXT_FIELDS:
            keys = idx.get(field)
            if keys and getattr(span, field) is None:
                setattr(span, field, _first_str(attrs, keys))
        if not _USAGE_FIELDS.isdisjoint(idx):
            _usage(span, attrs, idx)
    if messages and (span.events or "messages" in idx) and (span.input is None or span.output is None):
        inp, out = extract(attrs, span.events)
        if span.input is None:
            span.input = inp
        if span.output is None:
            span.output = out


def _usage(span: SpanRecord, attrs: dict[str, Any], idx: dict[str, list[str]]) -> None:
    if span.input_tokens is not None or span.output_tokens is not None:
        return  # usage set by the receiver (already normalised)
    inp, inp_key = _tokens(attrs, idx.get("input_tokens"), span)
    out, _ = _tokens(attrs, idx.get("output_tokens"), span)
    total, _ = _tokens(attrs, idx.get("total_tokens"), span)
    cache_read, _ = _tokens(attrs, idx.get("cache_read_tokens"), span)
    cache_write, _ = _tokens(attrs, idx.get("cache_write_tokens"), span)
    reasoning, _ = _tokens(attrs, idx.get("reasoning_tokens"), span)
    if inp is not None:
        inp = gross_input(inp, inp_key, span.provider, span.response_model or span.request_model,
                          cache_read, cache_write)
    if out is not None and reasoning is not None and out < reasoning:
        out += reasoning  # reported apart from the completion (Gemini's thoughts)
    span.input_tokens, span.output_tokens = inp, out
    span.cache_read_tokens, span.cache_write_tokens, span.reasoning_tokens = cache_read, cache_write, reasoning
    span.total_tokens = inp + out if inp is not None and out is not None else total
