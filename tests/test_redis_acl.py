"""The documented desk ACL on a real server: reads snapshots and adds requests; writes no state."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wallboard.acl import setuser_command

from .conftest import redis_url


def test_desk_user_reads_and_requests_but_writes_no_state(prefix):
    admin = redis.Redis.from_url(redis_url(), decode_responses=True)
    user = f"desk-{uuid.uuid4().hex[:8]}"
    admin.execute_command(*setuser_command(user, prefix), ">deskpass")
    admin.set(f"{prefix}:{{c}}:summary", '{"seq": 1}')
    try:
        desk = redis.Redis.from_url(
            redis_url(), username=user, password="deskpass", decode_responses=True, retry=Retry(NoBackoff(), 0)
        )
        assert desk.get(f"{prefix}:{{c}}:summary") == '{"seq": 1}'
        assert desk.xadd(f"{prefix}:{{c}}:requests", {"type": "ack"})
        assert desk.xrange(f"{prefix}:{{c}}:audit") == []
        refused = [
            lambda: desk.set(f"{prefix}:{{c}}:summary", "forged"),
            lambda: desk.hset(f"{prefix}:{{q:support}}:w:1", "entered", 5),
            lambda: desk.xadd(f"{prefix}:{{c}}:audit", {"result": "ok"}),  # the audit stays append-only for us
            lambda: desk.delete(f"{prefix}:{{c}}:audit"),
            lambda: desk.get(f"{prefix}:{{c}}:requests"),
            lambda: desk.evalsha("0" * 40, 1, f"{prefix}:{{q:support}}"),
            lambda: desk.get("wb:{c}:summary" if prefix != "wb" else "other:{c}:summary"),  # another centre
        ]
        for attempt in refused:
            with pytest.raises(redis.exceptions.NoPermissionError):
                attempt()
        p = desk.pubsub()
        p.subscribe(f"{prefix}:{{c}}:snap")
        assert p.get_message(timeout=1)["type"] == "subscribe"
        p.close()
    finally:
        admin.execute_command("ACL", "DELUSER", user)
        admin.delete(f"{prefix}:{{c}}:summary", f"{prefix}:{{c}}:requests")


def test_acl_command_prints_it():
    out = subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "acl", "desk", "--user", "desk1", "--prefix", "wb"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("redis-cli ACL SETUSER desk1 on resetkeys")
    assert "'%W~wb:{c}:requests'" in out and "-@all" in out
