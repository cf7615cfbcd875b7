"""First contact resolution: who a customer is, without keeping who they are.

A customer is the salted HMAC-SHA256 of their customer id (when a feed gives one) or caller number, so the same
customer is recognised across contacts while the number itself is never stored for it; without a salt
(``[fcr] salt_env`` / ``salt_file``) nothing is recorded. A contact's matter is its queue, or the configured group
the queue is in. The engine records each queue entry under its customer and each answered contact under its
queue and day (``wallboard.keys``); ``wallboard.reports.fcr`` decides resolved or not when it reports.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from .config import WallboardConfig

HASH_CHARS = 24  # 96 bits: no two customers of a centre meet by chance


def load_salt(config: WallboardConfig) -> bytes | None:
    """The salt from ``fcr.salt_file`` (wins) or the environment variable ``fcr.salt_env``; None: FCR is off."""
    f = config.fcr.salt_file
    if f is not None:
        try:
            text = f.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"fcr.salt_file: cannot read {f}: {e.strerror}") from None
        return text.encode() if text else None
    text = os.environ.get(config.fcr.salt_env, "").strip()
    return text.encode() if text else None


# what PBXs and carriers put for a withheld number (lower case, without <> or quotes)
WITHHELD = frozenset(
    {
        "anonymous",
        "restricted",
        "private",
        "unknown",
        "unavailable",
        "withheld",
        "blocked",
        "nocallerid",
        "no caller id",
    }
)


def customer_ident(customer: str | None, caller: str | None) -> str | None:
    """Who a contact's customer is: the CRM id, else the caller (a number, or a chat platform's visitor id). A
    withheld number ('anonymous', 'Restricted', '<unknown>', 'sip:anonymous@...', zeros) identifies nobody:
    all such callers are not one customer, each of whose contacts would make the one before a repeat."""
    if customer and customer.strip():
        return customer
    c = (caller or "").strip().strip("<>\"'").lower()
    if not c or c in WITHHELD or c.startswith(("anonymous@", "sip:anonymous@")):
        return None
    if c.lstrip("+").isdigit() and not c.lstrip("+0"):
        return None  # zeros
    return caller


def customer_hash(salt: bytes, ident: str) -> str:
    return hmac.new(salt, ident.strip().encode(), hashlib.sha256).hexdigest()[:HASH_CHARS]


def matters(config: WallboardConfig) -> dict[str, str]:
    """queue -> its matter (the configured group it is in; a queue in none is its own)."""
    out: dict[str, str] = {}
    for group, queues in config.fcr.groups.items():
        for q in queues:
            out[q] = f"g:{group}"
    return out


def matter_of(config: WallboardConfig, queue: str, cache: dict[str, str] | None = None) -> str:
    m = (cache if cache is not None else matters(config)).get(queue)
    return m if m is not None else f"q:{queue}"
