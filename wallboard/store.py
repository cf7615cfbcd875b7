"""Connecting to Redis (a URL, or the shared embedded server) and running our Lua scripts by EVALSHA.

The key layout is documented in ``wallboard.keys``.

Redis Cluster: a URL ``redis+cluster://host:port`` (``rediss+cluster://`` with TLS), or ``redis.cluster = true``
in the config with a ``redis://`` URL of any node, gives a cluster client (``redis.asyncio.RedisCluster``) that
discovers the other nodes. Nothing else changes: every key carries one hash tag and no script touches two
(``wallboard.keys``), so each EVALSHA runs on the node that owns its slot; pipelines are redis-py's
non-transactional cluster pipelines (split per node, sent in parallel); SCRIPT LOAD goes to every primary.
Snapshots are published with plain PUBLISH, which a cluster forwards to every node, so a view subscribed on
any node (``SUBSCRIBE``, as the views do) receives them; see docs/PERFORMANCE.md for that choice.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from typing import Any, cast
from importlib.resources import files
from urllib.parse import urlsplit, urlunsplit

import orjson
import redis
import redis.asyncio as aredis
import redis.asyncio.cluster
import redis.cluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ResponseError
from redis.retry import Retry

from .config import REDIS_URL_HINT, WallboardConfig, redact_url_text, redis_url_problem
from .errors import InputError


class StoreUnavailable(RuntimeError):
    """Redis could not be reached; the message names the URL tried."""


def configured_url(config: WallboardConfig, url: str | None = None) -> str | None:
    """The server the user named (--redis flag > REDIS_URL > WALLBOARD_REDIS__URL / the file's redis.url), or
    None: the embedded server then (or, for a throwaway replay, a private one)."""
    return url or os.environ.get("REDIS_URL") or config.redis.url or None


def resolve_url(config: WallboardConfig, url: str | None = None) -> str:
    """--redis flag > REDIS_URL > WALLBOARD_REDIS__URL / the file's redis.url > the embedded server."""
    chosen = configured_url(config, url)
    if chosen:
        problem = redis_url_problem(chosen)
        if problem:  # (load_config and the CLI check theirs first; this names whichever one was taken)
            source = "--redis" if url else "REDIS_URL" if os.environ.get("REDIS_URL") else "redis.url"
            raise InputError(f"{source}: {problem} (hint: {REDIS_URL_HINT})")
        return chosen
    from .redis_server import ensure_embedded

    return ensure_embedded()


def _password(config: WallboardConfig) -> str | None:
    f = config.redis.password_file
    return f.read_text().strip() if f else None


def redact_url(url: str) -> str:
    """The URL as it may be shown or logged: any password in it replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:  # malformed: redact it as text
        return redact_url_text(url)
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _tls(config: WallboardConfig, url: str) -> dict:
    """For ``rediss://``: the CA and client certificate files from ``[redis]`` (redis-py verifies the server's
    certificate and host name by default; its URL query options, e.g. ``?ssl_cert_reqs=none``, work too)."""
    if not url.startswith("rediss"):
        return {}
    r = config.redis
    files_ = {"ssl_ca_certs": r.tls_ca_file, "ssl_certfile": r.tls_cert_file, "ssl_keyfile": r.tls_key_file}
    return {k: str(v) for k, v in files_.items() if v is not None}


_CLUSTER_SCHEMES = {"redis+cluster://": "redis://", "rediss+cluster://": "rediss://"}
_UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, OSError, redis.exceptions.RedisClusterException)


def cluster_target(config: WallboardConfig, url: str) -> tuple[bool, str]:
    """(is it a cluster, the URL redis-py takes): ``redis+cluster://`` / ``rediss+cluster://``, or a plain URL with
    ``redis.cluster = true``. A cluster is reached over TCP: a ``unix://`` URL cannot be one."""
    for scheme, plain in _CLUSTER_SCHEMES.items():
        if url.startswith(scheme):
            return True, plain + url[len(scheme) :]
    if config.redis.cluster and not url.startswith("unix://"):
        return True, url
    if config.redis.cluster:
        raise StoreUnavailable(
            f"redis.cluster is set but {redact_url(url)} is a unix socket; a cluster needs redis://host:port"
        )
    return False, url


def is_cluster(client) -> bool:
    return isinstance(client, (aredis.RedisCluster, redis.RedisCluster))


_CLUSTER_PIPELINES = (aredis.cluster.ClusterPipeline, redis.cluster.ClusterPipeline)
_LOADING_POLL_S = 0.1


class _LoadingWait:
    """A server answering ``-LOADING`` (a restart reading a big AOF) is waited for, at most
    ``redis_server.LOADING_WAIT_S``, said once on stderr, instead of being reported unreachable."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.deadline: float | None = None

    def first(self) -> bool:
        if self.deadline is None:
            from .redis_server import LOADING_WAIT_S

            self.deadline = time.monotonic() + LOADING_WAIT_S
            return True
        return False

    def say(self, info) -> None:
        from .redis_server import loading_total_bytes, say_loading

        say_loading(loading_total_bytes(info) if isinstance(info, dict) else None, redact_url(self.target))

    def check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            from .redis_server import LOADING_WAIT_S

            raise StoreUnavailable(
                f"Redis at {redact_url(self.target)} is still loading its data after {LOADING_WAIT_S:.0f} s"
            )


# What ``connect`` gives: a cluster client for a cluster URL, else a plain one (the same commands).
AsyncClient = aredis.Redis | aredis.RedisCluster


# Our clients decode replies (``decode_responses``), which redis-py's types cannot tell: these say so.
def loads(text: str | bytes) -> Any:
    """JSON read back from Redis (a script's reply, a snapshot part or message) as ``json.loads`` reads it, by
    orjson (a third to a half of json's cost) and by json for what orjson refuses (NaN or Infinity, a lone
    surrogate, nesting past orjson's limit, a text not in UTF-8): json's value or json's error. But for an int past
    64 bits, which orjson does not refuse but reads as a float: our scripts write none (cjson writes 14 digits), and
    a text that may hold one is read by ``delta._read_json``, which hands it to json."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def text(reply: bytes | str) -> str:
    return cast(str, reply)


def texts(members: set[bytes | str]) -> set[str]:
    return cast("set[str]", members)


def streams(reply: object) -> list[tuple[str, list[tuple[str, dict[str, str]]]]]:
    """XREAD's reply as RESP2 gives it (our clients speak RESP2): [(stream, [(id, fields)])]."""
    return cast("list[tuple[str, list[tuple[str, dict[str, str]]]]]", reply)


async def connect(config: WallboardConfig, url: str | None = None) -> AsyncClient:
    """An asyncio client, checked with a PING; raises StoreUnavailable with the URL on failure. A cluster URL
    (see the module docstring) gives a ``redis.asyncio.RedisCluster``, which takes the same calls."""
    target = resolve_url(config, url)
    cluster, plain = cluster_target(config, target)
    pw = _password(config)
    client: AsyncClient
    if cluster:
        # the cluster client retries MOVED/ASK and failovers itself (its default retry policy)
        # bytes that are not UTF-8 (anyone may XADD them) are read as U+FFFD, never as an exception
        ckw: dict = {
            "decode_responses": True,
            "encoding_errors": "replace",
            "health_check_interval": 30,
            **_tls(config, plain),
        }
        if pw:
            ckw["password"] = pw
        client = aredis.RedisCluster.from_url(plain, **ckw)
    else:
        # one immediate retry heals a stale pooled connection; longer outages are our loops' to back off from
        kwargs = {
            "decode_responses": True,
            "encoding_errors": "replace",
            "health_check_interval": 30,
            "retry": AsyncRetry(NoBackoff(), 1),
            **_tls(config, target),
        }
        if pw:
            kwargs["password"] = pw
        client = aredis.Redis.from_url(target, **kwargs)
    loading = _LoadingWait(target)
    try:
        while True:
            try:
                await client.ping()
                break
            except redis.BusyLoadingError:  # before _UNREACHABLE: it is a ConnectionError too
                if loading.first():
                    try:
                        info = await client.info("persistence")  # answered while loading
                    except (redis.RedisError, OSError):
                        info = None
                    loading.say(info)
                loading.check()
                await asyncio.sleep(_LOADING_POLL_S)
    except StoreUnavailable:
        await client.aclose()
        raise
    except redis.AuthenticationError as e:  # before _UNREACHABLE: it is a ConnectionError too
        await client.aclose()
        raise StoreUnavailable(f"Redis at {redact_url(target)} refused our credentials: {e}") from None
    except _UNREACHABLE as e:
        await client.aclose()
        raise StoreUnavailable(f"cannot reach Redis at {redact_url(target)}: {e}") from None
    return client


def connect_sync(config: WallboardConfig, url: str | None = None) -> redis.Redis | redis.RedisCluster:
    target = resolve_url(config, url)
    cluster, plain = cluster_target(config, target)
    pw = _password(config)
    client: redis.Redis | redis.RedisCluster
    try:
        if cluster:  # the sync cluster client reaches the nodes as it is made
            ckw: dict = {"decode_responses": True, "encoding_errors": "replace", **_tls(config, plain)}
            if pw:
                ckw["password"] = pw
            client = redis.RedisCluster.from_url(plain, **ckw)
        else:
            kwargs: dict = {
                "decode_responses": True,
                "encoding_errors": "replace",
                "retry": Retry(NoBackoff(), 1),
                **_tls(config, target),
            }
            if pw:
                kwargs["password"] = pw
            client = redis.Redis.from_url(target, **kwargs)
        loading = _LoadingWait(target)
        while True:
            try:
                client.ping()
                break
            except redis.BusyLoadingError:
                if loading.first():
                    try:
                        info = client.info("persistence")  # answered while loading
                    except (redis.RedisError, OSError):
                        info = None
                    loading.say(info)
                loading.check()
                time.sleep(_LOADING_POLL_S)
    except redis.AuthenticationError as e:
        raise StoreUnavailable(f"Redis at {redact_url(target)} refused our credentials: {e}") from None
    except _UNREACHABLE as e:
        raise StoreUnavailable(f"cannot reach Redis at {redact_url(target)}: {e}") from None
    return client


def script_source(name: str) -> str:
    return files("wallboard").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


SCRIPT_NAMES = ("queue_batch", "agent_batch", "dead_letters", "dead_letters_settle", "minutes")


class Scripts:
    """Our Lua scripts, loaded once and called by EVALSHA (reloaded if the server forgot them)."""

    def __init__(self) -> None:
        self.sources = {name: script_source(name) for name in SCRIPT_NAMES}
        self.shas: dict[str, str] = {}

    async def load(self, client: AsyncClient) -> None:
        for name, src in self.sources.items():
            self.shas[name] = await client.script_load(src)

    def queue(self, pipe, name: str, base: str, *args: str | bytes) -> None:
        """Queue one EVALSHA on a pipeline; the only key is the slot's base (see wallboard.keys)."""
        if isinstance(pipe, _CLUSTER_PIPELINES):
            # redis-py blocks the evalsha() method on cluster pipelines; the command itself is routed by its
            # one key like any other (EVALSHA sha 1 base ...), so it goes through execute_command
            pipe.execute_command("EVALSHA", self.shas[name], 1, base, *args)
        else:
            pipe.evalsha(self.shas[name], 1, base, *args)

    async def run_calls(self, client: AsyncClient, calls: Sequence[tuple[str, str, tuple[str | bytes, ...]]]) -> list:
        """``run_pipeline``'s calls in one round trip, packed here and sent on a pooled connection of a plain
        client: the apply steps' hundred or more script calls a live batch (a call per queue and per agent)
        cost redis-py's pipeline ~25 us of Python each to pack and read (docs/PERFORMANCE.md), for commands
        that are all alike. The same EVALSHAs, each with its one key, in the same order; replies as the server
        sends them (a script's text as bytes, not decoded: the callers parse JSON from bytes). A cluster client
        routes per slot: its pipeline, as before."""
        if not calls or isinstance(client, aredis.RedisCluster):
            return await self.run_pipeline(client, calls)
        pool = client.connection_pool
        enc = pool.get_encoder()
        for attempt in (0, 1):
            packed = _pack_evalshas(self.shas, calls, enc.encoding, enc.encoding_errors)
            conn = await pool.get_connection()
            try:
                replies = await conn.retry.call_with_retry(
                    lambda: _exchange(conn, packed, len(calls)), lambda _error: conn.disconnect()
                )
            finally:
                await pool.release(conn)
            failed = next((r for r in replies if isinstance(r, ResponseError)), None)
            if failed is None:
                return replies
            if attempt or not isinstance(failed, NoScriptError):
                raise failed
            await self.load(client)
        return []

    async def run_pipeline(
        self, client: AsyncClient, calls: Sequence[tuple[str, str, tuple[str | bytes, ...]]]
    ) -> list:
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


def _pack_evalshas(
    shas: dict[str, str], calls: Sequence[tuple[str, str, tuple[str | bytes, ...]]], encoding: str, errors: str
) -> bytes:
    """EVALSHA sha 1 base *args for each call, in the protocol (what redis-py's packer writes for them); texts
    encoded as the client's encoder does."""
    heads = {
        name: b"$7\r\nEVALSHA\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (len(sha), sha.encode()) for name, sha in shas.items()
    }
    out: list[bytes] = []
    add = out.append
    for name, base, args in calls:
        add(b"*%d\r\n" % (4 + len(args)))
        add(heads[name])
        for a in (base, *args):
            b = a if isinstance(a, bytes) else a.encode(encoding, errors)
            add(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


async def _exchange(conn, packed: bytes, n: int) -> list:
    """Send ``n`` packed commands and read their ``n`` replies (an error reply kept in its place, as the
    pipeline keeps it; each reply waited for ``socket_timeout``, as redis-py waits); anything that breaks off
    the reading drops the connection, whose unread replies would otherwise meet the next command sent on it."""
    await conn.send_packed_command(packed)
    out: list = []
    try:
        for _ in range(n):
            try:
                out.append(await conn.read_response(disable_decoding=True))
            except ResponseError as e:
                out.append(e)
    except BaseException:
        await conn.disconnect(nowait=True)
        raise
    return out
