"""Redis ACL rules for the people who only look and ask: a desk or TV user may read the published snapshots,
the audit trail and pending auto-reverts, subscribe to the snapshot channels and add requests to the request
stream — and write nothing else. (Works on Redis >= 7 and Valkey; no script or state key is reachable.)"""

from __future__ import annotations

from .keys import Keys


def desk_rules(prefix: str = "wb") -> list[str]:
    k = Keys(prefix)
    return [
        "resetkeys", "resetchannels",
        f"%R~{k.summary}", f"%R~{k.agents_detail}", f"%R~{k.centre}:audit", f"%R~{k.centre}:reverts",
        f"%W~{k.requests}",
        f"&{k.channel}", f"&{k.agents_channel}",
        "-@all", "+get", "+subscribe", "+unsubscribe", "+xadd", "+xread", "+xrange", "+xrevrange", "+zrange",
        "+ping", "+hello", "+client|setname",
    ]  # fmt: skip


def setuser_command(user: str, prefix: str = "wb") -> list[str]:
    """The ACL SETUSER arguments for a desk user (the password is added by whoever runs it)."""
    return ["ACL", "SETUSER", user, "on", *desk_rules(prefix)]
