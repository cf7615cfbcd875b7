"""`wallboard acl desk --user NAME`: the Redis ACL for a user who may read snapshots and add requests only."""

from __future__ import annotations

import shlex


def register(sub, add_common) -> None:
    sp = sub.add_parser("acl", help="print the Redis ACL for a read-and-request-only (desk/TV) user")
    sp.add_argument("kind", choices=["desk"])
    sp.add_argument("--user", required=True)
    add_common(sp)
    sp.set_defaults(func=cmd_acl)


def cmd_acl(args) -> int:
    from ..acl import setuser_command
    from ..cli import config_from_args

    config = config_from_args(args)
    words = setuser_command(args.user, config.redis.prefix)
    print("redis-cli " + " ".join(shlex.quote(w) for w in words) + " '>PASSWORD'")
    return 0
