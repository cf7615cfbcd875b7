"""Ingest survives a Redis restart: it retries with backoff, then carries on where it was (AOF kept the state)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wallboard.config import load_config
from wallboard.events import CallerJoined
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.redis_server import binary_path
from wallboard.store import connect

from .conftest import free_port
from .polling import task_failed, until, wait_until


def _plain(port: int) -> redis.Redis:
    return redis.Redis(port=port, retry=Retry(NoBackoff(), 0))  # no client-side retries: SHUTDOWN drops us


def _start(port: int, root: str) -> None:
    subprocess.run(
        [
            str(binary_path()),
            "--daemonize",
            "yes",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            root,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
            "--pidfile",
            f"{root}/pid",
        ],
        check=True,
        capture_output=True,
    )

    def answers() -> bool:
        try:
            return bool(_plain(port).ping())
        except redis.ConnectionError:
            return False

    wait_until(answers, f"the server on port {port}", timeout=4)


class TrickleFeed:
    """Hands out one join every few milliseconds, whatever happens to Redis."""

    name = "trickle"

    def __init__(self, n: int):
        self.n = n
        self.sent = 0

    async def follow(self, clock):
        t0 = datetime.now(timezone.utc)
        for i in range(self.n):
            yield CallerJoined(
                id=f"j{i}", ts=t0 + timedelta(milliseconds=10 * i), source="t", queue="support", call_id=f"c{i}"
            )
            self.sent += 1
            await asyncio.sleep(0.01)
        await asyncio.Event().wait()


async def test_redis_restart_mid_feed_loses_nothing():
    root = tempfile.mkdtemp(prefix="wbr", dir="/tmp")
    port = free_port()
    _start(port, root)
    url = f"redis://127.0.0.1:{port}/0"
    config = load_config(
        None,
        queues=[{"name": "support"}],
        engine={"tick_s": 0.1},
        redis={"prefix": "wbrs", "retry_initial_s": 0.05, "retry_max_s": 0.3},
    )
    client = await connect(config, url)
    feed = TrickleFeed(150)
    ing = Ingest(client, config, feed, name="ing")
    task = asyncio.create_task(ing.run())
    try:
        await until(lambda: feed.sent >= 50, "50 joins handed over", check=task_failed(task))
        _plain(port).shutdown()  # Redis goes away mid-feed
        await until(lambda: not ing.redis_ok, "ingest to notice Redis gone (and back off)")
        _start(port, root)  # and comes back with its AOF

        async def all_counted():
            raw = await client.get(Keys("wbrs").summary)
            return raw and json.loads(raw)["queues"]["support"]["entered"] == 150

        await until(all_counted, "all 150 joins counted", timeout=15)
        q = json.loads(await client.get(Keys("wbrs").summary))["queues"]["support"]
        assert q["entered"] == 150 and q["waiting"] == 150  # nothing lost, nothing twice
        assert ing.redis_ok
    finally:
        ing.stop.set()
        await asyncio.wait_for(task, 10)
        await client.aclose()
        try:
            _plain(port).shutdown(nosave=True)
        except redis.ConnectionError:
            pass
        shutil.rmtree(root, ignore_errors=True)
