"""Shared fixtures. Tests run against a real Redis: REDIS_URL (CI starts one), never a fake."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aredis

from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.keys import Keys

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def redis_client():
    client = aredis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def prefix():
    return f"wbtest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def make_engine(redis_client, prefix):
    """Build an engine on a throwaway namespace: make_engine(config_overrides..., window_mode=...)."""
    made = []

    async def factory(window_mode: str = "since_reset", **cfg):
        config = load_config(None, **cfg)
        eng = Engine(redis_client, config, Keys(prefix), window_mode=window_mode)
        await eng.start()
        made.append(eng)
        return eng

    yield factory
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis_client.unlink(*keys)
