"""The committed JSON Schema is the model's, a snapshot in DESIGN.md's shape validates against it, and its times
are written one way."""

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from wallboard.events import utc
from wallboard.snapshot import SCHEMA_VERSION, Alert, Snapshot, schema_json

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_matches_the_model():
    committed = (ROOT / "docs" / "snapshot.schema.json").read_text()
    assert committed == schema_json(), "regenerate: python -c 'from wallboard.snapshot import schema_json; ...'"


def test_schema_names_the_contract_fields():
    schema = json.loads(schema_json())
    top = set(schema["properties"])
    assert {"schema_version", "seq", "at", "window", "queues", "total", "agents"} <= top
    q = schema["$defs"]["QueueSnapshot"]["properties"]
    for f in (
        "entered",
        "offered",
        "answered",
        "answered_within_sl",
        "abandoned",
        "short_abandoned",
        "abandoned_within_sl",
        "overflowed",
        "overflowed_by_reason",
        "service_level",
        "sl_formula",
        "asa_s",
        "avg_wait_s",
        "abandon_rate",
        "aht_s",
        "waiting",
        "longest_wait_s",
        "ewt_s",
        "callbacks_pending",
        "oldest_callback_s",
        "callers",
        "agent_counts",
        "rolling",
        "levels",
        "alerts",
    ):
        assert f in q, f
    assert SCHEMA_VERSION == 1


def test_design_example_shape_validates():
    rolling = {"minutes": 30, "since": "2026-11-23T08:45:00Z", "offered": 88, "answered": 80, "service_level": 0.81}
    snap = {
        "seq": 4211,
        "at": "2026-11-23T09:15:02Z",
        "window": {"kind": "since_reset", "since": "2026-11-22T22:00:00Z"},
        "queues": {
            "support": {
                "entered": 412,
                "offered": 398,
                "answered": 351,
                "sl_formula": "excl_short_abandons",
                "sl_threshold_s": 20,
                "short_abandon_s": 5,
                "count_overflow": False,
                "rolling": rolling,
                "levels": {"service_level": "warn"},
                "alerts": {"longest_wait_s": {"level": "breach", "since": "2026-11-23T09:14:40Z"}},
            }
        },
        "total": {"offered": 1230, "answered": 1101, "service_level": 0.77, "waiting": 7, "rolling": rolling},
        "agents": {"1001": {"name": "Gefen", "state": "on_call", "queues": {"support": 0, "tech": 1}}},
    }
    s = Snapshot.model_validate(snap)
    assert s.queues["support"].alerts["longest_wait_s"].level == "breach"
    assert '"agents"' not in s.summary_json()


def test_published_times_are_utc_to_the_second_with_a_z():
    # written once by the model: an aware datetime in, UTC to the whole second, ISO 8601 with a Z out
    at_jerusalem = datetime(2026, 11, 23, 11, 5, 0, 700_000, tzinfo=timezone(timedelta(hours=2)))
    alert = Alert(level="breach", since="2026-11-23T09:00:00Z", snoozed_until=at_jerusalem)
    assert alert.since == datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    assert alert.snoozed_until == datetime(2026, 11, 23, 9, 5, tzinfo=timezone.utc)
    text = '{"level":"breach","since":"2026-11-23T09:00:00Z","acked_by":null,"snoozed_until":"2026-11-23T09:05:00Z"}'
    assert alert.model_dump_json() == text
    assert Alert.model_validate_json(text).model_dump_json() == text  # read back, written the same
    assert utc(alert.snoozed_until) == "2026-11-23T09:05:00Z"  # the labels' text (explain windows) agrees
    with pytest.raises(ValidationError, match="since"):
        Alert(level="warn", since="2026-11-23T09:00:00")  # no time zone: refused, naming the field
