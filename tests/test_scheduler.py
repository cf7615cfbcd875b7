"""Scheduled delivery against a REAL SMTP server (aiosmtpd, in its own thread, started here), on a manual
clock: once per period, across restarts and between two schedulers; retries with backoff while the server is
down; STARTTLS and login with the password from a file, never logged. The e-mailed report is read back: subject,
recipients, HTML body with its SVG, HTML and CSV attachments -- and the HTML rendered to a PNG by Chromium."""

from __future__ import annotations

import asyncio
import csv
import email
import io
import logging
import shutil
import ssl
import subprocess
from datetime import date, datetime, timedelta
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.events import AgentStateChanged
from wallboard.history.calendar import CentreCalendar
from wallboard.reports.scheduler import ReportScheduler

from .conftest import free_port
from .test_rollup import day_events

TZ = ZoneInfo("Asia/Jerusalem")
PASSWORD = "s3cret-Pa55word"


def local(*a) -> datetime:
    return datetime(*a, tzinfo=TZ)


class Inbox:
    def __init__(self):
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login if session.auth_data else None
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                "login": login,
                "msg": email.message_from_bytes(envelope.content, policy=policy.default),
            }
        )
        return "250 OK"


def start_server(port: int, **kw) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    return ctl, inbox


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def servers():
    started: list[Controller] = []
    yield started
    for c in started:
        c.stop()


def scheduler_config(port: int, **smtp):
    return dict(
        centre={"name": "Test centre", "timezone": "Asia/Jerusalem", "week_start": "sunday"},
        queues=[{"name": "support", "label": "Customer service"}],
        smtp={
            "host": "127.0.0.1",
            "port": port,
            "sender": "wallboard@example.com",
            "retry_initial_s": 60,
            "retry_max_s": 600,
            "timeout_s": 5,
            **smtp,
        },
        reports=[
            {
                "name": "daily",
                "period": "day",
                "at": "07:00",
                "recipients": ["manager@example.com", "ops@example.com"],
                "queues": ["support"],
            }
        ],
    )


async def loaded_engine(make_engine, port, **smtp):
    eng = await make_engine(**scheduler_config(port, **smtp))
    logout = AgentStateChanged(
        id="out", ts=datetime(2026, 11, 23, 12, 45, tzinfo=TZ), source="t", agent="1002", state="logged_out"
    )
    await eng.apply([*day_events(), logout])  # Mon 23 Nov 2026, 11:00-12:30 local
    return eng


def render_png(html_path: Path) -> Path | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:
        return None
    png = html_path.with_suffix(".png")
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1100,1600",
            f"--screenshot={png}",
            html_path.as_uri(),
        ],
        capture_output=True,
        timeout=60,
    )
    return png


async def test_sends_once_per_period_across_restarts(make_engine, redis_client, smtp_port, servers, tmp_path):
    ctl, inbox = start_server(smtp_port)
    servers.append(ctl)
    eng = await loaded_engine(make_engine, smtp_port)
    clock = ManualClock(local(2026, 11, 24, 6, 0))
    s1 = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=clock)
    assert await s1.tick() == []  # first start: what was due before is not mailed; Monday's is due at 07:00
    assert await s1.next_wake() == local(2026, 11, 24, 7, 0)
    clock.set(local(2026, 11, 24, 6, 59, 59))
    assert await s1.tick() == []
    clock.set(local(2026, 11, 24, 7, 0))
    done = await s1.tick()
    assert [(d["period"], d["state"], d["attempts"]) for d in done] == [("2026-11-23", "sent", 1)]
    clock.set(local(2026, 11, 24, 7, 0, 30))
    assert await s1.tick() == []
    # a restart inside the delivery window: the new process finds it sent
    s2 = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=ManualClock(local(2026, 11, 24, 7, 5)))
    assert await s2.tick() == []
    assert len(inbox.messages) == 1

    got = inbox.messages[0]
    msg = got["msg"]
    assert got["from"] == "wallboard@example.com" and got["to"] == ["manager@example.com", "ops@example.com"]
    assert msg["Subject"] == "Test centre — daily report — Mon 23 Nov 2026"
    assert msg["To"] == "manager@example.com, ops@example.com"
    assert msg["Message-ID"] == f"<wallboard.{eng.keys.prefix}.daily.2026-11-23@example.com>"
    body = msg.get_body(("html",)).get_content()
    assert "<svg" in body and "Customer service" in body
    assert "Customer service: 6 / 3 / 2 / 25.0%" in msg.get_body(("plain",)).get_content()
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert set(files) == {"report-2026-11-23.html", "report-2026-11-23.csv"}
    rows = list(csv.DictReader(io.StringIO(files["report-2026-11-23.csv"])))
    support = next(r for r in rows if r["section"] == "queue_total" and r["name"] == "support")
    assert (support["entered"], support["answered"], support["service_level"]) == ("6", "3", "0.25")
    assert {r["name"] for r in rows if r["section"] == "agent_total"} == {"1001", "1002"}
    html = tmp_path / "report-2026-11-23.html"
    html.write_text(files["report-2026-11-23.html"], encoding="utf-8")
    attached = files["report-2026-11-23.html"]
    assert "<svg" in attached and "Daily report · <b>Mon 23 Nov 2026</b>" in attached
    assert all(p.get_content_charset() == "utf-8" for p in msg.iter_attachments())
    png = render_png(html)
    if png is not None:  # Chromium is there: the page renders (look at it: the path is printed)
        assert png.exists() and png.stat().st_size > 20_000
        print(f"rendered report: {png}")

    # the next day's report (an empty day: sent all the same, saying so)
    clock.set(local(2026, 11, 25, 7, 0))
    done = await s1.tick()
    assert [d["period"] for d in done] == ["2026-11-24"] and len(inbox.messages) == 2
    assert "No data was recorded" in inbox.messages[1]["msg"].get_body(("html",)).get_content()
    states = {(d["period"], d["state"], d["attempts"]) for d in await s1.deliveries()}
    assert states == {("2026-11-23", "sent", 1), ("2026-11-24", "sent", 1)}


async def test_two_schedulers_send_one_message(make_engine, redis_client, smtp_port, servers):
    ctl, inbox = start_server(smtp_port)
    servers.append(ctl)
    eng = await loaded_engine(make_engine, smtp_port)
    a = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=ManualClock(local(2026, 11, 24, 6, 0)))
    await a.tick()
    clocks = [ManualClock(local(2026, 11, 24, 7, 1)) for _ in range(2)]
    both = [ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=c) for c in clocks]
    done = await asyncio.gather(*(s.tick() for s in both))
    assert sorted(len(d) for d in done) == [0, 1] and len(inbox.messages) == 1


async def test_a_hebrew_schedule_mails_the_report_in_hebrew(make_engine, redis_client, smtp_port, servers):
    ctl, inbox = start_server(smtp_port)
    servers.append(ctl)
    cfg = scheduler_config(smtp_port)
    cfg["reports"][0]["language"] = "he"
    eng = await make_engine(**cfg)
    await eng.apply(day_events())
    clock = ManualClock(local(2026, 11, 24, 6, 0))
    s = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=clock)
    await s.tick()  # first start: what was due before is not mailed
    clock.set(local(2026, 11, 24, 7, 0))
    assert [d["state"] for d in await s.tick()] == ["sent"]
    msg = inbox.messages[0]["msg"]
    assert msg["Subject"] == "Test centre — דוח daily — Mon 23 Nov 2026"
    html = msg.get_body(("html",)).get_content()
    assert '<html lang="he" dir="rtl">' in html and "<h2>סיכום</h2>" in html
    assert "הוצעו / נענו / ננטשו" in msg.get_body(("plain",)).get_content()
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert ",כל התורים," in files["report-2026-11-23.csv"]


async def test_retries_with_backoff_while_the_server_is_down(make_engine, redis_client, smtp_port, servers, caplog):
    eng = await loaded_engine(make_engine, smtp_port)  # nothing listens on the port yet
    clock = ManualClock(local(2026, 11, 24, 6, 0))
    s = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=clock)
    await s.tick()
    clock.set(local(2026, 11, 24, 7, 0))
    with caplog.at_level(logging.WARNING, logger="wallboard.reports.scheduler"):
        [d] = await s.tick()
    assert d["state"] == "failed" and d["failures"] == 1 and "SMTP 127.0.0.1" in d["error"]
    assert d["next_attempt"] == local(2026, 11, 24, 7, 1).isoformat()
    assert "not sent (attempt 1)" in caplog.text
    clock.set(local(2026, 11, 24, 7, 0, 59))
    assert await s.tick() == [] and await s.next_wake() == local(2026, 11, 24, 7, 1)
    clock.set(local(2026, 11, 24, 7, 1))
    [d] = await s.tick()  # still down: the wait doubles
    assert d["failures"] == 2 and d["next_attempt"] == local(2026, 11, 24, 7, 3).isoformat()
    ctl, inbox = start_server(smtp_port)
    servers.append(ctl)
    clock.set(local(2026, 11, 24, 7, 2))
    assert await s.tick() == [] and inbox.messages == []
    # a restart during the backoff honours it too
    s = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=clock)
    assert await s.tick() == []
    clock.set(local(2026, 11, 24, 7, 3))
    [d] = await s.tick()
    assert (d["state"], d["attempts"], d["failures"]) == ("sent", 3, 2) and len(inbox.messages) == 1
    clock.set(local(2026, 11, 24, 8, 0))
    assert await s.tick() == [] and len(inbox.messages) == 1
    # every attempt is recorded
    log = await redis_client.xrange(f"{eng.keys.centre}:reports:log")
    assert [e[1]["state"] for e in log] == ["sending", "failed", "sending", "failed", "sending", "sent"]


async def test_starttls_login_password_from_a_file_never_logged(
    make_engine, redis_client, smtp_port, servers, tls_files, tmp_path, caplog
):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == b"reports"
            and auth_data.password == PASSWORD.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    ctl, inbox = start_server(
        smtp_port,
        tls_context=server_ctx,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    servers.append(ctl)
    secret = tmp_path / "smtp-password"
    secret.write_text("wrong-" + PASSWORD + "\n", encoding="utf-8")
    eng = await loaded_engine(make_engine, smtp_port, tls="starttls", username="reports", password_file=str(secret))
    client_ctx = ssl.create_default_context(cafile=str(cert))
    from wallboard.reports.mail import SmtpMailer

    clock = ManualClock(local(2026, 11, 24, 6, 0))
    s = ReportScheduler(
        redis_client, eng.config, keys=eng.keys, clock=clock, mailer=SmtpMailer(eng.config.smtp, tls_context=client_ctx)
    )
    await s.tick()
    clock.set(local(2026, 11, 24, 7, 0))
    with caplog.at_level(logging.DEBUG):
        [d] = await s.tick()
        assert d["state"] == "failed" and "Authentication" in d["error"]
        secret.write_text(PASSWORD + "\n", encoding="utf-8")  # the operator fixes the secret file
        clock.set(local(2026, 11, 24, 7, 1))
        [d] = await s.tick()
    assert d["state"] == "sent" and len(inbox.messages) == 1
    assert inbox.messages[0]["tls"] and inbox.messages[0]["login"] == b"reports"
    records = str(await redis_client.xrange(f"{eng.keys.centre}:reports:log")) + str(await s.deliveries())
    for text in (caplog.text, records):
        assert PASSWORD not in text


def test_due_times_of_daily_weekly_monthly():
    config = load_config(
        None,
        centre={"timezone": "Asia/Jerusalem", "week_start": "sunday"},
        reports=[
            {"name": "d", "period": "day", "at": "07:00", "recipients": ["a@x"]},
            {"name": "w", "period": "week", "at": "07:00", "recipients": ["a@x"]},
            {"name": "m", "period": "month", "at": "07:00", "recipients": ["a@x"]},
        ],
    )
    s = ReportScheduler(None, config)  # the due arithmetic needs no Redis
    d, w, m = config.reports
    assert s.latest_due(d, local(2026, 11, 24, 7, 0)).key == "2026-11-23"
    assert s.latest_due(d, local(2026, 11, 24, 6, 59)).key == "2026-11-22"
    # weeks start on Sunday: the week of 22-28 Nov is due on Sunday the 29th at 07:00
    assert s.latest_due(w, local(2026, 11, 29, 7, 0)).key == "week-2026-11-22"
    assert s.latest_due(w, local(2026, 11, 29, 6, 0)).key == "week-2026-11-15"
    assert s.due_at(w, CentreCalendar(config.centre).period("week", date(2026, 11, 25))) == local(2026, 11, 29, 7)
    # monthly on the 1st
    assert s.latest_due(m, local(2026, 12, 1, 7, 0)).key == "2026-11"
    assert s.latest_due(m, local(2026, 12, 1, 6, 0)).key == "2026-10"
    assert s.latest_due(m, local(2027, 1, 15, 12, 0)).key == "2026-12"
    assert s.latest_due(m, local(2026, 12, 1, 7, 0) + timedelta(days=40)).key == "2026-12"


async def test_a_scorecard_schedule_mails_a_team_leads_morning_review(make_engine, redis_client, smtp_port, servers):
    """kind = "scorecard" with a role: the team's scorecards, e-mailed like a report (HTML body, HTML and CSV
    attached), each figure beside its target. By hand (tests/test_rollup.day_events): Dana (1001, support)
    answered c1 and c3, missed c3's first ring, dialled twice (one answered); Omer (1002) is sales' agent, not
    the support lead's, though he took a support call."""
    ctl, inbox = start_server(smtp_port)
    servers.append(ctl)
    cfg = scheduler_config(smtp_port)
    cfg["queues"].append({"name": "sales"})
    cfg["agents"] = [{"id": "1001", "name": "Dana", "skills": {"support": 0}}, {"id": "1002", "skills": {"sales": 0}}]
    cfg["roles"] = {"support_lead": {"queues": ["support"]}}
    cfg["targets"] = {"agents": {"calls_handled": 2, "missed": 0, "answer_rate": 0.9}}
    cfg["reports"] = [
        {"name": "morning", "kind": "scorecard", "role": "support_lead", "at": "07:30", "recipients": ["lead@x.org"]}
    ]
    eng = await loaded_engine_with(make_engine, cfg)
    clock = ManualClock(local(2026, 11, 24, 6, 0))
    s = ReportScheduler(redis_client, eng.config, keys=eng.keys, clock=clock)
    assert await s.tick() == []
    clock.set(local(2026, 11, 24, 7, 30))
    assert [(d["period"], d["state"]) for d in await s.tick()] == [("2026-11-23", "sent")]
    [got] = inbox.messages
    msg = got["msg"]
    assert got["to"] == ["lead@x.org"] and msg["Subject"] == "Test centre — morning scorecards — Mon 23 Nov 2026"
    plain = msg.get_body(("plain",)).get_content()
    assert "Team of support_lead: support" in plain
    # 2 handled of 2 a day (met), 1 missed against 0, answer rate 2 / 3 against 90 %: 1 of 3 met
    assert "  Dana (1001): 1 of 3 targets met; missed: answer_rate, missed" in plain and "1002" not in plain
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert set(files) == {"scorecards-2026-11-23.html", "scorecards-2026-11-23.csv"}
    rows = list(csv.DictReader(io.StringIO(files["scorecards-2026-11-23.csv"])))
    assert {r["agent"] for r in rows} == {"1001"}
    total = next(r for r in rows if r["row"] == "total")
    assert (total["calls_handled"], total["calls_handled.target"], total["calls_handled.met"]) == ("2", "2", "met")
    assert (total["missed"], total["missed.met"], total["outbound_calls"], total["dial_attempts"]) == (
        "1",
        "missed",
        "1",
        "2",
    )
    assert total["answer_rate"] == "0.666667" and total["answer_rate.met"] == "missed"
    body = msg.get_body(("html",)).get_content()
    assert "team of support_lead" in body and "Dana" in body and body == files["scorecards-2026-11-23.html"]


async def loaded_engine_with(make_engine, cfg):
    eng = await make_engine(**cfg)
    logout = AgentStateChanged(
        id="out", ts=datetime(2026, 11, 23, 12, 45, tzinfo=TZ), source="t", agent="1002", state="logged_out"
    )
    await eng.apply([*day_events(), logout])
    return eng


def test_a_schedule_for_an_unknown_role_is_refused(smtp_port):
    from wallboard.config import ConfigError

    cfg = scheduler_config(smtp_port)
    cfg["reports"][0].update(kind="scorecard", role="nobody")
    with pytest.raises(ConfigError, match="reports.0.role.*schedule daily: role 'nobody' is not defined under"):
        load_config(None, **cfg)
