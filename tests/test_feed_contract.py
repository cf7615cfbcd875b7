"""The feed contract (wallboard/feed.py): every registered feed declares its options as a pydantic model and the
capabilities it provides as Protocols, and keeps both; options reach a feed from the config ([feeds.NAME]),
the environment (WALLBOARD_FEEDS__NAME__KEY) and the command line (--feed-opt key=value and the shortcut flags),
in that order of strength, parsed by the model (``false`` is false); secrets and unknown names are refused in
one line; check-config names a bad [feeds.*] field; `ingest --help` and `--list-opts` list every option."""

from __future__ import annotations

import asyncio
import os
import time
import types
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tests.ami_fake import FakePbx
from tests.test_ami_live import QUEUE_STATUS, Run
from wallboard.cli import _feed_options, build_parser, given_feed_options, main
from wallboard.config import load_config
from wallboard.events import CallerJoined, FeedGap, WaitingResync
from wallboard.feed import (
    CAPABILITIES,
    FeedOptionError,
    FeedOptions,
    FileFeed,
    GapFilling,
    LiveFeed,
    Redrivable,
    Resumable,
    Resyncable,
    build_options,
    load_feed,
    parse_feed_opts,
    section_problems,
)

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "contract-token-0123456789abcdef"


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")
    monkeypatch.setenv("WALLBOARD_ESL_PASSWORD", "ClueCon")
    monkeypatch.setenv("WALLBOARD_HTTP_TOKEN", TOKEN)
    for name in list(os.environ):
        if name.startswith("WALLBOARD_FEEDS__"):
            monkeypatch.delenv(name)


def _members(proto: type) -> set[str]:
    """What a Protocol asks for: its methods and its declared attributes."""
    return {n for n in vars(proto) if not n.startswith("_")} | set(getattr(proto, "__annotations__", {}))


def _paths(tmp_path: Path) -> dict[str, str | None]:
    """A path to build each feed with (file feeds need one; live feeds take none)."""
    (tmp_path / "x.log").write_text("")
    return {
        "jsonl": str(tmp_path / "x.log"),
        "queue-log": str(tmp_path / "x.log"),
        "calls-csv": str(tmp_path / "x.log"),
        "ami-capture": str(tmp_path / "x.log"),
    }


def test_every_registered_feed_has_an_options_model_and_keeps_its_claims(creds, tmp_path):
    eps = list(entry_points(group="wallboard.feeds"))
    assert {ep.name for ep in eps} >= {
        "jsonl",
        "queue-log",
        "calls-csv",
        "sim",
        "ami",
        "ami-capture",
        "freeswitch",
        "http",
    }
    config = load_config(None)
    paths = _paths(tmp_path)
    for ep in eps:
        cls = ep.load()
        assert cls.name == ep.name
        model = cls.Options
        assert isinstance(model, type) and issubclass(model, FeedOptions), ep.name
        assert model.model_config.get("extra") == "forbid", ep.name
        for field, info in model.model_fields.items():
            assert info.description, f"{ep.name}: option {field} has no description"
            assert field not in model.secret_names, f"{ep.name}: option {field} is a secret's name"
        model()  # the defaults alone are valid
        claimed = set(cls.provides)
        assert claimed and claimed <= set(CAPABILITIES), ep.name
        assert claimed & {FileFeed, LiveFeed}, f"{ep.name} neither reads nor follows"
        for proto in CAPABILITIES:
            has = all(hasattr(cls, m) for m in _members(proto))
            assert has == (proto in claimed), f"{ep.name}: {'claims' if proto in claimed else 'hides'} {proto.__name__}"
        feed = load_feed(ep.name, paths.get(ep.name), config)  # built as ingest/replay build it
        assert isinstance(feed.options, model)
        for proto in CAPABILITIES:
            assert isinstance(feed, proto) == (proto in claimed), f"{ep.name}: {proto.__name__}"


def test_the_capabilities_that_ingest_and_redrive_ask_for():
    from feeds.ami import AmiFeed
    from feeds.calls_csv import CallsCsvFeed
    from feeds.http import HttpFeed
    from feeds.queue_log import QueueLogFeed
    from feeds.sim import SimFeed

    assert Resumable in QueueLogFeed.provides and Resumable not in SimFeed.provides  # ingest rewinds only these
    assert Resyncable in AmiFeed.provides and GapFilling in AmiFeed.provides
    assert issubclass(QueueLogFeed, Redrivable) and issubclass(CallsCsvFeed, Redrivable)  # deadletter --redrive
    assert issubclass(HttpFeed, Redrivable) and not issubclass(AmiFeed, Redrivable)  # AMI: meaning needs context
    for module in ("ingest.py", "commands/deadletter.py", "cli.py"):  # capabilities by Protocol, not by name
        text = (ROOT / "wallboard" / module).read_text(encoding="utf-8")
        for probe in ('"resume"', '"cursor_key"', '"request_resync"', '"parse_record"', '"follow"'):
            assert f"hasattr(feed, {probe})" not in text and f", {probe})" not in text.replace("getattr", ""), (
                module,
                probe,
            )


def _ingest_feed(argv: list[str], monkeypatch) -> object:
    """``wallboard ingest ARGV`` up to the point where Ingest would run: the feed it built."""
    import wallboard.ingest

    got: list = []

    class Stub:  # stands in for the ingest loop, with the part of its face the command uses
        def __init__(self, client, config, feed, **kw):
            got.append(feed)
            self.metrics = types.SimpleNamespace(registry=None)  # no --metrics-port: never served

        async def run(self) -> None:
            return None

    monkeypatch.setattr(wallboard.ingest, "Ingest", Stub)
    assert main(["ingest", *argv, "--prefix", "wbtest-contract"]) == 0
    return got[0]


async def test_feed_opt_settle_s_reaches_the_ami_feed_and_queue_log_fills_its_gap(creds, tmp_path, monkeypatch):
    import feeds.ami

    seen: dict = {}

    class Mapper(feeds.ami.AmiMapper):
        def __init__(self, *a, **kw):
            seen.update(kw)
            super().__init__(*a, **kw)

    monkeypatch.setattr(feeds.ami, "AmiMapper", Mapper)
    pbx = FakePbx(queue_status=list(QUEUE_STATUS))
    await pbx.start()
    try:
        qlog = tmp_path / "queue_log"
        argv = [
            "--feed",
            "ami",
            "--host",
            "127.0.0.1",
            "--port",
            str(pbx.port),
            "--feed-opt",
            "settle_s=0.5",
            "--feed-opt",
            f"queue_log={qlog}",
            "--feed-opt",
            "keepalive_s=0.2",
            "--feed-opt",
            "backoff_initial_s=0.05",
            "--feed-opt",
            "backoff_max_s=0.2",
            "--feed-opt",
            "timeout_s=1",
            "--feed-opt",
            "pbx_filter=false",
        ]
        feed = await asyncio.to_thread(_ingest_feed, argv, monkeypatch)
        assert (feed.settle_s, feed.queue_log, feed.pbx_filter, feed.port) == (0.5, str(qlog), False, pbx.port)
        now = datetime.now(UTC)
        assert isinstance(feed, GapFilling) and feed.fill_gap(now - timedelta(days=1), now) == []  # no file yet
        # the gap fill, live: caller .1 abandons while the link is down; AMI never re-sends it, the queue_log has it
        run = Run(feed)
        await run.until(lambda: run.of(WaitingResync))
        assert seen["settle_s"] == 0.5  # what the mapper was built with
        t0 = time.time()
        await pbx.event(Event="QueueCallerJoin", Queue="Q1", Uniqueid="1700000000.1", Timestamp=f"{t0 - 20:.6f}")
        await run.until(lambda: run.of(CallerJoined))
        qlog.write_text(
            f"{int(t0) - 30}|1700000000.9|Q1|NONE|ENTERQUEUE||0509|1\n"  # before the gap: not replayed
            f"{int(t0)}|1700000000.1|Q1|NONE|ABANDON|1|1|20\n"
        )
        pbx.drop()
        await run.until(lambda: run.of(FeedGap))
        await run.stop()
        after = run.items[run.items.index(run.of(CallerJoined)[0]) + 1 :]
        assert [type(x).__name__ for x in after][:1] == ["CallerAbandoned"]
        assert (after[0].call_id, after[0].wait_s) == ("1700000000.1", 20.0)
    finally:
        await pbx.close()


def test_without_queue_log_the_ami_feed_leaves_the_gap_a_hole(creds):
    feed = load_feed("ami", None, load_config(None))
    now = datetime.now(UTC)
    assert feed.queue_log is None and feed.fill_gap(now - timedelta(minutes=1), now) == []


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
        ("true", True),
        ("1", True),
        ("yes", True),
        ("on", True),
    ],
)
def test_bool_options_are_parsed_not_truthy(creds, text, want):
    feed = load_feed("ami", None, load_config(None), **parse_feed_opts([f"pbx_filter={text}"]))
    assert feed.pbx_filter is want


def test_a_bool_that_is_neither_is_refused(creds):
    with pytest.raises(FeedOptionError, match=r"pbx_filter: Input should be a valid boolean.*'maybe'"):
        load_feed("ami", None, load_config(None), **parse_feed_opts(["pbx_filter=maybe"]))


def test_precedence_flag_over_env_over_config_over_default(creds, tmp_path, monkeypatch):
    path = tmp_path / "c.toml"
    path.write_text('[feeds.ami]\nsettle_s = 2\nauth = "plain"\n')
    assert load_feed("ami", None, load_config(None)).settle_s == 3.0  # the model's default
    assert load_feed("ami", None, load_config(path)).settle_s == 2.0  # the file
    monkeypatch.setenv("WALLBOARD_FEEDS__AMI__SETTLE_S", "1")
    feed = load_feed("ami", None, load_config(path))
    assert (feed.settle_s, feed.auth) == (1.0, "plain")  # the environment over the file, the rest still the file
    args = build_parser().parse_args(["ingest", "--feed", "ami", "--feed-opt", "settle_s=0.5"])
    assert load_feed("ami", None, load_config(path), **given_feed_options(args)).settle_s == 0.5  # the flag


def test_shortcut_flags_map_onto_options(creds, tmp_path):
    args = build_parser().parse_args(["ingest", "--feed", "ami", "--host", "pbx.example", "--port", "5039"])
    assert _feed_options(args) == {"host": "pbx.example", "port": 5039}
    feed = load_feed("ami", None, load_config(None), **given_feed_options(args))
    assert (feed.host, feed.port) == ("pbx.example", 5039)
    same = build_parser().parse_args(["ingest", "--feed", "ami", "--port", "5039", "--feed-opt", "port=5039"])
    assert given_feed_options(same) == {"port": "5039"}
    clash = build_parser().parse_args(["ingest", "--feed", "ami", "--port", "5039", "--feed-opt", "port=5040"])
    with pytest.raises(FeedOptionError, match="disagree"):
        given_feed_options(clash)
    sim = build_parser().parse_args(
        [
            "ingest",
            "--feed",
            "sim",
            "--scenario",
            "spike",
            "--seed",
            "4",
            "--feed-opt",
            "start=2026-11-23T00:00:00+02:00",
            "--feed-opt",
            "hours=2",
        ]
    )
    feed = load_feed("sim", None, load_config(None), **given_feed_options(sim))
    assert (feed.seed, feed.hours, feed.start.utcoffset()) == (4, 2.0, timedelta(hours=2))
    # [feeds.queue_log] (as WALLBOARD_FEEDS__QUEUE_LOG__* gives it) is the queue-log feed's section
    config = load_config(None, feeds={"queue_log": {"poll_s": 0.05}, "calls-csv": {"mapping": "generic"}})
    (tmp_path / "q").write_text("")
    assert load_feed("queue-log", str(tmp_path / "q"), config).options.poll_s == 0.05
    assert load_feed("calls-csv", str(tmp_path / "q"), config).mapping.name == "generic"
    assert load_feed("calls-csv", str(tmp_path / "q"), config, mapping="bank").mapping.name == "bank"


@pytest.mark.parametrize(
    ("opts", "said"),
    [
        (["password=x"], "ami feed: password: a secret is never taken from options"),
        (["secret=x"], "$WALLBOARD_AMI_SECRET"),
        (["nosuch=1"], "ami feed: unknown option(s) nosuch; known: host, port,"),
        (["settle_s=-1"], "ami feed: option settle_s: Input should be greater than or equal to 0 (got '-1')"),
        (["auth=sha1"], "auth: Input should be 'md5' or 'plain'"),
        (["oops"], "--feed-opt 'oops': expected key=value"),
    ],
)
def test_unknown_secret_and_bad_options_are_refused_in_one_line(creds, capsys, opts, said):
    argv = ["ingest", "--feed", "ami", "--prefix", "wbtest-contract"]
    for o in opts:
        argv += ["--feed-opt", o]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "s3cret" not in err


def test_a_secret_in_the_config_section_is_refused_by_the_feed_and_by_check_config(creds, tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text('[feeds.freeswitch]\npassword = "ClueCon2"\n')
    with pytest.raises(FeedOptionError, match=r"feeds.freeswitch.password \(in the config\): a secret is never"):
        load_feed("freeswitch", None, load_config(path))
    assert main(["check-config", str(path)]) == 2
    out = capsys.readouterr().out
    assert "feeds.freeswitch.password: a secret is never set in the config file" in out and "ClueCon2" not in out
    assert "WALLBOARD_ESL_PASSWORD" in out


def test_check_config_names_a_bad_feeds_ami_field(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text("[feeds.ami]\nsettle_s = -1\n")
    assert main(["check-config", str(path)]) == 2
    out = capsys.readouterr().out.strip()
    assert out.startswith(f"{path}: feeds.ami.settle_s: Input should be greater than or equal to 0")
    assert len(out.splitlines()) == 1
    path.write_text(
        '[feeds.ami]\nsettle = 1\npbx_filter = "maybe"\n[feeds.nosuch]\nx = 1\n'
        "[feeds.http]\nport = 99999\n[centre]\nnope = 1\n"
    )
    assert main(["check-config", str(path)]) == 2
    out = capsys.readouterr().out
    assert "feeds.ami.settle: Extra inputs are not permitted; ami takes: host, port," in out
    assert "feeds.ami.pbx_filter: Input should be a valid boolean" in out
    assert "feeds.nosuch: no feed named 'nosuch'" in out
    assert "feeds.http.port: Input should be less than or equal to 65535" in out  # the http feed's own model
    assert "centre.nope" in out  # the rest of the file is still checked with them
    path.write_text(
        '[feeds.ami]\nsettle_s = 0.5\nqueue_log = "/var/log/asterisk/queue_log"\n'
        "[feeds.queue-log]\npoll_s = 0.5\n[feeds.http]\nport = 8781\n"
    )
    assert main(["check-config", str(path)]) == 0
    assert main(["check-config", str(ROOT / "config" / "wallboard.toml")]) == 0


def test_section_problems_on_plain_data():
    assert section_problems({"ami": {"settle_s": 1}}) == []
    assert [p[0] for p in section_problems({"sim": {"speed": 0}, "ami": "x"})] == ["feeds.sim.speed", "feeds.ami"]


def test_ingest_help_and_list_opts_list_every_feed_s_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["ingest", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for ep in entry_points(group="wallboard.feeds"):
        assert f"\n{ep.name} (" in out, ep.name
    for option in (
        "settle_s",
        "queue_log",
        "pbx_filter",
        "tier_poll_s",
        "poll_s",
        "timezone",
        "step_s",
        "max_body_bytes",
        "--feed-opt",
        "--list-opts",
    ):
        assert option in out, option
    assert main(["ingest", "--feed", "ami", "--list-opts"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ami (LiveFeed, Resyncable, GapFilling)") and "settle_s: float = 3.0 [>= 0]" in out
    assert "auth: md5|plain = 'md5'" in out and "sim" not in out.split("\n")[0]
    assert main(["ingest", "--feed", "nosuch", "--list-opts"]) == 2
    assert "no feed 'nosuch'" in capsys.readouterr().err


def test_replay_takes_feed_opts_too(capsys):
    data = ROOT / "samples" / "sample_day.queue_log"
    assert main(["replay", "--feed", "queue-log", str(data), "--feed-opt", "nosuch=1"]) == 2
    err = capsys.readouterr().err
    assert "queue-log feed: unknown option(s) nosuch; known: poll_s" in err and len(err.splitlines()) == 1
    assert main(["replay", "--feed", "calls-csv", str(data), "--feed-opt", "timezone=Mars/Base"]) == 2
    assert "calls-csv feed: option timezone: unknown time zone 'Mars/Base'" in capsys.readouterr().err


def test_build_options_names_where_a_value_came_from():
    from feeds.ami import AmiOptions

    config = load_config(None, feeds={"ami": {"settle_s": -1}})
    with pytest.raises(FeedOptionError, match=r"feeds\.ami\.settle_s: Input should be greater"):
        build_options(AmiOptions, "ami", config, {})
    with pytest.raises(FeedOptionError, match=r"option timeout_s: Input should be greater than 0"):
        build_options(AmiOptions, "ami", load_config(None), {"timeout_s": "0"})
    assert build_options(AmiOptions, "ami", config, {"settle_s": "0.25"}).settle_s == 0.25  # the flag wins
