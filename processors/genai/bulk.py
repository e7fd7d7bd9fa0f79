"""The genai step on the bulk path: ``normalise`` as SQL, built from the same tables.

Reads the decode stage's ``attributes`` (stored text) and ``_kind`` (the Python type each
value has on the record path). Message text is rendered here for the semconv attributes
and the plain input/output names; a span whose messages come from events, indexed
attributes or system instructions takes the record path (``RECORD``).
"""
from __future__ import annotations

from spanlens_pipeline.bulksql import SqlStep, lit, lookup, push_flag, py_strip, str_array
from spanlens_pipeline.model import SPAN_TYPES
from spanlens_pipeline.semconv import OPERATION_SPAN_TYPE

from . import messages as m
from . import normalise as n
from .providers import ALIASES

STR, BOOL, INT, FLOAT, LIST, DICT, NONE = 1, 2, 3, 4, 5, 6, 7  # the decode stage's value kinds
MAX_TOKENS = 10**10


def _a(key: str) -> str:
    return f"attributes[{lit(key)}]"


def _k(key: str) -> str:
    return f"_kind[{lit(key)}]"


def _present(keys: tuple[str, ...]) -> str:
    return f"hasAny(_keys, {str_array(keys)})" if keys else "false"


def _found_keys(keys: tuple[str, ...]) -> str:
    """``keys`` present in the span, in their order (``_index``)."""
    return f"arrayFilter(k -> has(_keys, k), {str_array(keys)})"


def _first_str(keys: tuple[str, ...]) -> str:
    """``_first_str``: the first non-blank string (stripped) or integer among ``keys``, else NULL."""
    text = py_strip(f"if(_kind[k] = {STR}, attributes[k], '')")
    value = f"multiIf(_kind[k] = {STR}, {text}, _kind[k] = {INT}, attributes[k], '')"
    first = f"arrayFirst(x -> x != '', arrayMap(k -> {value}, {_found_keys(keys)}))"
    return f"if({_present(keys)}, nullIf({first}, ''), NULL)"


def _canonical_provider(expr: str) -> str:
    v = f"lowerUTF8({py_strip(expr)})"
    head = f"splitByChar('.', {v})[1]"
    return f"nullIf({lookup(v, ALIASES, lookup(head, ALIASES, v))}, '')"


def _token() -> str:
    """``token_count`` of attribute ``k``: the count, -1 when None, -2 when not a count."""
    a, k = "attributes[k]", "_kind[k]"
    s = py_strip(f"if({k} = {STR}, {a}, '')")  # the string rule's functions see '' for other kinds
    f = f"toFloat64OrNull({a})"
    return (f"multiIf({k} = {NONE}, -1, "
            f"{k} = {INT}, if(toInt64OrZero({a}) BETWEEN 0 AND {MAX_TOKENS}, toInt64OrZero({a}), -2), "
            f"{k} = {FLOAT}, if({f} IS NOT NULL AND {f} = floor({f}) AND {f} >= 0 AND {f} <= {MAX_TOKENS}, "
            f"toInt64({f}), -2), "
            f"{k} = {STR}, if(match({s}, '^[0-9]{{1,19}}$') AND toUInt64OrZero({s}) <= {MAX_TOKENS}, "
            f"toInt64(toUInt64OrZero({s})), -2), -2)")


def _tokens(keys: tuple[str, ...]) -> str:
    """``_tokens``: (the first valid count or NULL, the key it came from, whether an invalid
    value came before it), over the keys present."""
    counts = f"arrayMap(k -> ({_token()}, k), {_found_keys(keys)})"
    body = ("tuple(if(i = 0, NULL, t[i].1), if(i = 0, '', t[i].2), "
            "arrayExists((x, j) -> x.1 = -2 AND (i = 0 OR j < i), t, arrayEnumerate(t)))")
    found = f"arrayMap(t -> arrayMap(i -> {body}, [arrayFirstIndex(x -> x.1 >= 0, t)])[1], [{counts}])[1]"
    return f"if({_present(keys)}, {found}, tuple(CAST(NULL, 'Nullable(Int64)'), '', false))"


def _pairs(table: dict[str, tuple[str, str]], expr: str) -> tuple[str, str]:
    """(span_type, operation) looked up in a ``{name: (span_type, operation)}`` table."""
    types = {k: v[0] for k, v in table.items()}
    ops = {k: v[1] for k, v in table.items()}
    return lookup(expr, types, "''"), lookup(expr, ops, "''")


def _span_type() -> str:
    """``_span_type`` as an SQL (span_type, operation) pair; '' where no rule applies."""
    explicit = f"lowerUTF8({_a(n.SPAN_TYPE_KEY)})"
    oi = f"upperUTF8({_a('openinference.span.kind')})"
    tl = f"lowerUTF8({_a('traceloop.span.kind')})"
    rt = f"lowerUTF8({_a('llm.request.type')})"
    op = _a("gen_ai.operation.name")
    oi_t, oi_o = _pairs(n.OPENINFERENCE_KINDS, oi)
    tl_t, tl_o = _pairs(n.TRACELOOP_KINDS, tl)
    rt_t, rt_o = _pairs(n.REQUEST_TYPES, rt)
    op_t = lookup(op, OPERATION_SPAN_TYPE, lookup(op, n.EXTRA_OPERATIONS, "'custom'"))
    conds = [
        (f"{_k(n.SPAN_TYPE_KEY)} = {STR} AND {explicit} IN {tuple(SPAN_TYPES)}", explicit, "''"),
        (f"{_k('openinference.span.kind')} = {STR} AND {oi_t} != ''", oi_t, oi_o),
        (f"{_k('traceloop.span.kind')} = {STR} AND {tl_t} != ''", tl_t, tl_o),
        (f"{_k('gen_ai.operation.name')} = {STR}", op_t, op),
        (f"{_k('llm.request.type')} = {STR} AND {rt_t} != ''", rt_t, rt_o),
        (_present(n.TOOL_KEYS), "'tool'", "'execute_tool'"),
        (f"{_k('embedding.model_name')} != 0", "'embedding'", "'embeddings'"),
        (_present(n.REQUEST_MODEL_KEYS + n.RESPONSE_MODEL_KEYS), "'llm'", "''"),
    ]
    return "multiIf(" + ", ".join(f"{c}, ({x}, {y})" for c, x, y in conds) + ", ('', ''))"


def _message(key: str, plain: tuple[str, ...]) -> str:
    """``extract``'s answer for one column when only ``key`` and the plain names can carry it:
    ``key``'s value if it is not None, else the first plain value that is neither None nor '';
    then ``_text`` (None, '', [] and {} give NULL; strings as they are; other values as JSON)."""
    values = ", ".join(f"({_k(k)}, {_a(k)}, {int(i == 0)})" for i, k in enumerate((key, *plain)))
    chosen = (f"arrayFirst(v -> v.1 NOT IN (0, {NONE}) AND (v.3 = 1 OR NOT (v.1 = {STR} AND v.2 = '')), "
              f"[{values}])")
    text = (f"if(v.1 IN (0, {NONE}) OR (v.1 = {STR} AND v.2 = '') OR (v.1 = {LIST} AND v.2 = '[]') "
            f"OR (v.1 = {DICT} AND v.2 = '{{}}'), NULL, if(v.1 = {FLOAT} AND v.2 = '', 'null', v.2))")
    return f"arrayMap(v -> {text}, [{chosen}])[1]"


_INDEXED = "^(" + "|".join(p.replace(".", "\\.") for p in m._INDEXED) + ")[0-9]"
_MESSAGE_EVENTS = (m.DETAILS_EVENT, *m.INPUT_EVENTS, m.CHOICE_EVENT, m.PROMPT_EVENT, m.COMPLETION_EVENT)
# Spans whose messages this step does not render: they take the record path.
RECORD = (f"arrayExists(e -> e.name IN {tuple(_MESSAGE_EVENTS)}, _events) "
          f"OR arrayExists(a -> match(a.key, {lit(_INDEXED)}) OR a.key = 'gen_ai.system_instructions', _kvs)")


def step(messages: bool = True) -> SqlStep:
    """The genai processor's bulk step."""
    usage = {f: _tokens(n.FIELD_KEYS[f]) for f in ("input_tokens", "output_tokens", "total_tokens",
                                                   "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")}
    first: dict[str, str] = {
        "_g": f"if(empty(_keys), ('', ''), {_span_type()})",
        "provider": f"coalesce(provider, {_canonical_provider(_first_str(n.PROVIDER_KEYS))})",
        **{f: f"coalesce({f}, {_first_str(n.FIELD_KEYS[f])})"
           for f in ("request_model", "response_model", "session_id", "user_id")},
        **{f"_u_{f}": expr for f, expr in usage.items()},
    }
    legacy = f"_u_input_tokens.2 IN {tuple(n.LEGACY_INPUT_KEYS)}"
    cached = "(coalesce(_u_cache_read_tokens.1, 0) + coalesce(_u_cache_write_tokens.1, 0))"
    anthropic = ("(provider = 'anthropic' "
                 "OR startsWith(lowerUTF8(coalesce(response_model, request_model, '')), 'claude'))")
    inp = (f"if(_u_input_tokens.1 IS NULL, NULL, if({cached} != 0 AND (({legacy} AND {anthropic}) "
           f"OR _u_input_tokens.1 < {cached}), _u_input_tokens.1 + {cached}, _u_input_tokens.1))")
    out = ("if(_u_output_tokens.1 IS NOT NULL AND _u_reasoning_tokens.1 IS NOT NULL "
           "AND _u_output_tokens.1 < _u_reasoning_tokens.1, _u_output_tokens.1 + _u_reasoning_tokens.1, "
           "_u_output_tokens.1)")
    invalid = " OR ".join(f"_u_{f}.3" for f in usage)
    second: dict[str, str] = {
        "span_type": "if(_g.1 = '', span_type, _g.1)",
        "operation": "if(operation IS NULL AND _g.2 != '', _g.2, operation)",
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_tokens": "_u_cache_read_tokens.1",
        "cache_write_tokens": "_u_cache_write_tokens.1",
        "reasoning_tokens": "_u_reasoning_tokens.1",
        "flags": f"if({invalid}, {push_flag('flags', n.FLAG_INVALID_USAGE)}, flags)",
    }
    third: dict[str, str] = {
        "total_tokens": "if(input_tokens IS NOT NULL AND output_tokens IS NOT NULL, input_tokens + output_tokens, "
                        "_u_total_tokens.1)",
    }
    if messages:
        wanted = f"(notEmpty(_ev) OR {_present(m.MESSAGE_KEYS)})"
        for column, key, plain in (("input", "gen_ai.input.messages", m._PLAIN_INPUT),
                                   ("output", "gen_ai.output.messages", m._PLAIN_OUTPUT)):
            third[column] = f"if({column} IS NULL AND {wanted}, {_message(key, plain)}, {column})"
    return SqlStep((first, second, third), record=RECORD if messages else None)

