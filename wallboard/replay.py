"""Offline replay: a feed's events through the engine on the events' own clock, then the final snapshot.

Where it runs:

- no prefix, no server named (no ``--redis``, ``REDIS_URL`` or ``redis.url``): a **private server**, the embedded
  binary started for this replay alone (``redis_server.PrivateServer``: a temporary directory, a unix socket, no
  persistence), stopped and removed at the end, also on an error or Ctrl-C. The shared server is not touched: a
  replay's millions of keys, written then dropped, would stay in its AOF (both the writes and the deletions) and
  make its next start read them all, every command failing meanwhile. There is nothing to drop either: the
  server simply ends.
- no prefix, a server named: that server, in a throwaway key namespace deleted afterwards (as the user chose that
  server; ``note`` says so, since its AOF, if it keeps one, still sees the writes and the deletions).
- a prefix: the user keeps the result, so it goes where everything else is, the named server or the shared
  embedded one, in that namespace, and stays.

"now" at the end is the last event's time plus one second.
"""

from __future__ import annotations

import asyncio
import gc
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from .aio import cancel_and_wait
from .config import WallboardConfig
from .engine import Engine
from .feed import DeadLetter
from .keys import Keys
from .snapshot import Snapshot
from .store import configured_url, connect, is_cluster, redact_url
from .thresholds import LevelState

CHUNK = 5000  # events per batch (each queue's share goes in scripts of batch_size events)
IN_FLIGHT = 3  # batches being applied while the next ones are read and prepared (see _Lanes)
LANES = 4  # round trips in flight at once, partitions spread over them by a stable hash
YIELD_EVERY = 500  # events read between two turns of the event loop (so the batches in flight move on)
REJECTED_KEPT = 20  # rejected records kept in the stats, to show them (a throwaway namespace loses its stream)
# events a script call takes in a replay (engine.batch_size, if larger, stands): a live batch is small to keep
# Redis free for the views between calls; a replay is throughput, and a script's fixed part (its arguments'
# parameters, each key's counters written once per call) spread over 10x the events costs the server ~5 % fewer
# instructions a line, the keys written the same (docs/PERFORMANCE.md)
SCRIPT_EVENTS = 1000


@dataclass
class ReplayStats:
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    rejected: list[DeadLetter] = field(default_factory=list)  # the first REJECTED_KEPT, in input order


async def replay(
    feed,
    config: WallboardConfig,
    *,
    redis_url: str | None = None,
    prefix: str | None = None,
    window_mode: str = "since_reset",
    progress: Callable[[ReplayStats], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> tuple[Snapshot, ReplayStats]:
    """Replay ``feed``; ``progress`` (for benchmarks) is called with the running totals after each batch;
    ``note`` (the CLI: stderr) with one line, once the replay is done, saying where a throwaway replay ran when
    that was a named server."""
    # The cyclic garbage collector is paused while replaying (and run once at the end): reading a file makes
    # millions of small objects that live until applied, and the collector's passes over them cost ~40 % of
    # the reading time (docs/PERFORMANCE.md); what a replay throws away is freed by reference counting.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        named = configured_url(config, redis_url)
        if prefix is None and named is None:
            from .redis_server import PrivateServer

            server = PrivateServer()
            try:
                return await _replay(feed, _private_config(config), server.url, None, window_mode, progress, drop=False)
            finally:
                server.stop()
        result = await _replay(feed, config, redis_url, prefix, window_mode, progress)
        # (after the run: a failure stays the one line that says why; a replay with no server named ran above)
        if prefix is None and note is not None and named is not None:
            note(
                f"throwaway replay in a temporary namespace on {redact_url(named)}, "
                "deleted at the end (that server's AOF, if it keeps one, records both the writes and the "
                "deletions; with no server named, a private in-memory one is used)"
            )
        return result
    finally:
        if gc_was_on:
            gc.enable()
        gc.collect()


def _private_config(config: WallboardConfig) -> WallboardConfig:
    """The config as the private server takes it: no password, no cluster (a local unix socket)."""
    if config.redis.password_file is None and not config.redis.cluster:
        return config
    redis_cfg = config.redis.model_copy(update={"password_file": None, "cluster": False})
    return config.model_copy(update={"redis": redis_cfg})


def _script_config(config: WallboardConfig) -> WallboardConfig:
    """The config with the replay's script calls of at least ``SCRIPT_EVENTS`` events."""
    if config.engine.batch_size >= SCRIPT_EVENTS:
        return config
    engine_cfg = config.engine.model_copy(update={"batch_size": SCRIPT_EVENTS})
    return config.model_copy(update={"engine": engine_cfg})


async def _replay(feed, config, redis_url, prefix, window_mode, progress, drop: bool = True):
    client = await connect(config, redis_url)
    throwaway = prefix is None and drop  # a private server needs no dropping: it ends
    keys = Keys(prefix or f"wbreplay-{uuid.uuid4().hex[:12]}")
    engine = Engine(client, _script_config(config), keys, window_mode=window_mode, feed_name=getattr(feed, "name", ""))
    stats = ReplayStats()
    try:
        await engine.start()
        batch: list = []
        dead: list[DeadLetter] = []
        last: float | None = None
        inflight: deque[asyncio.Task] = deque()
        lanes = _Lanes(engine, LANES)

        def account(res) -> None:
            nonlocal last
            stats.events += res.events
            stats.applied += res.applied
            stats.duplicates += res.duplicates
            for d in res.rejected:  # refused by the engine (a survey of a contact never answered): as the feed's
                dead.append(d)
                if len(stats.rejected) < REJECTED_KEPT:
                    stats.rejected.append(d)
            if res.last_ts is not None:
                last = res.last_ts if last is None else max(last, res.last_ts)
            if progress is not None:
                progress(stats)

        async def flush() -> None:
            if batch:
                work = engine.prepare(list(batch))
                batch.clear()
                inflight.append(lanes.submit(work))
                await asyncio.sleep(0)  # let it send its queue step now; we read on while Redis works
                while len(inflight) > IN_FLIGHT:
                    account(await inflight.popleft())
            if dead:
                await engine.dead_letters(dead)
                stats.dead_letters += len(dead)
                dead.clear()

        try:
            n = 0
            for item in feed.read():
                if isinstance(item, DeadLetter):
                    dead.append(item)
                    if len(stats.rejected) < REJECTED_KEPT:
                        stats.rejected.append(item)
                else:
                    batch.append(item)
                if len(batch) >= CHUNK or len(dead) >= CHUNK:
                    await flush()
                n += 1
                if n >= YIELD_EVERY and inflight:
                    n = 0
                    await asyncio.sleep(0)  # the batches in flight read their replies and send their next step
            await flush()
            while inflight:
                account(await inflight.popleft())
            await flush()  # the engine's dead letters of the last batches
        finally:
            await cancel_and_wait(*inflight)
        end = datetime.fromtimestamp(last, timezone.utc) if last is not None else datetime.now(timezone.utc)
        now = end + timedelta(seconds=1)
        # the final tick drops callers whose leave never came, as the live owner's tick would have by now
        # (expiry counts nothing, so when it runs changes no counter: the end is as good as every tick)
        await engine.expire_callers(now)
        snap = await engine.build_snapshot(now)
        # levels at the end of input (no hysteresis history in a one-shot replay: one tick at the end)
        snap, _ = engine.evaluate(snap, LevelState(), now)
        snap = await engine.publish(snap)
        if prefix is not None:  # kept, maybe where a live owner builds: its next incremental build reads it all
            await _hand_over(engine)
        return snap, stats
    finally:
        if throwaway:
            await _drop_namespace(client, keys.prefix)
        await client.aclose()


class _Lanes:
    """Applies prepared batches with several round trips in flight, keeping every partition's order.

    Partitions are spread over ``LANES`` lanes by a stable hash of their name (queues and agents apart).
    A lane sends its part of batch N only once its part of batch N-1 has come back, so the scripts of one
    queue (or agent) run in source order; the lanes themselves run at the same time, each on its own pooled
    connection, so Redis always has work queued while Python prepares the next batch or reads a reply:
    Python's work and Redis's overlap instead of adding up. A batch's agent step follows its whole queue step
    (answers carry their entry's join, from any queue) and the previous batch's agent step; the queue step
    of batch N+1 may run beside the agent step of batch N (queue and agent slots are disjoint).
    """

    def __init__(self, engine: Engine, lanes: int):
        self.engine = engine
        self.lanes = lanes
        self.q_last: dict[int, asyncio.Task] = {}
        self.a_last: dict[int, asyncio.Task] = {}
        self.agents_placed: asyncio.Event | None = None  # the previous batch has placed its agent work
        self.broken: BaseException | None = None  # once a step failed, nothing later is sent

    async def _step(self, coro) -> None:
        if self.broken is not None:
            coro.close()
            raise RuntimeError("an earlier batch failed; nothing more is sent") from self.broken
        try:
            await coro
        except BaseException as e:
            self.broken = self.broken or e
            raise

    def lane(self, name: str) -> int:
        return zlib.crc32(name.encode()) % self.lanes

    def submit(self, work) -> asyncio.Task:
        """Start applying a prepared batch; the task returned ends when all of it is applied."""
        eng = self.engine
        pre = asyncio.ensure_future(self._step(eng.register_step(work)))
        parts: dict[int, list[str]] = {}
        for q in work.by_queue:
            parts.setdefault(self.lane(q), []).append(q)
        qtasks = []
        for ln, queues in parts.items():
            task = asyncio.ensure_future(self._queues(work, queues, pre, self.q_last.get(ln)))
            self.q_last[ln] = task
            qtasks.append(task)
        placed, before = asyncio.Event(), self.agents_placed
        self.agents_placed = placed
        return asyncio.ensure_future(self._agents(work, [pre, *qtasks], before, placed))

    async def _queues(self, work, queues: list[str], pre: asyncio.Future, prev: asyncio.Task | None) -> None:
        await pre
        if prev is not None:
            await prev
        await self._step(self.engine.queue_step(work, queues))

    async def _agents(self, work, qtasks: list, before: asyncio.Event | None, placed: asyncio.Event):
        try:
            await asyncio.gather(*qtasks)
            if before is not None:
                await before.wait()
            parts: dict[int, list[str]] = {}
            for a in work.agent_items:
                parts.setdefault(self.lane(a), []).append(a)
            atasks = []
            for ln, agents in parts.items():
                task = asyncio.ensure_future(self._agent_part(work, agents, self.a_last.get(ln)))
                self.a_last[ln] = task
                atasks.append(task)
        finally:
            placed.set()
        await asyncio.gather(*atasks)
        return work.res

    async def _agent_part(self, work, agents: list[str], prev: asyncio.Task | None) -> None:
        if prev is not None:
            await prev
        await self._step(self.engine.agent_step(work, agents))


async def _hand_over(engine: Engine) -> None:
    """Name every queue and agent, and each queue's rolling window now (wall clock), in the change set a lease
    owner takes (``Engine.share_touched``): a replay into a live centre's namespace applies through the steps,
    which keep no change set, and the owner's incremental build (``wallboard.incremental``) would otherwise show
    it only at its next full rebuild."""
    import time

    touched = engine.touched
    queues = await engine.queue_names()
    touched.queues.update(queues)
    touched.agents.update(await engine.agent_ids())
    minutes = engine.windows.rolling_minutes_at(time.time())
    for q in queues:
        touched.minutes.setdefault(q, set()).update(minutes)
    await engine.share_touched()


async def _drop_namespace(client, prefix: str) -> None:
    """Delete a namespace: big SCAN pages, each page's UNLINK sent while the next page is read."""
    if is_cluster(client):  # SCAN is per node: the cluster client's scan_iter walks every primary
        batch = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=10_000):
            batch.append(key)
            if len(batch) >= 10_000:
                await client.unlink(*batch)  # split per slot by the cluster client
                batch.clear()
        if batch:
            await client.unlink(*batch)
        return
    pending: list[asyncio.Future] = []
    cursor = 0
    try:
        while True:
            cursor, keys = await client.scan(cursor, match=f"{prefix}:*", count=10_000)
            if keys:
                pending.append(asyncio.ensure_future(client.unlink(*keys)))
            if not cursor:
                break
    finally:
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def drop_namespace_sync(client, prefix: str) -> int:
    """Delete every key of a namespace (sync client); returns how many."""
    n, batch = 0, []
    for key in client.scan_iter(match=f"{prefix}:*", count=2000):
        batch.append(key)
        if len(batch) >= 2000:
            n += client.unlink(*batch)
            batch.clear()
    if batch:
        n += client.unlink(*batch)
    return n
