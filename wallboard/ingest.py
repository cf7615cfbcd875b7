"""Long-running ingest: a live feed applied to Redis; the lease owner ticks, evaluates levels, applies
acknowledge/snooze requests and publishes snapshots.

- Events are applied in small batches as they arrive (whatever came within ``FLUSH_S``, at most ``CHUNK``).
- One process among any number of ingesters holds the lease (SET NX PX, renewed each tick); it owns the
  tick, hysteresis, ``seq`` and publishing. The others apply events and stand by.
- Views get what changed (``wallboard.delta``): a delta per snapshot, a full one every
  ``engine.full_publish_s`` and when a view asks.
- Publishing is leading-edge coalesced: the first change goes out at once, then at most one every
  ``engine.publish_min_interval_ms`` (counted from the start of the previous one), or less often when publishing
  would take more than ``engine.publish_share`` of the owner's CPU (``PublishPace``); a snapshot also goes out
  every tick (gauges move on time alone), which does not hold back the next change. The pump applies between
  publishes, not inside one. Likewise the first batch after
  ``engine.quiet_ms`` without one is applied at once; under load, whatever arrives within ``FLUSH_S``, or less
  so that the batch is applied by the time the owner may publish next (``Ingest._gather_until``).
- A lost Redis is retried with capped exponential backoff; the batch in hand is applied again when it is
  back (applying is idempotent), so ingest carries on where it was. A feed with a cursor (queue_log) is
  read again from the cursor Redis holds when it comes back, as a crash can lose its last second of writes
  (AOF ``everysec``) and the cursor rolls back with them (``_pump``).
- SIGTERM / SIGINT stop it cleanly; a health key with a TTL says it is alive.
- Several ingesters can share one feed's partitions (``shard=(I, N)``, ``wallboard ingest --shard I/N``): each
  reads the whole feed (a feed's own inferences, e.g. queue_log's wrap-up ends, need every row) and applies
  only the events of its partitions, keeps its own cursor, and only shard 0 records dead letters. See
  ``Ingest.owns`` for why splitting by ``events.partition_of`` is safe for the engine.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from .aio import cancel_and_wait, cancellation_pending, stop_on_signals, wait_for
from .backoff import redis_backoff
from .clock import Clock, SystemClock
from .config import WallboardConfig
from .delta import DeltaPublisher
from .engine import Engine
from .incremental import IncrementalSnapshots
from .events import partition_of, utc, wall_clock
from .feed import CursorMark, DeadLetter, Resumable, Resyncable
from .keys import Keys
from .store import AsyncClient, is_cluster, streams, text
from .telemetry import IngestMetrics
from .thresholds import AgentAlertTimers, LevelState, NoAlertError, QueueLevels, ack, snooze

log = logging.getLogger("wallboard.ingest")
FLUSH_S = 0.05
CHUNK = 2000
REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)
SHARED_LOOK_S = 0.1  # how often the owner looks for the changes other ingesters handed over
# The ingester's heap holds the centre (each queue's and agent's entry kept between publishes, the waiting
# callers' models, the parts read): tens of thousands of objects, of which a publish replaces a few thousand.
# CPython's default first threshold (700 allocations) collects many times a publish and walks the whole heap
# every few: bench/owner_cpu.py --live-rate 5000 (1,000 agents) 76-77 -> 49-54 ms CPU a publish, the mean
# now near the median (the full collections were the dear publishes); 1,000 events/s 28-30 -> 27-28 ms.
GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """Collect garbage less often (``GC_THRESHOLDS``): for the process that runs the ingester (``wallboard
    ingest``; the benches that stand for it), not for a library user's."""
    gc.set_threshold(*GC_THRESHOLDS)


SAVES_TTL_S = 86_400  # a process's count of cursor saves outlives any outage, not the process by long
IDLE_CHECK_S = 1.0  # a rewindable feed's cursor is checked this often when no input comes


def _dead_here(holder: str) -> bool:
    """Whether a lease holder's name (``host-pid-tag``) is a process of this host that no longer runs."""
    host, sep, rest = holder.rpartition("-")[0].rpartition("-")
    if not sep or host != socket.gethostname() or not rest.isdigit():
        return False
    try:
        os.kill(int(rest), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, another user's
        return False
    return False


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N), this ingester's share of the partitions; ValueError with a readable reason."""
    i, _, n = text.partition("/")
    try:
        index, count = int(i), int(n)
    except ValueError:
        raise ValueError(f"--shard {text}: expected I/N, two whole numbers (e.g. 0/3)") from None
    return check_shard((index, count), text)


def check_shard(shard: tuple[int, int], text: str | None = None) -> tuple[int, int]:
    index, count = shard
    text = text or f"{index}/{count}"
    if count < 1:
        raise ValueError(f"--shard {text}: N must be at least 1")
    if not 0 <= index < count:
        raise ValueError(f"--shard {text}: I must be 0..N-1 (0..{count - 1})")
    return index, count


def shard_of(partition: str, count: int) -> int:
    """The shard of a partition: a stable hash (the same in every process and run), modulo N."""
    return zlib.crc32(partition.encode()) % count


class PublishPace:
    """How long from the start of a publish for a change to the next (leading-edge coalescing):
    ``publish_min_interval_ms``, or longer when publishing costs more than ``publish_share`` of that (the cost:
    the publishes' CPU time, smoothed, so one dear publish, a full one, does not hold the next back fourfold);
    never longer than ``publish_max_interval_ms`` (the owner's CPU then as with a fixed interval that long) nor
    a tick, when a snapshot goes out anyway."""

    SMOOTH = 0.25  # the weight of the latest publish's cost

    def __init__(self, min_gap_s: float, share: float, max_gap_s: float):
        self.min_gap_s, self.share, self.max_gap_s = min_gap_s, share, max(min_gap_s, max_gap_s)
        self.cost_s: float | None = None
        self.gap_s = min_gap_s

    @classmethod
    def of(cls, engine) -> PublishPace:
        """The pace an ``[engine]`` section sets."""
        return cls(
            engine.publish_min_interval_ms / 1000,
            engine.publish_share,
            min(engine.publish_max_interval_ms / 1000, engine.tick_s),
        )

    def took(self, cost_s: float) -> float:
        """A publish for a change took ``cost_s`` of CPU: the gap after it."""
        c = self.cost_s
        self.cost_s = cost_s if c is None else c + self.SMOOTH * (cost_s - c)
        self.gap_s = min(max(self.min_gap_s, self.cost_s / self.share), self.max_gap_s)
        return self.gap_s


@dataclass(frozen=True)
class BatchRecord:
    """A batch the pump applied; times are wall-clock seconds (``time.time()``, comparable with another
    process's): its first item taken, gathering done, applying began (later when held while a publish ran),
    applying done."""

    events: list
    taken: float
    gathered: float
    applying: float
    applied: float


@dataclass(frozen=True)
class PublishRecord:
    """A tick or a publish for a change: when it began, when its build began (what was applied before this is
    in it), when the snapshot was sent, the process's CPU time meanwhile, its ``seq``."""

    periodic: bool
    began: float
    building: float
    sent: float
    cpu_s: float
    seq: int


class Timeline:
    """What the ingester did and when, kept when asked for (``Ingest.timeline``): for bench/live_latency.py's
    breakdown of an event's way to a view, and for tests telling order by the ingester's own records. Bounded:
    the newest ``keep`` of each."""

    def __init__(self, keep: int = 100_000):
        self.batches: deque[BatchRecord] = deque(maxlen=keep)
        self.publishes: deque[PublishRecord] = deque(maxlen=keep)


class Ingest:
    def __init__(
        self,
        client: AsyncClient,
        config: WallboardConfig,
        feed,
        *,
        clock: Clock | None = None,
        name: str | None = None,
        keys: Keys | None = None,
        shard: tuple[int, int] | None = None,
    ):
        self.r = client
        self.shard = check_shard(shard) if shard is not None else None
        if self.shard == (0, 1):  # one shard of one: all of it, with the unsharded cursor
            self.shard = None
        self._owned: dict[str, bool] = {}  # partition -> ours (a cache: the hash per event is not free)
        self.config = config
        self.feed = feed
        self.clock = clock or SystemClock()
        self.keys = keys or Keys(config.redis.prefix)
        self.engine = Engine(client, config, self.keys, feed_name=getattr(feed, "name", ""))
        # the owner's snapshots, rebuilt for what this process applied; a shard does not see what the other
        # shards apply, so a sharded owner builds each snapshot in full
        self.snapshots = (
            # with deltas, the agents' clock figures are ticked for what is written out (the publisher's own)
            IncrementalSnapshots(self.engine, config.engine.full_rebuild_s, defer_ticks=config.engine.deltas)
            if config.engine.incremental and self.shard is None
            else None
        )
        # agents' alerts evaluated for what the incremental build re-read and on each agent's next crossing
        self.alert_timers = AgentAlertTimers(config.agent_alerts) if self.snapshots is not None else None
        self.queue_levels = QueueLevels() if self.snapshots is not None else None
        # views get what changed (a delta) and a full snapshot now and then; needs the incremental change set
        self.publisher = (
            DeltaPublisher(client, self.keys, self.snapshots, config.engine.full_publish_s)
            if self.snapshots is not None and config.engine.deltas
            else None
        )
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.stop = asyncio.Event()
        self.changed = asyncio.Event()
        # set while no snapshot is being published: the pump applies between publishes, not inside one (a
        # publish is a few awaits; a batch applied at each would stretch it, while what the batch changes waits
        # for the next publish either way, the change set having been taken at the publish's start); not when
        # a backlog builds (``_pump``), nor for an owner that builds in full (sharded, or not incremental: a
        # full build is long, and holding the pump for it would slow applying more than it saves)
        self.not_publishing = asyncio.Event()
        self.not_publishing.set()
        self.held = 0  # events gathered by the pump and held while a publish runs
        self.owner = False
        self.levels = LevelState()
        self.events_applied = 0
        self.last_publish = 0.0  # loop time the latest snapshot was sent
        self.last_batch = float("-inf")  # when the pump last began a batch (loop time)
        # the owner's: when (loop time) it may next publish for a change (``PublishPace``), and a batch's apply
        # (smoothed wall time): under load the pump closes its batch in time for that publish (``_gather_until``)
        self.publish_due: float | None = None
        self.apply_s = 0.0
        self.requests_cursor = "0-0"
        self.alert_cmds = self.keys.alert_cmds  # ack/snooze, authorised by the executor
        self.backoff = redis_backoff(config)
        self.redis_ok = True
        # a feed with a cursor can be read again from it (after Redis lost writes: see _pump)
        self.rewindable = isinstance(feed, Resumable)
        self.cursor_state: str | None = None  # the cursor as we last saved (or found) it in Redis
        # how many cursors this process saved, kept in Redis beside them: a count lower than ours there means
        # Redis lost writes (another follower of the same cursor never touches it)
        self.saves = 0
        self.saves_key = self.keys.cursor_saves(self.name)
        self.rewinds = 0
        self.metrics = IngestMetrics(self)  # this process's figures for Prometheus (wallboard.telemetry)
        self.timeline: Timeline | None = None  # set one to record batches and publishes

    # ---- running ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._retry(self.engine.start)
        if self.rewindable:  # a feed that can resume: from where the last run got to
            self.cursor_state = await self._retry(self.r.get, self.cursor_key(self.feed.cursor_key()))
            self.feed.resume(self.cursor_state)
        stop_on_signals(self.stop)
        pump = asyncio.create_task(self._pump(), name="pump")
        owner = asyncio.create_task(self._owner_loop(), name="owner")
        shared = asyncio.create_task(self._watch_shared(), name="shared changes")
        stopper = asyncio.create_task(self.stop.wait())
        try:
            done, _ = await asyncio.wait({pump, owner, shared, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and (err := t.exception()) is not None:
                    raise err
        finally:
            await cancel_and_wait(pump, owner, shared, stopper)
            await self._release()

    async def _retry(self, fn, *args):
        """Run a Redis step until it succeeds or we are stopped; back off while Redis is away."""
        while True:
            try:
                out = await fn(*args)
                if not self.redis_ok:
                    log.warning("Redis is back; carrying on")
                    self._resnapshot()
                    if isinstance(self.feed, Resyncable):
                        # what the server lost with its last second (AOF everysec) the PBX still knows: who
                        # waits and every agent's state (the transitions of that second stay lost: see
                        # docs/RELIABILITY.md); a resync is idempotent, so one after a plain outage is harmless
                        self.feed.request_resync()
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
        """Where a feed's cursor is kept; a shard's own (each resumes where it got to, not where another did)."""
        return self.keys.cursor(feed_key, self.shard)

    def owns(self, event) -> bool:
        """Whether this ingester applies ``event``: always unsharded; sharded, when the event's partition
        (``events.partition_of``: the queue for call transitions and resyncs, the agent for agent-only facts,
        the centre for feed gaps) hashes to this shard.

        Why the partition is the right split for the engine: every write an event makes is in its own
        partition's slot (a call transition in its queue's, a state, membership, missed ring or dial in its
        agent's), except the agent's side of an answer, which the queue step hands to the agent's slot with
        the entry's join; that one is a once-marker count (``h:<call>:<queue>:<join>``) whose order against
        the agent's other facts does not matter, and it is applied by the shard of the queue, which alone
        knows the join. What does need order is per slot and stays inside one shard: a queue entry's
        transitions (join before answer before completion; a new entry closing the previous one) and an
        agent's states (an older state never overwrites a newer one, and talk, wrap-up and pause time come
        from the intervals between consecutive states, so an agent's states must arrive in time order: all
        of them are in the agent's partition, applied in feed order by one shard). Nothing orders a queue
        against an agent, so shards run independently and each resumes from its own cursor."""
        if self.shard is None:
            return True
        part = partition_of(event)
        mine = self._owned.get(part)
        if mine is None:
            mine = self._owned[part] = shard_of(part, self.shard[1]) == self.shard[0]
        return mine

    async def _pump(self) -> None:
        """Feed -> batches -> engine. A dead letter is recorded and counted; the feed goes on.

        Redis may come back from a crash without its last writes (AOF ``everysec``: up to about a second), the
        cursor among them. So a feed that can resume is not retried across an outage, and before each batch
        (and every ``IDLE_CHECK_S`` when idle, as a quick restart can go unnoticed) the cursor in Redis is
        compared with the one we saved: when Redis lost it, the feed is read again from the cursor Redis holds
        (an older one, or the start of the source), and applying again changes nothing that was kept (exactly
        once by meaning). Applying newer events first could split a call, hence no retry. Several followers
        may share one cursor (a hot standby): each checks its own count of saves, and resuming from another's
        cursor is safe, as every cursor is saved only after what it covers is applied."""
        queue, rtask = self._start_reader()
        try:
            finished = False
            while not finished:
                if not self.rewindable:
                    item = await queue.get()
                else:
                    try:
                        item = await wait_for(queue.get(), IDLE_CHECK_S)
                    except asyncio.TimeoutError:
                        if await self._cursor_lost():
                            queue, rtask = await self._rewind(rtask)
                        continue
                batch, dead, mark = [], [], None
                taken = time.time()
                began = asyncio.get_running_loop().time()
                # after a quiet moment the first item goes at once (with what is already there); under load,
                # whatever arrives within FLUSH_S
                busy = began - self.last_batch < self.config.engine.quiet_ms / 1000
                deadline = self._gather_until(began) if busy else began
                self.last_batch = began
                while True:
                    if item is None:
                        finished = True
                        break
                    if isinstance(item, CursorMark):
                        mark = item
                    elif isinstance(item, DeadLetter):
                        if self.shard is None or self.shard[0] == 0:  # recorded once, not once per shard
                            dead.append(item)
                    elif self.owns(item):
                        batch.append(item)
                    if len(batch) >= CHUNK:
                        break
                    timeout = deadline - asyncio.get_running_loop().time()
                    if timeout <= 0:
                        if queue.empty():
                            break
                        item = queue.get_nowait()  # what is already there comes along
                        continue
                    try:
                        item = await wait_for(queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                gathered = time.time()
                # held while a publish runs, unless a backlog builds (falling behind, applying comes first)
                if not self.not_publishing.is_set() and queue.qsize() < CHUNK and self.snapshots is not None:
                    self.held = len(batch)  # gathered, applied once the publish is done
                    await self.not_publishing.wait()
                    self.held = 0
                applying = time.time()
                if self.rewindable and not await self._store_batch(batch, dead, mark):
                    queue, rtask = await self._rewind(rtask)  # the batch in hand is read again too
                    finished = False
                    continue
                if not self.rewindable:
                    if batch:
                        t0 = asyncio.get_running_loop().time()
                        await self._retry(self.engine.apply, batch)
                        self._applied_in(asyncio.get_running_loop().time() - t0)
                    if dead:
                        await self._retry(self.engine.dead_letters, dead)
                    if mark is not None:  # only once what it covers is applied: behind, never ahead
                        await self._retry(self.r.set, self.cursor_key(mark.key), mark.state)
                self.metrics.batch(batch, dead, self.clock.now())
                if self.timeline is not None and batch:
                    self.timeline.batches.append(BatchRecord(batch, taken, gathered, applying, time.time()))
                if batch:
                    self.events_applied += len(batch)
                    self.changed.set()
                    # the owner builds what changed: tell it. A shard too: the owner may be unsharded (the chat
                    # platform's ingester beside the PBX's shards) and build incrementally
                    if not self.owner and self.config.engine.incremental:
                        await self._retry(self.engine.share_touched)
            if rtask.done() and (err := rtask.exception()) is not None:
                raise err
        finally:
            await cancel_and_wait(rtask)

    def _gather_until(self, began: float) -> float:
        """Under load, when the batch begun at ``began`` closes: ``FLUSH_S`` later, or sooner so that it is
        applied by the time the owner may publish next (``publish_due``): a batch still being applied when a
        publish begins is in the publish after it (the change set is taken at the build's start), a whole
        pace later. At once when that publish is due already (the owner waits for a change to publish)."""
        deadline = began + FLUSH_S
        due = self.publish_due
        if due is not None and self.owner:
            deadline = max(began, min(deadline, due - self.apply_s))
        return deadline

    def _applied_in(self, wall_s: float) -> None:
        self.apply_s += PublishPace.SMOOTH * (wall_s - self.apply_s)

    def _start_reader(self) -> tuple[asyncio.Queue, asyncio.Task]:
        # read-ahead: five batches. A bigger buffer only fills while Redis is away or a restart catches up,
        # and then it is memory the process keeps (bench/soak.py: +60 MB at 50,000 items)
        queue: asyncio.Queue = asyncio.Queue(maxsize=5 * CHUNK)

        async def reader():
            with wall_clock(self.clock):  # the event model's time bounds follow this ingester's clock
                async for item in self.feed.follow(self.clock):
                    await queue.put(item)
            await queue.put(None)

        return queue, asyncio.create_task(reader(), name="feed")

    async def _cursor_lost(self) -> bool:
        """Whether Redis lost cursor saves of ours (waits for Redis while it is away)."""
        return int(await self._retry(self.r.get, self.saves_key) or 0) != self.saves

    async def _store_batch(self, batch: list, dead: list, mark: CursorMark | None) -> bool:
        """Apply a batch of a rewindable feed and save its cursor; False when Redis was lost before or during
        it (the caller reads again from the cursor in Redis)."""
        if not (batch or dead or mark):
            return True
        try:
            if await self._cursor_lost():
                return False
            if batch:
                t0 = asyncio.get_running_loop().time()
                await self.engine.apply(batch)
                self._applied_in(asyncio.get_running_loop().time() - t0)
            if dead:
                await self.engine.dead_letters(dead)
            if mark is not None:  # only once what it covers is applied: behind, never ahead
                await self.r.set(self.cursor_key(mark.key), mark.state)
                self.cursor_state = mark.state
                self.saves += 1
                await self._save_count()
            return True
        except REDIS_ERRORS as e:
            self.redis_ok = False
            self._resnapshot()
            log.warning("Redis lost while applying (%s); reading again from its cursor once it is back", e)
            return False

    async def _save_count(self) -> None:
        await self.r.set(self.saves_key, self.saves, ex=SAVES_TTL_S)

    async def _rewind(self, rtask: asyncio.Task) -> tuple[asyncio.Queue, asyncio.Task]:
        """Restart the feed from the cursor Redis holds now (once Redis answers)."""
        await cancel_and_wait(rtask)
        state = await self._retry(self.r.get, self.cursor_key(self.feed.cursor_key()))
        log.warning("reading the feed again from the cursor in Redis (%s)", state or "the start")
        self.cursor_state = state
        await self._retry(self._save_count)  # in step again
        self.rewinds += 1
        # the registries of queues and agents may have lost members too: let the engine add them again
        self.engine._seen.queues.clear()
        self.engine._seen.agents.clear()
        self._resnapshot()
        self.feed.resume(state)
        return self._start_reader()

    # ---- the owner's part ---------------------------------------------------------------------------

    async def _lease(self) -> bool:
        ms = self.config.engine.lease_ms
        got = await self.r.set(self.keys.lease, self.name, nx=True, px=ms)
        if not got:
            holder = await self.r.get(self.keys.lease)
            if holder == self.name:
                await self.r.pexpire(self.keys.lease, ms)
                got = True
            elif holder is not None and not is_cluster(self.r) and _dead_here(text(holder)):
                # the owner was killed on this host (SIGKILL, OOM): take over now rather than leave the
                # screens stale until its lease runs out; only if the lease still names it
                async with self.r.pipeline(transaction=True) as pipe:
                    try:
                        await pipe.watch(self.keys.lease)
                        if await pipe.get(self.keys.lease) == holder:
                            pipe.multi()
                            pipe.set(self.keys.lease, self.name, px=ms)
                            got = bool((await pipe.execute())[0])
                    except redis.WatchError:
                        got = False
        if got and not self.owner:
            log.info("%s holds the lease: ticking and publishing", self.name)
            self._resnapshot()  # what others applied meanwhile is in no change set of ours
            self.levels = await self.engine.load_levels()  # carry on from the previous owner's alerts
            self.requests_cursor = text(await self.r.get(self.keys.requests_cursor) or "0-0")
        if self.owner and not got and self.snapshots is not None:
            # the lease went elsewhere: what we applied since our last build is for the new owner to build (our
            # pump stops keeping it to itself from now on, but a quiet feed might not apply another batch soon)
            await self.engine.share_touched()
        self.owner = bool(got)
        return self.owner

    def _resnapshot(self) -> None:
        """The next snapshot is built in full: writes may have been lost or missed by the change set."""
        if self.snapshots is not None:
            self.snapshots.invalidate()
        if self.publisher is not None:  # and a full one goes out: the views may have missed anything
            self.publisher.invalidate()

    async def _release(self) -> None:
        try:
            if self.owner and await self.r.get(self.keys.lease) == self.name:
                await self.r.delete(self.keys.lease)
            await self.r.delete(self.keys.health(self.name), self.saves_key)
        except REDIS_ERRORS:
            pass

    async def _heartbeat(self) -> None:
        body = {
            "name": self.name,
            "pid": os.getpid(),
            "at": utc(self.clock.now()),
            "owner": self.owner,
            "events": self.events_applied,
            "feed": getattr(self.feed, "name", ""),
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
        }
        await self.r.set(self.keys.health(self.name), json.dumps(body), ex=self.config.engine.health_ttl_s)

    async def apply_requests(self) -> None:
        """Acknowledge / snooze commands (authorised by the executor), applied to the alert state with the
        user's name; the outcome goes to the audit stream."""
        out = streams(await self.r.xread({self.alert_cmds: self.requests_cursor}, count=500))
        if not out:
            return
        now = self.clock.now()
        for _stream, entries in out:
            for rid, f in entries:
                self.requests_cursor = rid
                kind, user = f.get("type", ""), f.get("user") or ""
                result = "ok"
                try:
                    if kind == "ack":
                        self.levels = ack(self.levels, f["queue"], f["metric"], user, now)
                    elif kind == "snooze":
                        until = (
                            datetime.fromisoformat(f["until"].replace("Z", "+00:00"))
                            if f.get("until")
                            else now + timedelta(minutes=15)
                        )
                        self.levels = snooze(self.levels, f["queue"], f["metric"], user, until)
                    else:
                        continue
                except (NoAlertError, KeyError, ValueError) as e:
                    result = f"rejected: {e}"
                await self.r.xadd(
                    self.keys.audit,
                    {
                        "request": f.get("request", rid),
                        "type": kind,
                        "user": user,
                        "queue": f.get("queue", ""),
                        "metric": f.get("metric", ""),
                        "at": utc(now),
                        "result": "applied" if result == "ok" else result,
                    },
                )
        await self.r.set(self.keys.requests_cursor, self.requests_cursor)

    async def tick(self, periodic: bool = True) -> None:
        """One owner tick: requests, expired callers (``periodic``: not on a publish for a change), levels,
        snapshot, publish."""
        self.not_publishing.clear()
        try:
            await self._tick(periodic)
        finally:
            self.not_publishing.set()

    async def _tick(self, periodic: bool) -> None:
        began, cpu = time.time(), time.process_time()
        now = self.clock.now()
        old = self.levels  # as stored in Redis: requests and evaluation both change it
        await self.apply_requests()
        # computed once, by the owner, on the injected clock; a read of every queue, so once per tick
        expired = await self.engine.expire_callers(now) if periodic else 0
        if expired:
            log.warning(
                "%d waiting caller(s) dropped: no leave within centre.caller_expiry_s = %g s",
                expired,
                self.config.centre.caller_expiry_s,
            )
        built = time.perf_counter()
        building = time.time()
        snap = await (self.snapshots.build(now) if self.snapshots is not None else self.engine.build_snapshot(now))
        part = self.snapshots if self.snapshots is not None and not self.snapshots.full_build else None
        snap, self.levels = self.engine.evaluate(
            snap,
            self.levels,
            now,
            self.alert_timers,
            part.changed_agents if part is not None else None,  # None: a full build, everything evaluated
            self.queue_levels,
            part.changed_queues if part is not None else None,
        )
        await self.engine.save_levels(self.levels, old)
        # stamped as it is sent, not once Redis answers: whoever sees the snapshot sees the stamp too
        self.last_publish = asyncio.get_running_loop().time()
        if self.publisher is not None:
            timers = self.alert_timers if part is not None else None  # a full build evaluated every agent
            snap = await self.publisher.publish(snap, now, timers.alerting if timers is not None else None)
        else:
            snap = await self.engine.publish(snap)
        self.metrics.snapshot(time.perf_counter() - built)
        if self.timeline is not None:
            cpu = time.process_time() - cpu
            self.timeline.publishes.append(PublishRecord(periodic, began, building, time.time(), cpu, snap.seq))

    async def _watch_shared(self) -> None:
        """An incremental owner publishes what other ingesters applied (another feed's: the chat platform's
        beside the PBX's, ``Engine.share_touched``) as promptly as its own changes, not at its next tick: it looks
        for their change set every ``SHARED_LOOK_S`` and wakes the publishing loop."""
        while not self.stop.is_set():
            await asyncio.sleep(SHARED_LOOK_S)
            if not self.owner or self.snapshots is None or not self.redis_ok:
                continue
            try:
                if await self.r.exists(self.keys.touched):
                    self.changed.set()
            except REDIS_ERRORS:
                if cancellation_pending():
                    raise asyncio.CancelledError from None
                # the owner's own loop finds Redis away, says so and backs off

    async def _owner_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick_s = self.config.engine.tick_s
        pace = PublishPace.of(self.config.engine)
        next_tick = loop.time()
        last_change = float("-inf")
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
                # leading edge: a change after a quiet moment goes out at once; the interval counts from the
                # start of the previous publish for a change (a periodic tick does not hold the next one back)
                wait = last_change + pace.gap_s - loop.time()
                if wait > 0:
                    await asyncio.sleep(min(wait, max(0.0, next_tick - loop.time())))
                if loop.time() < next_tick:
                    last_change = loop.time()
                    self.publish_due = last_change + pace.gap_s  # as far as known: the gap after this one
                    cpu = time.process_time()  # the pump waits meanwhile: this is the publish's own
                    await self._retry(self.tick, False)
                    pace.took(time.process_time() - cpu)
                    self.publish_due = last_change + pace.gap_s
            if loop.time() > next_tick + tick_s:  # fell behind (a long outage): don't burst
                next_tick = loop.time()
