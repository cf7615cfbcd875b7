"""Redis Cluster: the same code on a local 3-master cluster (DESIGN.md "Cluster-ready layout").

A cluster of three masters is started here on free loopback ports (Debian's ``redis-server`` when installed,
else the embedded valkey binary; ``--cluster-enabled yes``, created with ``redis-cli --cluster create ...
--cluster-yes``, or with CLUSTER ADDSLOTSRANGE / MEET when there is no ``redis-cli``), in a temp dir, and torn
down at the end. On it:

- ``connect`` gives a cluster client for ``redis+cluster://`` and for ``redis.cluster = true``;
- replay equivalence: the same input replayed on the cluster and on a single node leaves the
  same keys with the same values and gives the same snapshot, and the keys are spread over the three masters;
- several ingesters (engines) splitting the partitions by a stable hash of the partition name (the queue for
  call events, the agent for agent-only events) give the same snapshot (every count equal; sums of seconds
  equal but for the last bits, as any other cut into batches gives), and a share delivered twice counts
  nothing twice;
- a snapshot published (plain PUBLISH) reaches a view subscribed on any node.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis

from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import partition_of
from wallboard.keys import Keys
from wallboard.replay import drop_namespace_sync, replay
from wallboard.store import StoreUnavailable, connect, connect_sync, is_cluster
from wallboard.thresholds import LevelState

from .polling import wait_until

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "wallboard.toml"
SAMPLE = ROOT / "samples" / "sample_day.queue_log"


# ---- the cluster ----------------------------------------------------------------------------------------


def _server_binary() -> str:
    for cand in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if cand and os.access(cand, os.X_OK):
            return cand
    from wallboard.redis_server import binary_path

    return str(binary_path())


def _free_ports(n: int) -> list[int]:
    """Free ports whose cluster bus ports (port + 10000) are free too."""
    out: list[int] = []
    while len(out) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or port in out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        out.append(port)
    return out


_STARTING = (redis.ConnectionError, redis.ResponseError, OSError)  # a node still starting, a cluster still forming


@pytest.fixture(scope="module")
def cluster():
    """Three masters on loopback; yields their ports; stopped and deleted at the end. A fourth server of the
    same binary, not in cluster mode, is the single node the cluster is compared with (``single_url``): the
    same server version on both sides, whatever REDIS_URL points at."""
    global _single_url
    server = _server_binary()
    root = Path(tempfile.mkdtemp(prefix="wbcluster"))
    ports = _free_ports(3)
    procs = []
    try:
        (single,) = [p for p in _free_ports(4) if p not in ports][:1]
        procs.append(
            subprocess.Popen(
                [
                    server,
                    "--port",
                    str(single),
                    "--bind",
                    "127.0.0.1",
                    "--protected-mode",
                    "no",
                    "--dir",
                    str(root),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _single_url = f"redis://127.0.0.1:{single}/0"
        wait_until(
            redis.Redis(host="127.0.0.1", port=single).ping, "the single node to start", timeout=30, ignoring=_STARTING
        )
        for p in ports:
            d = root / str(p)
            d.mkdir()
            procs.append(
                subprocess.Popen(
                    [
                        server,
                        "--port",
                        str(p),
                        "--bind",
                        "127.0.0.1",
                        "--protected-mode",
                        "no",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(d / "nodes.conf"),
                        "--cluster-node-timeout",
                        "5000",
                        "--dir",
                        str(d),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        nodes = [redis.Redis(host="127.0.0.1", port=p, decode_responses=True) for p in ports]
        for n in nodes:
            wait_until(n.ping, "a cluster node to start", timeout=30, ignoring=_STARTING)
        cli = shutil.which("redis-cli")
        if cli:
            subprocess.run(
                [
                    cli,
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{p}" for p in ports),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
        else:  # the same by hand: a third of the 16384 slots each, then meet
            step = 16384 // 3
            for i, n in enumerate(nodes):
                n.execute_command("CLUSTER", "ADDSLOTSRANGE", i * step, 16383 if i == 2 else (i + 1) * step - 1)
            for p in ports[1:]:
                nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", p)

        def ready() -> bool:
            for n in nodes:
                info = n.execute_command("CLUSTER", "INFO")
                info = info if isinstance(info, str) else info.decode()
                if "cluster_state:ok" not in info or "cluster_known_nodes:3" not in info:
                    return False
            return True

        wait_until(ready, "the cluster to be ok on every node", timeout=30, ignoring=_STARTING)
        for n in nodes:
            n.close()
        yield ports
    finally:
        for proc in procs:
            proc.terminate()  # SIGTERM: Redis shuts down (nothing to save here)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(root, ignore_errors=True)


def cluster_url(ports: list[int]) -> str:
    return f"redis+cluster://127.0.0.1:{ports[0]}"


_single_url = ""


def single_url() -> str:
    return _single_url


# ---- helpers -------------------------------------------------------------------------------------------


def dump(client, prefix: str) -> dict:
    """Every key of the namespace (prefix stripped): its type, value and whether it has a TTL (pipelined)."""
    keys = sorted(client.scan_iter(match=f"{prefix}:*", count=5000))
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.type(k)
    types = pipe.execute()
    read = {
        "string": lambda p, k: p.get(k),
        "hash": lambda p, k: p.hgetall(k),
        "zset": lambda p, k: p.zrange(k, 0, -1, withscores=True),
        "set": lambda p, k: p.smembers(k),
        "stream": lambda p, k: p.xrange(k),
    }
    pipe = client.pipeline(transaction=False)
    for k, t in zip(keys, types):
        read[t](pipe, k)
        pipe.ttl(k)
    got = pipe.execute()
    out = {}
    for i, (k, t) in enumerate(zip(keys, types)):
        v, ttl = got[2 * i], got[2 * i + 1]
        if t == "set":
            v = sorted(v)
        elif t == "stream":
            v = [f for _, f in v]
        out[k[len(prefix) :]] = (t, v, ttl > 0)
    return out


def same(a, b, path: str = "") -> bool:
    """Equal, except that sums of seconds may differ in their last bits: the scripts add a batch's seconds
    before HINCRBYFLOAT, so ingesters cutting the input into other batches round differently (counts are
    integers and must be equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        return all(same(a[k], b[k], f"{path}/{k}") for k in a)
    if isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        return all(same(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
    if isinstance(a, float) and isinstance(b, float) and not (isinstance(a, bool) or isinstance(b, bool)):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9), (path, a, b)
        return True
    assert a == b and type(a) is type(b), (path, a, b)
    return True


class ListFeed:
    def __init__(self, items: list, name: str):
        self.items, self.name = items, name

    def read(self):
        return iter(self.items)


def sim_events(config) -> list:
    from feeds.sim import SimFeed

    start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    return list(SimFeed(None, config, "spike", 5, start=start, hours=2.5).read())


def ql_events(config) -> list:
    from feeds.queue_log import QueueLogFeed

    return list(QueueLogFeed(SAMPLE, config).read())


# ---- the tests -----------------------------------------------------------------------------------------


async def test_connect_gives_a_cluster_client(cluster):
    config = load_config(None)
    client = await connect(config, cluster_url(cluster))
    try:
        assert is_cluster(client) and isinstance(client, aredis.RedisCluster)
        assert len(client.get_primaries()) == 3
    finally:
        await client.aclose()
    # a plain URL of any node with redis.cluster = true: the same
    flagged = load_config(None, redis={"cluster": True})
    client = await connect(flagged, f"redis://127.0.0.1:{cluster[1]}")
    try:
        assert is_cluster(client)
    finally:
        await client.aclose()
    sync = connect_sync(config, cluster_url(cluster))
    try:
        assert is_cluster(sync) and sync.ping()
    finally:
        sync.close()
    # the single node stays a plain client; a unix socket can't be a cluster
    plain = await connect(config, single_url())
    try:
        assert not is_cluster(plain)
    finally:
        await plain.aclose()
    with pytest.raises(StoreUnavailable, match="cluster"):
        await connect(flagged, "unix:///tmp/nowhere.sock")


async def test_a_throwaway_replay_leaves_nothing_on_the_cluster(cluster):
    config = load_config(CONFIG)
    snap, stats = await replay(ListFeed(ql_events(config)[:3000], "queue-log"), config, redis_url=cluster_url(cluster))
    assert stats.applied > 500 and snap.total.entered > 100
    left = [k for p in cluster for k in redis.Redis(host="127.0.0.1", port=p).scan_iter(match="wbreplay-*")]
    assert left == []


@pytest.mark.parametrize("source", ["queue_log", "sim"])
async def test_replay_on_the_cluster_equals_the_single_node(cluster, source):
    config = load_config(CONFIG)
    events = ql_events(config) if source == "queue_log" else sim_events(config)
    tag = uuid.uuid4().hex[:8]
    on_cluster, on_node = f"wbcl-{tag}", f"wbsn-{tag}"
    name = "queue-log" if source == "queue_log" else "sim"
    snap_c, stats_c = await replay(ListFeed(events, name), config, redis_url=cluster_url(cluster), prefix=on_cluster)
    snap_n, stats_n = await replay(ListFeed(events, name), config, redis_url=single_url(), prefix=on_node)
    ccl = redis.RedisCluster(host="127.0.0.1", port=cluster[0], decode_responses=True)
    node = redis.Redis.from_url(single_url(), decode_responses=True)
    try:
        assert stats_c == stats_n and stats_c.applied > 1000
        # sums of seconds may differ in their last bits between servers (HINCRBYFLOAT's formatting)
        assert same(snap_c.model_dump(), snap_n.model_dump())
        keys_c, keys_n = dump(ccl, on_cluster), dump(node, on_node)
        assert len(keys_c) > 1000
        assert set(keys_c) == set(keys_n)
        # and the keys really are spread over the three masters
        per_node = [redis.Redis(host="127.0.0.1", port=p).dbsize() for p in cluster]
        assert all(n > 0 for n in per_node), per_node
    finally:
        drop_namespace_sync(ccl, on_cluster)
        drop_namespace_sync(node, on_node)
        ccl.close()
        node.close()


async def test_ingesters_splitting_the_partitions_count_once(cluster):
    config = load_config(CONFIG)
    events = sim_events(config)
    tag = uuid.uuid4().hex[:8]
    single, split = f"wbsn-{tag}", f"wbsp-{tag}"
    snap_one, _ = await replay(ListFeed(events, "sim"), config, redis_url=single_url(), prefix=single)

    n = 3
    shares: list[list] = [[] for _ in range(n)]
    for e in events:  # a stable hash of the partition: a queue's call events, an agent's own events
        shares[zlib.crc32(partition_of(e).encode()) % n].append(e)
    assert all(len(s) > 100 for s in shares)
    clients = [await connect(config, cluster_url(cluster)) for _ in range(n)]
    engines = [Engine(c, config, Keys(split), feed_name="sim") for c in clients]
    try:
        for e in engines:
            await e.start()

        async def ingest(engine: Engine, share: list) -> tuple[int, int]:
            applied = dups = 0
            for k in range(0, len(share), 700):  # live-sized batches, in order within the share
                res = await engine.apply(share[k : k + 700])
                applied, dups = applied + res.applied, dups + res.duplicates
            return applied, dups

        results = await asyncio.gather(*(ingest(e, s) for e, s in zip(engines, shares)))
        assert sum(d for _, d in results) == 0

        async def snapshot():
            now = datetime.fromtimestamp(max(e.ts.timestamp() for e in events), timezone.utc) + timedelta(seconds=1)
            snap = await engines[0].build_snapshot(now)
            snap, _ = engines[0].evaluate(snap, LevelState(), now)
            return snap

        first = await snapshot()
        assert same(first.model_dump(exclude={"seq"}), snap_one.model_dump(exclude={"seq"}))

        # the ingesters restart and deliver their shares again: all duplicates, nothing counted twice
        again = await asyncio.gather(*(ingest(e, s) for e, s in zip(engines, shares)))
        assert all(applied == 0 and dups > 0 for applied, dups in again)
        second = await snapshot()

        def counted(s) -> dict:
            d = s.model_dump(exclude={"seq"})
            for q in d["queues"].values():
                q.pop("duplicates")
            return d

        assert same(counted(second), counted(first))
        assert sum(q.duplicates for q in second.queues.values()) > sum(q.duplicates for q in first.queues.values())
    finally:
        for c in clients:
            await c.aclose()
        ccl = redis.RedisCluster(host="127.0.0.1", port=cluster[0], decode_responses=True)
        drop_namespace_sync(ccl, split)
        ccl.close()
        node = redis.Redis.from_url(single_url(), decode_responses=True)
        drop_namespace_sync(node, single)
        node.close()


async def test_snapshots_published_reach_a_view_on_any_node(cluster):
    config = load_config(CONFIG)
    prefix = f"wbpub-{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    client = await connect(config, cluster_url(cluster))
    # the {c} slot lives on one master; the views subscribe wherever they are connected
    views = [aredis.Redis(host="127.0.0.1", port=p, decode_responses=True) for p in cluster]
    subs = [v.pubsub(ignore_subscribe_messages=True) for v in views]
    try:
        for s in subs:
            await s.subscribe(keys.channel)
        engine = Engine(client, config, keys)
        await engine.start()
        await engine.apply(ql_events(config)[:500])
        snap = await engine.publish(await engine.build_snapshot(datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)))
        for s in subs:
            msg = None
            for _ in range(100):
                msg = await s.get_message(timeout=0.1)
                if msg is not None:
                    break
            assert msg is not None and msg["channel"] == keys.channel
            assert f'"seq":{snap.seq}' in msg["data"]
        assert await client.get(keys.summary) == msg["data"]
    finally:
        for s in subs:
            await s.aclose()
        for v in views:
            await v.aclose()
        await client.aclose()
        ccl = redis.RedisCluster(host="127.0.0.1", port=cluster[0], decode_responses=True)
        drop_namespace_sync(ccl, prefix)
        ccl.close()


async def test_the_lease_owner_ticks_on_the_cluster(cluster):
    """The owner's tick (requests, levels saved in a one-slot transaction, snapshot, publish) on the cluster."""
    from wallboard.clock import ManualClock
    from wallboard.ingest import Ingest

    config = load_config(CONFIG)
    prefix = f"wbtick-{uuid.uuid4().hex[:8]}"
    events = ql_events(config)[:2000]
    client = await connect(config, cluster_url(cluster))
    try:
        clock = ManualClock(events[-1].ts + timedelta(seconds=1))
        ing = Ingest(client, config, ListFeed(events, "queue-log"), clock=clock, keys=Keys(prefix), name="tick-test")
        await ing.engine.start()
        await ing.engine.apply(events)
        assert await ing._lease() and ing.owner
        await ing.tick()
        await ing.tick()
        summary = await client.get(Keys(prefix).summary)
        assert summary and '"seq":2' in summary
        await ing._release()
        assert await client.get(Keys(prefix).lease) is None
    finally:
        await client.aclose()
        ccl = redis.RedisCluster(host="127.0.0.1", port=cluster[0], decode_responses=True)
        drop_namespace_sync(ccl, prefix)
        ccl.close()
