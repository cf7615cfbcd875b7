"""Redis ACL rules, one kind of user per job (Redis >= 7 and Valkey; ``wallboard acl KIND --user NAME``):

- ``desk``: the people who only look and ask (desk UI, TV terminal, the hub): read the published snapshots,
  the ticker, the audit trail and pending auto-reverts, subscribe to the snapshot channels and add requests
  to the request stream -- and write nothing else. No script or state key is reachable.
- ``service``: the processes that keep the state (ingest, executor, rollup, scheduler, ``wallboard ticker``):
  every command but the dangerous ones on every key of the centre's prefix -- except the audit stream, which
  it may only append to (XADD) and read. DEL, UNLINK, XDEL, XTRIM, SET, RENAME, EXPIRE, RESTORE ... on the audit
  are refused, by keys: the service's key patterns leave the audit out, and a selector gives it XADD and reads.
- ``admin``: operators' tooling (retention of the audit, dropping a namespace): every non-dangerous command on
  every key of the prefix, the audit included.

Limit: Redis ACLs cannot restrict a command's arguments, so XADD's own MAXLEN/MINID options could still trim
the audit for a ``service`` user. Our code never passes them on the audit; the admin user alone may XTRIM.
"""

from __future__ import annotations

from .keys import Keys

KINDS = ("desk", "service", "admin")


def _glob(literal: str) -> str:
    """A literal key text inside a Redis glob pattern (a prefix may hold * ? [ ] or \\)."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in literal)


def audit_key(prefix: str) -> str:
    return Keys(prefix).audit


def _all_but(prefix: str, excluded: str) -> list[str]:
    """Glob patterns matching every key under ``prefix:`` except those starting with ``excluded`` (a Redis ACL
    has no negative key pattern): for excluded = e1 e2 ... en, the keys that leave it at character i."""
    head = f"{prefix}:"
    assert excluded.startswith(head)
    rest = excluded[len(head) :]
    out = []
    for i, ch in enumerate(rest):
        other = "\\" + ch if ch in "^]\\" else ch  # inside [^...] only these need escaping
        out.append(f"~{_glob(head + rest[:i])}[^{other}]*")
        if i:  # the shorter key itself: a slot's base (P:{c}) is a script's KEYS[1]
            out.append(f"~{_glob(head + rest[:i])}")
    return out


def desk_rules(prefix: str = "wb") -> list[str]:
    k = Keys(prefix)
    g = _glob
    return [
        "resetkeys",
        "resetchannels",
        f"%R~{g(k.summary)}",
        f"%R~{g(k.agents_detail)}",
        f"%R~{g(k.ticker)}",
        f"%R~{g(k.audit)}",
        f"%R~{g(k.reverts)}",
        f"%R~{g(k.takeovers)}",
        f"%W~{g(k.requests)}",
        f"%W~{g(k.snap_want)}",
        f"&{g(k.channel)}",
        f"&{g(k.agents_channel)}",
        f"&{g(k.delta_channel)}",
        "-@all",
        "+get",
        "+mget",
        "+set",
        "+subscribe",
        "+unsubscribe",
        "+xadd",
        "+xread",
        "+xrange",
        "+xrevrange",
        "+zrange",
        "+ping",
        "+hello",
        "+client|setname",
    ]


def service_rules(prefix: str = "wb") -> list[str]:
    audit = _glob(audit_key(prefix))
    return [
        "resetkeys",
        "resetchannels",
        *_all_but(prefix, audit_key(prefix)),
        f"&{_glob(prefix)}:*",
        "-@all",
        "+@all",
        "-@dangerous",
        f"(~{audit} -@all +xadd +xrange +xrevrange +xread +xlen)",  # the audit: append and read, nothing else
    ]


def admin_rules(prefix: str = "wb") -> list[str]:
    return ["resetkeys", "resetchannels", f"~{_glob(prefix)}:*", f"&{_glob(prefix)}:*", "-@all", "+@all", "-@dangerous"]


RULES = {"desk": desk_rules, "service": service_rules, "admin": admin_rules}


def setuser_command(user: str, prefix: str = "wb", kind: str = "desk") -> list[str]:
    """The ACL SETUSER arguments for a user of ``kind`` (the password is added by whoever runs it)."""
    return ["ACL", "SETUSER", user, "on", *RULES[kind](prefix)]
