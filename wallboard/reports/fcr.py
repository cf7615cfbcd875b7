"""First contact resolution for a report: an answered contact of a known customer is resolved at first contact
when the same customer (``wallboard.fcr``: a salted hash) makes no other queue entry on the same matter (the
queue, or its configured group) within ``fcr.days`` days after it joined. Decided when the report is made, from
what the engine recorded (``wallboard.keys``: the queue's day index and the customer's contacts); before the last
day of the period is ``fcr.days`` days old the figures are provisional (a repeat may still come)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import redis.asyncio as aredis

from .. import fcr
from ..config import WallboardConfig
from ..keys import Keys


def _figures(contacts: int, repeated: int) -> dict:
    resolved = contacts - repeated
    return {"contacts": contacts, "resolved": resolved, "fcr": resolved / contacts if contacts else None}


async def fcr_section(
    client: aredis.Redis,
    config: WallboardConfig,
    keys: Keys,
    queues: list[str],
    days: list[date],
    period_end: datetime,
    now: datetime,
) -> dict:
    """Per queue, per agent and in total: contacts (answered, customer known), resolved, fcr; provisional until
    ``period_end`` + ``fcr.days``."""
    n_days = config.fcr.days
    reach = n_days * 86400
    pipe = client.pipeline(transaction=False)
    where = [(q, d) for q in queues for d in days]
    for q, d in where:
        pipe.hgetall(keys.fcr_day(q, d.strftime("%Y%m%d")))
    contacts = []  # (queue, call id, join epoch, customer, agent)
    for (q, _), h in zip(where, await pipe.execute()):
        for field, value in h.items():
            call, join = field.rsplit("|", 1)
            cu, _answered, agent = value.split("|", 2)
            contacts.append((q, call, float(join), cu, agent))
    cache: dict[str, str] = fcr.matters(config)
    pipe = client.pipeline(transaction=False)
    for _, _, join, cu, _ in contacts:
        # the customer's other entries from this one's join (to the second) to N days after it
        pipe.zrangebyscore(keys.customer_contacts(cu), join, join + 1 + reach)
    later = await pipe.execute() if contacts else []
    by_q: dict[str, list[int]] = {}
    by_a: dict[str, list[int]] = {}
    total = [0, 0]
    for (q, call, join, _, agent), members in zip(contacts, later):
        matter = fcr.matter_of(config, q, cache)
        repeated = False
        for m in members:
            m_matter, m_call, m_join = m.rsplit("|", 2)
            if m_matter == matter and m_call != call and join < float(m_join) <= join + reach:
                repeated = True
                break
        for key, table in ((q, by_q), (agent, by_a)):
            if key:
                acc = table.setdefault(key, [0, 0])
                acc[0] += 1
                acc[1] += repeated
        total[0] += 1
        total[1] += repeated
    final_at = period_end + timedelta(days=n_days)
    return {
        "days": n_days,
        "provisional": now < final_at,
        "final_at": final_at.isoformat(timespec="seconds"),
        "queues": {q: _figures(*by_q[q]) for q in queues if q in by_q},
        "agents": {a: _figures(*v) for a, v in sorted(by_a.items())},
        "total": _figures(*total),
    }
