"""``traces show ID``: one trace as a tree, read from the configured store (the embedded
store only while the service is stopped; a ClickHouse server at any time)."""
from __future__ import annotations

import sys

import orjson

from spanlens_pipeline.cli.common import add_config_option, component, load_config
from spanlens_pipeline.component import Kind
from spanlens_pipeline.errors import KeyStoreError
from spanlens_pipeline.ids import id_param

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


def _show(args) -> int:
    cfg = load_config(args)
    trace_id = id_param(args.trace_id, "ID", trace=True)
    query = component(cfg, Kind.EXTENSION, "storage").named
    if args.project:
        try:
            projects = [component(cfg, Kind.EXTENSION, "keystore").open().project(args.project, create=False)[1]]
        except KeyStoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
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
