"""Long-running ingest: a live feed applied to Redis; the lease owner ticks, evaluates levels, applies
acknowledge/snooze requests and publishes snapshots.

- Events are applied in small batches as they arrive (whatever came within ``FLUSH_S``, at most ``CHUNK``).
- One process among any number of ingesters holds the lease (SET NX PX, renewed each tick); it owns the
  tick, hysteresis, ``seq`` and publishing. The others apply events and stand by.
- Publishing is leading-edge coalesced: the first change goes out at once, then at most one every
  ``engine.publish_min_interval_ms``; a snapshot also goes out every tick (gauges move on time alone).
- A lost Redis is retried with capped exponential backoff; the batch in hand is applied again when it is
  back (applying is idempotent), so ingest carries on where it was.
- SIGTERM / SIGINT stop it cleanly; a health key with a TTL says it is alive.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import socket
import uuid
from datetime import datetime, timedelta

import redis
import redis.asyncio as aredis

from .aio import cancel_and_wait, wait_for
from .clock import Clock, SystemClock
from .config import WallboardConfig
from .engine import Engine
from .events import utc
from .feed import CursorMark, DeadLetter
from .keys import Keys
from .thresholds import LevelState, NoAlertError, ack, snooze

log = logging.getLogger("wallboard.ingest")
FLUSH_S = 0.05
CHUNK = 2000
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class Backoff:
    """Capped exponential backoff with full jitter."""

    def __init__(self, initial: float, cap: float, rng: random.Random | None = None):
        self.initial, self.cap, self.n = initial, cap, 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        delay = min(self.cap, self.initial * (2**self.n))
        self.n += 1
        return self.rng.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.n = 0


class Ingest:
    def __init__(self, client: aredis.Redis, config: WallboardConfig, feed, *, clock: Clock | None = None,
                 name: str | None = None, keys: Keys | None = None):  # fmt: skip
        self.r = client
        self.config = config
        self.feed = feed
        self.clock = clock or SystemClock()
        self.keys = keys or Keys(config.redis.prefix)
        self.engine = Engine(client, config, self.keys, feed_name=getattr(feed, "name", ""))
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.stop = asyncio.Event()
        self.changed = asyncio.Event()
        self.owner = False
        self.levels = LevelState()
        self.events_applied = 0
        self.last_publish = 0.0
        self.requests_cursor = "0-0"
        self.alert_cmds = f"{self.keys.centre}:alert_cmds"  # ack/snooze, authorised by the executor
        self.backoff = Backoff(config.redis.retry_initial_s, config.redis.retry_max_s)
        self.redis_ok = True

    # ---- running ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._retry(self.engine.start)
        if hasattr(self.feed, "resume"):  # a feed that can resume: from where the last run got to
            self.feed.resume(await self._retry(self.r.get, self.cursor_key(self.feed.cursor_key())))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop.set)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                pass
        pump = asyncio.create_task(self._pump(), name="pump")
        owner = asyncio.create_task(self._owner_loop(), name="owner")
        stopper = asyncio.create_task(self.stop.wait())
        try:
            done, _ = await asyncio.wait({pump, owner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and t.exception():
                    raise t.exception()
        finally:
            await cancel_and_wait(pump, owner, stopper)
            await self._release()

    async def _retry(self, fn, *args):
        """Run a Redis step until it succeeds or we are stopped; back off while Redis is away."""
        while True:
            try:
                out = await fn(*args)
                if not self.redis_ok:
                    log.warning("Redis is back; carrying on")
                self.redis_ok = True
                self.backoff.reset()
                return out
            except REDIS_ERRORS as e:
                self.redis_ok = False
                delay = self.backoff.next()
                log.warning("Redis unavailable (%s); retrying in %.1fs", e, delay)
                try:
                    await wait_for(self.stop.wait(), delay)
                    raise asyncio.CancelledError
                except asyncio.TimeoutError:
                    pass

    def cursor_key(self, feed_key: str) -> str:
        return f"{self.keys.centre}:cursor:{feed_key}"

    async def _pump(self) -> None:
        """Feed -> batches -> engine. A dead letter is recorded and counted; the feed goes on."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=50_000)

        async def reader():
            async for item in self.feed.follow(self.clock):
                await queue.put(item)
            await queue.put(None)

        rtask = asyncio.create_task(reader(), name="feed")
        try:
            finished = False
            while not finished:
                item = await queue.get()
                batch, dead, mark = [], [], None
                deadline = asyncio.get_running_loop().time() + FLUSH_S
                while True:
                    if item is None:
                        finished = True
                        break
                    if isinstance(item, CursorMark):
                        mark = item
                    else:
                        (dead if isinstance(item, DeadLetter) else batch).append(item)
                    if len(batch) >= CHUNK:
                        break
                    timeout = deadline - asyncio.get_running_loop().time()
                    if timeout <= 0:
                        break
                    try:
                        item = await wait_for(queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                if batch:
                    await self._retry(self.engine.apply, batch)
                    self.events_applied += len(batch)
                    self.changed.set()
                if dead:
                    await self._retry(self.engine.dead_letters, dead)
                if mark is not None:  # only once what it covers is applied: behind, never ahead
                    await self._retry(self.r.set, self.cursor_key(mark.key), mark.state)
            if rtask.done() and rtask.exception():
                raise rtask.exception()
        finally:
            await cancel_and_wait(rtask)

    # ---- the owner's part ---------------------------------------------------------------------------

    async def _lease(self) -> bool:
        ms = self.config.engine.lease_ms
        got = await self.r.set(self.keys.lease, self.name, nx=True, px=ms)
        if not got:
            holder = await self.r.get(self.keys.lease)
            if holder == self.name:
                await self.r.pexpire(self.keys.lease, ms)
                got = True
        if got and not self.owner:
            log.info("%s holds the lease: ticking and publishing", self.name)
            self.levels = await self.engine.load_levels()  # carry on from the previous owner's alerts
            self.requests_cursor = await self.r.get(self.keys.centre + ":requests_cursor") or "0-0"
        self.owner = bool(got)
        return self.owner

    async def _release(self) -> None:
        try:
            if self.owner and await self.r.get(self.keys.lease) == self.name:
                await self.r.delete(self.keys.lease)
            await self.r.delete(self.keys.health(self.name))
        except REDIS_ERRORS:
            pass

    async def _heartbeat(self) -> None:
        body = {"name": self.name, "pid": os.getpid(), "at": utc(self.clock.now()), "owner": self.owner,
                "events": self.events_applied, "feed": getattr(self.feed, "name", "")}  # fmt: skip
        await self.r.set(self.keys.health(self.name), json.dumps(body), ex=self.config.engine.health_ttl_s)

    async def apply_requests(self) -> None:
        """Acknowledge / snooze commands (authorised by the executor), applied to the alert state with the
        user's name; the outcome goes to the audit stream."""
        out = await self.r.xread({self.alert_cmds: self.requests_cursor}, count=500)
        if not out:
            return
        now = self.clock.now()
        for _stream, entries in out:
            for rid, f in entries:
                self.requests_cursor = rid
                kind, user = f.get("type"), f.get("user") or ""
                result = "ok"
                try:
                    if kind == "ack":
                        self.levels = ack(self.levels, f["queue"], f["metric"], user, now)
                    elif kind == "snooze":
                        until = datetime.fromisoformat(f["until"].replace("Z", "+00:00")) if f.get("until") \
                            else now + timedelta(minutes=15)  # fmt: skip
                        self.levels = snooze(self.levels, f["queue"], f["metric"], user, until)
                    else:
                        continue
                except (NoAlertError, KeyError, ValueError) as e:
                    result = f"rejected: {e}"
                await self.r.xadd(self.keys.centre + ":audit", {"request": f.get("request", rid), "type": kind,
                                  "user": user, "queue": f.get("queue", ""), "metric": f.get("metric", ""),
                                  "at": utc(now), "result": "applied" if result == "ok" else result})  # fmt: skip
        await self.r.set(self.keys.centre + ":requests_cursor", self.requests_cursor)

    async def tick(self) -> None:
        """One owner tick: requests, levels, snapshot, publish."""
        now = self.clock.now()
        old = self.levels  # as stored in Redis: requests and evaluation both change it
        await self.apply_requests()
        snap = await self.engine.build_snapshot(now)
        snap, self.levels = self.engine.evaluate(snap, self.levels, now)
        await self.engine.save_levels(self.levels, old)
        await self.engine.publish(snap)
        self.last_publish = asyncio.get_running_loop().time()

    async def _owner_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick_s = self.config.engine.tick_s
        min_gap = self.config.engine.publish_min_interval_ms / 1000
        next_tick = loop.time()
        while not self.stop.is_set():
            await self._retry(self._heartbeat)
            if await self._retry(self._lease):
                await self._retry(self.tick)
            next_tick += tick_s
            # between ticks, publish on change: at once, then at most one per min_gap
            while (remaining := next_tick - loop.time()) > 0 and not self.stop.is_set():
                self.changed.clear()
                try:
                    await wait_for(self.changed.wait(), remaining)
                except asyncio.TimeoutError:
                    break
                if not self.owner:
                    continue
                wait = self.last_publish + min_gap - loop.time()
                if wait > 0:
                    await asyncio.sleep(min(wait, max(0.0, next_tick - loop.time())))
                if loop.time() < next_tick:
                    await self._retry(self.tick)
            if loop.time() > next_tick + tick_s:  # fell behind (a long outage): don't burst
                next_tick = loop.time()
