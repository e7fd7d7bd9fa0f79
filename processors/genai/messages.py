"""Prompt and completion text of a span, from whichever dialect carried it.

``extract(attrs, events)`` returns the ``input`` and ``output`` column values: the first
source found in the order of ``README.md`` (current semconv attributes first, then the
inference-details event, indexed OpenLLMetry / OpenInference attributes, per-message events,
older prompt/completion names, plain ``input.value``/``output.value``, tool call arguments).
Structured values are stored as JSON text; strings are stored as they came.
"""
from __future__ import annotations

from typing import Any

import orjson

DETAILS_EVENT = "gen_ai.client.inference.operation.details"
INPUT_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}
CHOICE_EVENT = "gen_ai.choice"
PROMPT_EVENT, COMPLETION_EVENT = "gen_ai.content.prompt", "gen_ai.content.completion"
_EVENT_NOISE = ("gen_ai.system", "gen_ai.provider.name")

# Indexed prefixes → (column, whether each item is wrapped in a "message" object).
_INDEXED = {"gen_ai.prompt.": ("input", False), "gen_ai.completion.": ("output", False),
            "llm.input_messages.": ("input", True), "llm.output_messages.": ("output", True)}
_INDEXED_PREFIXES = tuple(_INDEXED)

_PLAIN_INPUT = ("gen_ai.prompt", "input.value", "traceloop.entity.input", "gen_ai.tool.call.arguments")
_PLAIN_OUTPUT = ("gen_ai.completion", "output.value", "traceloop.entity.output", "gen_ai.tool.call.result")
# Any of these present means the span may carry messages (indexed forms are probed at index 0).
MESSAGE_KEYS = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
                *_PLAIN_INPUT, *_PLAIN_OUTPUT,
                *(f"{prefix}0.{'message.' if wrapped else ''}{leaf}"
                  for prefix, (_, wrapped) in _INDEXED.items() for leaf in ("role", "content")))


def _text(value: Any) -> str | None:
    if value is None or value == "" or value == [] or value == {}:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()


def _parsed(value: Any) -> Any:
    """A JSON string attribute as its value (other values unchanged; bad JSON → None)."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _with_system(messages: Any, instructions: Any) -> Any:
    """Semconv keeps system instructions apart; put them first as a system message."""
    if instructions is None:
        return messages
    parts = _parsed(instructions)
    if parts is None:
        parts = instructions
    if not isinstance(parts, list):
        parts = [{"type": "text", "content": parts}]
    system = {"role": "system", "parts": parts}
    if messages is None:
        return [system]
    listed = _parsed(messages)
    return [system, *listed] if isinstance(listed, list) else messages


def _nest(flat: dict[str, Any]) -> Any:
    """``{"0.role": "user", "0.content": "hi"}`` → ``[{"role": "user", "content": "hi"}]``."""
    root: dict[str, Any] = {}
    for path, value in flat.items():
        node = root
        *parents, last = path.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(last), dict):
            node[last] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def _indexed(attrs: dict[str, Any]) -> dict[str, Any]:
    """Indexed message attributes grouped by column: ``{"input": [...], "output": [...]}``."""
    groups: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key.startswith(_INDEXED_PREFIXES):
            for prefix in _INDEXED_PREFIXES:
                if key.startswith(prefix):
                    rest = key[len(prefix):]
                    if rest[:1].isdigit():
                        groups.setdefault(prefix, {})[rest] = value
                    break
    out: dict[str, Any] = {}
    for prefix, flat in groups.items():
        column, wrapped = _INDEXED[prefix]
        if column in out:
            continue
        items = _nest(flat)
        if isinstance(items, list):
            if wrapped:
                items = [i["message"] if isinstance(i, dict) and set(i) == {"message"} else i for i in items]
            out[column] = items
    return out


def _event_messages(events: list[dict[str, Any]]) -> tuple[Any, Any, Any, Any]:
    """(details input, details output, per-message input, choices/completion output) from span events."""
    d_in = d_out = None
    inputs: list[Any] = []
    outputs: list[Any] = []
    for ev in events:
        name, ea = ev.get("name"), ev.get("attributes") or {}
        if name == DETAILS_EVENT:
            d_in = _with_system(ea.get("gen_ai.input.messages"), ea.get("gen_ai.system_instructions"))
            d_out = ea.get("gen_ai.output.messages")
        elif name in INPUT_EVENTS:
            msg = {k: v for k, v in ea.items() if k not in _EVENT_NOISE}
            msg.setdefault("role", INPUT_EVENTS[name])
            inputs.append(msg)
        elif name == CHOICE_EVENT:
            outputs.append({k: v for k, v in ea.items() if k not in _EVENT_NOISE})
        elif name == PROMPT_EVENT and "gen_ai.prompt" in ea:
            inputs.append(ea["gen_ai.prompt"])
        elif name == COMPLETION_EVENT and "gen_ai.completion" in ea:
            outputs.append(ea["gen_ai.completion"])
    single = lambda xs: xs[0] if len(xs) == 1 and isinstance(xs[0], str) else (xs or None)  # noqa: E731
    return d_in, d_out, single(inputs), single(outputs)


def extract(attrs: dict[str, Any], events: list[dict[str, Any]] | None) -> tuple[str | None, str | None]:
    """The ``input`` and ``output`` texts of a span (None where nothing was found)."""
    inp = attrs.get("gen_ai.input.messages")
    if inp is not None or "gen_ai.system_instructions" in attrs:
        inp = _with_system(inp, attrs.get("gen_ai.system_instructions"))
    out = attrs.get("gen_ai.output.messages")
    if inp is not None and out is not None:
        return _text(inp), _text(out)
    if events:
        d_in, d_out, e_in, e_out = _event_messages(events)
        inp = inp if inp is not None else d_in
        out = out if out is not None else d_out
    else:
        e_in = e_out = None
    if inp is None or out is None:
        indexed = _indexed(attrs)
        inp = inp if inp is not None else indexed.get("input")
        out = out if out is not None else indexed.get("output")
    inp = inp if inp is not None else e_in
    out = out if out is not None else e_out
    if inp is None:
        inp = next((attrs[k] for k in _PLAIN_INPUT if attrs.get(k) not in (None, "")), None)
    if out is None:
        out = next((attrs[k] for k in _PLAIN_OUTPUT if attrs.get(k) not in (None, "")), None)
    return _text(inp), _text(out)
