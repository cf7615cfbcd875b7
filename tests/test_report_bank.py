"""Issue 8: a monthly report of real data. February 1999 of the Anonymous Bank is replayed into a kept namespace,
then ``wallboard report --period month --from 1999-02-01 --format json`` (the real clock: 1999 is decades ago,
so the test config keeps minute buckets and rollups long enough) is checked against figures computed here from
the raw file (the parser below mirrors tests/test_bank_replay.py; it does not use feeds.calls_csv)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import date

import pytest

from feeds.calls_csv import CallsCsvFeed
from wallboard.cli import main as cli_main
from wallboard.config import load_config
from wallboard.replay import drop_namespace_sync, replay

from .conftest import redis_url, shared_data

NA = "0:00:00"
SL_THRESHOLD_S = 20
QUEUES = ("PS", "PE", "IN", "NE", "NW", "TT")
# minute buckets and rollups must outlive "now" by the age of the 1999 data (about 27 years) plus margin
KEEP_DAYS = (date.today() - date(1999, 1, 1)).days + 400


def _happened(start: str, end: str, secs: str) -> bool:
    return start != NA or end != NA or int(secs) != 0


def expected_from_raw(lines: list[str]) -> tuple[dict, dict]:
    """Per queue: offered, answered, abandoned, wait of the answered; per agent (server): calls handled."""
    q: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    agents: dict[str, int] = defaultdict(int)
    for line in lines:
        f = line.rstrip("\n").split("\t")
        typ, qs, qx, qt, outcome, ss, sx, st, server = f[4], f[9], f[10], f[11], f[12], f[13], f[14], f[15], f[16]
        queued, served = _happened(qs, qx, qt), _happened(ss, sx, st)
        c = q[typ]
        if outcome == "AGENT" and (queued or served):
            c["answered"] += 1
            c["wait_answered_s"] += int(qt) if queued else 0
            if server.strip() and server.strip() != "NO_SERVER":
                agents[server.strip()] += 1
        elif outcome == "HANG" and queued:
            c["abandoned"] += 1
    out = {}
    for name, c in q.items():
        if c["answered"] + c["abandoned"]:
            out[name] = {
                "offered": c["answered"] + c["abandoned"],
                "answered": c["answered"],
                "abandoned": c["abandoned"],
                "asa_s": c["wait_answered_s"] / c["answered"] if c["answered"] else None,
            }
    return out, dict(agents)


def write_config(tmp_path, prefix: str):
    parts = [
        f'[redis]\nprefix = "{prefix}"\n',
        f'[centre]\nname = "Anonymous Bank"\ntimezone = "Asia/Jerusalem"\nbucket_expiry_h = {KEEP_DAYS * 24}\n',
        f"[history]\ninterval_keep_days = {KEEP_DAYS}\ndaily_keep_days = {KEEP_DAYS}\n",
    ]
    parts += [f'[[queues]]\nname = "{n}"\nsl_threshold_s = {SL_THRESHOLD_S}\n' for n in QUEUES]
    p = tmp_path / "bank.toml"
    p.write_text("\n".join(parts), encoding="utf-8")
    return p


@pytest.mark.slow
def test_monthly_report_of_a_real_month(tmp_path, prefix, capsys):
    path = shared_data() / "anonymous_bank" / "02_February.txt"
    with open(path, encoding="ascii") as fh:
        _, *rows = fh.readlines()
    rows = [r for r in rows if r.strip()]
    expected, exp_agents = expected_from_raw(rows)
    cfg_path = write_config(tmp_path, prefix)
    config = load_config(cfg_path)
    try:
        asyncio.run(
            replay(
                CallsCsvFeed(path, config, mapping="bank"),
                config,
                redis_url=redis_url(),
                prefix=prefix,
                window_mode="all",
            )
        )
        capsys.readouterr()
        rc = cli_main(
            [
                "report",
                "--period",
                "month",
                "--from",
                "1999-02-01",
                "--format",
                "json",
                "--config",
                str(cfg_path),
                "--redis",
                redis_url(),
            ]
        )
        out = capsys.readouterr()
        assert rc == 0, out.err
        rep = json.loads(out.out)
    finally:
        import redis

        client = redis.Redis.from_url(redis_url())
        drop_namespace_sync(client, prefix)
        client.close()
    assert rep["period"]["key"] == "1999-02" and rep["period"]["first"] == "1999-02-01"
    assert len(rep["queues"]["PS"]["rows"]) == 28
    for name, exp in sorted(expected.items()):
        got = rep["queues"][name]["total"]
        for k in ("offered", "answered", "abandoned"):
            assert got[k] == exp[k], f"{name}.{k}: report {got[k]}, raw file {exp[k]}"
        assert got["asa_s"] == pytest.approx(exp["asa_s"], abs=1e-6), name
    assert rep["total"]["offered"] == sum(e["offered"] for e in expected.values())
    sample = sorted(exp_agents, key=lambda a: (-exp_agents[a], a))
    sample = [sample[0], sample[len(sample) // 2], sample[-1]]
    for a in sample:
        assert rep["agents"][a]["total"]["calls_handled"] == exp_agents[a], a
    assert set(rep["agents"]) == set(exp_agents)
