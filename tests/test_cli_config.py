"""``wallboard check-config`` and the settings precedence: flag > WALLBOARD_* environment > file > defaults,
and REDIS_URL beats the file's redis.url (DESIGN.md, Commands; wallboard.config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wallboard.config import ConfigError, load_config
from wallboard.store import resolve_url

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "wallboard.toml"
WALLBOARD = Path(sys.executable).with_name("wallboard")

BROKEN = """\
[centre]
name = "Broken centre"
timezone = "Mars/Olympus_Mons"
colour = "red"
pause_reasons = ["break", "lunch|dinner"]

[[queues]]
name = "support"
sl_formula = "most_answered"
hours = { sun-thu = "8-20" }

[queues.thresholds.service_level]
warn = 0.70
breach = 0.80
direction = "below"
"""

# field path -> a word its message must contain (each problem named by where it is, with a hint)
BROKEN_PROBLEMS = {
    "centre.timezone": "Mars/Olympus_Mons",
    "centre.colour": "not permitted",
    "centre.pause_reasons": "lunch|dinner",
    "queues.0.sl_formula": "excl_short_abandons",
    "queues.0.hours": "HH:MM-HH:MM",
    "queues.0.thresholds.service_level": "breach",
}


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_") and k != "REDIS_URL"}


def check_config(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(WALLBOARD), "check-config", str(path)], env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for k in list(os.environ):
        if k.startswith("WALLBOARD_") or k == "REDIS_URL":
            monkeypatch.delenv(k)


def test_example_config_is_valid():
    proc = check_config(EXAMPLE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "OK" in proc.stdout
    assert "4 queues" in proc.stdout and "28 agents" in proc.stdout and "Asia/Jerusalem" in proc.stdout


def test_broken_config_lists_every_problem_with_its_path_and_a_hint(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BROKEN, encoding="utf-8")
    proc = check_config(bad)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert str(bad) in out
    lines = out.splitlines()
    for path, word in BROKEN_PROBLEMS.items():
        idx = [i for i, line in enumerate(lines) if line.strip().startswith(f"{path}:")]
        assert len(idx) == 1, f"{path} not named exactly once in:\n{out}"
        i = idx[0]
        assert word in lines[i], lines[i]
        assert i + 1 < len(lines) and lines[i + 1].strip().startswith("hint:") and len(lines[i + 1].strip()) > 10, (
            f"no hint under {path}"
        )
    assert f"{len(BROKEN_PROBLEMS)} problem(s)" in out


def test_the_desk_offers_every_pause_reason_the_simulated_agents_give():
    from wallboard.sim.scenarios import SCENARIOS, scenario_by_name

    for config in (EXAMPLE, ROOT / "wallboard" / "data" / "demo.toml"):
        offered = set(load_config(config).centre.pause_reasons)
        for name in SCENARIOS:
            given = {b.reason for b in scenario_by_name(name, ["support"]).break_reasons}
            assert given <= offered, (config.name, name, given - offered)


@pytest.mark.parametrize(
    "value, where, says",
    [
        ({"day": "x"}, "targets.queues.support.service_level.day", "valid number"),
        ({"dya": 0.8}, "targets.queues.support.service_level.dya", "not permitted"),
        ("abc", "targets.queues.support.service_level", "valid number"),
    ],
)
def test_a_target_written_either_way_is_named_where_it_is(value, where, says):
    """A target is a number or a table of periods: a wrong one is named by its place in the file, once, not
    by the type members pydantic tried (``...service_level.float``, ``...PeriodTargets.day``)."""
    with pytest.raises(ConfigError) as ei:
        load_config(None, targets={"queues": {"support": {"service_level": value}}})
    [(path, msg, _)] = ei.value.problems
    assert path == where and says in msg


TARGETS_BROKEN = """
[[queues]]
name = "support"

[[queues]]
name = "chat"
channel = "chat"

[targets.agents]
calls_handled = -5
occupancy = 7
aht_s = -3
answer_rate = true
nps = 30
csat = { day = 0.8, week = 1.5 }

[targets.queues.support]
service_level = 80
answer_rate = {}
abandon_rate = -0.1

[targets.queues.chat]
occupancy = 0.8
"""
TARGETS_PROBLEMS = {  # path: what its line says (by hand from the file above)
    "targets.agents.calls_handled": "-5 is negative: a count is 0 or more",
    "targets.agents.occupancy": "7 is not a share between 0 and 1 (7 % is written 0.07)",
    "targets.agents.aht_s": "-3 is negative: a time in seconds is 0 or more",
    "targets.agents.answer_rate": "true is not a target: write a number",
    "targets.agents.nps": "30 is not a score between -1 and 1 (an NPS of 30 is written 0.3)",
    "targets.agents.csat.week": "1.5 is not a share between 0 and 1",
    "targets.queues.support.service_level": "80 is not a share between 0 and 1 (80 % is written 0.8)",
    "targets.queues.support.answer_rate": "an empty table sets no target",
    "targets.queues.support.abandon_rate": "-0.1 is not a share between 0 and 1",
    "targets.queues.chat.occupancy": "queue chat is a written queue (chat): it has no occupancy",
}


def test_check_config_refuses_targets_out_of_their_range_each_named_where_it_is(tmp_path):
    bad = tmp_path / "targets.toml"
    bad.write_text(TARGETS_BROKEN, encoding="utf-8")
    proc = check_config(bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out
    lines = [line.strip() for line in out.splitlines()]
    for path, says in TARGETS_PROBLEMS.items():
        [i] = [i for i, line in enumerate(lines) if line.startswith(f"{path}:")]
        assert says in lines[i], lines[i]
        assert lines[i + 1].startswith("hint:") and len(lines[i + 1]) > 10, f"no hint under {path}"
    assert "80 % is written 0.8" in out  # the hint for a share typed as a percentage
    assert f"{len(TARGETS_PROBLEMS)} problem(s)" in out


@pytest.mark.parametrize(
    "figure, value",
    [("service_level", 0), ("service_level", 1), ("aht_s", 0), ("aht_s", 300), ("answer_rate", {"week": 0.9})],
)
def test_targets_at_their_bounds_load(figure, value):
    config = load_config(None, targets={"queues": {"support": {figure: value}}})
    assert config.targets.queues["support"][figure] is not None


def test_a_target_for_a_queue_of_no_entry_is_a_warning_naming_it(tmp_path):
    """Queues can appear on the fly, so a target for an unknown queue loads; a typo is named, not silent."""
    typo = tmp_path / "typo.toml"
    typo.write_text(
        '[[queues]]\nname = "support"\n[targets.queues.suport]\nservice_level = 0.8\n'
        '[targets.queues."*"]\nanswer_rate = 0.9\n',
        encoding="utf-8",
    )
    proc = check_config(typo)
    assert proc.returncode == 0 and "OK" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"{typo}: warning: targets.queues.suport: no [[queues]] entry is named 'suport': these targets apply only "
        "if a queue of that name appears on the fly (a typo?)"
    ]


@pytest.mark.parametrize(
    "reason, ok",
    [
        ("lunch", True),
        ("הפסקה", True),  # any language's letters
        ("lunch\u202e", False),  # a right-to-left override: turns the desk's text around
        ("lunch\u2067", False),  # an isolate
        ("x\x85", False),  # a C1 control (NEL)
        ("a\u2028b", False),  # a line separator
        ("a|b", False),  # queue_log's separator
    ],
)
def test_a_pause_reason_is_plain_text_in_the_config_and_on_a_request(reason, ok):
    from datetime import datetime, timezone

    from pydantic import ValidationError

    from wallboard.actions.model import Pause

    try:
        load_config(None, centre={"pause_reasons": [reason]})
        config_ok = True
    except ConfigError as e:
        config_ok = False
        assert [p for p, _, _ in e.problems] == ["centre.pause_reasons"]
    try:
        Pause(type="pause", user="rivka", agent="1001", reason=reason, at=datetime.now(timezone.utc))
        request_ok = True
    except ValidationError:
        request_ok = False
    assert (config_ok, request_ok) == (ok, ok)


def test_broken_config_raises_config_error_in_process(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        load_config(bad)
    assert {p for p, _, _ in ei.value.problems} == set(BROKEN_PROBLEMS)
    assert all(hint for _, _, hint in ei.value.problems)


def test_invalid_toml_syntax_gives_a_clear_message(tmp_path):
    bad = tmp_path / "syntax.toml"
    bad.write_text('[centre]\ntimezone = "UTC"\nrolling_minutes = = 5\n', encoding="utf-8")
    proc = check_config(bad)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    assert "not valid TOML" in out
    assert "line 3" in out  # where the syntax error is
    assert "hint:" in out


def test_a_password_in_the_config_file_is_refused_not_echoed(tmp_path, monkeypatch):
    """Secrets come from the environment or secret files: a config file is copied, committed, shown."""
    bad = tmp_path / "pw.toml"
    bad.write_text('[redis]\nurl = "redis://svc:hunter2@10.0.0.5:6379/0"\n', encoding="utf-8")
    proc = check_config(bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "redis.url" in out and "REDIS_URL" in out and "password_file" in out
    assert "hunter2" not in out
    # the same URL from the environment is how it is meant to be given
    ok = tmp_path / "ok.toml"
    ok.write_text('[redis]\nurl = "redis://10.0.0.5:6379/0"\n', encoding="utf-8")
    monkeypatch.setenv("REDIS_URL", "redis://svc:hunter2@10.0.0.5:6379/0")
    assert load_config(ok).redis.url == "redis://svc:hunter2@10.0.0.5:6379/0"


def test_missing_file_is_named(tmp_path):
    proc = check_config(tmp_path / "nowhere.toml")
    assert proc.returncode != 0
    assert "nowhere.toml does not exist" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_precedence_file_then_environment_then_flag(monkeypatch):
    # the file alone
    cfg = load_config(EXAMPLE)
    assert cfg.centre.timezone == "Asia/Jerusalem" and cfg.centre.rolling_minutes == 30

    # the environment beats the file; what it does not set still comes from the file
    monkeypatch.setenv("WALLBOARD_CENTRE__TIMEZONE", "UTC")
    monkeypatch.setenv("WALLBOARD_CENTRE__ROLLING_MINUTES", "15")
    cfg = load_config(EXAMPLE)
    assert cfg.centre.timezone == "UTC"
    assert cfg.centre.rolling_minutes == 15
    assert cfg.centre.name == "Example Bank — customer service"
    assert len(cfg.queues) == 4

    # a flag beats the environment, and leaves the rest of the section alone
    cfg = load_config(EXAMPLE, centre={"rolling_minutes": 7})
    assert cfg.centre.rolling_minutes == 7
    assert cfg.centre.timezone == "UTC"
    assert cfg.centre.name == "Example Bank — customer service"
    cfg = load_config(EXAMPLE, centre={"timezone": "Europe/London"})
    assert cfg.centre.timezone == "Europe/London" and cfg.centre.rolling_minutes == 15

    # defaults under everything
    monkeypatch.delenv("WALLBOARD_CENTRE__TIMEZONE")
    monkeypatch.delenv("WALLBOARD_CENTRE__ROLLING_MINUTES")
    cfg = load_config(None)
    assert cfg.centre.timezone == "UTC" and cfg.centre.rolling_minutes == 30 and cfg.queues == []


def test_a_bad_environment_value_is_reported_with_its_path(monkeypatch):
    monkeypatch.setenv("WALLBOARD_CENTRE__TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ConfigError) as ei:
        load_config(EXAMPLE)
    assert [p for p, _, _ in ei.value.problems] == ["centre.timezone"]


def test_redis_url_beats_the_file(tmp_path, monkeypatch):
    f = tmp_path / "r.toml"
    f.write_text('[redis]\nurl = "redis://from-file:6379/0"\nprefix = "filepfx"\n', encoding="utf-8")
    cfg = load_config(f)
    assert cfg.redis.url == "redis://from-file:6379/0"
    assert resolve_url(cfg) == "redis://from-file:6379/0"

    monkeypatch.setenv("REDIS_URL", "redis://from-env:6380/1")
    cfg = load_config(f)
    assert cfg.redis.url == "redis://from-env:6380/1"
    assert cfg.redis.prefix == "filepfx"  # the rest of [redis] still comes from the file
    assert resolve_url(cfg) == "redis://from-env:6380/1"
    # it also beats WALLBOARD_REDIS__URL (as the file's value would be beaten)
    monkeypatch.setenv("WALLBOARD_REDIS__URL", "redis://from-wallboard-env:6381/2")
    assert load_config(f).redis.url == "redis://from-env:6380/1"
    # and a --redis flag beats REDIS_URL
    assert load_config(f, redis={"url": "redis://from-flag:6382/3"}).redis.url == "redis://from-flag:6382/3"
    assert resolve_url(cfg, "redis://from-flag:6382/3") == "redis://from-flag:6382/3"


def test_the_demo_holds_the_example_centre_s_queues_to_its_thresholds_and_targets():
    """The demo is the example centre open around the clock (with a chat and an e-mail queue more): its queues'
    thresholds and the targets (shown beside the figures on the desk and the TV, marked in reports and
    scorecards) are the example's."""
    example, demo = load_config(EXAMPLE), load_config(ROOT / "wallboard" / "data" / "demo.toml")
    assert demo.targets == example.targets
    assert demo.targets.queues["support"]["service_level"].day == 0.80  # there at all: not two empty tables
    thresholds = {q.name: q.thresholds for q in demo.queues}
    assert {q.name: thresholds.get(q.name) for q in example.queues} == {q.name: q.thresholds for q in example.queues}
