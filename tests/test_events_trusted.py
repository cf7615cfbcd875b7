"""The queue_log feed makes its events without validating them again (``wallboard.events.trusted``: the row's
fields are already parsed, typed and bounded by the feed; only the checks at the edges run), which is about half
the cost of a pydantic validation. These tests read the same files both ways, the feed's and with every event
validated (``cls(**values)``, what the feed did before), and compare them item by item: the same items in the
same order, each event of the same type with equal fields, fields of the same Python types (an int where a
float belongs would write "30" for "30.0"), the same fields set and the same JSON; dead letters with the same
reasons. Files: the sample day with the example config (wrap-up inferred, pauses, transfers), a bank month
written as a queue_log with its agents (``bench/bank_queue_log.py``) with no wrap-up and with 30 s of it, and
rows made to fail each check at the edges (names seen for the first time, a bad call id, a wrap-up end or a
join past the time bounds)."""

from __future__ import annotations

import sys
import time
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

import feeds.queue_log as QL
from feeds.queue_log import QueueLogFeed
from wallboard.config import load_config
from wallboard.events import MAX_AHEAD_S, trusted
from wallboard.feed import DeadLetter

from .conftest import shared_data

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "sample_day.queue_log"


def _validated(cls, values):
    return cls(**values)


def _read_both(path, config, monkeypatch) -> tuple[list, list, int]:
    """The file read the feed's way and with every event validated; and how many models the feed's way
    validated (pydantic's ``__init__`` counted): the trusted path must be the one taken, not a fallback."""
    calls = 0
    init = BaseModel.__init__

    def counted(self, /, **data):
        nonlocal calls
        calls += 1
        init(self, **data)

    with monkeypatch.context() as m:
        m.setattr(BaseModel, "__init__", counted)
        fast = list(QueueLogFeed(path, config).read())
    with monkeypatch.context() as m:
        m.setattr(QL, "_event", _validated)
        slow = list(QueueLogFeed(path, config).read())
    return fast, slow, calls


def _assert_same(fast: list, slow: list) -> int:
    assert len(fast) == len(slow)
    events = 0
    for a, b in zip(fast, slow):
        assert type(a) is type(b), (a, b)
        if isinstance(a, DeadLetter):
            assert (a.source, a.reason, a.raw) == (b.source, b.reason, b.raw)
            continue
        events += 1
        assert a == b, (a, b)
        assert a.__dict__ == b.__dict__ and list(a.__dict__) == list(b.__dict__), (a, b)
        assert [type(v) for v in a.__dict__.values()] == [type(v) for v in b.__dict__.values()], (a, b)
        assert a.model_fields_set == b.model_fields_set, (a, b)
        assert a.model_dump_json() == b.model_dump_json()
        assert (a.__pydantic_extra__, a.__pydantic_private__) == (b.__pydantic_extra__, b.__pydantic_private__)
    return events


def test_the_sample_day_made_unvalidated_is_what_validation_makes(monkeypatch):
    data = tomllib.loads((ROOT / "config" / "wallboard.toml").read_text(encoding="utf-8"))
    data.pop("redis")
    config = load_config(None, **data)
    fast, slow, validated = _read_both(SAMPLE, config, monkeypatch)
    events = _assert_same(fast, slow)
    kinds = {type(e).__name__ for e in fast}
    assert {"CallerJoined", "CallerAnswered", "CallCompleted", "WrapupCompleted", "AgentStateChanged"} <= kinds
    assert {"CallerAbandoned", "CallerOverflowed"} <= kinds
    assert any(getattr(e, "pause_pending", False) for e in fast)  # copies made from trusted ones, too
    assert events > 3000 and validated < events / 20, (events, validated)


@pytest.mark.parametrize("wrapup_s", [0, 30])
def test_a_bank_month_made_unvalidated_is_what_validation_makes(tmp_path, monkeypatch, wrapup_s):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bank_queue_log as BQ
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert (shared_data() / "anonymous_bank").is_dir()
    path = tmp_path / "bank.queue_log"
    with open(path, "w", encoding="utf-8") as f:
        lines = BQ.write(["01_January"], f)
    queues = sorted({line.split("|")[2] for line in path.read_text(encoding="utf-8").splitlines()})
    config = load_config(None, queues=[{"name": q, "wrapup_s": wrapup_s} for q in queues])
    fast, slow, validated = _read_both(path, config, monkeypatch)
    events = _assert_same(fast, slow)
    assert lines > 40_000 and events > lines  # (47,523 lines)
    assert (sum(type(e).__name__ == "WrapupCompleted" for e in fast) > 10_000) == (wrapup_s > 0)
    assert validated < events / 20, (events, validated)


def test_rows_failing_the_edges_are_the_same_dead_letters(tmp_path, monkeypatch):
    now = int(time.time())
    late = now + int(MAX_AHEAD_S) - 5  # its row passes; the end of its wrap-up, 30 s later, is past the bounds
    rows = [
        "1000000000|c1|q{1}|NONE|ENTERQUEUE||0501|1",  # a queue name breaking a hash tag
        "1000000000|c2|fresh-queue|NONE|ENTERQUEUE||0501|1",  # a good name seen for the first time
        "1000000001|c2|fresh-queue|Agent/a\x01b|CONNECT|5|c2|2",  # an agent with a control character
        "1000000002|c\x02d|fresh-queue|NONE|ENTERQUEUE||0501|1",  # a call id with a control character
        f"1000000003|{'x' * 300}|fresh-queue|NONE|ENTERQUEUE||0501|1",  # a call id too long
        "631152010|c3|fresh-queue|NONE|ABANDON|1|1|20",  # its join, 20 s before, is before 1990
        "1000000004|c4|fresh-queue|Agent/new-agent|CONNECT|5|c4|2",  # an agent seen for the first time
        f"{late}|c4|fresh-queue|Agent/new-agent|COMPLETEAGENT|5|60|1",
        f"{late}|c5|fresh-queue|NONE|ENTERQUEUE||0501|1",
    ]
    path = tmp_path / "queue_log"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = load_config(None, queues=[{"name": "fresh-queue", "wrapup_s": 30}])
    fast, slow, _ = _read_both(path, config, monkeypatch)
    _assert_same(fast, slow)
    dead = [d.reason for d in fast if isinstance(d, DeadLetter)]
    assert len(dead) == 6, dead
    assert "hash tag" in dead[0] and "control character" in dead[1] and "control character" in dead[2]
    assert "longer than 256" in dead[3] and "before 1990-01-01" in dead[4] and "after the wall clock" in dead[5]


def test_trusted_refuses_what_validation_refuses_with_its_reason():
    # a name never seen: validation decides, and says why
    from datetime import datetime, timezone

    from pydantic import ValidationError

    from wallboard.events import CallerJoined

    values = {
        "id": "x:1",
        "ts": datetime(2026, 1, 1, tzinfo=timezone.utc),
        "source": "s",
        "queue": "q|",
        "call_id": "c",
    }
    with pytest.raises(ValidationError) as made:
        trusted(CallerJoined, values)
    with pytest.raises(ValidationError) as validated:
        CallerJoined(**values)
    assert made.value.errors()[0]["msg"] == validated.value.errors()[0]["msg"]
    assert "queue_log's field separator" in made.value.errors()[0]["msg"]


def test_every_event_the_feed_makes_unvalidated_gives_its_required_fields():
    # trusted() does not check for them (it would cost a fifth of what it saves): every call in the feed names
    # its class and gives its fields as a dict literal, which must hold every field the class requires
    import ast

    import wallboard.events as E

    calls = [
        node
        for node in ast.walk(ast.parse(Path(QL.__file__).read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_event"
    ]
    assert len(calls) >= 9
    made = set()
    for call in calls:
        cls_node, values = call.args
        assert isinstance(cls_node, ast.Name) and isinstance(values, ast.Dict), ast.unparse(call)
        cls = getattr(E, cls_node.id)
        given = {k.value for k in values.keys if isinstance(k, ast.Constant)}
        assert len(given) == len(values.keys)  # no ** in the literal
        required = {n for n, f in cls.model_fields.items() if f.is_required()}
        assert required <= given, (cls_node.id, required - given)
        assert given <= set(cls.model_fields), (cls_node.id, given - set(cls.model_fields))
        made.add(cls_node.id)
    assert made == {
        "CallerJoined",
        "CallerAnswered",
        "CallCompleted",
        "WrapupCompleted",
        "CallerAbandoned",
        "CallerOverflowed",
        "AgentStateChanged",
    }
