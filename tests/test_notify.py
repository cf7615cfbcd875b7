"""Alerts that reach people (``wallboard notifier``), against REAL receivers: an HTTP server on 127.0.0.1 (the
standard library's, in a thread) taking the webhook, Slack-shaped and Teams-shaped posts, and an aiosmtpd SMTP
server; real Redis; a manual clock (no sleeps).

The notifier reads the published summary (``Keys.summary``) as the engine's owner writes it; these tests write
summaries with the alerts they need (level, since, acked_by, snoozed_until: the owner's hysteresis already
applied), as the owner would.
"""

from __future__ import annotations

import asyncio
import email
import json
import threading
from datetime import datetime, timedelta, timezone
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from wallboard.aio import cancel_and_wait
from wallboard.clock import ManualClock
from wallboard.config import ConfigError, load_config
from wallboard.keys import Keys
from wallboard.notify.channels import webhook_body
from wallboard.notify.notifier import GROUP, Notifier
from wallboard.snapshot import Summary

from .conftest import free_port

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=timezone.utc)  # Monday 11:00 in Jerusalem


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# --- real receivers ---------------------------------------------------------------------------------------


class Receiver:
    """An HTTP server recording every POST; ``fail_next`` answers that many with 503 first."""

    def __init__(self):
        self.posts: list[dict] = []
        self.fail_next = 0
        self.status_when_failing = 503
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rec = {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    rec["answered"] = outer.status_when_failing
                    outer.posts.append(rec)
                    self.send_response(outer.status_when_failing)
                    self.end_headers()
                    return
                rec["answered"] = 200
                outer.posts.append(rec)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ok(self, path: str | None = None) -> list[dict]:
        return [p for p in self.posts if p["answered"] == 200 and (path is None or p["path"] == path)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Inbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(
            (list(envelope.rcpt_tos), email.message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    yield port, inbox
    ctl.stop()


@pytest.fixture
def hooks(receiver, monkeypatch, tmp_path):
    """The secrets: URLs from the environment and from a file, as the config requires."""
    monkeypatch.setenv("WB_TEST_HOOK", receiver.url("/hooks/generic/SECRET-TOKEN-123"))
    monkeypatch.setenv("WB_TEST_SLACK", receiver.url("/services/T000/B000/slack-token"))
    monkeypatch.setenv("WB_TEST_SIGN", "signing-key")
    teams = tmp_path / "teams.url"
    teams.write_text(receiver.url("/workflows/teams-token") + "\n")
    return teams


# --- config and summaries ---------------------------------------------------------------------------------


def make_config(smtp_port: int, teams_file, prefix: str, **notif):
    return load_config(None, **config_data(smtp_port, teams_file, prefix, **notif))


def config_data(smtp_port: int, teams_file, prefix: str, **notif) -> dict:
    subs = notif.pop("subscriptions", None) or [
        {
            "user": "rivka",
            "queues": ["support"],
            "channels": [
                {"kind": "webhook", "url_env": "WB_TEST_HOOK", "secret_env": "WB_TEST_SIGN"},
                {"kind": "slack", "url_env": "WB_TEST_SLACK"},
                {"kind": "teams", "url_file": str(teams_file)},
                {"kind": "email", "to": ["rivka@example.com"]},
            ],
        }
    ]
    return {
        "centre": {"name": "Test centre", "timezone": "Asia/Jerusalem"},
        "redis": {"prefix": prefix},
        "queues": [
            {
                "name": "support",
                "label": "Customer service",
                "thresholds": {
                    "longest_wait_s": {"warn": 45, "breach": 60, "direction": "above"},
                    "service_level": {"warn": 0.8, "breach": 0.7, "direction": "below", "window": "rolling"},
                },
            }
        ],
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "wallboard@example.com", "timeout_s": 5},
        "notifications": {
            "escalate_after_s": 300,
            "repeat_window_s": 900,
            "retry_initial_s": 10,
            "retry_max_s": 60,
            "claim_s": 120,
            "timeout_s": 5,
            "subscriptions": subs,
            **notif,
        },
    }


def summary(
    seq: int, at: datetime, alerts: dict | None = None, *, longest: float = 70.0, open_: bool = True
) -> Summary:
    roll = {"minutes": 30, "since": iso(at - timedelta(minutes=30))}
    levels = {m: a["level"] for m, a in (alerts or {}).items()}
    if not open_:
        levels = {"longest_wait_s": "closed", "service_level": "closed"}
    q = {
        "label": "Customer service",
        "sl_formula": "excl_short_abandons",
        "sl_threshold_s": 20,
        "short_abandon_s": 5,
        "count_overflow": False,
        "rolling": roll,
        "waiting": 4,
        "longest_wait_s": longest,
        "open": open_,
        "levels": levels,
        "alerts": alerts or {},
    }
    return Summary.model_validate(
        {
            "seq": seq,
            "at": iso(at),
            "centre": "Test centre",
            "window": {"kind": "since_reset", "since": iso(T0.replace(hour=0))},
            "queues": {"support": q},
            "total": {"rolling": roll},
        }
    )


def breach(since: datetime, **kw) -> dict:
    return {"longest_wait_s": {"level": "breach", "since": iso(since), "acked_by": None, "snoozed_until": None, **kw}}


class Board:
    """Publishes summaries the way the engine's owner does (SET the summary key)."""

    def __init__(self, r, keys: Keys):
        self.r, self.keys, self.seq = r, keys, 0

    async def show(self, at: datetime, alerts: dict | None = None, **kw) -> None:
        self.seq += 1
        await self.r.set(self.keys.summary, summary(self.seq, at, alerts, **kw).model_dump_json())


@pytest.fixture
async def env(redis_client, prefix, cleanup, receiver, smtp, hooks):
    port, inbox = smtp

    def build(**notif):
        config = make_config(port, hooks, prefix, **notif)
        keys = Keys(prefix)
        clock = ManualClock(T0)
        return config, keys, clock

    build.data = lambda **notif: config_data(port, hooks, prefix, **notif)
    return build, Board, inbox


def notifier(redis_client, config, keys, clock, name="n1", **kw) -> Notifier:
    import random

    return Notifier(redis_client, config, keys=keys, clock=clock, name=name, rng=random.Random(7), **kw)


async def audit(r, keys: Keys) -> list[dict]:
    return [f for _, f in await r.xrange(keys.audit) if f.get("type") == "notify"]


# --- the tests --------------------------------------------------------------------------------------------


async def test_breach_one_message_per_chosen_channel(redis_client, env, receiver):
    build, Board_, inbox = env
    config, keys, clock = build()
    board = Board_(redis_client, keys)
    n = notifier(redis_client, config, keys, clock)
    await board.show(T0, breach(T0 - timedelta(seconds=5)))
    transitions, sent = await n.step()
    assert [t["kind"] for t in transitions] == ["breach"]
    assert sorted(d["channel"] for d in sent) == ["email", "slack", "teams", "webhook"]
    assert all(d["state"] == "sent" for d in sent)
    assert len(receiver.ok()) == 3 and len(inbox.messages) == 1
    generic = receiver.ok("/hooks/generic/SECRET-TOKEN-123")[0]
    b = generic["body"]
    assert b["schema"] == "wallboard.notification/1" and b["kind"] == "breach" and b["queue"] == "support"
    assert b["metric"] == "longest_wait_s" and b["value"] == 70.0 and b["breach"] == 60 and b["level"] == "breach"
    assert b["id"] == generic["headers"]["Idempotency-Key"] == generic["headers"]["X-Wallboard-Delivery"]
    import hashlib
    import hmac

    raw = json.dumps(b, separators=(",", ":"), ensure_ascii=False).encode()
    assert (
        generic["headers"]["X-Wallboard-Signature"]
        == "sha256=" + hmac.new(b"signing-key", raw, hashlib.sha256).hexdigest()
    )
    slack = receiver.ok("/services/T000/B000/slack-token")[0]["body"]
    assert set(slack) == {"text"} and "BREACH" in slack["text"] and "Customer service" in slack["text"]
    teams = receiver.ok("/workflows/teams-token")[0]["body"]
    assert teams["type"] == "message"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and "BREACH" in card["content"]["body"][0]["text"]
    to, msg = inbox.messages[0]
    assert to == ["rivka@example.com"] and msg["Subject"].startswith("BREACH: Customer service")
    assert "1:10" in msg.get_content() and msg["X-Wallboard-Delivery"]
    # the same breach, later snapshots: nothing new
    clock.advance(30)
    await board.show(clock.now(), breach(T0 - timedelta(seconds=5)))
    assert await n.step() == ([], [])
    assert len(receiver.posts) == 3 and len(inbox.messages) == 1
    st = await n.status()
    assert st["counters"]["sent"] == 4 and st["counters"]["sent:email"] == 1 and st["counters"]["transitions"] == 1
    assert {d["state"] for d in st["deliveries"]} == {"sent"}


async def test_escalation_after_the_ack_window_unless_acknowledged(redis_client, env, receiver):
    build, Board_, inbox = env
    subs = [
        {"user": "rivka", "channels": [{"kind": "slack", "url_env": "WB_TEST_SLACK"}]},
        {
            "name": "manager",
            "user": "dana",
            "events": ["escalation"],
            "escalate_after_s": 600,
            "channels": [{"kind": "email", "to": ["dana@example.com"]}],
        },
    ]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    n = notifier(redis_client, config, keys, clock)
    since = T0
    await board.show(T0, breach(since))
    await n.step()
    assert len(receiver.ok()) == 1 and inbox.messages == []  # the manager takes escalations only
    clock.set(since + timedelta(seconds=299))
    await board.show(clock.now(), breach(since))
    assert (await n.step())[0] == []
    clock.set(since + timedelta(seconds=300))
    await board.show(clock.now(), breach(since))
    transitions, sent = await n.step()
    assert [t["kind"] for t in transitions] == ["escalation"] and [d["subscription"] for d in sent] == ["rivka"]
    esc = receiver.ok()[-1]["body"]["text"]
    assert "ESCALATION" in esc and "5 min" in esc and "nobody has acknowledged" in esc
    # acknowledged on the desk before the manager's 600 s: the manager's escalation never goes
    clock.set(since + timedelta(seconds=400))
    await board.show(clock.now(), breach(since, acked_by="rivka"))
    await n.step()
    clock.set(since + timedelta(seconds=900))
    await board.show(clock.now(), breach(since, acked_by="rivka"))
    assert await n.step() == ([], [])
    assert inbox.messages == [] and len(receiver.ok()) == 2
    # a snoozed breach is not escalated either, until the snooze ends
    s2 = since + timedelta(seconds=1000)
    await board.show(s2, breach(s2, snoozed_until=iso(s2 + timedelta(seconds=900))))
    clock.set(s2)
    await n.step()  # a new breach alert (new since): breach message to rivka
    clock.set(s2 + timedelta(seconds=700))
    await board.show(clock.now(), breach(s2, snoozed_until=iso(s2 + timedelta(seconds=900))))
    assert (await n.step())[0] == []
    clock.set(s2 + timedelta(seconds=901))
    await board.show(clock.now(), breach(s2))
    kinds = sorted((t["kind"], len(t["deliveries"])) for t in (await n.step())[0])
    assert kinds == [("escalation", 1), ("escalation", 1)]  # rivka's 300 s and the manager's 600 s
    assert len(inbox.messages) == 1 and "ESCALATION" in inbox.messages[0][1]["Subject"]


async def test_resolved_on_clear_and_no_repeat_within_the_window(redis_client, env, receiver):
    build, Board_, _ = env
    subs = [
        {
            "user": "rivka",
            "events": ["breach", "resolved"],
            "channels": [{"kind": "webhook", "url_env": "WB_TEST_HOOK"}],
        }
    ]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    n = notifier(redis_client, config, keys, clock)
    await board.show(T0, breach(T0))
    await n.step()
    clock.set(T0 + timedelta(seconds=120))
    await board.show(clock.now(), {}, longest=12.0)  # the owner's hysteresis let it go
    transitions, sent = await n.step()
    assert [t["kind"] for t in transitions] == ["resolved"] and sent[0]["state"] == "sent"
    body = receiver.ok()[-1]["body"]
    assert body["kind"] == "resolved" and "back to normal" in body["title"] and "2 min" in body["text"]
    # the same breach again 5 minutes after the first message: not repeated (nor its resolved)
    again = T0 + timedelta(seconds=300)
    clock.set(again)
    await board.show(again, breach(again))
    transitions, sent = await n.step()
    assert transitions[0]["deliveries"][0]["suppressed"] == "repeat" and sent == []
    clock.set(again + timedelta(seconds=60))
    await board.show(clock.now(), {})
    transitions, sent = await n.step()
    assert transitions[0]["deliveries"][0]["suppressed"] == "unannounced" and sent == []
    assert [p["body"]["kind"] for p in receiver.ok()] == ["breach", "resolved"]
    # past the window it is news again
    late = T0 + timedelta(seconds=901)
    clock.set(late)
    await board.show(late, breach(late))
    assert [d["state"] for d in (await n.step())[1]] == ["sent"]
    # the queue closes while in breach: resolved, saying so
    clock.advance(30)
    await board.show(clock.now(), {}, open_=False)
    await n.step()
    last = receiver.ok()[-1]["body"]
    assert last["kind"] == "resolved" and last["closed"] is True and "queue closed" in last["title"]
    st = await n.status()
    assert st["counters"]["suppressed:repeat"] == 1 and st["counters"]["suppressed:unannounced"] == 1


async def test_quiet_hours(redis_client, env, receiver):
    build, Board_, inbox = env
    # 11:00 Monday in Jerusalem is inside these quiet hours; escalations still go out
    subs = [
        {
            "user": "rivka",
            "quiet_hours": {"mon": "10:00-12:00"},
            "quiet_allow": ["escalation"],
            "channels": [{"kind": "slack", "url_env": "WB_TEST_SLACK"}, {"kind": "email", "to": ["r@example.com"]}],
        },
        {
            "user": "yossi",
            "quiet_hours": {"sun-sat": "22:00-07:00"},
            "channels": [{"kind": "webhook", "url_env": "WB_TEST_HOOK"}],
        },
    ]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    n = notifier(redis_client, config, keys, clock)
    await board.show(T0, breach(T0))
    transitions, sent = await n.step()
    assert {d["subscription"]: d["suppressed"] for d in transitions[0]["deliveries"]} == {
        "rivka": "quiet_hours",
        "yossi": None,
    }
    assert [d["subscription"] for d in sent] == ["yossi"] and inbox.messages == []
    clock.set(T0 + timedelta(seconds=300))
    await board.show(clock.now(), breach(T0))
    transitions, sent = await n.step()
    assert sorted(d["subscription"] for d in sent) == ["rivka", "rivka", "yossi"]  # escalation allowed in quiet
    # after quiet hours rivka hears it has cleared (she was told of the escalation)
    clock.set(T0 + timedelta(hours=1, seconds=1))  # 12:00:01 local
    await board.show(clock.now(), {})
    transitions, sent = await n.step()
    assert sorted(d["subscription"] for d in sent) == ["rivka", "rivka", "yossi"]
    assert [m["Subject"].split(":")[0] for _, m in inbox.messages] == ["ESCALATION", "RESOLVED"]
    assert (await n.status())["counters"]["suppressed:quiet_hours"] == 2


async def test_receiver_failing_twice_then_succeeding_gets_one_delivery(redis_client, env, receiver):
    build, Board_, _ = env
    subs = [{"user": "rivka", "events": ["breach"], "channels": [{"kind": "webhook", "url_env": "WB_TEST_HOOK"}]}]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    n = notifier(redis_client, config, keys, clock)
    receiver.fail_next = 2
    await board.show(T0, breach(T0))
    _, sent = await n.step()
    assert sent[0]["state"] == "retrying" and "HTTP 503" in sent[0]["error"]
    assert "SECRET-TOKEN" not in json.dumps(sent) and "SECRET-TOKEN" not in json.dumps(await audit(redis_client, keys))
    nxt = datetime.fromisoformat(sent[0]["next_attempt"].replace("Z", "+00:00"))
    assert T0 + timedelta(seconds=5) <= nxt <= T0 + timedelta(seconds=10)  # jittered in [d/2, d]
    assert (await n.step())[1] == []  # not due yet
    # a restart between attempts: the retry survives in Redis
    n = notifier(redis_client, config, keys, clock)
    clock.set(nxt)
    _, sent = await n.step()
    assert sent[0]["state"] == "retrying" and sent[0]["attempts"] == 2
    clock.advance(20)
    _, sent = await n.step()
    assert sent[0]["state"] == "sent" and sent[0]["attempts"] == 3
    clock.advance(3600)
    assert (await n.step())[1] == []
    assert [p["answered"] for p in receiver.posts] == [503, 503, 200]
    assert len({p["headers"]["Idempotency-Key"] for p in receiver.posts}) == 1
    results = [a["result"].split(":")[0] for a in await audit(redis_client, keys)]
    assert results == ["queued", "failed", "failed", "sent"]
    st = await n.status()
    assert st["counters"]["failed"] == 2 and st["counters"]["sent"] == 1 and st["retrying"] == 0


async def test_permanent_failure_is_given_up_and_audited(redis_client, env, receiver, monkeypatch):
    build, Board_, _ = env
    monkeypatch.delenv("WB_TEST_SLACK")
    subs = [
        {
            "user": "rivka",
            "channels": [{"kind": "slack", "url_env": "WB_TEST_SLACK"}, {"kind": "webhook", "url_env": "WB_TEST_HOOK"}],
        }
    ]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    n = notifier(redis_client, config, keys, clock)
    receiver.fail_next, receiver.status_when_failing = 1, 404
    await board.show(T0, breach(T0))
    _, sent = await n.step()
    assert {d["channel"]: d["state"] for d in sent} == {"slack": "failed", "webhook": "failed"}
    assert "WB_TEST_SLACK is empty" in sent[0]["error"] and "HTTP 404" in sent[1]["error"]
    assert [a["result"].split(" ")[0] for a in await audit(redis_client, keys)][-2:] == ["gave_up", "gave_up"]
    assert (await n.status())["counters"]["gave_up"] == 2


class Hang:
    """A sender that never returns: the notifier is 'killed' while it waits (its task cancelled, nothing of its
    own cleanup runs: the state in Redis is what a SIGKILL at that point leaves)."""

    def __init__(self):
        self.entered = asyncio.Event()

    async def send(self, ch, note, *a):
        self.entered.set()
        await asyncio.Event().wait()


async def test_killed_after_claiming_restarted_delivers_once(redis_client, env, receiver):
    build, Board_, _ = env
    subs = [{"user": "rivka", "events": ["breach"], "channels": [{"kind": "webhook", "url_env": "WB_TEST_HOOK"}]}]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    await board.show(T0, breach(T0))
    hang = Hang()
    first = notifier(redis_client, config, keys, clock, webhook=hang)
    task = asyncio.create_task(first.step())
    await asyncio.wait_for(hang.entered.wait(), 5)
    await cancel_and_wait(task)
    assert task.cancelled()  # stopped in the middle of the send, as a kill would
    rec = (await first.status())["deliveries"][0]
    assert rec["state"] == "claimed" and receiver.posts == []
    # another notifier (another name) leaves a live claim alone ...
    other = notifier(redis_client, config, keys, clock, name="n2")
    assert await other.step() == ([], [])
    # ... the restart under the same name takes it over at once and sends it, once
    restarted = notifier(redis_client, config, keys, clock)
    _, sent = await restarted.step()
    assert [d["state"] for d in sent] == ["sent"] and len(receiver.ok()) == 1
    # a completed delivery is never repeated: more restarts, more time, the pending list re-read
    for name in ("n1", "n2", "n1"):
        clock.advance(600)
        again = notifier(redis_client, config, keys, clock, name=name)
        assert (await again.step())[1] == []
    assert len(receiver.posts) == 1
    assert (await redis_client.xpending(keys.notify_outbox, GROUP))["pending"] == 0
    results = [a["result"].split(":")[0] for a in await audit(redis_client, keys)]
    assert results == ["queued", "retaken", "sent"]
    assert (await restarted.status())["counters"]["retaken"] == 1


async def test_retry_claimed_by_a_dead_notifier_is_taken_over_after_claim_s(redis_client, env, receiver):
    build, Board_, _ = env
    subs = [{"user": "rivka", "events": ["breach"], "channels": [{"kind": "webhook", "url_env": "WB_TEST_HOOK"}]}]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    await board.show(T0, breach(T0))
    receiver.fail_next = 1
    a = notifier(redis_client, config, keys, clock, name="a")
    assert (await a.step())[1][0]["state"] == "retrying"
    clock.advance(60)
    hang = Hang()
    task = asyncio.create_task(notifier(redis_client, config, keys, clock, name="a", webhook=hang).deliver())
    await asyncio.wait_for(hang.entered.wait(), 5)
    await cancel_and_wait(task)
    assert task.cancelled()  # stopped in the middle of the send, as a kill would
    b = notifier(redis_client, config, keys, clock, name="b")
    assert await b.deliver() == []  # claimed by 'a' until claim_s has passed
    clock.advance(121)
    sent = await b.deliver()
    assert [d["state"] for d in sent] == ["sent"] and len(receiver.ok()) == 1
    clock.advance(600)
    assert await notifier(redis_client, config, keys, clock, name="a").deliver() == []
    assert len(receiver.ok()) == 1


async def test_one_detector_and_a_second_notifier_only_delivers(redis_client, env, receiver):
    build, Board_, _ = env
    subs = [{"user": "rivka", "channels": [{"kind": "webhook", "url_env": "WB_TEST_HOOK"}]}]
    config, keys, clock = build(subscriptions=subs)
    board = Board_(redis_client, keys)
    await board.show(T0, breach(T0))
    a, b = notifier(redis_client, config, keys, clock, name="a"), notifier(redis_client, config, keys, clock, name="b")
    ta, tb = await asyncio.gather(a.detect(), b.detect())
    assert len(ta) + len(tb) == 1
    sa, sb = await asyncio.gather(a.deliver(), b.deliver())
    assert len(sa) + len(sb) == 1 and len(receiver.ok()) == 1


def test_config_is_checked_with_field_paths(tmp_path):
    bad = {
        "notifications": {
            "subscriptions": [
                {
                    "user": "rivka",
                    "events": ["breach", "paged"],
                    "quiet_hours": {"mon": "7-9"},
                    "channels": [
                        {"kind": "slack", "url_env": "A", "url_file": str(tmp_path / "u")},
                        {"kind": "email"},
                        {"kind": "teams", "url_env": "B", "to": ["x@y.z"]},
                    ],
                },
                {"user": "rivka", "channels": [{"kind": "email", "to": ["r@example.com"]}]},
            ]
        }
    }
    with pytest.raises(ConfigError) as e:
        load_config(None, **bad)
    where = {p[0] for p in e.value.problems}
    assert {
        "notifications.subscriptions.0.events.1",
        "notifications.subscriptions.0.quiet_hours",
        "notifications.subscriptions.0.channels.0",
        "notifications.subscriptions.0.channels.1",
        "notifications.subscriptions.0.channels.2",
    } <= where


def test_the_shipped_config_s_commented_example_is_a_valid_notifications_section():
    """config/wallboard.toml carries [notifications] commented out: uncommented, it loads, with what it says."""
    import tomllib
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "config" / "wallboard.toml").read_text()
    lines = text.splitlines()
    start = lines.index("# [notifications]")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line.removeprefix("# ").removeprefix("#"))
    section = tomllib.loads("\n".join(block))["notifications"]
    config = load_config(None, users=[{"name": "rivka"}, {"name": "moshe"}], notifications=section)
    rivka, manager = config.notifications.subscriptions
    assert [c.kind for c in rivka.channels] == ["email", "slack", "webhook"] and rivka.queues == ["support", "sales"]
    assert manager.key == "manager" and manager.escalate_after_s == 900 and manager.events == ["escalation"]
    assert config.notifications.escalate_after_s == 600 and config.notifications.max_attempts == 12


def test_bodies_shapes():
    note = {
        "id": "d1",
        "transition": "t",
        "kind": "breach",
        "centre": "C",
        "queue": "q",
        "queue_label": "Q",
        "metric": "service_level",
        "metric_label": "Service level",
        "level": "breach",
        "value": 0.62,
        "warn": 0.8,
        "breach": 0.7,
        "direction": "below",
        "since": "2026-11-23T09:00:00Z",
        "local_since": "11:00",
        "link": "https://board.example/",
    }
    assert webhook_body("slack", note)["text"].startswith("*BREACH: Q — Service level 62%*")
    assert "breach at or below 70%" in webhook_body("webhook", note)["text"]
    card = webhook_body("teams", note)["attachments"][0]["content"]
    assert card["actions"][0]["url"] == "https://board.example/"


async def test_end_to_end_with_the_engine_and_an_acknowledgement(redis_client, env, receiver, make_engine):
    """The engine's own levels (a caller waiting past 60 s), published by the engine; the acknowledgement is
    applied as the owner applies a desk/TV request (``thresholds.ack``): the escalation never goes."""
    from wallboard.events import CallerAnswered, CallerJoined
    from wallboard.thresholds import LevelState, ack

    build, _, _ = env
    subs = [{"user": "rivka", "channels": [{"kind": "slack", "url_env": "WB_TEST_SLACK"}]}]
    data = build.data(subscriptions=subs)
    data.pop("redis")
    eng = await make_engine(**data)
    clock = ManualClock(T0)
    n = notifier(redis_client, eng.config, eng.keys, clock)
    levels = LevelState()

    async def tick(at: datetime, state: LevelState) -> LevelState:
        clock.set(at)
        snap = await eng.build_snapshot(at)
        snap, state = eng.evaluate(snap, state, at)
        await eng.publish(snap)
        await n.step()
        return state

    await eng.apply([CallerJoined(id="j1", ts=T0, source="t", queue="support", call_id="c1")])
    levels = await tick(T0 + timedelta(seconds=30), levels)
    assert receiver.posts == []
    levels = await tick(T0 + timedelta(seconds=61), levels)  # longest wait 61 s: breach
    assert [p["body"]["text"].split(":")[0] for p in receiver.ok()] == ["*BREACH"]
    levels = ack(levels, "support", "longest_wait_s", "rivka", T0 + timedelta(seconds=90))
    levels = await tick(T0 + timedelta(seconds=400), levels)  # past escalate_after_s, but acknowledged
    assert len(receiver.ok()) == 1
    await eng.apply(
        [CallerAnswered(id="a1", ts=T0 + timedelta(seconds=401), source="t", queue="support", call_id="c1", wait_s=401)]
    )
    levels = await tick(T0 + timedelta(seconds=402), levels)
    texts = [p["body"]["text"] for p in receiver.ok()]
    assert len(texts) == 2 and texts[1].startswith("*RESOLVED") and "Acknowledged by rivka" in texts[1]
