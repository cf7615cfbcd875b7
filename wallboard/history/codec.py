"""The compact encoding of one interval's (or one day's) counters: a short comma-separated text.

The known counters come first, by position, in a fixed order (``QUEUE_FIELDS`` / ``AGENT_FIELDS``); a zero is
written as nothing and trailing empties are dropped. Any other counter (a pause reason, a counter added later)
follows as ``name=value`` with the name percent-quoted; pause time per reason as ``~reason=value``, the pause
total then left out when it is their sum. Numbers are whole where they are whole and otherwise
rounded to the millisecond. A busy queue interval packs to about 50 bytes, an agent's to about 25, so a day's
hash stays a Redis listpack (small values, at most 100 fields).

The order is part of the stored format: never reorder or remove a name; add new ones at the end (the
catalog's ``stored`` slot of a new metric is the next free one).
"""

from __future__ import annotations

from typing import Mapping
from urllib.parse import quote, unquote

from .. import catalog

# Each stored metric at its catalog slot (``Metric.stored``), a breakdown as its parts; tests pin the order.
QUEUE_FIELDS: tuple[str, ...] = catalog.codec_fields("queue")
AGENT_FIELDS: tuple[str, ...] = catalog.codec_fields("agent")
# gauges: a total is their maximum, not their sum
MAX_FIELDS = catalog.peak_fields()


def fmt(v: float) -> str:
    if not v:
        return ""
    r = round(float(v), 3)
    if r == int(r):
        return str(int(r))
    return f"{r:.3f}".rstrip("0")


def pack(fields: tuple[str, ...], c: Mapping[str, float]) -> str:
    """Counters -> text; '' when every counter is zero."""
    reasons = {k: v for k, v in c.items() if k.startswith(PAUSE_PREFIX)}
    implied = bool(reasons) and abs(sum(reasons.values()) - c.get("paused_s", 0)) < 0.0005
    pos = [fmt(c.get(f, 0)) if not (implied and f == "paused_s") else "" for f in fields]
    while pos and not pos[-1]:
        pos.pop()
    known = set(fields)
    extra = [f"{_name_out(k)}={s}" for k in sorted(c) if k not in known and (s := fmt(c[k]))]
    return ",".join(pos + extra)


def unpack(fields: tuple[str, ...], text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    if not text:
        return out
    i = 0
    for item in text.split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            out[_name_in(k)] = float(v)
            continue
        if item:
            out[fields[i]] = float(item)
        i += 1
    if "paused_s" in fields and "paused_s" not in out:
        reasons = [v for k, v in out.items() if k.startswith(PAUSE_PREFIX)]
        if reasons:
            out["paused_s"] = sum(reasons)
    return out


# pause time per reason is written "~reason=seconds", and the pause total is left out when it is their sum
PAUSE_PREFIX = "paused_s:"


def _name_out(k: str) -> str:
    if k.startswith(PAUSE_PREFIX):
        return "~" + quote(k[len(PAUSE_PREFIX) :], safe="_-.:")
    return quote(k, safe="_-.:")


def _name_in(k: str) -> str:
    if k.startswith("~"):
        return PAUSE_PREFIX + unquote(k[1:])
    return unquote(k)


def merge(into: dict[str, float], c: Mapping[str, float]) -> dict[str, float]:
    """Add ``c`` to ``into`` (gauges by maximum)."""
    for k, v in c.items():
        if k in MAX_FIELDS:
            into[k] = max(into.get(k, 0.0), v)
        else:
            into[k] = into.get(k, 0.0) + v
    return into
