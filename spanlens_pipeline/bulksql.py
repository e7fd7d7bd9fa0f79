"""The bulk path's SQL step of a processor, and the SQL text helpers that steps share.

On the bulk path a request's spans never become Python objects: the store parses the
request and computes every column in one ``INSERT … SELECT`` (see the clickhouse
exporter's ``bulk`` module). Each processor adds its step as ``SqlStep`` layers; a layer
maps a column name to an SQL expression over the columns of the layer before it (a name
not yet present adds a helper column; helper names start with ``_``). Within one layer an
expression must not read a column that the same layer replaces (ClickHouse would bind the
name to the new value): read it in a later layer. Expressions are
built from the same tables as the processor's Python step, so both paths share one set
of rules.

The helpers render values the way the record path stores them: JSON text as ``orjson``
writes it, strings stripped as ``str.strip`` does.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Layer = Mapping[str, str]


@dataclass(frozen=True)
class SqlStep:
    """A processor's step on the bulk path.

    ``layers`` are applied in order, each as one ``SELECT * REPLACE (…)`` over the last;
    ``prepare(store, database)``, if given, runs before each bulk insert (e.g. to refresh a
    table the expressions read).
    """

    layers: tuple[Layer, ...]
    # An SQL condition over the raw span (``_kvs``: its attributes, ``_events``, ``_links``, as
    # parsed) under which this step cannot give the record path's result: the span's request
    # then takes the record path.
    record: str | None = None
    prepare: Callable[[Any, str], None] | None = field(default=None, compare=False)


# Characters ``str.strip()`` removes (``str.isspace``), as an RE2 class.
PY_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"


def lit(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def str_array(values: Iterable[str]) -> str:
    """An SQL ``Array(String)`` literal."""
    return "CAST([" + ", ".join(lit(v) for v in values) + "], 'Array(String)')"


def lookup(expr: str, table: Mapping[str, str], default: str) -> str:
    """``table[expr]`` (SQL), else ``default`` (an SQL expression)."""
    if not table:
        return default
    return f"transform({expr}, {str_array(table)}, {str_array(table.values())}, {default})"


_ASCII_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "


def py_strip(expr: str) -> str:
    """``expr.strip()``: ASCII whitespace is trimmed directly; only a string that then still
    starts or ends with a non-ASCII character goes through the regex. (ClickHouse evaluates
    both branches of an ``if``: the regex gets '' for the other rows.)"""
    t = f"trim(BOTH {lit(_ASCII_SPACE)} FROM {expr})"
    odd = f"(ascii({t}) > 127 OR ascii(reverse({t})) > 127)"
    regex = f"replaceRegexpAll(if({odd}, {expr}, ''), {lit(f'^{PY_SPACE}+|{PY_SPACE}+$')}, '')"
    return f"if({odd}, {regex}, {t})"


_CONTROL = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


def json_string(expr: str) -> str:
    """``expr`` (a String) as a JSON string literal, escaped exactly as orjson escapes it.

    ``toJSONString`` agrees (with ``output_format_json_escape_forward_slashes=0``) except
    for U+2028/U+2029, which orjson leaves as they are, and the hex case of ``\\u00XX``
    escapes: those strings take a slower path."""
    odd = lit(r"[\x00-\x07\x0b\x0e-\x1f\x{2028}\x{2029}]")
    rare = f"if(match({expr}, {odd}), {expr}, '')"  # the slow path gets '' for the other rows
    slow = f"replaceAll(replaceAll({rare}, '\\\\', '\\\\\\\\'), '\"', '\\\\\"')"
    for code in range(0x20):
        esc = _CONTROL.get(code, f"\\u{code:04x}")
        slow = f"replaceAll({slow}, char({code}), {lit(esc)})"
    return f"if(match({expr}, {odd}), concat('\"', {slow}, '\"'), toJSONString({expr}))"


def let(expr: str, name: str, body: str) -> str:
    """``body`` with ``name`` bound to ``expr`` (evaluated once)."""
    return f"arrayMap({name} -> {body}, [{expr}])[1]"


def float_json(expr: str) -> str:
    """``orjson.dumps(x)`` for a Float64 ``x`` (shortest round-trip digits, orjson's layout;
    NaN and infinities are ``null``)."""
    # _s: (mantissa and exponent of toString, its digits); _t: (significant digits m,
    # where the decimal point goes kk, len(m))
    m, kk, n = "_t.1", "_t.2", "_t.3"
    sci = f"concat('e', if({kk} > 1, '+', ''), toString({kk} - 1))"
    body = (f"multiIf({kk} >= {n} AND {kk} <= 16, concat({m}, repeat('0', toUInt32({kk} - {n})), '.0'), "
            f"{kk} > 0 AND {kk} <= 16, concat(left({m}, {kk}), '.', substring({m}, {kk} + 1)), "
            f"{kk} > -5 AND {kk} <= 0, concat('0.', repeat('0', toUInt32(-{kk})), {m}), "
            f"{n} = 1, concat({m}, {sci}), concat(left({m}, 1), '.', substring({m}, 2), {sci}))")
    digits = "trimRight(trimLeft(_s.2, '0'), '0')"
    point = ("toInt32(length(splitByChar('.', _s.1[1])[1])) + toInt32OrZero(_s.1[2]) "
             "- toInt32(length(_s.2) - length(trimLeft(_s.2, '0')))")
    inner = let(f"tuple({digits}, {point}, toInt32(length({digits})))", "_t", body)
    inner = let("tuple(splitByChar('e', toString(abs(_f))) AS _p, replaceAll(_p[1], '.', ''))", "_s", inner)
    return let(expr, "_f", f"multiIf(isNaN(_f) OR isInfinite(_f), 'null', _f = 0, "
                           f"if(toString(_f) = '-0', '-0.0', '0.0'), concat(if(_f < 0, '-', ''), {inner}))")


def push_flag(flags: str, name: str) -> str:
    """``flags`` with ``name`` appended unless present (``SpanRecord.flag``)."""
    return f"if(has({flags}, {lit(name)}), {flags}, arrayPushBack({flags}, {lit(name)}))"
