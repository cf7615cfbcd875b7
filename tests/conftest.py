"""Shared fixtures. Tests run against a real Redis: REDIS_URL (CI starts one), never a fake."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import redis.asyncio as aredis

from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.keys import Keys

_private_server = None


def pytest_configure(config):
    """Without REDIS_URL the suite starts its own real server (the embedded binary) on a private socket,
    so `pytest` works on a machine with no Redis; CI points REDIS_URL at its server."""
    global _private_server
    if os.environ.get("REDIS_URL") or hasattr(config, "workerinput"):
        return
    import shutil
    import subprocess
    import tempfile
    import time

    import redis

    from wallboard.redis_server import binary_path

    root = tempfile.mkdtemp(prefix="wbt", dir="/tmp")
    sock = f"{root}/redis.sock"
    subprocess.run(
        [
            str(binary_path()),
            "--daemonize",
            "yes",
            "--port",
            "0",
            "--unixsocket",
            sock,
            "--dir",
            root,
            "--save",
            "",
            "--appendonly",
            "no",
            "--pidfile",
            f"{root}/pid",
        ],
        check=True,
        capture_output=True,
    )
    for _ in range(200):
        try:
            redis.Redis(unix_socket_path=sock).ping()
            break
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.02)
    os.environ["REDIS_URL"] = f"unix://{sock}"
    _private_server = (sock, root, shutil)


def pytest_unconfigure(config):
    if _private_server:
        import redis

        sock, root, shutil = _private_server
        try:
            redis.Redis(unix_socket_path=sock).shutdown(nosave=True)
        except (redis.ConnectionError, OSError):
            pass
        shutil.rmtree(root, ignore_errors=True)


def shared_data() -> "Path":  # noqa: F821 (imported inside: the module imports no more than it must)
    """The read-only real data beside the project (``../shared/data``): WALLBOARD_SHARED_DATA, else the first
    ``shared/data`` found beside the checkout or one of its parents, else the workplace's /work/shared/data."""
    from pathlib import Path

    env = os.environ.get("WALLBOARD_SHARED_DATA")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent.parent
    candidates += [p / "shared" / "data" for p in [here, *here.parents]]
    candidates.append(Path("/work/shared/data"))
    for c in candidates:
        if (c / "anonymous_bank").is_dir():
            return c
    raise FileNotFoundError(
        "the real data (shared/data) was not found beside the checkout; set WALLBOARD_SHARED_DATA to its path"
    )


def redis_url() -> str:
    return os.environ["REDIS_URL"]


T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def free_port() -> int:
    """A loopback TCP port nobody listens on (for the servers a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate and key for localhost / 127.0.0.1 (openssl), for the TLS tests."""
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(d / "key.pem"),
            "-out",
            str(d / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
async def redis_client():
    client = aredis.Redis.from_url(redis_url(), decode_responses=True)
    yield client
    await client.aclose()


def _drop_namespace(p: str) -> None:
    """Every key of a test's namespace and of the namespaces it derived from it (``P-ql``, ``P-x``)."""
    import redis as sync_redis

    r = sync_redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        keys = list(r.scan_iter(match=f"{p}*", count=10_000))
        for i in range(0, len(keys), 10_000):
            r.unlink(*keys[i : i + 10_000])
    finally:
        r.close()


@pytest.fixture
def prefix():
    """A fresh namespace, dropped after the test whatever it left (the last teardown: after its tasks stopped;
    tests that stopped a feed only after their own clean-up left minute buckets behind, 7,000 keys a run)."""
    p = f"wbtest-{uuid.uuid4().hex[:10]}"
    yield p
    _drop_namespace(p)


@pytest.fixture
async def cleanup(redis_client, prefix):
    """Drop the test's namespace (``prefix``) afterwards."""
    yield
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=10_000)]
    if keys:
        await redis_client.unlink(*keys)


@pytest.fixture
def namespace():
    """A fresh key prefix for a test that works synchronously (subprocesses, sync clients); dropped after."""
    p = f"wbtest-{uuid.uuid4().hex[:10]}"
    yield p
    _drop_namespace(p)


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
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=10_000)]
    if keys:
        await redis_client.unlink(*keys)


def wire(fields: dict) -> dict:
    """A raw request-stream entry as ``wallboard.actions.submit`` writes it, for tests that XADD by hand: the
    ``token`` is swapped for ``cred`` and ``proof`` (the token never travels) and a fresh ``id`` is added
    unless the entry has one. The values are signed as given, so a malformed entry stays malformed."""
    import uuid

    from wallboard.actions.auth import sign_request

    out = {k: str(v) for k, v in fields.items() if k != "token"}
    out.setdefault("id", uuid.uuid4().hex)
    return sign_request(out, fields["token"])


def unwire(fields: dict, token: str) -> dict:
    """A request-stream entry checked to be signed with ``token`` (its proof recomputed here) and to carry a
    request id; returned without ``cred``, ``proof`` and ``id``, for comparing with what was asked."""
    from wallboard.actions.auth import sign_request

    body = {k: v for k, v in fields.items() if k not in ("cred", "proof")}
    assert sign_request(body, token) == fields, "the entry is not signed with this token"
    assert len(fields.get("id", "")) >= 8, "the entry has no request id"
    return {k: v for k, v in body.items() if k != "id"}
