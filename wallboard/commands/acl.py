"""`wallboard acl KIND --user NAME`: the Redis ACL for a user of one kind (``wallboard.acl``): ``desk`` (read
snapshots, add requests), ``service`` (ingest, executor, rollup, scheduler: the audit append-only) or ``admin``."""

from __future__ import annotations

import shlex


def register(sub, add_common) -> None:
    sp = sub.add_parser("acl", help="print the Redis ACL for a desk/TV, service or admin user")
    sp.add_argument(
        "kind",
        choices=["desk", "service", "admin"],
        help="desk: read, request; service: all state, the audit append-only; admin: all",
    )
    sp.add_argument("--user", required=True, help="the Redis ACL user name to create")
    add_common(sp)
    sp.set_defaults(func=cmd_acl)


def cmd_acl(args) -> int:
    from ..acl import setuser_command
    from ._context import config_from_args

    config = config_from_args(args)
    words = setuser_command(args.user, config.redis.prefix, args.kind)
    print("redis-cli " + " ".join(shlex.quote(w) for w in words) + " '>PASSWORD'")
    return 0
