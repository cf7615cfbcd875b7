"""Following a live queue_log: rotation, truncation, and a restart resuming from the cursor kept in Redis.
The end state must equal a plain replay of everything the file(s) held: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from feeds.queue_log import QueueLogFeed
from tests.polling import task_failed, until
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.feed import CursorMark
from wallboard.ingest import Ingest
from wallboard.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = (ROOT / "samples" / "sample_day.queue_log").read_text().splitlines(keepends=True)


def _config(prefix):
    return load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix}, engine={"tick_s": 0.2})


async def _run_until(client, config, path, stop_when, timeout=20.0):
    feed = QueueLogFeed(str(path), config)
    ing = Ingest(client, config, feed, name="follower")
    task = asyncio.create_task(ing.run())
    try:
        await until(lambda: stop_when(ing), "the follower to get there", timeout=timeout, check=task_failed(task))
    finally:
        ing.stop.set()
        await asyncio.wait_for(task, 10)
    return ing


async def _figures(client, config, prefix, lines):
    """Per-queue counters at the end of the lines' day, from the given namespace."""
    last = float(lines[-1].split("|")[0])
    eng = Engine(client, config, Keys(prefix))
    snap = await eng.build_snapshot(datetime.fromtimestamp(last, timezone.utc) + timedelta(seconds=1))
    return {
        q: (s.entered, s.answered, s.abandoned, s.overflowed, s.completed, s.wrap_s) for q, s in snap.queues.items()
    }


async def _reference(client, prefix, lines, tmp_path):
    """A plain replay of the same lines into another namespace."""
    ref_prefix = prefix + "-ref"
    config = _config(ref_prefix)
    path = tmp_path / "all.queue_log"
    path.write_text("".join(lines))
    eng = Engine(client, config, Keys(ref_prefix))
    await eng.start()
    await eng.apply([e for e in QueueLogFeed(str(path), config).read() if hasattr(e, "ts")])
    out = await _figures(client, config, ref_prefix, lines)
    keys = [k async for k in client.scan_iter(match=f"{ref_prefix}:*")]
    await client.unlink(*keys)
    return out


async def test_follow_across_restart_rotation_and_truncation(redis_client, prefix, tmp_path):
    config = _config(prefix)
    path = tmp_path / "queue_log"
    first, second, third = SAMPLE[:2500], SAMPLE[2500:5000], SAMPLE[5000:]
    path.write_text("".join(first))
    cursor_key = f"{Keys(prefix).centre}:cursor:queue-log:{os.path.abspath(path)}"

    async def cursor_at_end(ing):
        raw = await redis_client.get(cursor_key)
        return raw and json.loads(raw)["offset"] == len("".join(first).encode())

    run1 = await _run_until(redis_client, config, path, cursor_at_end)
    saved = json.loads(await redis_client.get(cursor_key))
    assert 0 < saved["offset"] <= path.stat().st_size

    # while the follower is down: more lines, then logrotate (rename) and a new file with yet more
    with open(path, "a") as f:
        f.write("".join(second))
    os.rename(path, tmp_path / "queue_log.1")
    path.write_text("".join(third[:1000]))

    async def caught_up(ing):
        raw = await redis_client.get(cursor_key)
        return raw and json.loads(raw)["ino"] == path.stat().st_ino and json.loads(raw)["offset"] == path.stat().st_size

    run2 = await _run_until(redis_client, config, path, caught_up)
    # resumed: the second run did not read the first part again
    assert run2.events_applied < run1.events_applied + len(second) * 3

    # copytruncate: the file is emptied in place and written again from the start
    with open(path, "r+") as f:
        f.truncate(0)
    with open(path, "a") as f:
        f.write("".join(third[1000:]))

    async def after_truncate(ing):
        raw = await redis_client.get(cursor_key)
        return raw and json.loads(raw)["offset"] == len("".join(third[1000:]).encode())

    await _run_until(redis_client, config, path, after_truncate)

    got = await _figures(redis_client, config, prefix, SAMPLE)
    want = await _reference(redis_client, prefix, SAMPLE, tmp_path)
    assert got == want
    assert sum(v[0] for v in got.values()) == sum(1 for x in SAMPLE if "|ENTERQUEUE|" in x)


async def test_unfinished_last_line_waits_for_its_newline(redis_client, prefix, tmp_path):
    config = _config(prefix)
    path = tmp_path / "queue_log"
    t = 1795420800
    path.write_text(f"{t}|c1|support|NONE|ENTERQUEUE||0501234567|1\n{t + 5}|c2|supp")  # the writer is mid-line
    feed = QueueLogFeed(str(path), config)
    got = []

    async def consume():
        async for item in feed.follow(poll_s=0.02):
            got.append(item)

    task = asyncio.create_task(consume())
    # the chunk read: its complete line came out and the cursor after it (which the half line is not part of)
    await until(lambda: any(isinstance(g, CursorMark) for g in got), "the first chunk's cursor")
    events = [g for g in got if hasattr(g, "ts")]
    assert [e.call_id for e in events] == ["c1"]
    assert json.loads(next(g for g in got if isinstance(g, CursorMark)).state)["line"] == 1
    with open(path, "a") as f:
        f.write("ort|NONE|ENTERQUEUE||0507654321|2\n")
    await until(lambda: len([g for g in got if hasattr(g, "ts")]) == 2, "the finished line's event")
    task.cancel()
    events = [g for g in got if hasattr(g, "ts")]
    assert [e.call_id for e in events] == ["c1", "c2"] and events[1].queue == "support"
    assert not [g for g in got if type(g).__name__ == "DeadLetter"]


async def test_a_resumed_reader_remembers_who_was_paused_before_its_cursor(tmp_path):
    """The billing meeting (sample day): agent 1011 is paused for it mid-call; the call ends at 13:07:01 with
    15 s of wrap-up, after which 1011 is back in the meeting, not available. A reader that restarts from a
    cursor saved while that wrap-up was still to come (so the cursor sits at the call's end, after the PAUSE
    row) must still know 1011 was paused — or a restart moves 5 minutes of meeting into 'available'."""
    from wallboard.clock import ManualClock
    from wallboard.events import AgentStateChanged
    from wallboard.feed import CursorMark

    rows = [
        "1795344829|NONE|NONE|PJSIP/1011|UNPAUSEALL|",
        "1795344829|NONE|billing|PJSIP/1011|UNPAUSE|",
        "1795345163|1795345121.49723|billing|PJSIP/1011|CONNECT|6|1795345157.49726|6",
        "1795345205|NONE|NONE|PJSIP/1011|PAUSEALL|",
        "1795345205|NONE|billing|PJSIP/1011|PAUSE|meeting",
        "1795345621|1795345121.49723|billing|PJSIP/1011|COMPLETEAGENT|6|458|1",
    ]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(rows) + "\n")
    config = load_config(ROOT / "config" / "wallboard.toml")
    end = datetime.fromtimestamp(1795345621, timezone.utc)

    async def read(feed, clock, until):
        out = []
        async for item in feed.follow(clock, poll_s=0.01):
            out.append(item)
            if until(out):
                return out

    before_due = ManualClock(end + timedelta(seconds=5))  # the wrap-up end (+15 s) is still to come
    first = await read(QueueLogFeed(str(path), config), before_due, lambda out: isinstance(out[-1], CursorMark))
    mark = first[-1]
    assert json.loads(mark.state)["line"] == 5  # held back to the COMPLETEAGENT row: its inference is pending

    again = QueueLogFeed(str(path), config)
    again.resume(mark.state)
    after_due = ManualClock(end + timedelta(seconds=60))
    second = await read(
        again,
        after_due,
        lambda out: any(
            getattr(e, "ts", None) == end + timedelta(seconds=15) and type(e) is AgentStateChanged for e in out
        ),
    )
    back = [e for e in second if type(e) is AgentStateChanged and e.ts == end + timedelta(seconds=15)]
    assert [(e.agent, e.state, e.reason) for e in back] == [("1011", "paused", "meeting")]


async def test_a_hot_standby_on_the_same_file_shares_the_cursor_without_rereading(redis_client, prefix, tmp_path):
    """Two ingesters following one queue_log (no shards: a hot standby) save the same cursor. Neither takes the
    other's saves for a Redis that lost writes (each counts its own), so neither reads the file again, and the
    counts equal a plain replay."""
    config = _config(prefix)
    path = tmp_path / "queue_log"
    lines = SAMPLE[:3000]
    path.write_text("")
    ings = [Ingest(redis_client, config, QueueLogFeed(str(path), config), name=f"standby-{n}") for n in "ab"]
    tasks = [asyncio.create_task(i.run()) for i in ings]
    key = ings[0].cursor_key(QueueLogFeed(str(path), config).cursor_key())
    try:

        async def read_to(size):
            raw = await redis_client.get(key)
            return raw and json.loads(raw)["offset"] >= size

        with open(path, "a") as f:
            for k in range(0, len(lines), 300):  # written while they follow: the next part once this one is read
                f.writelines(lines[k : k + 300])
                f.flush()
                size = path.stat().st_size
                await until(lambda: read_to(size), "the cursor past the part just written")

        async def at_the_end():
            return await read_to(path.stat().st_size) and all(i.saves for i in ings)

        await until(at_the_end, "the cursor at the end of the file", timeout=20)
        assert [i.rewinds for i in ings] == [0, 0]
        assert all(i.events_applied > 2000 for i in ings)  # both applied the whole file (idempotently)
    finally:
        for i in ings:
            i.stop.set()
        await asyncio.gather(*tasks)
    assert await _figures(redis_client, config, prefix, lines) == await _reference(
        redis_client, prefix, lines, tmp_path
    )


def _watched(directory: Path) -> bool:
    """An inotify watch on ``directory`` is held in this process (``/proc/self/fdinfo`` lists each watch)."""
    mark = re.compile(rf"^inotify wd:\d+ ino:{os.stat(directory).st_ino:x} ", re.M)
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify":
                if mark.search(Path(f"/proc/self/fdinfo/{fd}").read_text()):
                    return True
        except OSError:  # an fd closed meanwhile
            pass
    return False


async def test_a_new_row_wakes_the_follower_without_waiting_for_the_polling_tick(tmp_path):
    """Inotify (watchfiles): with a 30 s polling tick, a row appended is read at once."""
    path = tmp_path / "queue_log"
    path.write_text("")
    feed = QueueLogFeed(str(path), load_config(None), poll_s=30)
    rows = feed.follow()
    try:
        nxt = asyncio.ensure_future(anext(rows))
        # the follower has read the empty file and waits: it watches the file's directory only then
        await until(lambda: _watched(tmp_path), "the follower watching the file's directory")
        assert not nxt.done()
        with open(path, "a") as f:
            f.write(SAMPLE[0])
        item = await asyncio.wait_for(nxt, 5)  # the tick would take 30 s
        assert item is not None
    finally:
        await rows.aclose()
