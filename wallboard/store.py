"""Connecting to Redis (a URL, or the shared embedded server) and running our Lua scripts by EVALSHA.

The key layout is documented in ``wallboard.keys``.
"""

from __future__ import annotations

import os
from importlib.resources import files

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from .config import WallboardConfig


class StoreUnavailable(RuntimeError):
    """Redis could not be reached; the message names the URL tried."""


def resolve_url(config: WallboardConfig, url: str | None = None) -> str:
    """--redis flag > REDIS_URL > WALLBOARD_REDIS__URL / the file's redis.url > the embedded server."""
    chosen = url or os.environ.get("REDIS_URL") or config.redis.url
    if chosen:
        return chosen
    from .redis_server import ensure_embedded

    return ensure_embedded()


def _password(config: WallboardConfig) -> str | None:
    f = config.redis.password_file
    return f.read_text().strip() if f else None


async def connect(config: WallboardConfig, url: str | None = None) -> aredis.Redis:
    """An asyncio client, checked with a PING; raises StoreUnavailable with the URL on failure."""
    target = resolve_url(config, url)
    # one immediate retry heals a stale pooled connection; longer outages are our loops' to back off from
    kwargs = {"decode_responses": True, "health_check_interval": 30, "retry": AsyncRetry(NoBackoff(), 1)}
    pw = _password(config)
    if pw:
        kwargs["password"] = pw
    client = aredis.Redis.from_url(target, **kwargs)
    try:
        await client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        await client.aclose()
        raise StoreUnavailable(f"cannot reach Redis at {target}: {e}") from None
    except redis.AuthenticationError as e:
        await client.aclose()
        raise StoreUnavailable(f"Redis at {target} refused our credentials: {e}") from None
    return client


def connect_sync(config: WallboardConfig, url: str | None = None) -> redis.Redis:
    target = resolve_url(config, url)
    kwargs: dict = {"decode_responses": True, "retry": Retry(NoBackoff(), 1)}
    pw = _password(config)
    if pw:
        kwargs["password"] = pw
    client = redis.Redis.from_url(target, **kwargs)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        raise StoreUnavailable(f"cannot reach Redis at {target}: {e}") from None
    return client


def script_source(name: str) -> str:
    return files("wallboard").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


SCRIPT_NAMES = ("queue_batch", "agent_batch")


class Scripts:
    """Our Lua scripts, loaded once and called by EVALSHA (reloaded if the server forgot them)."""

    def __init__(self) -> None:
        self.sources = {name: script_source(name) for name in SCRIPT_NAMES}
        self.shas: dict[str, str] = {}

    async def load(self, client: aredis.Redis) -> None:
        for name, src in self.sources.items():
            self.shas[name] = await client.script_load(src)

    def queue(self, pipe, name: str, base: str, *args: str) -> None:
        """Queue one EVALSHA on a pipeline; the only key is the slot's base (see wallboard.keys)."""
        pipe.evalsha(self.shas[name], 1, base, *args)

    async def run_pipeline(self, client: aredis.Redis, calls: list[tuple[str, str, tuple[str, ...]]]) -> list:
        """Run (script, base, args) calls in one round trip; reload the scripts once after a server restart."""
        for attempt in (0, 1):
            pipe = client.pipeline(transaction=False)
            for name, base, args in calls:
                self.queue(pipe, name, base, *args)
            try:
                return await pipe.execute()
            except NoScriptError:
                if attempt:
                    raise
                await self.load(client)
        return []
