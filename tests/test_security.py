"""Security (issue 9), against the real Redis and real sockets.

- Every network surface refuses a wrong credential with a reason a person can read, logs the reason (never
  the credential or a secret), audits it where the executor is the judge, and admits the right credential on
  the same surface: one table, one parametrised test.
- The hub over TLS (certificate and key from config); clear config errors.
- Secrets (token signing secret, AMI secret, Redis password in the URL, SMTP password, bearer tokens) appear in
  no log and no command output, in a real run of `wallboard ingest` and `wallboard executor`.
- Rate limits on actions; the audit stream append-only for every Redis user `wallboard acl` makes but admin.
- Caller numbers masked outside the desk UI: TV projection, reports (e-mailed and printed), logs, dead letters.
- `rediss://` with an ACL user, on a real TLS Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wallboard.acl import audit_key, setuser_command
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor, Outcome
from wallboard.cli import main as cli_main
from wallboard.clock import ManualClock
from wallboard.config import ConfigError, HubConfig, load_config
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, CallerAnswered, CallerJoined, utc
from wallboard.hub.auth import Access
from wallboard.projection import project
from wallboard.hub.server import Hub
from wallboard.hub.tls import server_context
from wallboard.keys import Keys
from wallboard.privacy import mask_text
from wallboard.store import StoreUnavailable, connect as store_connect

from .ami_fake import FakePbx
from .conftest import free_port, redis_url, wire
from .polling import until
from .tvdata import LAYOUTS, TOKENS, UNMASKED, four_queues, now_utc, publish

ROOT = Path(__file__).resolve().parent.parent
VIEWER = TOKENS["TV_TEST_VIEWER_FLOOR"]
RIVKA_STATIC = TOKENS["TV_TEST_TOKEN_RIVKA"]
SECRET = "tok-secret-Zq81wv"  # the token signing secret
METRICS = "metrics-bearer-Xy72ab"


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("WALLBOARD_METRICS_TOKEN", METRICS)


def sec_config(prefix: str, **over):
    kw = dict(
        redis={"prefix": prefix, "url": redis_url()},
        centre={"timezone": "UTC", "name": "Test centre"},
        queues=[{"name": q} for q in ("support", "tech", "billing", "sales")],
        agents=[{"id": "1001", "name": "Gefen", "interface": "PJSIP/1001", "skills": {"support": 0}}],
        layouts=LAYOUTS,
        roles={"supervisor": {"permissions": ["ack", "snooze", "move"]}, "viewer": {"permissions": []}},
        users=[
            {"name": "rivka", "roles": ["supervisor"], "token_env": "TV_TEST_TOKEN_RIVKA"},
            {"name": "vera", "roles": ["viewer"]},
        ],
        hub={"host": "127.0.0.1", "port": 0, "heartbeat_s": 5, "ticker_poll_s": 1},
    )
    for k, v in over.items():
        kw[k] = {**kw[k], **v} if isinstance(kw.get(k), dict) else v
    return load_config(None, **kw)


class OkBackend:
    """A PBX that does whatever it is asked (the executor's checks are what is under test)."""

    async def spy(self, *a) -> Outcome:
        return Outcome(True, "spying")

    async def queue_add(self, *a) -> Outcome:
        return Outcome(True, "added")

    queue_remove = queue_penalty = queue_pause = queue_add


@contextlib.asynccontextmanager
async def running_hub(config, client):
    hub = Hub(config, client)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


# ---- every surface: refused with a reason, logged, audited where the design says; the right one admitted ----


@dataclass
class World:
    config: object
    client: aredis.Redis
    hub: Hub
    executor: Executor
    keys: Keys
    used: list[str] = field(default_factory=list)  # every credential tried: none may be logged


@pytest.fixture
async def world(redis_client, prefix, cleanup):
    config = sec_config(prefix)
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    async with running_hub(config, redis_client) as hub:
        yield World(config, redis_client, hub, Executor(redis_client, config, OkBackend()), Keys(prefix))


def credential(w: World, name: str, surface: str) -> str | None:
    signed = issue(w.config, "rivka", ttl_s=600)
    if surface == "http-metrics":
        return {"none": None, "forged": METRICS[:-1] + "0", "good": METRICS}[name]
    return {
        "none": None,
        "viewer": VIEWER,  # a TV's kiosk token
        "foreign-origin": VIEWER,
        "static": RIVKA_STATIC,  # rivka's own token from users.token_env
        "signed": signed,  # `wallboard token --user rivka`
        "viewer-role": issue(w.config, "vera", ttl_s=600),  # genuine, but vera's roles grant nothing
        "forged": signed.rsplit(".", 1)[0] + "." + ("A" * 43),  # the right shape, the wrong signature
        "expired": issue(w.config, "rivka", ttl_s=60, now=time.time() - 3600),
        # a genuine kiosk token (`wallboard token --viewer floor`); on the request stream one named like rivka,
        # so that only its purpose differs from hers
        "signed-viewer": issue(w.config, "rivka" if surface == "requests" else "floor", ttl_s=600, purpose="viewer"),
    }[name]


async def _first(ws, *kinds: str, timeout: float = 5) -> dict:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] in kinds:
            return msg


async def _audit_of(w: World, rid: str) -> dict | None:
    await w.executor.process_pending()
    return next((f for _, f in await w.client.xrange(f"{w.keys.centre}:audit") if f["request"] == rid), None)


async def attempt(w: World, surface: str, cred: str) -> tuple[bool, str, str | None]:
    """(admitted, the reason given when not, the request id when one reached the request stream)."""
    token = credential(w, cred, surface)
    w.used += [token] if token else []
    if surface == "http-metrics":
        req = urllib.request.Request(f"http://127.0.0.1:{w.hub.port}/metrics")
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")

        def get():
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        status, body = await asyncio.to_thread(get)
        return status == 200 and "wallboard_hub_clients" in body, body.strip(), None
    if surface == "requests":  # straight onto the request stream, as any desk user of Redis can
        fields = {
            "type": "move",
            "user": "vera" if cred == "viewer-role" else "rivka",
            "agent": "1001",
            "queue": "support",
            "op": "add",
            "at": utc(now_utc()),
        }
        fields = wire({**fields, "token": token}) if token is not None else {**fields, "id": "unsigned0001"}
        rid = await w.client.xadd(w.keys.requests, fields)
        entry = await _audit_of(w, rid)
        assert entry is not None, "every request is audited"
        return entry["result"] == "ok", entry["result"], rid
    # the hub's websocket: subscribe to a layout, then (ack / snooze) send a supervisor's message
    q = f"layout=floor&token={token}" if token is not None else "layout=floor"
    origin = "http://evil.example" if cred == "foreign-origin" else f"http://127.0.0.1:{w.hub.port}"
    async with connect(f"ws://127.0.0.1:{w.hub.port}/ws?{q}", origin=origin) as ws:
        try:
            await _first(ws, "state")
            if surface == "ws-layout":
                return True, "", None
            kind = surface.removeprefix("ws-")
            await ws.send(json.dumps({"type": kind, "queue": "support", "metric": "service_level"}))
            reply = await _first(ws, "accepted", "refused")
        except ConnectionClosed as e:
            return False, e.rcvd.reason if e.rcvd else "closed", None
    if reply["type"] == "refused":
        return False, reply["reason"], None
    entry = await _audit_of(w, reply["id"])  # the executor judges the hub's request again
    return entry is not None and entry["result"] == "ok", entry["result"] if entry else "not audited", reply["id"]


# surface, credential tried, what the caller is told, what the log says, audited (by the executor)
CASES = [
    ("ws-layout", "none", "missing token", "missing token", False),
    ("ws-layout", "forged", "invalid token for layout 'floor'", "forged token (bad signature)", False),
    ("ws-layout", "expired", "invalid token for layout 'floor'", "expired token", False),
    ("ws-layout", "foreign-origin", "origin not allowed: http://evil.example", "origin not allowed", False),
    ("ws-ack", "viewer", "read-only: a viewer token cannot send messages", "read-only", False),
    ("ws-snooze", "viewer", "read-only: a viewer token cannot send messages", "read-only", False),
    ("ws-ack", "signed-viewer", "read-only: a viewer token cannot send messages", "read-only", False),
    ("ws-ack", "viewer-role", "vera may not ack on support", "refused ack from vera: vera may not ack", False),
    ("http-metrics", "none", "metrics: bearer token required", "metrics: bearer token required", False),
    ("http-metrics", "forged", "metrics: missing or wrong bearer token", "wrong bearer token", False),
    ("requests", "none", "refused: unsigned request", "refused: unsigned request", True),
    ("requests", "viewer", "refused: forged request", "refused: forged request", True),
    ("requests", "signed-viewer", "refused: forged request", "refused: forged request", True),
    ("requests", "viewer-role", "refused: vera may not move on support", "vera may not move", True),
    ("requests", "forged", "refused: forged request", "refused: forged request", True),
    ("requests", "expired", "refused: expired token", "refused: expired token", True),
]
# the credential that must work on each surface (static: the hub's users.token_env, accepted by the executor)
GOOD = {"ws-layout": "viewer", "ws-ack": "static", "ws-snooze": "signed", "http-metrics": "good", "requests": "signed"}


@pytest.mark.parametrize("surface,cred,told,logged,audited", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
async def test_each_surface_refuses_the_wrong_credential_and_admits_the_right_one(
    world, caplog, surface, cred, told, logged, audited
):
    w = world
    caplog.set_level(logging.DEBUG)  # everything, the websockets library's request lines included
    caplog.set_level(logging.WARNING, logger="websockets.client")  # this test's own client, not the hub
    ok, reason, rid = await attempt(w, surface, cred)
    assert not ok and reason.startswith(told), (surface, cred, reason)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(logged in m for m in warnings), warnings
    audit = [f for _, f in await w.client.xrange(f"{w.keys.centre}:audit")]
    if audited:
        assert [a["result"] for a in audit] == [reason] and audit[0]["request"] == rid
    else:  # refused at the hub: nothing reached the request stream, so nothing to audit; counted instead
        assert audit == [] and await w.client.xlen(w.keys.requests) == 0
        assert sum(w.hub.stats.refused.values()) == 1

    ok, reason, _ = await attempt(w, surface, GOOD[surface])
    assert ok, (surface, GOOD[surface], reason)
    text = caplog.text + json.dumps([f for _, f in await w.client.xrange(f"{w.keys.centre}:audit")])
    for s in {SECRET, METRICS, VIEWER, RIVKA_STATIC, *w.used, *(u.rsplit(".", 1)[-1] for u in w.used)}:
        assert s not in text, f"a credential was logged or audited ({surface}, {cred}): {s[:6]}..."


def test_metrics_without_a_configured_token_answer_loopback_only():
    config = sec_config("wb")
    access = Access(config, environ={})
    for loopback in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert access.metrics_denied(None, loopback) is None
    denied = access.metrics_denied(None, "10.1.2.3")
    assert denied and "WALLBOARD_METRICS_TOKEN" in denied and "bearer" in denied
    access = Access(config, environ={"WALLBOARD_METRICS_TOKEN": METRICS})  # once set, loopback needs it too
    assert access.metrics_denied(None, "127.0.0.1") and access.metrics_denied(f"Bearer {METRICS}", "10.1.2.3") is None


# ---- the hub over TLS ------------------------------------------------------------------------------------


async def test_hub_serves_https_and_wss_with_the_configured_certificate(redis_client, prefix, cleanup, tls_files):
    cert, key = tls_files
    config = sec_config(prefix, hub={"tls_cert": str(cert), "tls_key": str(key)})
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    trusting = ssl.create_default_context(cafile=str(cert))
    async with running_hub(config, redis_client) as hub:
        async with connect(
            f"wss://127.0.0.1:{hub.port}/ws?layout=floor&token={VIEWER}",
            ssl=trusting,
            origin=f"https://127.0.0.1:{hub.port}",
        ) as ws:
            assert (await _first(ws, "state"))["role"] == "viewer"

        def get(url, **kw):
            with urllib.request.urlopen(url, timeout=5, **kw) as r:
                return r.status, r.read()

        status, body = await asyncio.to_thread(get, f"https://127.0.0.1:{hub.port}/healthz", context=trusting)
        assert status == 200 and json.loads(body)["status"] == "ok"
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):  # plain http to the TLS port
            await asyncio.to_thread(get, f"http://127.0.0.1:{hub.port}/healthz")
        with pytest.raises((ConnectionError, OSError, asyncio.TimeoutError, Exception)):
            async with connect(f"ws://127.0.0.1:{hub.port}/ws?layout=floor&token={VIEWER}", open_timeout=3):
                pass
        with pytest.raises(ssl.SSLCertVerificationError):  # a client that does not trust the certificate
            async with connect(
                f"wss://127.0.0.1:{hub.port}/ws?layout=floor&token={VIEWER}", ssl=ssl.create_default_context()
            ):
                pass


def test_tls_config_errors_name_the_field_and_the_fix(tls_files, tmp_path):
    cert, key = tls_files
    with pytest.raises(ConfigError) as e:
        load_config(None, hub={"tls_cert": str(cert)})
    assert "hub.tls_cert is set but hub.tls_key is not" in e.value.render() and "set both" in e.value.render()
    with pytest.raises(ConfigError) as e:
        server_context(HubConfig.model_construct(tls_cert=tmp_path / "missing.pem", tls_key=key))
    [(field, msg, hint)] = e.value.problems
    assert field == "hub.tls_cert" and "cannot read" in msg and "No such file" in msg and "PEM" in hint
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as e:
        server_context(HubConfig(tls_cert=garbage, tls_key=key))
    assert "not a PEM certificate and its matching private key" in e.value.render()
    assert server_context(HubConfig()) is None and server_context(HubConfig(tls_cert=cert, tls_key=key))
    # `wallboard serve` stops at once (before Redis), naming the field
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[hub]\ntls_cert = "{cert}"\ntls_key = "{tmp_path / "nokey.pem"}"\n')
    out = subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "serve", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert out.returncode == 2 and "hub.tls_key: cannot read" in out.stderr, out.stderr


# ---- secrets: never logged, never printed ----------------------------------------------------------------

S_AMI = "ami-Secret-Qw3489"
S_REDIS = "redis-Pass-Lk2290"
S_SMTP = "smtp-Pass-Mn5521"


def _with_credentials(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


@pytest.fixture
def acl_user():
    """Make Redis ACL users (``wallboard acl`` rules) with unique names; deleted afterwards."""
    admin = redis.Redis.from_url(redis_url(), decode_responses=True)
    made: list[str] = []

    def make(kind: str, prefix: str, password: str) -> str:
        name = f"wbt-{kind}-{uuid.uuid4().hex[:8]}"
        admin.execute_command(*setuser_command(name, prefix, kind), f">{password}")
        made.append(name)
        return name

    yield make
    for name in made:
        admin.execute_command("ACL", "DELUSER", name)
    admin.close()


async def test_secrets_never_in_logs_or_output_of_a_real_run(redis_client, prefix, cleanup, acl_user, tmp_path, capsys):
    """`wallboard ingest --feed ami` and `wallboard executor` as a centre runs them (a Redis ACL service user whose
    password is in REDIS_URL, the AMI secret, the token secret and the SMTP password in the environment), a
    caller on the wire, a malformed event and requests with a forged and a genuine token; then the logs, the
    dead-letter listing and every command's output are searched for each secret and the caller's number."""
    number = "0541239876"
    service = acl_user("service", prefix, S_REDIS)
    env = {
        **os.environ,
        "REDIS_URL": _with_credentials(redis_url(), service, S_REDIS),
        "WALLBOARD_TOKEN_SECRET": SECRET,
        "WALLBOARD_AMI_USER": "wallboard",
        "WALLBOARD_AMI_SECRET": S_AMI,
        "WALLBOARD_SMTP_PASSWORD": S_SMTP,
    }
    cfg = tmp_path / "centre.toml"
    cfg.write_text(
        '[centre]\ntimezone = "UTC"\n[[queues]]\nname = "Q1"\n[[agents]]\nid = "1001"\n'
        'interface = "PJSIP/1001"\nskills = { Q1 = 0 }\n[roles.supervisor]\npermissions = ["move"]\n'
        '[[users]]\nname = "rivka"\nroles = ["supervisor"]\n'
    )
    pbx = FakePbx(secret=S_AMI)
    await pbx.start()
    logs = {name: tmp_path / f"{name}.log" for name in ("ingest", "executor")}
    common = ["--config", str(cfg), "--prefix", prefix, "--host", "127.0.0.1", "--port", str(pbx.port)]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wallboard.cli",
            "ingest",
            "--feed",
            "ami",
            *common,
            "--verbose",
            "--log",
            str(logs["ingest"]),
            env=env,
            cwd=ROOT,
        ),
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "wallboard.cli",
            "executor",
            *common,
            "--log",
            str(logs["executor"]),
            env=env,
            cwd=ROOT,
        ),
    ]
    keys = Keys(prefix)
    try:
        await until(lambda: _true(pbx.logins), "the ingester's AMI login", timeout=20)
        await pbx.event(
            Event="QueueCallerJoin",
            Queue="Q1",
            Uniqueid="1700000000.1",
            CallerIDNum=number,
            CallerIDName="Dana",
            Position="1",
            Timestamp=str(time.time()),
        )
        await pbx.event(Event="QueueCallerJoin", Uniqueid="1700000000.2", CallerIDNum=number)  # no Queue: rejected
        await until(lambda: _zcard(redis_client, keys.queue("Q1") + ":waiting"), "the caller applied", timeout=20)
        await until(lambda: redis_client.xlen(keys.deadletter), "the dead letter", timeout=20)
        good = issue(load_config(cfg), "rivka", ttl_s=600)
        for token in (good.rsplit(".", 1)[0] + ".forged", good):
            await redis_client.xadd(
                keys.requests,
                wire(
                    {
                        "type": "move",
                        "user": "rivka",
                        "token": token,
                        "agent": "1001",
                        "queue": "Q1",
                        "op": "penalty",
                        "penalty": "2",
                        "at": utc(now_utc()),
                    }
                ),
            )
        await until(lambda: _xlen_at_least(redis_client, f"{keys.centre}:audit", 2), "two audited requests", timeout=20)
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 10)
            except asyncio.TimeoutError:
                p.kill()
                await p.wait()
        await pbx.close()
    audit = [f for _, f in await redis_client.xrange(f"{keys.centre}:audit")]
    # the executor serves an unauthenticated entry after the authenticated ones it read with it: either order
    assert sorted(a["result"] for a in audit) == ["ok", "refused: forged request (its proof does not match the token)"]
    assert pbx.actions("QueuePenalty"), "the genuine request reached the PBX, with the AMI secret"
    texts = {name: path.read_text() for name, path in logs.items()}
    assert "logged in" in texts["ingest"] and "forged request" in texts["executor"]
    assert "NOPERM" not in texts["ingest"] + texts["executor"]  # the service ACL user can run both

    # the dead-letter listing, and the commands people run, with the same environment
    outputs = []
    for args in (
        ["deadletter", "--config", str(cfg), "--prefix", prefix],
        ["deadletter", "--json", "--config", str(cfg), "--prefix", prefix],
        ["check-config", str(cfg)],
        ["check-config", str(ROOT / "config" / "wallboard.toml")],
        ["snapshot", "--redis", _with_credentials("redis://127.0.0.1:1/0", "svc", S_REDIS)],
        ["snapshot", "--redis", _with_credentials(redis_url(), service, "wrong-" + S_REDIS)],
        ["token", "--user", "rivka", "--config", str(cfg)],
        ["--help"],
        ["serve", "--help"],
        ["executor", "--help"],
        ["scheduler", "--help"],
        ["acl", "service", "--user", "x"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "wallboard.cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        outputs.append((args, out.returncode, out.stdout + out.stderr))
    (_, _, listing), (_, _, listing_json), *_ = outputs
    assert "***9876" in listing and "***9876" in listing_json
    _, rc, unreachable = outputs[4]
    assert rc == 3 and "cannot reach Redis at redis://svc:***@127.0.0.1:1/0" in unreachable
    _, rc, refused = outputs[5]
    assert rc == 3 and "refused our credentials" in refused and ":***@" in refused
    assert all(rc == 0 for args, rc, _ in outputs if args[0] in ("check-config", "token", "--help", "acl"))
    everything = "\n".join([*texts.values(), *(t for _, _, t in outputs)])
    for secret in (SECRET, S_AMI, S_REDIS, S_SMTP, good, good.rsplit(".", 1)[1]):
        assert secret not in everything, f"a secret leaked: {secret[:4]}..."
    assert number not in everything  # the caller's number: masked in the listing, absent from the logs


async def _true(x) -> bool:
    return bool(x)


async def _zcard(client, key) -> bool:
    return await client.zcard(key) > 0


async def _xlen_at_least(client, key, n) -> bool:
    return await client.xlen(key) >= n


# ---- rate limits ----------------------------------------------------------------------------------------


async def test_the_action_past_the_rate_limit_is_refused_and_audited(redis_client, prefix, cleanup):
    config = sec_config(prefix, security={"action_rate_per_min": 3})
    clock = ManualClock(datetime(2026, 11, 23, 9, 0, 10, tzinfo=timezone.utc))
    ex = Executor(redis_client, config, OkBackend(), clock=clock)
    keys = Keys(prefix)

    async def ask() -> str:
        token = issue(config, "rivka", ttl_s=600, now=clock.now().timestamp())
        await redis_client.xadd(
            keys.requests,
            wire(
                {
                    "type": "ack",
                    "user": "rivka",
                    "token": token,
                    "queue": "support",
                    "metric": "waiting",
                    "at": utc(clock.now()),
                }
            ),
        )
        await ex.process_pending()
        return (await redis_client.xrevrange(f"{keys.centre}:audit", count=1))[0][1]["result"]

    assert [await ask() for _ in range(4)] == [
        "ok",
        "ok",
        "ok",
        "refused: rate limit: more than 3 requests a minute (further refusals this minute are summarised)",
    ]
    clock.advance(50)  # the next minute: allowed again
    assert await ask() == "ok"


# ---- the audit stream: append-only for every Redis user but admin ------------------------------------------


async def test_audit_is_append_only_for_every_acl_user_but_admin(redis_client, prefix, cleanup, acl_user):
    audit = audit_key(prefix)
    await redis_client.xadd(audit, {"request": "0-1", "result": "ok"})
    clients = {}
    for kind in ("desk", "service", "admin"):
        user = acl_user(kind, prefix, f"pw-{kind}")
        clients[kind] = aredis.Redis.from_url(redis_url(), username=user, password=f"pw-{kind}", decode_responses=True)
    tampering = {
        "XDEL": lambda c: c.xdel(audit, "0-1"),
        "XTRIM": lambda c: c.xtrim(audit, maxlen=0, approximate=False),
        "DEL": lambda c: c.delete(audit),
        "UNLINK": lambda c: c.unlink(audit),
        "SET": lambda c: c.set(audit, "forged"),
        "RENAME": lambda c: c.rename(audit, f"{prefix}:{{c}}:audit-old"),
        "EXPIRE": lambda c: c.expire(audit, 1),
        "COPY over": lambda c: c.copy(f"{prefix}:{{c}}:requests", audit, replace=True),
        "EVAL": lambda c: c.eval("return redis.call('DEL', KEYS[1])", 1, audit),
    }
    try:
        for kind in ("desk", "service"):
            for what, act in tampering.items():
                with pytest.raises(redis.exceptions.NoPermissionError):
                    await act(clients[kind])
                assert await redis_client.exists(audit) and await redis_client.xlen(audit) >= 1, (kind, what)
        # the service (executor, ingest) appends and reads; the desk only reads
        assert await clients["service"].xadd(audit, {"request": "0-2", "result": "ok"})
        assert len(await clients["desk"].xrange(audit)) == 2
        with pytest.raises(redis.exceptions.NoPermissionError):
            await clients["desk"].xadd(audit, {"request": "0-3", "result": "forged"})

        # the service user runs the engine and the executor: state, scripts, snapshots, requests, the audit
        config = sec_config(prefix)
        svc = clients["service"]
        eng = Engine(svc, config, Keys(prefix))
        await eng.start()
        t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
        await eng.apply(
            [
                CallerJoined(id="j1", ts=t0, source="t", queue="support", call_id="c1", caller=UNMASKED),
                CallerAnswered(
                    id="a1",
                    ts=t0 + timedelta(seconds=8),
                    source="t",
                    queue="support",
                    call_id="c1",
                    agent="1001",
                    wait_s=8,
                ),
                AgentStateChanged(id="s1", ts=t0, source="t", agent="1001", state="available"),
            ]
        )
        snap = await eng.publish(await eng.build_snapshot(t0 + timedelta(seconds=30)))
        assert snap.queues["support"].answered == 1
        keys = Keys(prefix)
        await svc.xadd(
            keys.requests,
            wire(
                {
                    "type": "move",
                    "user": "rivka",
                    "token": issue(config, "rivka", ttl_s=60),
                    "agent": "1001",
                    "queue": "tech",
                    "at": utc(now_utc()),
                }
            ),
        )
        assert await Executor(svc, config, OkBackend()).process_pending() == 1
        assert (await redis_client.xrevrange(audit, count=1))[0][1]["result"] == "ok"

        # admin tooling alone may trim or delete it (retention)
        assert await clients["admin"].xtrim(audit, maxlen=1, approximate=False) >= 1
        assert await clients["admin"].delete(audit) == 1
    finally:
        for c in clients.values():
            await c.aclose()


# ---- caller numbers outside the desk UI ----------------------------------------------------------------


def test_tv_projection_never_carries_caller_numbers():
    config = sec_config("wb", centre={"mask_callers": False})  # even where the desk shows them in full
    summary = four_queues(1, now_utc())
    assert UNMASKED in summary.model_dump_json()
    for layout in config.layouts:
        assert UNMASKED not in json.dumps(project(summary, layout, config), ensure_ascii=False)


async def test_reports_e_mailed_and_printed_carry_no_caller_numbers(make_engine, redis_client):
    from feeds.queue_log import QueueLogFeed
    from wallboard.history.calendar import CentreCalendar
    from wallboard.reports.build import ReportRequest, build_report
    from wallboard.reports.mail import compose

    sample = ROOT / "samples" / "sample_day.queue_log"
    lines = sample.read_text().splitlines()[:3000]
    numbers = {p[6] for p in (ln.split("|") for ln in lines) if len(p) > 6 and p[4] == "ENTERQUEUE" and p[6]}
    assert len(numbers) > 100
    eng = await make_engine(centre={"timezone": "UTC", "mask_callers": False})  # even unmasked on the desk
    events = list(QueueLogFeed(sample, eng.config).read())[: len(lines)]
    await eng.apply(events)
    day = CentreCalendar(eng.config.centre).day_of(events[0].ts.timestamp())
    end = max(e.ts for e in events) + timedelta(seconds=1)
    rep = await build_report(
        redis_client,
        eng.config,
        ReportRequest(CentreCalendar(eng.config.centre).period("day", day)),
        keys=eng.keys,
        clock=ManualClock(end),
    )
    assert rep["total"]["offered"] > 100
    mail = compose(
        rep,
        sender="wb@example.com",
        recipients=["m@example.com"],
        subject="Daily",
        message_id="<x@example.com>",
        date=end,
    ).as_string()
    from wallboard.reports.render_csv import render_csv
    from wallboard.reports.render_html import render_html

    for text in (mail, render_html(rep), render_csv(rep), json.dumps(rep, default=str)):
        leaked = [n for n in numbers if n in text]
        assert not leaked, leaked[:3]


def test_dead_letter_text_is_masked_in_every_input_format():
    cases = [
        ("1795327350|1795327317.48213|tech|NONE|ENTERQUEUE||0516796587|1", "0516796587", "1795327317.48213"),
        (
            "Event: QueueCallerJoin\r\nCallerIDNum: 0521234567\r\nUniqueid: 1700000000.42\r\nChannel: PJSIP/t-00000012",
            "0521234567",
            "PJSIP/t-00000012",
        ),
        (
            '{"type": "caller_joined", "caller": "+972521234567", "call_id": "1700000000.42"}',
            "972521234567",
            "1700000000.42",
        ),
        ("2026-11-23 09:00:01,c1,support,,answered,12,0521234567", "0521234567", "2026-11-23 09:00:01"),
        ("call from +972-52-123-4567 at 1795327350", "123-4567", "1795327350"),
    ]
    for raw, number, kept in cases:
        masked = mask_text(raw, 4)
        assert number not in masked and "***" in masked and kept in masked, masked


async def test_the_dead_letter_listing_masks_callers(redis_client, prefix, cleanup, capsys, monkeypatch):
    keys = Keys(prefix)
    raws = [
        "1795327350|1795327317.48213|tech|NONE|ENTERQUEUE|0516796587",
        "Event: QueueCallerJoin\r\nCallerIDNum: 0521234567\r\n",
        "1795327350|x|tech|NONE|ENTERQUEUE||0530001122|1|bad",
    ]
    for raw in raws:
        await redis_client.xadd(keys.deadletter, {"source": "t", "reason": "bad", "raw": raw})
    monkeypatch.setenv("REDIS_URL", redis_url())
    for args in (["deadletter"], ["deadletter", "--json"]):
        assert await asyncio.to_thread(cli_main, [*args, "--prefix", prefix]) == 0
        out = capsys.readouterr().out
        assert not any(n in out for n in ("0516796587", "0521234567", "0530001122")), out
        assert "***1122" in out
    monkeypatch.setenv("WALLBOARD_CENTRE__MASK_CALLERS", "false")  # a centre that chose to show them
    assert await asyncio.to_thread(cli_main, ["deadletter", "--prefix", prefix]) == 0
    assert "0530001122" in capsys.readouterr().out


async def test_logs_of_a_replay_carry_no_caller_numbers(make_engine, caplog):
    from feeds.queue_log import QueueLogFeed

    sample = ROOT / "samples" / "sample_day.queue_log"
    lines = sample.read_text().splitlines()[:1500]
    numbers = {p[6] for p in (ln.split("|") for ln in lines) if len(p) > 6 and p[4] == "ENTERQUEUE" and p[6]}
    caplog.set_level(logging.DEBUG)
    eng = await make_engine(centre={"timezone": "UTC", "mask_callers": True})
    events = list(QueueLogFeed(sample, eng.config).read())[:1500]
    await eng.apply(events)
    snap = await eng.publish(await eng.build_snapshot(max(e.ts for e in events)))
    assert not [n for n in numbers if n in caplog.text]
    callers = [c.caller for q in snap.queues.values() for c in q.callers]
    assert all(c is None or c.startswith("***") for c in callers)


# ---- rediss:// with an ACL user --------------------------------------------------------------------------


@pytest.fixture
def tls_redis(tls_files, tmp_path):
    """A real Redis speaking TLS only. The embedded valkey binary is built without TLS ("Missing implement of
    connection type tls"), so this needs a redis-server or valkey-server built with it on PATH."""
    cert, key = tls_files
    for name in ("redis-server", "valkey-server"):
        binary = shutil.which(name)
        if binary:
            break
    else:
        pytest.skip("no redis-server/valkey-server with TLS on PATH")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--tls-cert-file",
            str(cert),
            "--tls-key-file",
            str(key),
            "--tls-ca-cert-file",
            str(cert),
            "--tls-auth-clients",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    ctx = dict(ssl=True, ssl_ca_certs=str(cert))
    for _ in range(100):
        if proc.poll() is not None:
            pytest.skip(f"{binary} cannot serve TLS: {proc.stdout.read().decode()[-200:]}")
        try:
            redis.Redis(port=port, **ctx).ping()
            break
        except (redis.ConnectionError, OSError):
            time.sleep(0.05)
    yield port, cert, ctx
    proc.terminate()
    proc.wait(10)


async def test_rediss_with_an_acl_user_and_the_ca_from_config(tls_redis, tmp_path):
    port, cert, ctx = tls_redis
    admin = redis.Redis(port=port, decode_responses=True, **ctx)
    admin.execute_command(*setuser_command("svc", "wb", "service"), f">{S_REDIS}")
    pw = tmp_path / "redis-password"
    pw.write_text(S_REDIS + "\n")
    url = f"rediss://svc@127.0.0.1:{port}/0"
    config = load_config(None, redis={"url": url, "password_file": str(pw), "tls_ca_file": str(cert)})
    client = await store_connect(config, url)
    try:
        await client.set("wb:{c}:ticker", "over TLS")
        assert await client.get("wb:{c}:ticker") == "over TLS"
        with pytest.raises(redis.exceptions.NoPermissionError):  # the ACL holds over TLS too
            await client.delete("wb:{c}:audit")
    finally:
        await client.aclose()
    from wallboard.store import connect_sync

    assert connect_sync(config, url).get("wb:{c}:ticker") == "over TLS"
    # without the CA the server's certificate is not trusted; a wrong password is refused, and never shown
    with pytest.raises(StoreUnavailable, match="certificate verify failed"):
        await store_connect(load_config(None, redis={"url": url, "password_file": str(pw)}), url)
    bad = f"rediss://svc:wrong-{S_REDIS}@127.0.0.1:{port}/0"
    with pytest.raises(StoreUnavailable) as e:
        await store_connect(load_config(None, redis={"url": bad, "tls_ca_file": str(cert)}), bad)
    assert "refused our credentials" in str(e.value) and S_REDIS not in str(e.value)
    admin.close()
