"""``ingest --feed http`` across a restart: a chat platform keeps posting the exits and closes of conversations
opened before the ingester restarted (a deploy, a crash), often without their wait. Real ingesters with the
http feed on a real Redis, real POSTs; the figures are checked against a hand count and against the same
deliveries made to one ingester that never restarts."""

from __future__ import annotations

import pytest

from .conftest import at
from .polling import until
from .test_http_feed import CHAT_TOKEN, ROOT, dead_letters, post, running, snapshot, tokens  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("tokens")


def _ev(kind, n, t, call, **kw):
    return {"type": kind, "id": f"{call}:{n}", "ts": at(t).isoformat(), "queue": "support", "call_id": call, **kw}


def _chat(kind, n, t, conv, agent=None, accepted=None):
    """A chat_webhook delivery without the conversation's start time: an exit gets no wait from it."""
    return {
        "id": f"{conv}:{n}",
        "type": kind,
        "created_at": at(t).isoformat(),
        "conversation": {"id": conv, "queue": "web-chat", "accepted_at": accepted and at(accepted).isoformat()},
        "agent": {"id": agent} if agent else None,
    }


# Before the restart: the conversations are opened (and c4, k3 answered: their answer times are the feed's).
EDGE_BEFORE = [
    _ev("caller_joined", "j", 100, "c1"),
    _ev("caller_joined", "j", 110, "c2"),
    _ev("caller_joined", "j", 120, "c3"),
    _ev("caller_joined", "j", 125, "c4"),
    _ev("caller_answered", "a", 135, "c4", agent="1001"),  # wait 10
]
CHAT_BEFORE = [
    _chat("conversation.started", "s", 100, "k1"),
    _chat("conversation.started", "s", 105, "k2"),
    _chat("conversation.started", "s", 108, "k3"),
    _chat("conversation.accepted", "a", 150, "k3", "a7", accepted=150),  # wait 42
]
# After it: exits without wait_s (the engine takes the wait from the entry), closes, and one exit for a
# conversation truly never opened on each source.
EDGE_AFTER = [
    _ev("caller_answered", "a", 130, "c1", agent="1001"),  # wait 30
    _ev("call_completed", "c", 230, "c1", agent="1001", talk_s=100),
    _ev("caller_abandoned", "x", 150, "c2"),  # wait 40
    _ev("caller_overflowed", "o", 200, "c3", reason="timeout"),  # wait 80
    _ev("call_completed", "c", 335, "c4", agent="1001", talk_s=200),
    _ev("caller_answered", "a", 160, "never", agent="1001"),  # never opened: a dead letter
]
CHAT_AFTER = [
    _chat("conversation.accepted", "a", 160, "k1", "a7", accepted=160),  # wait 60
    _chat("conversation.closed", "c", 400, "k1", "a7", accepted=160),  # handle 240
    _chat("conversation.closed", "c", 170, "k2"),  # no agent, never accepted: abandoned, wait 65
    _chat("conversation.closed", "c", 500, "k3", "a7", accepted=150),  # handle 350
    _chat("conversation.accepted", "a", 170, "ghost", "a7", accepted=170),  # never opened: a dead letter
]

# By hand, from the comments above (support: SL 20 s, short abandon 5 s; chat: 60 s and 10 s).
WANT = {
    "support": {
        "entered": 4,
        "answered": 2,
        "answered_within_sl": 1,
        "abandoned": 1,
        "short_abandoned": 0,
        "overflowed": 1,
        "completed": 2,
        "talk_s": 300.0,
        "wait_answered_s": 40.0,
        "wait_all_s": 160.0,
        "waiting": 0,
    },
    "chat": {
        "entered": 3,
        "answered": 2,
        "answered_within_sl": 2,
        "abandoned": 1,
        "short_abandoned": 0,
        "overflowed": 0,
        "completed": 2,
        "talk_s": 590.0,
        "wait_answered_s": 102.0,
        "wait_all_s": 167.0,
        "waiting": 0,
    },
    "1001": {"calls_handled": 2, "conversations_handled": 0, "open": 0},
    "a7": {"calls_handled": 2, "conversations_handled": 2, "open": 0},
}
NEVER = {
    "engine:http:edge": "conversation 'never' in queue 'support' was never opened",
    "engine:http:chat": "conversation 'ghost' in queue 'chat' was never opened",
}


async def _deliver(session, base, edge, chat) -> int:
    """POST both sources' deliveries; the number of events accepted (every item is, the feed refuses none)."""
    n = 0
    for path, body, token in (("edge", edge, None), ("chat", chat, CHAT_TOKEN)):
        status, answer, _ = await post(session, f"{base}/events/{path}", body, **({"token": token} if token else {}))
        assert status == 202 and answer["rejected"] == [], answer
        n += answer["accepted"]
    return n


async def _settled(ing, feed, n, redis_client, prefix) -> list:
    await until(lambda: ing.events_applied == n, "the POSTs applied")
    await until(lambda: feed._q.qsize() == 0)
    # the engine's dead letters are written just after their batch: wait for both
    got: list = []

    async def both():
        nonlocal got
        got = [d for d in await dead_letters(redis_client, prefix) if d["source"].startswith("engine:")]
        return len(got) >= 2

    await until(both, "the two engine dead letters")
    return got


async def _figures(redis_client, prefix) -> dict:
    snap = await snapshot(redis_client, prefix)
    out: dict = {q: {k: getattr(snap.queues[q], k) for k in WANT[q]} for q in ("support", "chat")}
    for a in ("1001", "a7"):
        ag = snap.agents[a]
        out[a] = {
            "calls_handled": ag.calls_handled,
            "conversations_handled": ag.conversations_handled,
            "open": sum(ag.conversations.values()),
        }
    return out


async def test_exits_of_conversations_opened_before_a_restart_count_as_without_it(redis_client, prefix):
    # with a restart between the openings and the exits; the platform retries the first POSTs after it
    async with running(redis_client, prefix, clean=False) as (ing, feed, base, session):
        n = await _deliver(session, base, EDGE_BEFORE, CHAT_BEFORE)
        await until(lambda: ing.events_applied == n and feed._q.qsize() == 0, "the openings applied")
    async with running(redis_client, prefix) as (ing, feed, base, session):
        n = await _deliver(session, base, EDGE_AFTER, CHAT_AFTER)
        n += await _deliver(session, base, EDGE_BEFORE, CHAT_BEFORE)  # a retry: counted once
        dead = await _settled(ing, feed, n, redis_client, prefix)
        restarted = await _figures(redis_client, prefix)
    # the same deliveries, in the same order, to one ingester
    once_prefix = f"{prefix}-once"
    async with running(redis_client, once_prefix) as (ing, feed, base, session):
        n = await _deliver(session, base, EDGE_BEFORE, CHAT_BEFORE)
        n += await _deliver(session, base, EDGE_AFTER, CHAT_AFTER)
        n += await _deliver(session, base, EDGE_BEFORE, CHAT_BEFORE)
        dead_once = await _settled(ing, feed, n, redis_client, once_prefix)
        once = await _figures(redis_client, once_prefix)

    assert restarted == WANT
    assert once == WANT
    for got in (dead, dead_once):  # a conversation truly never opened: refused with its reason, both times
        assert len(got) == 2
        for d in got:
            assert NEVER[d["source"]] in d["reason"] and "no wait_s" in d["reason"], d


async def test_a_close_naming_no_agent_whose_answer_is_unknown_after_a_restart_is_a_dead_letter(
    redis_client, prefix, tmp_path
):
    """A mapping without the platform's answer time: whether a close naming no agent ends an answered
    conversation is this process's memory. After a restart it is refused with the reason, never guessed
    "abandoned" (which would drop the completion of an answered one and leave its agent's conversation open)."""
    shipped = (ROOT / "feeds" / "mappings" / "chat_webhook.toml").read_text(encoding="utf-8")
    lines = [ln for ln in shipped.splitlines() if not ln.startswith("answered_at")]
    mapping = tmp_path / "no_answer_time.toml"
    mapping.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sources = {"chat": {"token_env": "WB_TEST_HTTP_CHAT", "mapping": str(mapping)}}
    started = [_chat("conversation.started", "s", 100, "k1"), _chat("conversation.started", "s", 105, "k2")]
    answered = [_chat("conversation.accepted", "a", 160, "k1", "a7")]
    closed = [_chat("conversation.closed", "c", 400, "k1"), _chat("conversation.closed", "c", 170, "k2")]
    async with running(redis_client, prefix, clean=False, sources=sources) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/chat", started + answered, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 3
        await until(lambda: ing.events_applied == 3 and feed._q.qsize() == 0, "the openings applied")
    async with running(redis_client, prefix, sources=sources) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/chat", closed, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 0
        assert [r["index"] for r in answer["rejected"]] == [0, 1]
        for r in answer["rejected"]:
            assert "whether an agent took it is unknown" in r["reason"], r
        q = (await snapshot(redis_client, prefix)).queues["chat"]
        # nothing guessed: k1 stays answered and open, k2 waiting, until the closes are sent with an answer time
        assert (q.entered, q.answered, q.abandoned, q.completed, q.waiting) == (2, 1, 0, 0, 1)
        status, answer, _ = await post(
            session, f"{base}/events/chat", {**closed[0], "agent": {"id": "a7"}, "id": "k1:c2"}, token=CHAT_TOKEN
        )
        assert (
            "no answer time" in answer["rejected"][0]["reason"] and "since its start" in answer["rejected"][0]["reason"]
        )

    # without the restart the same deliveries count: k1 completed (handle 240), k2 abandoned
    async with running(redis_client, f"{prefix}-once", sources=sources) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/chat", started + answered + closed, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 5
        await until(lambda: ing.events_applied == 5 and feed._q.qsize() == 0, "the deliveries applied")
        q = (await snapshot(redis_client, f"{prefix}-once")).queues["chat"]
        assert (q.entered, q.answered, q.abandoned, q.completed, q.talk_s, q.waiting) == (2, 1, 1, 1, 240.0, 0)
