"""``limits``: set, list and clear runtime rate limits (a running service sees them at once)."""
from __future__ import annotations

from spanlens_pipeline.cli.common import CommandError, add_config_option, load_config
from spanlens_pipeline.component import Kind
from spanlens_pipeline.extensions.keystore.cli import keystore_of

from .rules import runtime_limits

SCOPES = ("api_key", "project", "end_user")
MAX_VALUE = 2**32 - 1  # the shared table's UInt32 columns


def register(sub) -> None:
    p = sub.add_parser("limits", help="manage customer rate limits (per key, project or end user)")
    ls = p.add_subparsers(dest="limits_command", required=True, metavar="ACTION")
    s = ls.add_parser("set", help="set N requests per W seconds for a key, its project or its end users")
    s.add_argument("--key", required=True, help="the Spanlens key or its display prefix")
    s.add_argument("--scope", required=True, choices=SCOPES,
                   help="api_key: this key; project: the key's project; end_user: each end user of this key")
    s.add_argument("--end-user", help="end_user scope only: one X-Spanlens-User value (default: every end user)")
    s.add_argument("--limit", required=True, type=int, metavar="N", help="requests allowed per window")
    s.add_argument("--window", required=True, type=int, metavar="SECONDS", help="window length in seconds")
    add_config_option(s)
    s.set_defaults(func=_set)
    l = ls.add_parser("list", help="list limits (from the config and set here)")
    add_config_option(l)
    l.set_defaults(func=_list)
    c = ls.add_parser("clear", help="remove limits set here (those of a key and its project, or --all)")
    who = c.add_mutually_exclusive_group(required=True)
    who.add_argument("--key", help="the Spanlens key or its display prefix")
    who.add_argument("--all", action="store_true", help="every limit set here")
    c.add_argument("--scope", choices=SCOPES, help="only this scope")
    c.add_argument("--end-user", help="only the limit of this end user")
    add_config_option(c)
    c.set_defaults(func=_clear)



def _set(args) -> int:
    if args.limit < 1 or args.window < 1:
        raise CommandError("--limit and --window must be at least 1")
    if max(args.limit, args.window) > MAX_VALUE:
        raise CommandError(f"--limit and --window must be at most {MAX_VALUE}")
    if args.end_user is not None and args.scope != "end_user":
        raise CommandError("--end-user applies to --scope end_user only")
    store = keystore_of(load_config(args))
    info = store.find_key(args.key)
    key_id, project_id = ("", info.project_id) if args.scope == "project" else (info.id, "")
    runtime_limits(store).set(args.scope, key_id, project_id, args.end_user or "", args.limit, args.window)
    target = f"project {info.project_name!r}" if args.scope == "project" else f"key {info.prefix}"
    user = f", end user {args.end_user!r}" if args.end_user else (", each end user" if args.scope == "end_user" else "")
    print(f"set {args.scope} limit for {target}{user}: {args.limit} requests per {args.window}s")
    return 0


def _clear(args) -> int:
    store = keystore_of(load_config(args))
    key_id = project_id = None
    if args.key:
        info = store.find_key(args.key)
        key_id, project_id = info.id, info.project_id
    n = runtime_limits(store).clear(key_id, project_id, args.scope, args.end_user)
    print(f"cleared {n} limit{'s' if n != 1 else ''}")
    return 0


def _list(args) -> int:
    cfg = load_config(args)
    print(f"{'SOURCE':<7} {'SCOPE':<9} {'KEY':<22} {'PROJECT':<20} {'END USER':<16} LIMIT")
    for c in cfg.of_kind(Kind.EXTENSION):
        if c.factory.type != "ratelimit":
            continue
        for r in c.config.limits:
            _row("config", r.scope, r.key or "*", r.project or "*", r.end_user, r.requests, r.window // 1000)
    for r in runtime_limits(keystore_of(cfg)).listing():
        _row("cli", r["scope"], r["key_prefix"] or "*", r["project_name"] or "?", r["end_user"],
             r["requests"], r["window_seconds"])
    return 0


def _row(source, scope, key, project, end_user, requests, window) -> None:
    user = end_user or ("*" if scope == "end_user" else "")
    print(f"{source:<7} {scope:<9} {key:<22} {project:<20} {user:<16} {requests}/{window}s")
