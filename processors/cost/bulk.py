"""The cost step on the bulk path: ``CostProcessor.price`` as SQL over the ``model_prices`` table.

``prepare`` creates ``model_prices`` and its range dictionary ``model_prices_dict``
(``model_prices.sql``) and writes the processor's ``PriceTable`` (every layer, as price
periods) into them under a hash of its rows. The step's SQL applies the same lookup
(azure → openai, OpenRouter ``:free``, ``vendor/model`` names, boundary-aware prefixes, the
model's own vendor when the provider has no prices), takes the period of the span's start
day from the dictionary, and the long-context and service-tier rules and the Decimal
formula, rounded half-even to the column's 1e-12.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from importlib import resources
from typing import Any

from spanlens_pipeline.bulksql import SqlStep, lit, lookup, push_flag, py_strip
from spanlens_pipeline.model import MAX_COST_USD
from spanlens_pipeline.processors.genai.providers import ALIASES

from .pricing import BOUNDARIES, PriceTable

STR, BOOL, INT, FLOAT, NONE = 1, 2, 3, 4, 7  # the decode stage's value kinds
DDL = "\n".join(line for line in resources.files(__package__).joinpath("model_prices.sql").read_text().splitlines()
                if not line.startswith("--"))
_DATE_MIN, _DATE_MAX = dt.date(1900, 1, 1), dt.date(2299, 12, 31)
_SCALE = 18  # decimals of the table's rates
_COLUMNS = ("table_id", "provider", "model", "provider_rank", "effective_from", "effective_to", "input", "output",
            "cache_read", "cache_write", "long_threshold", "long_input", "long_output", "long_cache_read",
            "long_cache_write")


def _fits(d: Decimal) -> bool:
    exp = d.as_tuple().exponent
    return isinstance(exp, int) and exp >= -_SCALE


def price_rows(table: PriceTable) -> list[tuple[Any, ...]] | None:
    """The table's periods as ``model_prices`` rows (without ``table_id``); None when a rate
    has more decimals than the table keeps (the pipeline then prices on the record path)."""
    out: list[tuple[Any, ...]] = []
    for rank, start, end, p in table.periods():
        rates: list[Decimal] = [p.rates.input, p.rates.output, p.rates.cache_read, p.rates.cache_write]
        long: list[Decimal | None] = [None] * 4
        if p.long_rates is not None and p.threshold is not None:
            long = [p.long_rates.input, p.long_rates.output, p.long_rates.cache_read, p.long_rates.cache_write]
        if not all(_fits(r) for r in rates + [x for x in long if x is not None]):
            return None
        out.append((p.provider, p.model, rank, max(start, _DATE_MIN), min(end, _DATE_MAX), *rates,
                    p.threshold if p.long_rates is not None else None, *long))
    return out


def _table_id(rows: list[tuple[Any, ...]]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def _dec(value: Decimal | None) -> str:
    return "NULL" if value is None else f"toDecimal128({lit(str(value))}, {_SCALE})"


def _insert(database: str, table_id: str, rows: list[tuple[Any, ...]]) -> str:
    values = []
    for r in rows:
        provider, model, rank, start, end = r[:5]
        rates, threshold, long = r[5:9], r[9], r[10:]
        values.append("(" + ", ".join([lit(table_id), lit(provider), lit(model), str(rank),
                                      f"toDate32({lit(start.isoformat())})", f"toDate32({lit(end.isoformat())})",
                                      *(_dec(x) for x in rates), "NULL" if threshold is None else str(threshold),
                                      *(_dec(x) for x in long)]) + ")")
    return f"INSERT INTO {database}.model_prices ({', '.join(_COLUMNS)}) VALUES {', '.join(values)}"


class Prices:
    """``prepare`` for one price table: written once per database and process."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.table_id = _table_id(rows)
        self.ready: set[str] = set()

    def prepare(self, store: Any, database: str) -> None:
        if database in self.ready:
            return
        for statement in DDL.replace("{database}", database).split(";"):
            if statement.strip():
                store.command(statement)
        have = store.query(f"SELECT count() AS n FROM {database}.model_prices WHERE table_id = %(t)s",
                           {"t": self.table_id})
        if not have or int(have[0]["n"]) != len(self.rows):
            store.command(f"DELETE FROM {database}.model_prices WHERE table_id = {lit(self.table_id)}")
            if self.rows:
                store.command(_insert(database, self.table_id, self.rows))
            store.command(f"SYSTEM RELOAD DICTIONARY {database}.model_prices_dict")
        self.ready.add(database)


def _a(key: str) -> str:
    return f"attributes[{lit(key)}]"


def _k(key: str) -> str:
    return f"_kind[{lit(key)}]"


def _money(key: str) -> str:
    """(amount or NULL, taken from this attribute: 1; absent: 0; invalid: -1) like ``reported_cost``."""
    a, k = _a(key), _k(key)
    text = f"multiIf({k} = {STR}, {py_strip(a)}, {k} IN ({INT}, {FLOAT}), {a}, '')"
    d = f"toDecimal256OrNull({text}, 30)"
    ok = f"({k} IN ({STR}, {INT}, {FLOAT}) AND {d} IS NOT NULL AND {d} >= 0 AND {d} < {MAX_COST_USD})"
    return f"tuple(if({ok}, {d}, NULL), multiIf({k} = 0 OR {k} = {NONE}, 0, {ok}, 1, -1))"


def _canonical(expr: str) -> str:
    v = f"lowerUTF8({py_strip(expr)})"
    head = f"splitByChar('.', {v})[1]"
    return lookup(v, ALIASES, lookup(head, ALIASES, v))


def _candidates(provider: str, model: str, providers: str, keys: str) -> str:
    """``PriceTable._candidates`` then ``_match``'s prefixes: the first 'provider\\0key' of the table,
    in order (``providers``: the table's providers in rank order; ``keys``: a condition on ``KEY``)."""
    p, m = "_cp", "_cm"
    tail = f"splitByChar('/', {m})[-1]"
    vendor = f"splitByChar('/', {m})[-2]"
    known = f"has({providers}, {p})"
    cands = (f"arrayConcat([({p}, {m})], if(position({m}, '/') > 0, arrayConcat([({p}, {tail})], "
             f"if({p} = 'openrouter' OR NOT {known}, [({_canonical(vendor)}, {tail})], [])), []), "
             f"arrayMap(o -> (o, {m}), if(NOT {known}, {providers}, [])))")
    bounds = "[" + ", ".join(lit(b) for b in BOUNDARIES) + "]"
    prefixes = (f"arrayConcat([c.2], arrayMap(i -> substring(c.2, 1, i), arrayReverse(arrayFilter("
                f"i -> i >= 1 AND has({bounds}, substring(c.2, i + 1, 1)), range(length(c.2))))))")
    flat = f"arrayFlatten(arrayMap(c -> arrayMap(x -> concat(c.1, char(0), x), {prefixes}), {cands}))"
    found = f"arrayFirst(x -> {keys.replace('KEY', 'x')}, {flat})"
    body = f"if({p} = 'openrouter' AND endsWith({m}, ':free'), 'free', {found})"
    name = py_strip(f"ifNull({model}, '')")
    return (f"arrayMap(_cp -> arrayMap(_cm -> {body}, [lowerUTF8({name})])[1], "
            f"[if({provider} = 'azure', 'openai', coalesce({provider}, ''))])[1]")


def _cost(r: str, tier: str) -> str:
    """``Price.cost`` with the row ``r`` (a tuple of the table's columns from ``provider``)."""
    inp, out = "coalesce(input_tokens, 0)", "coalesce(output_tokens, 0)"
    cr, cw = "coalesce(cache_read_tokens, 0)", "coalesce(cache_write_tokens, 0)"
    long = f"({r}.9 IS NOT NULL AND {inp} > {r}.9)"

    def rate(i: int) -> str:
        return f"toDecimal256(if({long}, assumeNotNull({r}.{9 + i}), {r}.{4 + i}), {_SCALE})"

    plain = f"greatest(0, {inp} - {cr} - {cw})"
    total = (f"(toDecimal256({plain}, 0) * {rate(1)} + toDecimal256({cr}, 0) * {rate(3)} "
             f"+ toDecimal256({cw}, 0) * {rate(4)} + toDecimal256({out}, 0) * {rate(2)})")
    return (f"CAST(roundBankers({total} * toDecimal256('0.000001', 6) * {tier}, 12) AS Nullable(Decimal(18, 12)))")


def step(table: PriceTable, tiers: dict[str, Decimal], reported_keys: tuple[str, ...],
         tier_keys: tuple[str, ...], priced_types: frozenset[str], flag_unknown: str, flag_invalid: str,
         computed: str, reported: str) -> SqlStep | None:
    """The cost processor's bulk step (None when its prices do not fit the table)."""
    rows = price_rows(table)
    if rows is None:
        return None
    prices = Prices(rows)
    tid = lit(prices.table_id)
    src = f"{{db}}.model_prices FINAL WHERE table_id = {tid}"
    priced = f"span_type IN {tuple(sorted(priced_types))}"
    money = [_money(k) for k in reported_keys]
    rep = (f"arrayMap(t -> tuple(arrayFirst(x -> x.2 = 1, t).1, arrayExists((x, i) -> x.2 = -1 AND "
           f"(i < arrayFirstIndex(y -> y.2 = 1, t) OR arrayFirstIndex(y -> y.2 = 1, t) = 0), t, arrayEnumerate(t))), "
           f"[[{', '.join(money)}]])[1]")
    tier_first = "[" + ", ".join(f"({_k(k)}, {_a(k)})" for k in tier_keys) + "]"
    tier_name = f"lowerUTF8({py_strip('t.2')})"
    multiplier = lookup(tier_name, {k: str(v) for k, v in tiers.items()}, lit("1"))
    tier = (f"arrayMap(t -> if(t.1 = {STR}, toDecimal256({multiplier}, 18), "
            f"toDecimal256(1, 18)), [arrayFirst(x -> x.1 NOT IN (0, {NONE}), {tier_first})])[1]")
    start_ns = "toUnixTimestamp64Nano(start_time)"
    day = (f"assumeNotNull(if(start_time IS NULL OR {start_ns} <= 0 OR {start_ns} >= {2**62}, toDate32('2299-12-30'), "
           f"toDate32(intDiv(assumeNotNull({start_ns}), {86_400 * 10**9}))))")
    model = "coalesce(response_model, request_model)"
    providers = "_c_providers"
    keys = f"dictHas('{{db}}.model_prices_dict', ({tid}, KEY), toDate32('2000-01-01'))"
    fields = ("input", "output", "cache_read", "cache_write", "long_threshold", "long_input", "long_output",
              "long_cache_read", "long_cache_write")
    first: dict[str, str] = {
        "_c_providers": (f"(SELECT groupArray(provider) FROM (SELECT provider, min(provider_rank) AS r FROM {src} "
                         "GROUP BY provider ORDER BY r))"),
        "_c_priced": priced,
        "_c_rep": f"if({priced}, {rep}, tuple(NULL, false))",
        "_c_usage": "input_tokens IS NOT NULL OR output_tokens IS NOT NULL",
        "_c_day": day,
        "_c_tier": tier,
    }
    key1 = f"if({model} IS NULL, '', {_candidates('provider', model, providers, keys)})"
    key2 = (f"if(response_model IS NOT NULL AND request_model IS NOT NULL, "
            f"{_candidates('provider', 'request_model', providers, keys)}, '')")
    second: dict[str, str] = {
        "_c_key": f"if(_c_priced AND _c_usage, arrayMap(k -> if(k = '', {key2}, k), [{key1}])[1], '')",
    }
    # the row in force on the span's day (rows of unknown keys are the dictionary's defaults, unused)
    attrs = "(" + ", ".join(lit(f) for f in fields) + ")"
    looked = f"dictGet('{{db}}.model_prices_dict', {attrs}, ({tid}, _c_key), _c_day)"
    row = ("tuple(_c_key, toDate32('1900-01-01'), toDate32('2299-12-31'), 0, "
           + ", ".join(f"_c_d.{i + 1}" for i in range(len(fields))) + ")")
    third: dict[str, str] = {"_c_d": looked}
    third_b: dict[str, str] = {"_c_row": row}
    zero = "toDecimal256(0, 6)"
    computed_cost = f"if(_c_key = 'free', CAST({zero} AS Nullable(Decimal(18, 12))), {_cost('_c_row', '_c_tier')})"
    fourth: dict[str, str] = {
        "_c_computed": f"if(_c_key = '', NULL, {computed_cost})",
        "_c_reported": "CAST(roundBankers(_c_rep.1, 12) AS Nullable(Decimal(18, 12)))",
    }
    unknown = "_c_priced AND _c_usage AND _c_key = ''"
    invalid = f"if(_c_rep.2, {push_flag('flags', flag_invalid)}, flags)"
    fifth: dict[str, str] = {
        "reported_cost_usd": "if(_c_priced, coalesce(reported_cost_usd, _c_reported), reported_cost_usd)",
        "cost_usd": "multiIf(NOT _c_priced, cost_usd, _c_reported > 0, _c_reported, _c_computed IS NOT NULL, "
                    "_c_computed, cost_usd)",
        "cost_source": f"multiIf(NOT _c_priced, cost_source, _c_reported > 0, {lit(reported)}, "
                       f"_c_computed IS NOT NULL, {lit(computed)}, cost_source)",
        "flags": f"if({unknown}, {push_flag(invalid, flag_unknown)}, {invalid})",
    }
    # Decimal reads digits with underscores ("1_000"); ClickHouse does not: such amounts go to Python.
    record = " OR ".join(f"arrayExists(a -> a.key = {lit(k)} AND a.value.value = 'string_value' "
                         "AND match(a.value.string_value, '[0-9]') AND position(a.value.string_value, '_') > 0, _kvs)"
                         for k in reported_keys)
    return SqlStep((first, second, third, third_b, fourth, fifth), record=record, prepare=prices.prepare)

