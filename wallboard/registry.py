"""The queues and agents a centre knows: the config's, in its order, then those only events have named (the
``queues`` and ``agents`` sets of ``wallboard.keys``), sorted. The engine, the rollup and reports list them
the same way."""

from __future__ import annotations

from .config import WallboardConfig
from .keys import Keys
from .store import AsyncClient, texts


async def queue_names(client: AsyncClient, config: WallboardConfig, keys: Keys) -> list[str]:
    order = [q.name for q in config.queues]
    seen = texts(await client.smembers(keys.queues))
    return order + sorted(seen - set(order))


async def agent_ids(client: AsyncClient, config: WallboardConfig, keys: Keys) -> list[str]:
    order = [a.id for a in config.agents]
    seen = texts(await client.smembers(keys.agents))
    return order + sorted(seen - set(order))
