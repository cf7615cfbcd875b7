"""Issue 8: ``wallboard staff --from-history`` takes its intervals from stored history (a past day, or the mean of
the same weekday over past weeks): the sample day replayed into a kept namespace; the staffing intervals' calls
equal the day report's per-interval offered."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis

from feeds.queue_log import QueueLogFeed
from wallboard.cli import main as cli_main
from wallboard.config import load_config
from wallboard.history.calendar import CentreCalendar
from wallboard.replay import drop_namespace_sync, replay

from .conftest import redis_url

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
CONFIG = ROOT / "config" / "wallboard.toml"


def _run(capsys, argv: list[str]) -> dict:
    capsys.readouterr()
    rc = cli_main([*argv, "--config", str(CONFIG), "--redis", redis_url()])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_staff_from_history_matches_the_report(prefix, capsys):
    config = load_config(CONFIG, redis={"prefix": prefix})
    events = list(QueueLogFeed(SAMPLE, config).read())
    day = CentreCalendar(config.centre).day_of(events[0].ts.timestamp()).isoformat()
    try:
        asyncio.run(replay(QueueLogFeed(SAMPLE, config), config, redis_url=redis_url(), prefix=prefix))
        rep = _run(
            capsys,
            [
                "report",
                "--period",
                "day",
                "--from",
                day,
                "--detail",
                "interval",
                "--format",
                "json",
                "--prefix",
                prefix,
            ],
        )
        queue = max(rep["queues"], key=lambda q: rep["queues"][q]["total"]["offered"])
        base = ["staff", "--from-history", "--queue", queue, "--day", day, "--json", "--prefix", prefix]
        st = _run(capsys, base)
        hourly = _run(capsys, [*base, "--history-interval", "60"])
        avg = _run(capsys, [*base, "--weekdays", "3"])  # the weeks before hold nothing: the one day
        assert cli_main(["staff", "--from-history", "--queue", queue, "--config", str(CONFIG)]) == 2
        assert "--day" in capsys.readouterr().err
    finally:
        client = redis.Redis.from_url(redis_url())
        drop_namespace_sync(client, prefix)
        client.close()
    offered = {r["label"]: r["offered"] for r in rep["queues"][queue]["rows"] if r["offered"]}
    assert sum(offered.values()) == rep["queues"][queue]["total"]["offered"] > 100
    got = {r["start"]: r["calls"] for r in st["intervals"]}
    assert got == offered
    assert all(r["interval_s"] == 900 and r["agents"] > 0 and r["aht_s"] > 0 for r in st["intervals"])
    assert sum(r["calls"] for r in hourly["intervals"]) == sum(offered.values())
    assert all(r["start"].endswith(":00") and r["interval_s"] == 3600 for r in hourly["intervals"])
    assert {r["start"]: r["calls"] for r in avg["intervals"]} == offered
    assert st["source"]["queue"] == queue and st["source"]["days_counted"] == 1
