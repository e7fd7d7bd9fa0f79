"""What a client may run: one read statement, no table function that reaches outside the store,
only allow-listed settings, and no limit loosened.

The statement is split into tokens (string literals, quoted identifiers and comments are
recognised, so a forbidden word inside a string is no match). The engine runs every query
with ``readonly=1`` as well; the checks here refuse what ``readonly=1`` still lets through
(``file(...)`` as a scalar function, ``INTO OUTFILE``) and give a clear error before any
engine work.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .exceptions import ClickHouseException, access_denied, readonly, syntax

READ_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"})

# Functions (table or scalar) that read or write outside the store, or run code.
DENIED_FUNCTIONS = frozenset(name.lower() for name in (
    "file", "fileCluster", "url", "urlCluster", "s3", "s3Cluster", "gcs", "cosn", "oss", "hdfs", "hdfsCluster",
    "azureBlobStorage", "azureBlobStorageCluster", "remote", "remoteSecure", "cluster", "clusterAllReplicas",
    "mysql", "postgresql", "jdbc", "odbc", "sqlite", "redis", "mongodb", "executable", "executablePool",
    "input", "python", "deltaLake", "deltaLakeCluster", "iceberg", "hudi", "hudiCluster", "paimon",
    "arrowFlight", "ytsaurus", "prometheusQuery", "prometheusQueryRange", "timeSeriesSelector",
    "catboostEvaluate", "modelEvaluate", "pandas", "pyreader", "pyarrow",
))
_DENIED_PREFIXES = ("iceberg", "deltalake", "paimon", "azure", "hudi", "s3", "hdfs")
# Words that make a read statement write a file or read one.
DENIED_WORDS = frozenset({"OUTFILE", "INFILE"})

# Settings a client may pass freely (URL parameters or a SETTINGS clause).
_FREE_SETTINGS = frozenset({
    "date_time_output_format", "extremes", "totals_mode", "totals_auto_threshold", "join_use_nulls",
    "session_timezone", "max_block_size", "result_overflow_mode", "max_rows_to_read", "max_bytes_to_read",
    "read_overflow_mode", "max_rows_to_group_by", "group_by_overflow_mode", "max_rows_to_sort",
    "max_bytes_to_sort", "sort_overflow_mode", "max_rows_in_join", "max_bytes_in_join", "join_overflow_mode",
    "max_query_size", "max_ast_depth", "max_ast_elements", "log_comment", "date_time_input_format",
    "timeout_overflow_mode", "max_rows_to_transfer", "max_bytes_to_transfer", "transfer_overflow_mode",
    "format_csv_delimiter", "format_csv_null_representation", "format_tsv_null_representation",
    "format_csv_allow_single_quotes", "format_csv_allow_double_quotes", "max_columns_to_read",
    "prefer_column_name_to_alias", "joined_subquery_requires_alias", "final", "use_skip_indexes",
    "optimize_read_in_order", "aggregate_functions_null_for_empty", "enable_analyzer",
})
_FREE_PREFIXES = ("output_format_", "input_format_")
# Limits the server sets; a client may only tighten them (a positive value not above the server's).
BOUNDED_SETTINGS = ("max_execution_time", "max_memory_usage", "max_result_rows", "max_result_bytes",
                    "max_threads")
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Token:
    kind: str  # word, ident (quoted identifier), string, number, punct, semi
    text: str
    start: int
    end: int


@dataclass
class Statement:
    """A checked statement: its text without the FORMAT and SETTINGS clauses, and those."""

    sql: str
    fmt: str | None = None
    settings: dict[str, str] = field(default_factory=dict)


def tokens(sql: str) -> list[Token]:
    """The tokens of ``sql``; comments and whitespace are dropped. Raises SYNTAX_ERROR on an open literal."""
    out: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i) or c == "#":
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif sql.startswith("/*", i):
            i = _block_comment_end(sql, i)
        elif c in "'\"`":
            j = _quoted_end(sql, i, c)
            out.append(Token("string" if c == "'" else "ident", _unquote(sql[i + 1:j - 1], c), i, j))
            i = j
        elif c == "$" and (m := re.match(r"\$([A-Za-z0-9_]*)\$", sql[i:])):
            tag = m.group(0)
            j = sql.find(tag, i + len(tag))
            if j < 0:
                raise syntax("Unterminated heredoc string")
            out.append(Token("string", sql[i + len(tag):j], i, j + len(tag)))
            i = j + len(tag)
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_$"):
                j += 1
            out.append(Token("word", sql[i:j], i, j))
            i = j
        elif c.isdigit():
            m = re.match(r"0[xX][0-9a-fA-F]+|0[bB][01]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", sql[i:])
            assert m is not None
            out.append(Token("number", m.group(0), i, i + m.end()))
            i += m.end()
        elif c == ";":
            out.append(Token("semi", c, i, i + 1))
            i += 1
        else:
            out.append(Token("punct", c, i, i + 1))
            i += 1
    return out


def _block_comment_end(sql: str, i: int) -> int:
    depth, j = 0, i
    while j < len(sql):
        if sql.startswith("/*", j):
            depth, j = depth + 1, j + 2
        elif sql.startswith("*/", j):
            depth, j = depth - 1, j + 2
            if depth == 0:
                return j
        else:
            j += 1
    raise syntax("Unterminated comment")


def _quoted_end(sql: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(sql):
        ch = sql[j]
        if ch == "\\":
            j += 2
        elif ch == quote:
            if j + 1 < len(sql) and sql[j + 1] == quote:
                j += 2
            else:
                return j + 1
        else:
            j += 1
    raise syntax(f"Unterminated quoted {'string' if quote == chr(39) else 'identifier'}")


def _unquote(body: str, quote: str) -> str:
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}.get(m.group(1), m.group(1)), body)


def is_denied_function(name: str) -> bool:
    low = name.lower()
    return low in DENIED_FUNCTIONS or low.startswith(_DENIED_PREFIXES)


def check(sql: str, bounds: dict[str, int]) -> Statement:
    """The statement ``sql`` if a client may run it; a ClickHouse-style refusal otherwise."""
    toks = tokens(sql)
    while toks and toks[-1].kind == "semi":
        toks.pop()
    if not toks:
        raise syntax("Empty query")
    if any(t.kind == "semi" for t in toks):
        raise syntax("Multi-statements are not allowed")
    first = next((t for t in toks if t.text != "("), toks[0])
    if first.kind != "word" or first.text.upper() not in READ_STATEMENTS:
        raise readonly(f"Cannot execute query in readonly mode: only {', '.join(sorted(READ_STATEMENTS))} "
                       f"statements are allowed, not {first.text[:40]!r}")
    depth = 0
    cut: list[tuple[int, int]] = []  # character ranges of top-level FORMAT and SETTINGS clauses
    stmt = Statement(sql="")
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.kind == "punct" and t.text == "(":
            depth += 1
        elif t.kind == "punct" and t.text == ")":
            depth -= 1
        elif t.kind in ("word", "ident") and nxt is not None and nxt.text == "(" and is_denied_function(t.text):
            raise access_denied(f"Function {t.text!r} reaches outside the store and is not allowed here")
        elif t.kind == "word" and t.text.upper() in DENIED_WORDS:
            raise access_denied(f"{t.text.upper()} is not allowed: queries cannot read or write files")
        elif t.kind == "word" and t.text.upper() == "SETTINGS" and _is_assignment(toks, i + 1):
            j, pairs = _settings_clause(toks, i + 1)
            for name, value in pairs:
                checked = setting(name, value, bounds)
                if depth == 0 and checked is not None:
                    stmt.settings[name] = checked
                elif checked is not None:
                    raise readonly(f"Cannot modify '{name}' setting in readonly mode: "
                                   "settings go in the top-level SETTINGS clause or the URL")
            if depth == 0:
                cut.append((t.start, toks[j - 1].end))
            i = j
            continue
        elif (depth == 0 and t.kind == "word" and t.text.upper() == "FORMAT" and nxt is not None
              and nxt.kind in ("word", "ident") and not (i + 2 < len(toks) and toks[i + 2].text == "(")):
            stmt.fmt = nxt.text
            cut.append((t.start, nxt.end))
            i += 2
            continue
        i += 1
    end = toks[-1].end
    text, pos = [], 0
    for a, b in sorted(cut):
        text.append(sql[pos:a])
        pos = b
    text.append(sql[pos:end])
    stmt.sql = "".join(text).strip()
    return stmt


def _is_assignment(toks: list[Token], i: int) -> bool:
    return i + 1 < len(toks) and toks[i].kind in ("word", "ident") and toks[i + 1].text == "="


def _settings_clause(toks: list[Token], i: int) -> tuple[int, list[tuple[str, str]]]:
    """Parse ``name = value [, ...]`` from token ``i``; return the index after it and the pairs."""
    pairs: list[tuple[str, str]] = []
    while True:
        if not _is_assignment(toks, i):
            raise syntax("Expected name = value in the SETTINGS clause")
        name = toks[i].text
        j = i + 2
        sign = ""
        if j < len(toks) and toks[j].text in "+-" and toks[j].kind == "punct":
            sign, j = toks[j].text, j + 1
        if j >= len(toks) or toks[j].kind not in ("number", "string", "word"):
            raise syntax(f"Expected a literal value for setting {name!r}")
        pairs.append((name, sign + toks[j].text))
        j += 1
        if j < len(toks) and toks[j].text == ",":
            i = j + 1
            continue
        return j, pairs


def setting(name: str, value: str, bounds: dict[str, int]) -> str | None:
    """The value to apply for a client's setting, None for a harmless no-op; raises if refused."""
    if not _SETTING_NAME.match(name):
        raise ClickHouseException(115, f"Invalid setting name {name[:60]!r}")
    low = name.lower()
    if low == "readonly":
        if value.strip() in ("1", "'1'"):
            return None  # asks for what is enforced anyway
        raise readonly("Cannot modify 'readonly' setting in readonly mode")
    if low in BOUNDED_SETTINGS:
        bound = bounds.get(low, 0)
        try:
            number = float(value)
        except ValueError:
            raise ClickHouseException(36, f"Setting {name} must be a number, got {value[:40]!r}") from None
        if number <= 0 or (bound and number > bound):
            limit = f"a positive value not above {bound}" if bound else "a positive value"
            raise readonly(f"Cannot modify '{name}' setting in readonly mode beyond the server's limit "
                           f"(allowed: {limit})")
        return value
    if low in _FREE_SETTINGS or (low.startswith(_FREE_PREFIXES) and "schema" not in low):
        return value
    raise readonly(f"Cannot modify '{name}' setting in readonly mode: not on the allowed list")
