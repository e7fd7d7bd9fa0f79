"""The first stage of the bulk insert: OTLP entries (parsed by ClickHouse's Protobuf format)
→ one row per span, with exactly the columns and flags the OTLP receiver's protobuf decoder
gives a span record (ids checked, limits applied, attribute values as the store keeps them).

Besides the span columns the stage adds helper columns (names start with ``_``) that later
steps read: the tenant of the entry, the typed attribute view ``_kind`` (attribute name →
value kind, see ``KINDS``) and ``_record`` (``_record``: the span needs the record path: a value nested
deeper than the bulk schema types, or a map value whose text cannot be rendered here).
"""
from __future__ import annotations

from spanlens_pipeline.bulksql import float_json, json_string, lit, str_array
from spanlens_pipeline.limits import (
    FLAG_ATTRIBUTES_DROPPED,
    FLAG_EVENTS_DROPPED,
    FLAG_LINKS_DROPPED,
    FLAG_RESOURCE_ATTRIBUTES_DROPPED,
    FLAG_RESOURCE_VALUE_TRUNCATED,
    FLAG_SCOPE_TRUNCATED,
    FLAG_VALUE_TRUNCATED,
    Limits,
)
from spanlens_pipeline.model import MAX_TIME_NS, SOURCE_OTLP
from spanlens_pipeline.semconv import OPERATION_SPAN_TYPE, SPAN_KIND_NAMES, STATUS_NAMES

FLAG_INVALID_TIMESTAMP = "invalid_timestamp"  # as the OTLP receiver names it

# Value kinds in ``_kind`` (0: no such attribute): the Python type the record path holds.
KIND_STR, KIND_BOOL, KIND_INT, KIND_FLOAT, KIND_LIST, KIND_DICT, KIND_NONE = 1, 2, 3, 4, 5, 6, 7
KINDS = {"str": KIND_STR, "bool": KIND_BOOL, "int": KIND_INT, "float": KIND_FLOAT, "list": KIND_LIST,
         "dict": KIND_DICT, "None": KIND_NONE}

_ONEOF = ("Enum8('none' = 0, 'string_value' = 1, 'bool_value' = 2, 'int_value' = 3, 'double_value' = 4, "
          "'array_value' = 5, 'kvlist_value' = 6, 'bytes_value' = 7)")
_V2 = (f"Tuple(value {_ONEOF}, string_value String, bool_value Bool, int_value Int64, double_value Float64, "
       "array_value String, kvlist_value String, bytes_value String)")
_V = (f"Tuple(value {_ONEOF}, string_value String, bool_value Bool, int_value Int64, double_value Float64, "
      f"array_value_values Array({_V2}), kvlist_value_values Array(Tuple(key String, value {_V2})), "
      "bytes_value String)")
_KV = f"Array(Tuple(key String, value {_V}))"
STRUCTURE = (
    f"request Tuple(resource_spans Array(Tuple(resource_attributes {_KV}, scope_spans Array(Tuple("
    "scope Tuple(name String, version String), spans Array(Tuple(trace_id String, span_id String, "
    "parent_span_id String, name String, kind Int32, start_time_unix_nano UInt64, end_time_unix_nano UInt64, "
    f"attributes {_KV}, events Array(Tuple(time_unix_nano UInt64, name String, attributes {_KV})), "
    f"links Array(Tuple(trace_id String, span_id String, trace_state String, attributes {_KV})), "
    "status Tuple(message String, code Int32)))))))), organization_id String, project_id String, "
    "received_ns UInt64, entry_no UInt64")

# Flags of one attribute set, by where it is: (count cut, value cut).
# Span columns the decode stage leaves NULL for the processors' steps to fill, and their types.
LATER_COLUMNS = ("provider", "request_model", "response_model", "input_tokens", "output_tokens",
                 "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "total_tokens", "cost_usd",
                 "reported_cost_usd", "cost_source", "session_id", "user_id", "request_id")
LATER_TYPES = {**{c: "Nullable(Int64)" for c in LATER_COLUMNS if c.endswith("_tokens")},
               "cost_usd": "Nullable(Decimal(18, 12))", "reported_cost_usd": "Nullable(Decimal(18, 12))"}
_RESOURCE_FLAGS = (FLAG_RESOURCE_ATTRIBUTES_DROPPED, FLAG_RESOURCE_VALUE_TRUNCATED)
_SPAN_FLAGS = (FLAG_ATTRIBUTES_DROPPED, FLAG_VALUE_TRUNCATED)


def _item_json(e: str, cut: str, per: str, item: str = "true") -> str:
    """JSON of one Value2 ``e``; its string cut to ``per`` characters when ``cut``. Strings
    are rendered only where ``item`` holds (elsewhere their JSON is not used)."""
    raw = f"if({item}, if({e}.value = 'bytes_value', lower(hex({e}.bytes_value)), {e}.string_value), '')"
    text = json_string(f"if({cut}, leftUTF8({raw}, {per}), {raw})")
    return (f"multiIf({e}.value IN ('string_value', 'bytes_value'), {text}, "
            f"{e}.value = 'bool_value', if({e}.bool_value, 'true', 'false'), "
            f"{e}.value = 'int_value', toString({e}.int_value), "
            f"{e}.value = 'double_value', {float_json(f'{e}.double_value')}, 'null')")


def _value(v: str, max_len: int) -> str:
    """(kind, stored text, cut) of one attribute value ``v`` (a Value) within ``max_len``.

    The items of an array value and the values of a map value are rendered by one
    expression (``_item_json``); a string value (the common case) renders nothing."""
    s = f"{v}.string_value"
    items, pairs = f"{v}.array_value_values", f"{v}.kvlist_value_values"
    is_str = "x.value IN ('string_value', 'bytes_value')"
    raw_len = "lengthUTF8(if(x.value = 'bytes_value', lower(hex(x.bytes_value)), x.string_value))"
    total = f"arraySum(x -> if({is_str}, {raw_len}, 0), {items})"
    cut_items = f"({total} > {max_len})"
    per = f"intDiv({max_len}, greatest(1, length({items})))"
    rendered = (f"arrayMap((x, i) -> {_item_json('x', f'i <= length({items}) AND _cut', '_per')}, "
                f"arrayConcat({items}, arrayMap(p -> p.value, {pairs})) AS _vals, arrayEnumerate(_vals))")
    rendered = rendered.replace("_cut", cut_items).replace("_per", per)
    # r: the rendered JSON texts: [*items, *map values]
    array = "concat('[', arrayStringConcat(arraySlice(r, 1, length(" + items + ")), ','), ']')"
    kvlist = (f"concat('{{', arrayStringConcat(arrayMap((k, j) -> concat({json_string('k')}, ':', j), "
              f"{pairs}.key, arraySlice(r, length({items}) + 1)), ','), '}}')")
    double = f"{v}.value = 'double_value'"
    kind = (f"multiIf({s} != '' OR {v}.value IN ('string_value', 'bytes_value'), {KIND_STR}, "
            f"{v}.value = 'bool_value', {KIND_BOOL}, {v}.value = 'int_value', {KIND_INT}, "
            f"{double}, {KIND_FLOAT}, {v}.value = 'array_value', {KIND_LIST}, "
            f"{v}.value = 'kvlist_value', {KIND_DICT}, {KIND_NONE})")
    text = (f"multiIf({s} != '' OR {v}.value = 'string_value', leftUTF8({s}, {max_len}), "
            f"{v}.value = 'bytes_value', leftUTF8(lower(hex({v}.bytes_value)), {max_len}), "
            f"{v}.value = 'bool_value', if({v}.bool_value, 'true', 'false'), "
            f"{v}.value = 'int_value', toString({v}.int_value), "
            f"{double}, replaceOne({float_json(f'if({double}, {v}.double_value, 0)')}, 'null', ''), "
            f"{v}.value = 'array_value', {array}, {v}.value = 'kvlist_value', {kvlist}, '')")
    cut = (f"multiIf({s} != '' OR {v}.value = 'string_value', lengthUTF8({s}) > {max_len}, "
           f"{v}.value = 'bytes_value', length({v}.bytes_value) * 2 > {max_len}, "
           f"{v}.value = 'array_value', {cut_items}, false)")
    return f"arrayMap(r -> tuple(toUInt8({kind}), {text}, {cut}), [{rendered}])[1]"


def deep_value(v: str, max_len: int) -> str:
    """Whether value ``v`` (a Value) is one the bulk schema cannot render as the record path does:
    nested below its items, a map with a repeated key, or a map whose text may come near
    ``max_len`` (the record path cuts such a map's Python ``str``)."""
    items, pairs = f"{v}.array_value_values", f"{v}.kvlist_value_values"
    nested = "x.value IN ('array_value', 'kvlist_value')"
    return (f"multiIf({v}.value = 'array_value', arrayExists(x -> {nested}, {items}), "
            f"{v}.value = 'kvlist_value', arrayExists(x -> {nested.replace('x.', 'x.value.')}, {pairs}) "
            f"OR length(arrayDistinct({pairs}.key)) != length({pairs}) "
            f"OR arraySum(p -> lengthUTF8(p.key) + lengthUTF8(p.value.string_value) + length(p.value.bytes_value) * 2 "
            f"+ 40, {pairs}) * 6 > {max_len}, false)")


def deep_set(kvs: str, max_len: int) -> str:
    """Whether any value of an attribute list needs the record path (``deep_value``)."""
    return f"arrayExists(a -> {deep_value('a.value', max_len)}, {kvs})"


def attribute_sets(lists: str, max_count: int, max_len: int) -> str:
    """Attribute lists (an array of KeyValue arrays) as ``(keys, kinds, texts, dropped, cut)`` each:
    cut to ``max_count`` entries, keys and values within ``max_len``, a repeated key keeps its
    first place and its last value. The lists' values are converted in one pass."""
    flat = f"arrayFlatten(arrayMap(l -> arraySlice(l, 1, {max_count}), {lists}))"
    conv = f"arrayMap(a -> tuple(leftUTF8(a.key, {max_len}), {_value('a.value', max_len)}), {flat})"
    sizes = f"arrayMap(l -> least(length(l), {max_count}), {lists})"
    # c: all converted entries; o: each list's (offset, size, full length)
    one = ("arrayMap(i -> arraySlice(c, o.1[i] + 1, o.2[i]), arrayEnumerate(o.2))")
    keys = "c.1"
    firsts = f"arrayFilter(i -> indexOf({keys}, {keys}[i]) = i, arrayEnumerate({keys}))"
    last = f"(length({keys}) + 1 - indexOf(arrayReverse({keys}), {keys}[i]))"
    unique = f"length(arrayDistinct({keys})) = length({keys})"
    body = (f"tuple(if({unique}, {keys}, arrayMap(i -> {keys}[i], {firsts})), "
            f"if({unique}, arrayMap(x -> x.2.1, c), arrayMap(i -> c[{last}].2.1, {firsts})), "
            f"if({unique}, arrayMap(x -> x.2.2, c), arrayMap(i -> c[{last}].2.2, {firsts})), "
            f"n > {max_count}, arrayExists(x -> x.2.3, c))")
    split = (f"arrayMap((c, n) -> {body}, {one}, o.3)")
    offsets = (f"tuple(arrayPushFront(arrayPopBack(arrayCumSum({sizes})), 0), {sizes}, "
               f"arrayMap(l -> length(l), {lists}))")
    return f"arrayMap(o -> arrayMap(c -> {split}, [{conv}])[1], [{offsets}])[1]"


def attribute_set(kvs: str, max_count: int, max_len: int) -> str:
    """One attribute list as ``attribute_sets`` converts it."""
    return f"{attribute_sets(f'[{kvs}]', max_count, max_len)}[1]"


def value_json(kind: str, text: str) -> str:
    """The JSON of an attribute value from its kind and stored text (as ``orjson.dumps`` of the value)."""
    return (f"multiIf({kind} = {KIND_STR}, {json_string(text)}, {kind} = {KIND_NONE}, 'null', "
            f"{kind} = {KIND_FLOAT} AND {text} = '', 'null', {text})")


def set_json(a: str) -> str:
    """An attribute set (from ``attribute_set``) as a JSON object."""
    return (f"concat('{{', arrayStringConcat(arrayMap((k, t, x) -> concat({json_string('k')}, ':', "
            f"{value_json('t', 'x')}), {a}.1, {a}.2, {a}.3), ','), '}}')")


def _set_flags(a: str, names: tuple[str, str]) -> str:
    return f"arrayConcat(if({a}.4, [{lit(names[0])}], []), if({a}.5, [{lit(names[1])}], []))"


def _time(ns: str) -> str:
    return f"if({ns} = 0 OR {ns} > {MAX_TIME_NS}, NULL, fromUnixTimestamp64Nano(toInt64({ns}), 'UTC'))"


def decode_sql(source: str, limits: Limits) -> str:
    """The SELECT of span rows from ``source`` (a table expression of ``Entry`` rows)."""
    lim = limits
    res = attribute_set("_r_kvs", lim.max_resource_attributes, lim.max_resource_value_length)
    scope_len = lim.max_scope_length
    resources = (f"SELECT organization_id AS _org, project_id AS _project, received_ns AS _received, "
                 f"entry_no AS _entry, {res} AS _res, _r_scopes FROM {source} "
                 "ARRAY JOIN request.resource_spans.resource_attributes AS _r_kvs, "
                 "request.resource_spans.scope_spans AS _r_scopes")
    scopes = (f"SELECT * EXCEPT (_r_scopes), _sc.name AS _scope_name, _sc.version AS _scope_version, _sp "
              f"FROM ({resources}) ARRAY JOIN _r_scopes.scope AS _sc, _r_scopes.spans AS _sp")
    zero16, zero8 = "repeat(char(0), 16)", "repeat(char(0), 8)"
    spans = ("SELECT * EXCEPT (_sp), _sp.trace_id AS _tid, _sp.span_id AS _sid, _sp.parent_span_id AS _pid, "
             "_sp.name AS _name, _sp.kind AS _kind_no, _sp.start_time_unix_nano AS _start, "
             "_sp.end_time_unix_nano AS _end, _sp.attributes AS _kvs, _sp.events AS _events, _sp.links AS _links, "
             "_sp.status.message AS _status_message, _sp.status.code AS _status_code "
             f"FROM ({scopes}) ARRAY JOIN _sp "
             f"WHERE length(_tid) = 16 AND length(_sid) = 8 AND _tid != {zero16} AND _sid != {zero8} "
             "AND (_pid = '' OR length(_pid) = 8)")
    ml = lim.max_value_length
    ev = f"arraySlice(_events, 1, {lim.max_events})"
    lk = f"arraySlice(_links, 1, {lim.max_links})"
    lists = "arrayConcat([_kvs], arrayMap(e -> e.attributes, _ev), arrayMap(l -> l.attributes, _lk))"
    typed = (f"SELECT * EXCEPT (_kvs, _events, _links, _sets), _sets[1] AS _a, "
             "arraySlice(_sets, 2, length(_ev)) AS _ev_sets, arraySlice(_sets, length(_ev) + 2) AS _lk_sets "
             f"FROM (SELECT *, {ev} AS _ev, {lk} AS _lk, length(_events) AS _n_events, length(_links) AS _n_links, "
             f"{attribute_sets(lists, lim.max_attributes, ml)} AS _sets FROM ({spans}))")
    op = "if(_kind['gen_ai.operation.name'] = 1, _attrs['gen_ai.operation.name'], NULL)"
    ev_name = json_string(f"leftUTF8(e.name, {ml})")
    events = (f"if(_n_events = 0, NULL, concat('[', arrayStringConcat(arrayMap((e, a) -> concat("
              f"'{{\"time_unix_nano\":', toString(e.time_unix_nano), ',\"name\":', {ev_name}, "
              f"',\"attributes\":', {set_json('a')}, '}}'), _ev, _ev_sets), ','), ']'))")
    links = (f"if(_n_links = 0, NULL, concat('[', arrayStringConcat(arrayMap((l, a) -> concat("
             f"'{{\"trace_id\":', {json_string('lower(hex(l.trace_id))')}, ',\"span_id\":', "
             f"{json_string('lower(hex(l.span_id))')}, ',\"trace_state\":', "
             f"{json_string(f'leftUTF8(l.trace_state, {scope_len})')}, ',\"attributes\":', {set_json('a')}, '}}'), "
             "_lk, _lk_sets), ','), ']'))")
    flags = ("arrayDistinct(arrayConcat("
             f"{_set_flags('_res', _RESOURCE_FLAGS)}, "
             f"if(lengthUTF8(_scope_name) > {scope_len}, [{lit(FLAG_SCOPE_TRUNCATED)}], []), "
             f"if(lengthUTF8(_scope_version) > {scope_len}, [{lit(FLAG_SCOPE_TRUNCATED)}], []), "
             f"{_set_flags('_a', _SPAN_FLAGS)}, "
             f"if(_n_events > {lim.max_events}, [{lit(FLAG_EVENTS_DROPPED)}], []), "
             f"arrayFlatten(arrayMap(a -> {_set_flags('a', _SPAN_FLAGS)}, _ev_sets)), "
             f"if(_n_links > {lim.max_links}, [{lit(FLAG_LINKS_DROPPED)}], []), "
             f"arrayFlatten(arrayMap(a -> {_set_flags('a', _SPAN_FLAGS)}, _lk_sets)), "
             f"if(_start > {MAX_TIME_NS}, [{lit(FLAG_INVALID_TIMESTAMP)}], []), "
             f"if(_end > {MAX_TIME_NS}, [{lit(FLAG_INVALID_TIMESTAMP)}], [])))")
    kinds = str_array(SPAN_KIND_NAMES)
    statuses = str_array(STATUS_NAMES)
    op_types = (f"transform(ifNull({op}, ''), {str_array(OPERATION_SPAN_TYPE)}, "
                f"{str_array(OPERATION_SPAN_TYPE.values())}, 'custom')")
    columns = {
        "trace_id": "lower(hex(_tid))",
        "span_id": "lower(hex(_sid))",
        "project_id": "CAST(NULL, 'Nullable(String)')",
        "organization_id": "CAST(NULL, 'Nullable(String)')",
        "parent_span_id": f"if(_pid = '' OR _pid = {zero8}, NULL, lower(hex(_pid)))",
        "name": f"leftUTF8(_name, {ml})",
        "kind": f"if(_kind_no >= 0 AND _kind_no < 6, {kinds}[_kind_no + 1], 'unspecified')",
        "span_type": op_types,
        "service_name": "if(_res_kind['service.name'] = 1, _res_attrs['service.name'], NULL)",
        "scope_name": f"nullIf(leftUTF8(_scope_name, {scope_len}), '')",
        "scope_version": f"nullIf(leftUTF8(_scope_version, {scope_len}), '')",
        "start_time": _time("_start"),
        "end_time": _time("_end"),
        "status_code": f"if(_status_code >= 0 AND _status_code < 3, {statuses}[_status_code + 1], 'unset')",
        "status_message": f"nullIf(leftUTF8(_status_message, {ml}), '')",
        "attributes": "_attrs",
        "resource_attributes": "_res_attrs",
        "events": events,
        "links": links,
        "input": "CAST(NULL, 'Nullable(String)')",
        "output": "CAST(NULL, 'Nullable(String)')",
        "metadata": "CAST(NULL, 'Nullable(String)')",
        "source": lit(SOURCE_OTLP),
        "operation": op,
        "flags": flags,
        **{c: f"CAST(NULL, '{LATER_TYPES.get(c, 'Nullable(String)')}')" for c in LATER_COLUMNS},
    }
    maps = ("SELECT *, mapFromArrays(_a.1, _a.3) AS _attrs, mapFromArrays(_a.1, _a.2) AS _kind, "
            f"mapFromArrays(_res.1, _res.3) AS _res_attrs, mapFromArrays(_res.1, _res.2) AS _res_kind FROM ({typed})")
    select = ", ".join(f"{expr} AS {name}" for name, expr in columns.items())
    return (f"SELECT {select}, _org, _project, _received, _entry, _kind, _ev, _ev_sets, "
            f"_a.1 AS _keys FROM ({maps})")


def survey_sql(source: str, limits: Limits, record: list[str]) -> str:
    """Per entry: its valid spans, and whether one needs the record path (``record``: conditions
    over the raw span, ``_kvs``/``_events``/``_links``, besides the values ``deep_value`` names)."""
    lim = limits
    deep = [deep_set("_r_kvs", lim.max_resource_value_length), deep_set("_kvs", lim.max_value_length),
            f"arrayExists(e -> {deep_set('e.attributes', lim.max_value_length)}, _events)",
            f"arrayExists(l -> {deep_set('l.attributes', lim.max_value_length)}, _links)", *record]
    cond = " OR ".join(f"({c})" for c in deep)
    zero16, zero8 = "repeat(char(0), 16)", "repeat(char(0), 8)"
    return (f"SELECT entry_no AS entry, count() AS spans, max({cond}) AS record FROM {source} "
            "ARRAY JOIN request.resource_spans.resource_attributes AS _r_kvs, "
            "request.resource_spans.scope_spans AS _r_scopes "
            "ARRAY JOIN _r_scopes.spans AS _sp "
            "ARRAY JOIN _sp.trace_id AS _tid, _sp.span_id AS _sid, _sp.parent_span_id AS _pid, _sp.attributes AS _kvs, "
            "_sp.events AS _events, _sp.links AS _links "
            f"WHERE length(_tid) = 16 AND length(_sid) = 8 AND _tid != {zero16} AND _sid != {zero8} "
            "AND (_pid = '' OR length(_pid) = 8) GROUP BY entry_no")


