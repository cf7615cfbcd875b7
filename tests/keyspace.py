"""What a namespace holds, for tests that compare two runs key by key (one home for the walk)."""

from __future__ import annotations


async def keyspace(client, base: str) -> dict:
    """Every key that starts with ``base`` (``base`` taken off): its type, its whole value and whether it
    expires. A client that decodes replies."""
    out = {}
    async for key in client.scan_iter(match=f"{base}*", count=10_000):
        kind = await client.type(key)
        if kind == "hash":
            value: object = await client.hgetall(key)
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            value = sorted(await client.smembers(key))
        elif kind == "string":
            value = await client.get(key)
        elif kind == "list":
            value = await client.lrange(key, 0, -1)
        else:
            value = await client.xrange(key) if kind == "stream" else kind
        out[key[len(base) :]] = (kind, value, await client.pttl(key) >= 0)
    return out
