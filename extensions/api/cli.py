"""``traces show ID`` (one trace as a tree), ``traces list`` (the newest traces) and
``stats --by KEY`` (usage per model, provider, user, day…), read from the configured
store: an embedded store through the running service's SQL endpoint, or directly while the
service is stopped; a ClickHouse server at any time. They ask the same questions as the read API (``reads``)."""
from __future__ import annotations

import sys
from typing import Any

import orjson

from spanlens_pipeline.cli.common import add_config_option, component, load_config
from spanlens_pipeline.component import Kind
from spanlens_pipeline.errors import CommandError, KeyStoreError, SpanlensError
from spanlens_pipeline.ids import id_param

from . import reads
from .tree import load_trace


def register(sub) -> None:
    p = sub.add_parser("traces", help="inspect stored traces")
    ts = p.add_subparsers(dest="traces_command", required=True, metavar="ACTION")
    s = ts.add_parser("show", help="print one trace as a tree of spans")
    s.add_argument("trace_id", metavar="ID", help="trace id (UUID or 32 hex digits)")
    s.add_argument("--project", help="project name (needed only when several projects hold the id)")
    s.add_argument("--json", action="store_true", help="print the API's JSON instead of a tree")
    add_config_option(s)
    s.set_defaults(func=_show)

    ls = ts.add_parser("list", help="list the newest traces (filters as GET /api/v1/traces)")
    for name, text in [("--since", "ISO 8601 time or age (7d, 24h)"), ("--until", "ISO 8601 time or age"),
                       ("--status", "ok, error or running"), ("--name", "substring of the name, any case"),
                       ("--model", "model called"), ("--provider", "provider called"), ("--user-id", "end user"),
                       ("--session-id", "session"), ("--min-cost", "least total cost in USD")]:
        ls.add_argument(name, help=text)
    ls.add_argument("--limit", default="50", help="how many (default 50, at most 500)")
    ls.add_argument("--project", help="project name (default: every project)")
    ls.add_argument("--json", action="store_true", help="print the API's JSON")
    add_config_option(ls)
    ls.set_defaults(func=_list)

    st = sub.add_parser("stats", help="model-call usage grouped by one key (as GET /api/v1/stats)")
    st.add_argument("--by", default="model", metavar="KEY[,KEY]",
                    help="grouping key, or two: " + ", ".join(reads.GROUP_BY) + " (default model; e.g. day,model)")
    st.add_argument("--since", default="7d", help="ISO 8601 time or age (default 7d)")
    st.add_argument("--until", help="ISO 8601 time or age")
    st.add_argument("--model", help="only this model")
    st.add_argument("--provider", help="only this provider")
    st.add_argument("--project", help="project name (default: every project)")
    st.add_argument("--json", action="store_true", help="print the API's JSON")
    add_config_option(st)
    st.set_defaults(func=_stats)


def _show(args) -> int:
    cfg = load_config(args)
    trace_id = id_param(args.trace_id, "ID", trace=True)
    query = _storage(cfg).named
    if args.project:
        projects = [_project_id(cfg, args.project)]
    else:
        projects = [r["project_id"] for r in query("trace_projects", t=trace_id)]
    if len(projects) > 1:
        print("error: several projects hold this trace id; choose one with --project", file=sys.stderr)
        return 1
    trace = load_trace(query, projects[0], trace_id) if projects else None
    if trace is None:
        print(f"error: trace {args.trace_id} not found", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(trace, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    print(f"trace {trace['id']}  {trace['name']!r}  {trace['status']}  {_duration(trace)}  "
          f"spans={trace['span_count']} tokens={trace['total_tokens']} cost={trace['total_cost_usd'] or '-'}")
    for i, node in enumerate(trace["spans"]):
        _print_node(node, "", i == len(trace["spans"]) - 1)
    return 0


def _duration(node: dict) -> str:
    return "-" if node["duration_ms"] is None else f"{node['duration_ms']:.1f}ms"


def _print_node(node: dict, indent: str, last: bool) -> None:
    tokens = f" tokens={node['total_tokens']}" if node["total_tokens"] is not None else ""
    orphan = " [orphan]" if node["orphan"] else ""
    print(f"{indent}{'└─' if last else '├─'} {node['name']} ({node['span_type'] or node['kind'] or '-'}) "
          f"{node['status']} {_duration(node)}{tokens}{orphan}  {node['id']}")
    children = node["children"]
    for i, child in enumerate(children):
        _print_node(child, indent + ("   " if last else "│  "), i == len(children) - 1)


def _storage(cfg: Any) -> Any:
    """The storage extension to read: through the running service's sql endpoint when it
    answers (the embedded store belongs to that service), else the store itself."""
    from spanlens_pipeline.extensions.sql.cli import live_store

    storage = component(cfg, Kind.EXTENSION, "storage")
    live = live_store(cfg) if storage.embedded else None
    if live is not None:
        storage.use(live)
    elif storage.config.create_schema:
        storage.migrate()
    return storage


def _reader(args) -> tuple:
    """The storage extension (schema brought up to date) and the projects asked for."""
    cfg = load_config(args)
    storage = _storage(cfg)
    projects: list[str] = []
    if args.project:
        projects = [_project_id(cfg, args.project)]
    return storage, projects


def _project_id(cfg: Any, name: str) -> str:
    """The id of project ``name`` (an error naming it if there is none)."""
    from spanlens_pipeline.extensions.keystore.cli import keystore_of

    try:
        return keystore_of(cfg).project(name, create=False)[1]
    except KeyStoreError as exc:
        raise CommandError(str(exc)) from None


def _filters(args, names: tuple[str, ...]) -> reads.Filters:
    raw = {n: str(getattr(args, n)) for n in names if getattr(args, n, None) not in (None, "")}
    try:
        return reads.Filters.parse(raw)
    except SpanlensError as exc:
        raise CommandError(exc.message) from None


def _list(args) -> int:
    f = _filters(args, ("since", "until", "status", "name", "model", "provider", "user_id", "session_id",
                        "min_cost", "limit"))
    storage, projects = _reader(args)
    try:
        page = reads.list_traces(storage.filtered, None, projects, f)
    except SpanlensError as exc:
        raise CommandError(exc.message) from None
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(page, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    rows = [[t["started_at"][:19].replace("T", " ") if t["started_at"] else "-", t["id"], (t["name"] or "-")[:40],
             t["status"], str(t["span_count"]), str(t["total_tokens"]), t["total_cost_usd"] or "-",
             _duration(t), ",".join(t["models"]) or "-"] for t in page["data"]]
    _table(["started", "id", "name", "status", "spans", "tokens", "cost_usd", "duration", "models"], rows,
           right={4, 5, 6, 7})
    return 0


def _stats(args) -> int:
    f = _filters(args, ("since", "until", "model", "provider"))
    storage, projects = _reader(args)
    try:
        by = reads.parse_group_by(args.by)
    except SpanlensError as exc:
        raise CommandError(exc.message) from None
    data = reads.stats(storage.filtered, None, projects, f, args.by)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
        return 0
    rows = [[*(r["keys"][k] or "-" for k in by), str(r["calls"]), str(r["input_tokens"]), str(r["output_tokens"]),
             str(r["cache_read_tokens"]), str(r["reasoning_tokens"]), r["cost_usd"] or "-", str(r["errors"]),
             f"{r['p50_latency_ms']:.1f}", f"{r['p95_latency_ms']:.1f}"] for r in data["data"]]
    _table([*by, "calls", "input", "output", "cache_read", "reasoning", "cost_usd", "errors", "p50_ms", "p95_ms"],
           rows, right=set(range(len(by), len(by) + 9)))
    return 0


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> None:
    """Print an aligned table (numbers right-aligned); ``(none)`` when there are no rows."""
    if not rows:
        print("(none)")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        print("  ".join(cells).rstrip())
