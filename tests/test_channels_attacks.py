"""Channels and capacity attacked: a written conversation's close that does not name the agent who took it."""

from __future__ import annotations

import itertools

from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined
from wallboard.keys import Keys

from .conftest import at
from .polling import until
from .test_http_feed import CHAT_TOKEN, post, running, snapshot

_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"cha{next(_ids)}", ts=at(t), source="test", **kw)


async def test_a_close_without_the_answering_agent_still_frees_that_agent(make_engine):
    # A chat platform's close when the customer leaves often names no agent; one after a hand-over names the
    # last agent, not the one whose slot the answer took. Either way the conversation is the answering agent's.
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}],
        agents=[{"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 2}}, {"id": "a2", "skills": {"web": 0}}],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [
        ev(AgentStateChanged, 0, agent="a1", state="available"),
        ev(AgentStateChanged, 0, agent="a2", state="available"),
        ev(CallerJoined, 10, call_id="c1", **q),
        ev(CallerJoined, 20, call_id="c2", **q),
        ev(CallerAnswered, 30, call_id="c1", agent="a1", **q),
        ev(CallerAnswered, 50, call_id="c2", agent="a1", **q),
        ev(CallCompleted, 160, call_id="c1", talk_s=130, **q),  # the customer closed: no agent
        ev(CallCompleted, 200, call_id="c2", agent="a2", talk_s=150, **q),  # closed naming a2
    ]
    await eng.apply(events)
    await eng.apply(events)  # re-sent: nothing moves
    snap = await eng.build_snapshot(at(300))
    a1, a2 = snap.agents["a1"], snap.agents["a2"]
    # by hand: a1 holds nothing open and was busy 30 -> 200 once (170 s); a2 never took a conversation
    assert (a1.conversations, a1.conversation_s) == ({}, 170)
    assert (a2.conversations, a2.conversation_s) == ({}, 0)
    ac = snap.queues["web"].agent_counts
    assert (ac.slots, ac.in_use, ac.free) == (2 + 3, 0, 2)


async def test_the_expected_wait_counts_each_agent_s_own_free_slots(make_engine):
    # a1 may hold 1 chat but holds 3 (its capacity lowered while they were open, or the platform over-assigned);
    # a2 may hold 3 and holds none. One customer waits: a2 takes them at once, so the expected wait is 0. Summed
    # over the queue (4 slots, 3 in use) only 1 slot looked free and the wait was 1 x AHT / 4.
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}],
        agents=[{"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 1}}, {"id": "a2", "skills": {"web": 0}}],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [ev(AgentStateChanged, 0, agent=a, state="available") for a in ("a1", "a2")]
    events += [
        ev(CallerJoined, 5, call_id="c0", **q),
        ev(CallerAnswered, 10, call_id="c0", agent="a2", **q),
        ev(CallCompleted, 110, call_id="c0", agent="a2", talk_s=100, **q),  # AHT 100 s
    ]
    for n in (1, 2, 3):
        events += [
            ev(CallerJoined, 100 + n, call_id=f"o{n}", **q),
            ev(CallerAnswered, 120 + n, call_id=f"o{n}", agent="a1", **q),
        ]
    events.append(ev(CallerJoined, 200, call_id="w1", **q))
    await eng.apply(events)
    web = (await eng.build_snapshot(at(210))).queues["web"]
    ac = web.agent_counts
    assert (ac.slots, ac.in_use, ac.free, web.waiting, web.aht_s) == (1 + 3, 3, 1, 1, 100)
    assert web.ewt_s == 0


async def test_a_chat_the_customer_closes_after_an_agent_took_it_is_completed_over_http(
    redis_client, prefix, monkeypatch
):
    """The shipped chat mapping reads a close naming no agent as an abandon ("closed before any agent"); a
    customer who closes a chat an agent accepted sends that too. By hand: one chat, accepted 10 s after it
    started, closed 90 s later: answered 1, completed 1, handled 90 s, abandoned 0, and a7 holds nothing."""
    monkeypatch.setenv("WB_TEST_HTTP_EDGE", "edge-token-0123456789abcdef")
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)

    def iso(s):
        return at(s).isoformat().replace("+00:00", "Z")

    def delivery(n, kind, t, agent=None, accepted=None):
        return {
            "id": f"d{n}",
            "type": kind,
            "created_at": iso(t),
            "conversation": {"id": "conv1", "started_at": iso(100), "accepted_at": accepted},
            "agent": {"id": agent} if agent else None,
            "customer": {"id": "v1"},
        }

    async with running(redis_client, prefix) as (ing, _feed, base, session):
        body = [
            delivery(1, "conversation.started", 100),
            delivery(2, "conversation.accepted", 110, "a7", iso(110)),
            delivery(3, "conversation.closed", 200, None, iso(110)),  # the customer closed it
        ]
        status, answer, _ = await post(session, f"{base}/events/chat", body, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 3 and answer["rejected"] == []
        await until(lambda: ing.events_applied == 3)
        snap = await snapshot(redis_client, prefix)
        q, a7 = snap.queues["chat"], snap.agents["a7"]
        assert (q.answered, q.completed, q.talk_s, q.abandoned) == (1, 1, 90, 0)
        assert (a7.conversations, a7.conversation_s) == ({}, 90)


async def test_an_e_mail_waiting_longer_than_a_marker_lives_is_counted_once_with_its_wait(make_engine, redis_client):
    # The queue-entry marker lives centre.entry_expiry_h from the entry's last event; an e-mail waits longer than
    # that with no event (a weekend's backlog: 48 h). Here the marker lives 1 s of real time, and the e-mail
    # is answered 5 h after it arrived (the e-mail SL: 4 h). By hand: entered 1, answered 1, not within the SL,
    # a 5 h wait. Its marker gone, the answer made a second entry, counted entered again with a wait of 0.
    eng = await make_engine(queues=[{"name": "mail", "channel": "email"}], centre={"entry_expiry_h": 1 / 3600})
    q = {"queue": "mail", "channel": "email"}
    await eng.apply([ev(CallerJoined, 0, call_id="m1", **q)])
    # a key of the same 1 s life, set now: once Redis has expired it, an unprotected marker is gone too
    probe = f"{eng.keys.prefix}:probe"
    await redis_client.set(probe, "1", ex=1)

    async def probe_gone():
        return not await redis_client.exists(probe)

    await until(probe_gone, "the probe key's expiry")
    marker = f"{eng.keys.queue('mail')}:e:m1"
    assert await redis_client.ttl(marker) == -1  # waiting: kept
    await eng.apply([ev(CallerAnswered, 5 * 3600, call_id="m1", agent="a1", **q)])
    # answered, still open: kept until its close, or 336 h (centre.open_conversation_expiry_h) should it not come
    assert 48 * 3600 < await redis_client.ttl(marker) <= 336 * 3600
    mail = (await eng.build_snapshot(at(5 * 3600 + 60))).queues["mail"]
    assert (mail.entered, mail.answered, mail.answered_within_sl, mail.waiting) == (1, 1, 0, 0)
    assert mail.asa_s == 5 * 3600
    await eng.apply([ev(CallCompleted, 6 * 3600, call_id="m1", agent="a1", talk_s=3600, **q)])
    assert await redis_client.ttl(marker) != -1  # closed: expires (or has already)


async def test_a_chat_taken_over_by_a_second_acceptance_frees_both_agents_when_it_closes(make_engine):
    # a1 accepts c1 at 30; a2 takes it over by accepting it too at 90 (the platform's hand-over); a2 closes it
    # at 200. By hand: the queue answered it once; each agent handled it; neither holds it after the close;
    # a1 busy 30 -> 200 and a2 90 -> 200 (the platform sent no event when a1 let go)
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}],
        agents=[{"id": "a1", "skills": {"web": 0}}, {"id": "a2", "skills": {"web": 0}}],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [ev(AgentStateChanged, 0, agent=a, state="available") for a in ("a1", "a2")]
    events += [
        ev(CallerJoined, 10, call_id="c1", **q),
        ev(CallerAnswered, 30, call_id="c1", agent="a1", **q),
        ev(CallerAnswered, 90, call_id="c1", agent="a2", **q),
        ev(CallCompleted, 200, call_id="c1", agent="a2", talk_s=170, **q),
    ]
    await eng.apply(events)
    snap = await eng.build_snapshot(at(300))
    a1, a2 = snap.agents["a1"], snap.agents["a2"]
    assert snap.queues["web"].answered == 1 and (a1.calls_handled, a2.calls_handled) == (1, 1)
    assert (a1.conversations, a2.conversations) == ({}, {})
    assert (a1.conversation_s, a2.conversation_s) == (170, 110)


async def test_an_event_whose_channel_is_not_its_queue_s_is_a_dead_letter_from_any_feed(
    make_engine, redis_client, tmp_path
):
    # The http feed refuses it at its door; the jsonl feed (our own events, read from a file) passed it, and a
    # chat was counted in the voice queue by its 20 s SL. By hand: support entered 1 (the voice call), chat 0;
    # one dead letter naming the channel.
    from feeds.jsonl import JsonlFeed
    from wallboard.feed import DeadLetter

    eng = await make_engine(queues=[{"name": "support"}])
    path = tmp_path / "in.jsonl"
    path.write_text(
        '{"type": "caller_joined", "id": "j1", "ts": "%s", "source": "t", "queue": "support", "call_id": "v1"}\n'
        '{"type": "caller_joined", "id": "j2", "ts": "%s", "source": "t", "queue": "support", "call_id": "c1", '
        '"channel": "chat"}\n' % (at(0).isoformat(), at(5).isoformat())
    )
    items = list(JsonlFeed(str(path), eng.config).read())
    events = [e for e in items if not isinstance(e, DeadLetter)]
    res = await eng.apply(events)
    support = (await eng.build_snapshot(at(60))).queues["support"]
    assert (support.entered, support.waiting) == (1, 1)
    assert [d.reason for d in res.rejected] == [
        "channel: 'chat' but queue 'support' is a voice queue; set channel = 'chat' under its [[queues]]"
    ]
    dead = [f for _id, f in await redis_client.xrange(eng.keys.deadletter)]
    assert len(dead) == 1 and "'chat' but queue 'support' is a voice queue" in dead[0]["reason"]


async def test_a_close_or_wrap_up_of_a_conversation_never_opened_is_a_dead_letter_over_http(
    redis_client, prefix, monkeypatch
):
    """A platform's close (and wrap-up) for a conversation Redis never saw opened, posted as our raw event and
    as a mapped webhook close. Counted, it was completed 1 and 300 s of handle time for a chat never entered,
    offered or answered. Refused, it is a dead letter with its reason and the agent's conversations are as
    they were; once the platform's late start and acceptance are in, a re-drive counts the close once and ends
    that conversation. By hand: c1 (joined 100, answered 110 by a1) is the only conversation until conv9
    (started 200, accepted 210 by a2, closed 500: 290 s)."""
    from wallboard.commands.deadletter import redrive

    from .test_http_feed import TOKEN, _config, dead_letters

    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)

    def iso(s):
        return at(s).isoformat().replace("+00:00", "Z")

    def raw(kind, t, call_id, **kw):
        return {"type": kind, "id": f"{kind}-{call_id}-{t}", "ts": iso(t), "queue": "chat", "call_id": call_id, **kw}

    def delivery(n, kind, t, agent=None, accepted=None):
        return {
            "id": f"d{n}",
            "type": kind,
            "created_at": iso(t),
            "conversation": {"id": "conv9", "started_at": iso(200), "accepted_at": accepted},
            "agent": {"id": agent} if agent else None,
        }

    async def reasons():
        return {d["reason"] for d in await dead_letters(redis_client, prefix) if d["source"].startswith("engine:")}

    async with running(redis_client, prefix) as (ing, _feed, base, session):
        body = [
            raw("caller_joined", 100, "c1", channel="chat"),
            raw("caller_answered", 110, "c1", agent="a1", wait_s=10),
            raw("call_completed", 400, "ghost", agent="a1", talk_s=300, ended_by="transfer"),
            raw("wrapup_completed", 430, "ghost", agent="a1", wrap_s=30),
        ]
        status, answer, _ = await post(session, f"{base}/events/edge", body)
        assert status == 202 and answer["accepted"] == 4 and answer["rejected"] == []  # the engine's to judge
        closed = delivery(3, "conversation.closed", 500, "a2", iso(210))  # maps to a close: handle time 290 s
        status, answer, _ = await post(session, f"{base}/events/chat", closed, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 1
        await until(lambda: ing.events_applied == 5)
        got = await until(lambda: _at_least(reasons(), 3), "the engine's three dead letters")
        never = (
            "conversation {!r} in queue 'chat' was never opened or its entry expired (no caller_joined known; an "
            "entry is kept centre.entry_expiry_h, 48 h, after its last event)"
        )
        assert got == {
            f"call_completed: {never.format('ghost')}: the close is not counted (no completion, handle time or "
            "transfer) and ends no agent's conversation",
            f"wrapup_completed: {never.format('ghost')}: its wrap-up is not counted",
            f"call_completed: {never.format('conv9')}: the close is not counted (no completion, handle time or "
            "transfer) and ends no agent's conversation",
        }
        snap = await snapshot(redis_client, prefix)
        chat = snap.queues["chat"]
        assert (chat.entered, chat.answered, chat.completed, chat.talk_s, chat.wrap_s) == (1, 1, 0, 0, 0)
        assert (chat.transferred, chat.aht_s) == (0, None)
        assert snap.agents["a1"].conversations == {"chat": 1}  # c1, still open
        assert "a2" not in snap.agents  # named only by a refused close: not registered (no ghost agent)

        # the platform's start and acceptance of conv9 arrive late: its close, parked when refused, is applied
        # once they are in (its dead letter gone), and a2's conversation ends with it
        late = [delivery(1, "conversation.started", 200), delivery(2, "conversation.accepted", 210, "a2", iso(210))]
        status, answer, _ = await post(session, f"{base}/events/chat", late, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 2
        await until(lambda: ing.events_applied == 7)
        snap = await snapshot(redis_client, prefix)
        chat, a2 = snap.queues["chat"], snap.agents["a2"]
        assert (chat.entered, chat.answered, chat.completed, chat.talk_s, chat.wrap_s) == (2, 2, 1, 290, 0)
        assert (a2.conversations, a2.conversation_s) == ({}, 290)
        assert snap.agents["a1"].conversations == {"chat": 1}
        assert await reasons() == got - {next(r for r in got if "conv9" in r)}

        res = await redrive(redis_client, _config(prefix))
        assert (res.redriven, res.still_rejected) == (0, 2)  # ghost's two stay refused
        assert (await snapshot(redis_client, prefix)).queues["chat"].completed == 1


async def _at_least(reasons, n: int):
    got = await reasons
    return got if len(got) >= n else None


async def test_only_the_http_feed_s_closes_need_their_entry(make_engine):
    # A PBX feed's completion of a call whose join it never saw (a queue_log that starts mid-call, an entry
    # expired) is a call the PBX connected: counted as before. The same close from the http feed is refused.
    # By hand: the queue_log close counts completed 1, 60 s; the http one nothing, and one refusal.
    eng = await make_engine(queues=[{"name": "web", "channel": "chat"}])
    q = {"queue": "web", "channel": "chat"}
    logged = CallCompleted(id="q1", ts=at(100), source="queue-log:/var/log/queue_log:7", call_id="p1", talk_s=60, **q)
    posted = CallCompleted(id="h1", ts=at(100), source="http:edge", call_id="h1", talk_s=60, **q)
    res = await eng.apply([logged, posted])
    web = (await eng.build_snapshot(at(200))).queues["web"]
    assert (web.completed, web.talk_s) == (1, 60)
    assert [d.source for d in res.rejected] == ["engine:http:edge"]


def _iso(s):
    return at(s).isoformat().replace("+00:00", "Z")


def _raw(kind, t, call_id, queue="chat", **kw):
    return {"type": kind, "id": f"{kind}-{call_id}-{t}", "ts": _iso(t), "queue": queue, "call_id": call_id, **kw}


def _delivery(n, kind, t, conv="conv9", agent=None, accepted=None):
    """A chat platform's webhook (the shipped chat_webhook mapping) for conversation ``conv``, started at 200."""
    return {
        "id": f"d{n}-{conv}",
        "type": kind,
        "created_at": _iso(t),
        "conversation": {"id": conv, "started_at": _iso(200), "accepted_at": accepted},
        "agent": {"id": agent} if agent else None,
    }


async def test_a_conversation_open_past_the_entry_expiry_is_closed_not_refused_over_http(
    redis_client, prefix, monkeypatch
):
    """An e-mail answered on Friday and closed on Monday, past centre.entry_expiry_h (here 0.001 h: 3 s of wall
    clock). The open conversation keeps its entry and the agent's open record until its close: the close counts
    (completed, handle time) and ends the agent's conversation, instead of a dead letter 'never opened'. c2, an
    abandoned chat posted after c1 was answered, has the entry expiry any finished conversation has: once it is
    gone, c1's entry and a1's open record would have been too. By hand: c1 joined 100, answered 110 by a1,
    closed 4000 (talk 3890); c2 joined 200, abandoned 205."""
    from .test_http_feed import TOKEN, dead_letters

    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)
    slot = Keys(prefix).queue("chat")
    async with running(redis_client, prefix, centre={"entry_expiry_h": 0.001}) as (ing, _feed, base, session):
        opened = [_raw("caller_joined", 100, "c1", channel="chat"), _raw("caller_answered", 110, "c1", agent="a1")]
        status, answer, _ = await post(session, f"{base}/events/edge", opened)
        assert status == 202 and answer["accepted"] == 2
        await until(lambda: ing.events_applied == 2)
        gone = [_raw("caller_joined", 200, "c2"), _raw("caller_abandoned", 205, "c2", wait_s=5)]
        status, answer, _ = await post(session, f"{base}/events/edge", gone)
        assert status == 202 and answer["accepted"] == 2
        await until(lambda: ing.events_applied == 4)
        assert await redis_client.ttl(f"{slot}:e:c2") > 0  # a finished conversation's entry does expire
        await until(lambda: _missing(redis_client, f"{slot}:e:c2"), "c2's entry to expire", timeout=30, every=0.2)
        assert await redis_client.exists(f"{slot}:e:c1") == 1
        snap = await snapshot(redis_client, prefix)
        assert snap.agents["a1"].conversations == {"chat": 1}

        closed = [_raw("call_completed", 4000, "c1", agent="a1", talk_s=3890)]
        status, answer, _ = await post(session, f"{base}/events/edge", closed)
        assert status == 202 and answer["accepted"] == 1
        await until(lambda: ing.events_applied == 5)
        snap = await snapshot(redis_client, prefix)
        chat, a1 = snap.queues["chat"], snap.agents["a1"]
        assert (chat.entered, chat.answered, chat.abandoned, chat.completed, chat.talk_s) == (2, 1, 1, 1, 3890)
        assert (a1.conversations, a1.conversation_s) == ({}, 3890)
        assert [d for d in await dead_letters(redis_client, prefix) if d["source"].startswith("engine:")] == []
        # from its close, c1's entry expires as any other
        assert await redis_client.ttl(f"{slot}:e:c1") > 0


async def test_an_open_conversation_whose_close_never_comes_is_let_go_after_its_own_expiry(make_engine):
    # kept past the entry expiry while open, but not for ever: a lost close would hold the agent's slot (and the
    # entry) for good. centre.open_conversation_expiry_h (here 2 h) after its last event, both expire.
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}],
        centre={"entry_expiry_h": 1, "open_conversation_expiry_h": 2},
    )
    q = {"queue": "web", "channel": "chat"}
    await eng.apply(
        [
            CallerJoined(id="o1", ts=at(100), source="http:edge", call_id="lost", **q),
            CallerAnswered(id="o2", ts=at(110), source="http:edge", call_id="lost", agent="a1", wait_s=10, **q),
        ]
    )
    keys = eng.keys
    entry, conv = keys.queue("web") + ":e:lost", keys.agent("a1") + ":conv"
    assert list((await eng.r.hgetall(conv)).values()) == ["chat"]  # one open chat (field: call, queue, join)
    for key in (entry, conv):
        ttl = await eng.r.ttl(key)
        assert 3600 < ttl <= 7200, (key, ttl)  # past the entry expiry (1 h), within the open one (2 h)


async def _missing(client, key: str) -> bool:
    return await client.exists(key) == 0


async def test_a_close_refused_for_an_entry_gone_says_it_may_have_expired(make_engine):
    # A conversation opened before open conversations kept their entries (or one whose close is posted long
    # after its abandon): the refusal says the entry may have expired, with the expiry, not only "never opened".
    eng = await make_engine(queues=[{"name": "web", "channel": "chat"}], centre={"entry_expiry_h": 48})
    q = {"queue": "web", "channel": "chat"}
    res = await eng.apply([CallCompleted(id="h1", ts=at(100), source="http:edge", call_id="old", talk_s=60, **q)])
    assert [d.reason for d in res.rejected] == [
        "call_completed: conversation 'old' in queue 'web' was never opened or its entry expired (no caller_joined "
        "known; an entry is kept centre.entry_expiry_h, 48 h, after its last event): the close is not counted (no "
        "completion, handle time or transfer) and ends no agent's conversation"
    ]


async def test_a_close_refused_before_its_accept_is_re_driven_by_its_feed_name_over_http(
    redis_client, prefix, monkeypatch
):
    """conv9's close lands before its start and acceptance and is refused; they come through another feed (a
    platform's export read as jsonl), which parks nothing free. A re-drive of the http feed's dead letters
    (``--feed http``) takes the engine's refusals of that feed's events (source 'engine:http:chat') too, not
    only records whose source starts with 'http'. By hand: conv9 started 200, accepted 210 by a2, closed 500
    (handle time 290)."""
    from wallboard.commands.deadletter import redrive

    from .test_http_feed import TOKEN, _config

    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)
    async with running(redis_client, prefix) as (ing, _feed, base, session):
        closed = _delivery(3, "conversation.closed", 500, agent="a2", accepted=_iso(210))
        status, answer, _ = await post(session, f"{base}/events/chat", closed, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 1
        await until(lambda: ing.events_applied == 1)
        q = {"source": "jsonl:/var/spool/chat.jsonl:1", "queue": "chat", "channel": "chat", "call_id": "conv9"}
        other_feed = Engine(redis_client, _config(prefix), Keys(prefix))
        await other_feed.start()
        await other_feed.apply(
            [
                CallerJoined(id="x1", ts=at(200), **q),
                CallerAnswered(id="x2", ts=at(210), agent="a2", **q),
            ]
        )
        assert (await snapshot(redis_client, prefix)).agents["a2"].conversations == {"chat": 1}

        other = await redrive(redis_client, _config(prefix), feed="queue-log")  # another feed's: left alone
        assert (other.redriven, other.still_rejected) == (0, 0)
        res = await redrive(redis_client, _config(prefix), feed="http")
        assert (res.redriven, res.still_rejected) == (1, 0)
        snap = await snapshot(redis_client, prefix)
        chat, a2 = snap.queues["chat"], snap.agents["a2"]
        assert (chat.entered, chat.answered, chat.completed, chat.talk_s) == (1, 1, 1, 290)
        assert (a2.conversations, a2.conversation_s) == ({}, 290)


async def test_refused_closes_register_no_queue_or_agent_a_new_agent_on_a_known_one_is(make_engine):
    # Three closes of conversations never opened, in queues and by agents nobody configured: nothing of them
    # appears on the board or in the registries. A new agent's answer (no wait: its entry must be known) of a
    # conversation that is open, and a close naming a new agent, register that queue's agents as ever.
    eng = await make_engine(queues=[{"name": "web", "channel": "chat"}])
    ghosts = [
        CallCompleted(
            id=f"g{n}", ts=at(100), source="http:edge", queue=f"ghost{n}", call_id=f"x{n}", agent=f"bot{n}", talk_s=9
        )
        for n in range(3)
    ]
    res = await eng.apply(ghosts)
    assert len(res.rejected) == 3 and res.queues == set() and res.agents == set()
    assert "ghost0" not in await eng.queue_names() and await eng.agent_ids() == []
    snap = await eng.build_snapshot(at(200))
    assert not {"ghost0", "ghost1", "ghost2"} & set(snap.queues) and snap.agents == {}

    q = {"queue": "new", "source": "http:edge"}
    await eng.apply(
        [
            CallerJoined(id="j1", ts=at(110), call_id="c1", **q),
            CallerAnswered(id="a1", ts=at(120), call_id="c1", agent="newbie", **q),
            CallCompleted(id="c1", ts=at(180), call_id="c1", agent="closer", talk_s=60, **q),
        ]
    )
    assert "new" in await eng.queue_names()
    assert sorted(await eng.agent_ids()) == ["closer", "newbie"]
    snap = await eng.build_snapshot(at(200))
    assert snap.queues["new"].completed == 1 and snap.agents["newbie"].calls_handled == 1


async def test_a_close_that_overtakes_its_acceptance_is_applied_once_it_is_in_over_http(
    redis_client, prefix, monkeypatch
):
    """Webhooks come unordered: conv9's close (at 500, by a2, accepted 210) is applied before the conversation's
    start and acceptance. Refused, it is parked; the acceptance, posted to the next ingester after a restart,
    opens the conversation and the close is applied with it: answered 1, completed 1, handle time 290, a2
    holds nothing open, its dead letter gone. The close posted again (the same delivery, and as another
    delivery id) and the acceptance posted again count nothing more. A close of a conversation that never
    opens (conv8) stays a dead letter with its reason; its parking expires."""
    from .test_http_feed import TOKEN, dead_letters

    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)
    keys = Keys(prefix)
    closes = [
        _delivery(3, "conversation.closed", 500, agent="a2", accepted=_iso(210)),
        _delivery(3, "conversation.closed", 400, conv="conv8", agent="a3", accepted=_iso(210)),
    ]
    late = [
        _delivery(1, "conversation.started", 200),
        _delivery(2, "conversation.accepted", 210, agent="a2", accepted=_iso(210)),
    ]

    async def engine_dead():
        return [d for d in await dead_letters(redis_client, prefix) if d["source"].startswith("engine:")]

    async with running(redis_client, prefix, clean=False) as (ing, _feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/chat", closes, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 2
        await until(lambda: ing.events_applied == 2)
        assert len(await engine_dead()) == 2
        assert await redis_client.hlen(keys.parked("chat", "conv9")) == 1
    async with running(redis_client, prefix) as (ing, _feed, base, session):  # restarted: the next ingester
        status, answer, _ = await post(session, f"{base}/events/chat", late, token=CHAT_TOKEN)
        assert status == 202 and answer["accepted"] == 2
        await until(lambda: ing.events_applied == 2)

        async def check():
            snap = await snapshot(redis_client, prefix)
            chat, a2 = snap.queues["chat"], snap.agents["a2"]
            assert (chat.entered, chat.answered, chat.completed, chat.talk_s) == (1, 1, 1, 290)
            assert (a2.conversations, a2.conversation_s, a2.calls_handled) == ({}, 290, 1)
            dead = await engine_dead()
            assert [("conv8" in d["reason"], "was never opened" in d["reason"]) for d in dead] == [(True, True)]
            assert await redis_client.get(keys.dlcount) == "1"

        await check()
        assert await redis_client.exists(keys.parked("chat", "conv9")) == 0
        assert await redis_client.ttl(keys.parked("chat", "conv8")) > 0

        again = [closes[0], {**closes[0], "id": "d3-conv9-again"}, late[1]]
        status, answer, _ = await post(session, f"{base}/events/chat", again, token=CHAT_TOKEN)
        # (this process saw the acceptance's delivery id, not the closes': each goes to the engine all the same)
        assert status == 202 and (answer["accepted"], answer["duplicates"]) == (3, 1)
        await until(lambda: ing.events_applied == 5)
        await check()
