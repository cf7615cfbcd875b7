"""The queues and agents a centre knows: the config's, in its order, then those only events have named (the
``queues`` and ``agents`` sets of ``wallboard.keys``), sorted. The engine, the rollup and reports list them
the same way."""

from __future__ import annotations

import redis.asyncio as aredis

from .config import WallboardConfig
from .keys import Keys


async def queue_names(client: aredis.Redis, config: WallboardConfig, keys: Keys) -> list[str]:
    order = [q.name for q in config.queues]
    seen = set(await client.smembers(keys.queues))
    return order + sorted(seen - set(order))


async def agent_ids(client: aredis.Redis, config: WallboardConfig, keys: Keys) -> list[str]:
    order = [a.id for a in config.agents]
    seen = set(await client.smembers(keys.agents))
    return order + sorted(seen - set(order))
