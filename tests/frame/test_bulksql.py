"""The bulk path's SQL helpers render values exactly as the record path does (orjson, str.strip)."""
from __future__ import annotations

import random
import struct

import orjson
import pytest

from spanlens_pipeline.bulksql import float_json, json_string, lit, py_strip


def _one(store, expr: str) -> object:
    rows = store.query(f"SELECT {expr} AS v SETTINGS output_format_json_escape_forward_slashes = 0, "
                       "max_query_size = 10000000")
    return rows[0]["v"]


def test_float_json_is_orjson_for_every_kind_of_double(store):
    rng = random.Random(3)
    values = [0.0, -0.0, 1.5, 0.1, 1e15, 1e16, 1e20, 1e21, 1e-5, 1e-7, 5e-324, 1.7976931348623157e308, -2.0,
              9999999999999998.0, 1234567890123456.7, float("nan"), float("inf"), float("-inf")]
    values += [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(1500)]
    values += [rng.random() * 10 ** rng.randint(-30, 30) for _ in range(1500)]
    blob = b"".join(struct.pack("<d", v) for v in values).hex()
    arr = f"arrayMap(i -> reinterpretAsFloat64(substring(unhex('{blob}'), i * 8 + 1, 8)), range({len(values)}))"
    got = _one(store, f"arrayMap(x -> {float_json('x')}, {arr})")
    want = [orjson.dumps(v).decode() for v in values]
    assert [(v, w, g) for v, w, g in zip(values, want, got, strict=True) if w != g] == []


@pytest.mark.parametrize("text", ["a/b", "\u2028x\u2029", 'é"\\', "".join(map(chr, range(32))) + "\x7f",
                                  "tab\there", "\\u2028", "日本", ""])
def test_json_string_is_orjson(store, text):
    assert _one(store, json_string(lit(text))) == orjson.dumps(text).decode()


@pytest.mark.parametrize("text", [" a ", "\u3000x\x0b", "\xa0\x85y\u2028", "plain", "", "  ", "\x1c é \x1f",
                                  "a\u3000 ", " \u2003b"])
def test_py_strip_is_str_strip(store, text):
    assert _one(store, py_strip(lit(text))) == text.strip()


def test_a_processor_without_a_sql_step_keeps_its_pipeline_on_the_record_path():
    import logging

    from spanlens_pipeline.component import Processor, Settings
    from spanlens_pipeline.processors import auth, genai, memory_limiter, parent_link, truncation

    assert Processor(Settings("third-party", logging.getLogger("t")), None).bulk_sql() is None
    for mod in (memory_limiter, auth, genai, parent_link, truncation):  # the default pipeline (cost: see golden)
        f = mod.factory
        step = f.create(Settings(f.type, logging.getLogger(f.type)), f.config()).bulk_sql()
        assert step is not None, f.type
    limiter = memory_limiter.factory
    assert limiter.create(Settings("m", logging.getLogger("m")), limiter.config()).bulk_sql().layers == ()
