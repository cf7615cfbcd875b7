"""The ``wallboard`` command. UI modules are imported lazily, inside the commands that need them."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from pydantic_settings.exceptions import SettingsError

from . import telemetry
from .commands._context import bidi_flag, config_from_args, configure_logging, demo_config_path
from .config import ConfigError, config_warnings, load_config, redact_url_text
from .errors import InputError, check_input_file
from .events import utc
from .store import StoreUnavailable

DEFAULT_CONFIG = Path("config/wallboard.toml")


def _fmt(v, pct=False) -> str:
    if v is None:
        return "-"
    if pct:
        return f"{v * 100:.1f}%"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def print_table(snap, rejected_note: bool = True) -> None:
    head = (
        "queue",
        "entered",
        "offered",
        "answered",
        "abandoned",
        "overflow",
        "SL",
        "ASA s",
        "avg wait s",
        "aband %",
        "AHT s",
        "waiting",
    )
    rows = []
    for name, q in [*snap.queues.items(), ("TOTAL", snap.total)]:
        rows.append(
            (
                name,
                q.entered,
                q.offered,
                q.answered,
                q.abandoned,
                q.overflowed,
                _fmt(q.service_level, True),
                _fmt(q.asa_s),
                _fmt(q.avg_wait_s),
                _fmt(q.abandon_rate, True),
                _fmt(q.aht_s),
                q.waiting,
            )
        )
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    since = utc(snap.window.since) if snap.window.since else "start of input"
    print(f"{snap.centre} — window {snap.window.kind} since {since}, at {utc(snap.at)} (seq {snap.seq})")
    for r in [head, *rows]:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    if snap.dead_letters and rejected_note:
        print(f"{snap.dead_letters} input record(s) rejected: see `wallboard deadletter`")


def cmd_replay(args) -> int:
    from .feed import UnknownFeed, load_feed
    from .replay import replay

    config = config_from_args(args)
    try:
        options = given_feed_options(args)
        feed = load_feed(args.feed, args.path, config, **options)
    except (UnknownFeed, TypeError, ValueError, FileNotFoundError) as e:
        print(f"wallboard replay: {e}", file=sys.stderr)
        return 2
    if getattr(feed, "path", None):  # before Redis is touched: a file that is not there is named as such
        check_input_file(feed.path, f"{args.feed} input")
    snap, stats = asyncio.run(
        replay(
            feed,
            config,
            redis_url=args.redis,
            prefix=args.prefix,
            window_mode="all" if args.window == "all" else "since_reset",
            note=lambda m: print(f"wallboard replay: {m}", file=sys.stderr),
        )
    )
    if args.json:
        print(snap.model_dump_json(indent=None))
    else:
        print_table(snap, rejected_note=False)  # the replay's own rejects are listed below (stderr)
        print(
            f"{stats.events} events, {stats.applied} transitions applied, {stats.duplicates} duplicates, "
            f"{stats.dead_letters} dead letters",
            file=sys.stderr,
        )
    print_rejected(stats, config, args)
    return 0


def print_rejected(stats, config, args) -> None:
    """The records this replay rejected (the first ``REJECTED_KEPT``: reason and position), on stderr in
    both modes: with ``--json`` stdout holds the snapshot alone. A throwaway namespace is gone once the
    replay ends, so `wallboard deadletter` could not list them; with ``--prefix`` they stay, and the exact
    command that lists them is printed."""
    import shlex

    from .privacy import masker, printable

    n = stats.dead_letters
    if not n:
        return
    mask = masker(config.centre)  # raw input holds caller numbers, as the dead-letter listing masks them
    shown = stats.rejected
    out = sys.stderr
    more = f"; the first {len(shown)}" if n > len(shown) else ""
    print(f"{n} input record(s) rejected{more} (position: feed:file:line, then the reason):", file=out)
    for d in shown:
        print(f"  {printable(d.source)}: {printable(mask(d.reason))}", file=out)
        raw = printable(mask(d.raw))
        print(f"      input: {raw[:160]}" + ("..." if len(raw) > 160 else ""), file=out)
    if args.prefix:
        cmd = ["wallboard", "deadletter", "--prefix", args.prefix, "--last", str(max(n, 50))]
        if args.config:
            cmd += ["--config", args.config]
        if args.redis:
            cmd += ["--redis", redact_url_text(args.redis)]
        print(f"they are kept in namespace {args.prefix!r}: {shlex.join(cmd)}", file=out)
    elif n > len(shown):
        print(
            f"the replay's throwaway namespace is gone: to keep all {n}, replay with --prefix NAME, then "
            "`wallboard deadletter --prefix NAME`",
            file=out,
        )


def cmd_snapshot(args) -> int:
    from .keys import Keys
    from .snapshot import Snapshot
    from .store import connect_sync

    config = config_from_args(args)
    r = connect_sync(config, args.redis)
    keys = Keys(config.redis.prefix)
    summary, agents = r.get(keys.summary), r.get(keys.agents_detail)
    if not summary:
        print("wallboard: no snapshot published yet (is `wallboard ingest` or `demo` running?)", file=sys.stderr)
        return 1
    data = json.loads(summary)
    data["agents"] = json.loads(agents)["agents"] if agents else {}
    if args.json:
        print(json.dumps(data))
    else:
        print_table(Snapshot.model_validate(data))
    return 0


def _feed_options(args) -> dict:
    """The shortcut flags given (``--host``, ``--port``, ``--mapping``, ``--scenario``, ``--seed``, ``--speed``),
    as the feed options they stand for."""
    options: dict = {}
    for name in ("mapping", "scenario", "seed", "speed", "host", "port"):
        v = getattr(args, name, None)
        if v is not None:
            options[name] = v
    return options


def given_feed_options(args) -> dict:
    """The shortcut flags and every ``--feed-opt key=value``, merged (the feed's model parses the text and
    puts them over ``[feeds.NAME]``); FeedOptionError for a malformed pair or a clash."""
    from .feed import merge_given, parse_feed_opts

    return merge_given(_feed_options(args), parse_feed_opts(getattr(args, "feed_opt", None)))


def feed_options_text(name: str | None = None) -> str:
    """Every installed feed's options (or one's), as ``ingest --help`` and ``--list-opts`` show them."""
    from .feed import describe_options, feed_names

    if name:
        return describe_options(name)  # UnknownFeed for a name no installed feed has
    out = []
    for n in feed_names():
        try:
            out.append(describe_options(n))
        except Exception as e:  # noqa: BLE001 - a broken plug-in is named, the others still listed
            out.append(f"{n}\n    (cannot be loaded: {type(e).__name__}: {e})")
    return "\n".join(out)


FEED_OPTIONS_HELP = (
    "Feed options (--feed-opt key=value, repeatable; or [feeds.NAME] in the config, or "
    "WALLBOARD_FEEDS__NAME__KEY). A flag beats the environment, which beats the config. "
    "Secrets are never options."
)


class _HelpWithFeedOptions(argparse.Action):
    """``ingest --help``: the usual help, then each installed feed's options (loaded only when asked)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import textwrap

        parser.epilog = f"{textwrap.fill(FEED_OPTIONS_HELP, 108)}\n\n{feed_options_text()}"
        parser.print_help()
        parser.exit()


def _check_ingest(config, args) -> int:
    """Exit 0 when an ingester's heartbeat is fresh (its key has a TTL) and one of them holds the lease; every
    line named ``ingest:`` as the other checks name theirs (``telemetry.check``)."""
    from .keys import Keys
    from .store import connect_sync

    keys = Keys(config.redis.prefix)
    try:
        r = connect_sync(config, args.redis)
        # the whole keyspace is walked: a large COUNT keeps that to a few round trips on a centre's millions of keys
        beats = [json.loads(v) for k in r.scan_iter(match=keys.health("*"), count=10_000) if (v := r.get(k))]
        owner = r.get(keys.lease)
    except Exception as e:  # noqa: BLE001 - whatever stops us reading Redis, the answer is "cannot tell"
        print(f"ingest: unknown — Redis unreachable ({type(e).__name__}: {e})")
        return 1
    for b in beats:
        print(
            f"ingest: {b['name']}: feed {b['feed']}, {b['events']} events, last beat {b['at']}"
            + (" (owner)" if b["name"] == owner else "")
        )
    demo = getattr(args, "running_demo", None)  # the `wallboard demo` this check follows (commands._context)
    if not beats and demo is not None and demo.runs("ingest") is False:
        print(
            f"ingest: not running — the running demo ({demo.prefix}, pid {demo.pid}) runs no ingest "
            f"(it runs {', '.join(demo.services)})"
        )
    elif not beats:
        print(f"ingest: not running — no ingester alive in Redis (prefix {keys.prefix})")
    elif not owner:
        print("ingest: no ingester holds the lease (one is starting, or they are standbys of a stopped owner)")
    return 0 if beats and owner else 1


def cmd_ingest(args) -> int:
    from .feed import LiveFeed, UnknownFeed, load_feed
    from .ingest import Ingest, tune_gc
    from .store import connect

    if getattr(args, "list_opts", False):
        from .feed import UnknownFeed

        try:
            print(feed_options_text(args.feed))
        except UnknownFeed as e:
            print(f"wallboard ingest: {e}", file=sys.stderr)
            return 2
        return 0
    configure_logging(args.log, args.verbose)
    config = config_from_args(args)
    if args.check:
        return _check_ingest(config, args)
    if not args.feed:
        print("wallboard: ingest needs --feed NAME", file=sys.stderr)
        return 2
    shard = None
    if getattr(args, "shard", None) is not None:
        from .ingest import parse_shard

        try:
            shard = parse_shard(args.shard)
        except ValueError as e:
            print(f"wallboard: {e}", file=sys.stderr)
            return 2
    try:
        feed = load_feed(args.feed, args.path, config, **given_feed_options(args))
    except (UnknownFeed, TypeError, ValueError) as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 2
    if not isinstance(feed, LiveFeed):
        print(
            f"wallboard: the {args.feed} feed reads a finished file; use `wallboard replay --feed {args.feed}`",
            file=sys.stderr,
        )
        return 2

    async def main() -> None:
        client = await connect(config, args.redis)
        ingest = Ingest(client, config, feed, shard=shard)
        try:
            with telemetry.metrics_served(args, ingest.metrics.registry, "ingest"):
                await ingest.run()
        finally:
            await client.aclose()

    tune_gc()
    asyncio.run(main())
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


DEMO_HISTORY_MIN = 60  # the simulated hour before the demo starts (the advisor's estimates read an hour)


def cmd_demo(args) -> int:
    """The production path on one machine: the simulated centre as a PBX speaking AMI on loopback, the ami
    feed's ingest, the executor (the only process with the PBX credentials) and the desk UI."""
    import os
    import secrets
    import signal
    import subprocess
    import time

    from .actions.auth import issue
    from .redis_server import die_with_parent, state_dir
    from .replay import drop_namespace_sync
    from .store import connect_sync, resolve_url

    args.config = args.config or str(demo_config_path())
    config = config_from_args(args)
    redis_url = resolve_url(config, args.redis)  # starts the shared embedded server when needed
    client = connect_sync(config, redis_url)
    # a fresh demo every time: the simulated centre starts its day now
    drop_namespace_sync(client, config.redis.prefix)
    client.close()
    log_dir = state_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    http_port = _free_port()  # the written channels' ingester (a chat platform's webhooks, simulated)
    env = {
        **os.environ,
        "WALLBOARD_AMI_USER": "wallboard",
        "WALLBOARD_AMI_SECRET": secrets.token_hex(8),
        "WALLBOARD_HTTP_TOKEN": secrets.token_hex(16),
        "WALLBOARD_TOKEN_SECRET": os.environ.get("WALLBOARD_TOKEN_SECRET") or secrets.token_hex(16),
    }
    os.environ["WALLBOARD_TOKEN_SECRET"] = env["WALLBOARD_TOKEN_SECRET"]
    user = args.user or "rivka"
    token = issue(config, user)
    env["REDIS_URL"] = redis_url  # not --redis: a password in the URL would show in every `ps`
    if args.pbx == "freeswitch":  # the same day spoken as mod_callcenter over the event socket; every child
        env["WALLBOARD_PBX__KIND"] = "freeswitch"  # (the executor too) reads pbx.kind from the environment
        env["WALLBOARD_ESL_PASSWORD"] = secrets.token_hex(8)
    common_args = ["--config", args.config, "--prefix", config.redis.prefix]
    py = [sys.executable, "-m", "wallboard.cli"]
    feed = "freeswitch" if args.pbx == "freeswitch" else "ami"
    # The PBX was up for the hour before "now": its queue_log holds it, and the ingester's first login reads it
    # (backfill), as a wallboard started mid-day would, so the figures and the advisor's estimates have a
    # history from the first second. mod_callcenter keeps no such log: the FreeSWITCH demo starts empty.
    history, pbx_history, feed_history = DEMO_HISTORY_MIN if feed == "ami" else 0, [], []
    if history:
        queue_log = log_dir / "demo-queue_log"
        queue_log.unlink(missing_ok=True)  # this demo's day only
        pbx_history = ["--history-min", str(history), "--queue-log", str(queue_log)]
        # the whole file (it is this demo's alone): the backfill starts when the ingester does, a moment after
        # the PBX's history did, and the standby removals of the first second must not be cut off
        feed_history = ["--feed-opt", f"queue_log={queue_log}", "--feed-opt", f"backfill_s={(history + 5) * 60}"]
    commands = {
        "pbx": [
            *py,
            "pbx",
            "--pbx",
            args.pbx,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--scenario",
            args.scenario,
            "--seed",
            str(args.seed),
            "--config",
            args.config,
            "--written-url",
            f"http://127.0.0.1:{http_port}/events",
            "--log",
            str(log_dir / "demo-pbx.log"),
            *pbx_history,
        ],
        "ingest": [
            *py,
            "ingest",
            "--feed",
            feed,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *feed_history,
            *common_args,
            "--log",
            str(log_dir / "demo-ingest.log"),
            "--verbose",
        ],
        "ingest-http": [  # chats and e-mails: the http feed, as a real chat platform would reach it
            *py,
            "ingest",
            "--feed",
            "http",
            "--host",
            "127.0.0.1",
            "--port",
            str(http_port),
            *common_args,
            "--log",
            str(log_dir / "demo-ingest-http.log"),
        ],
        "executor": [
            *py,
            "executor",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *common_args,
            "--log",
            str(log_dir / "demo-executor.log"),
        ],
    }
    from . import demo_state

    shown_url = redact_url_text(redis_url)
    embedded = not (args.redis or os.environ.get("REDIS_URL") or config.redis.url)
    viewer_tokens = {
        lay.token_env: secrets.token_urlsafe(12) for lay in config.layouts if not os.environ.get(lay.token_env)
    }  # throwaway, for `serve` on the demo
    children = []
    try:
        for name, cmd in commands.items():
            children.append(
                subprocess.Popen(
                    cmd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            )
            if name == "pbx":
                time.sleep(0.5)  # the PBX listens before the others log in (they would retry anyway)
        # other commands (board, serve, advise, snapshot, report, ...) follow this demo while it runs
        demo_state.write(
            demo_state.RunningDemo(
                pid=os.getpid(),
                config=str(Path(args.config).resolve()),
                prefix=config.redis.prefix,
                redis_url=shown_url,
                embedded=embedded,
                url_has_password=shown_url != redis_url,
                started_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                viewer_tokens=viewer_tokens,
                services=list(commands),
            )
        )
        from .ui.app import build_desk_app, setup_logging
        from .ui.words import ENGLISH

        print(ENGLISH("demo.follow", prefix=config.redis.prefix), flush=True)

        setup_logging(log_dir / "demo-tui.log")
        app = build_desk_app(config, redis_url, user, token=token, settle_gc=True, language=args.lang, bidi=args.bidi)

        async def tell(pilot) -> None:  # the desk's own keys are its help (?); this says where else to look
            w = pilot.app.words  # the desk's language: a Hebrew desk says it in Hebrew, in display order
            pilot.app.notify(
                w.wrapped(w("demo.follow", prefix=config.redis.prefix), min(56, pilot.app.size.width // 2 - 4)),
                title=w.show(w("demo.elsewhere")),
                timeout=45,
                markup=False,
            )

        app.run(auto_pilot=tell)
        return app.return_code or 0
    finally:
        demo_state.remove(os.getpid())
        print("demo stopped: other commands no longer follow it", flush=True)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def cmd_tui(args) -> int:
    """The desk UI, reading only Redis. Textual is imported here, never when the core loads."""
    from .ui.app import run_desk

    config = config_from_args(args)
    return run_desk(
        config,
        redis_url=args.redis,
        user=args.user,
        log_path=Path(args.log) if args.log else None,
        language=args.lang,
        bidi=args.bidi,
    )


def desk_language_flags(sp) -> None:
    """The desk's language (``wallboard tui``, ``wallboard demo``): beats ``[display] language``."""
    sp.add_argument(
        "--lang",
        choices=("en", "he"),
        default=None,
        help="the desk's language: en or he (Hebrew, right to left); default [display] language, else en",
    )
    bidi_flag(sp)


def cmd_check_config(args) -> int:
    from .feed import section_problems

    try:
        cfg = load_config(args.path)
    except ConfigError as e:
        e = ConfigError(e.problems + _file_feed_problems(args.path), e.path)  # the [feeds.*] sections too
        print(e.brief())  # one problem in one line, several listed with a hint each
        return 2
    problems = section_problems(cfg.feeds, cfg)  # each [feeds.NAME] against its feed's options model
    if problems:
        print(ConfigError(problems, Path(args.path)).brief())
        return 2
    for where, msg in config_warnings(cfg):
        print(f"{args.path}: warning: {where}: {msg}", file=sys.stderr)
    print(f"{args.path}: OK — {len(cfg.queues)} queues, {len(cfg.agents)} agents, timezone {cfg.centre.timezone}")
    return 0


def _file_feed_problems(path) -> list:
    """The ``[feeds.*]`` problems of a file whose other sections do not load (so all are listed at once)."""
    from .config import _read_toml
    from .feed import section_problems

    try:
        feeds = _read_toml(Path(path)).get("feeds")
    except ConfigError:
        return []
    return section_problems(feeds) if isinstance(feeds, dict) else []


def cmd_redis(args) -> int:
    from . import redis_server

    if args.action == "status":
        info = redis_server.status()
        print(json.dumps(info, indent=2))
        return 0 if info["running"] else 1
    if args.action == "stop":
        stopped = redis_server.stop()
        print("stopped" if stopped else "not running")
        return 0
    if args.action == "start":
        print(redis_server.ensure_embedded())
        return 0
    return 2


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="wallboard", description="Real-time contact-centre wallboard.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}", help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, config_default: str | None = None):
        sp.add_argument("--config", default=config_default, help="TOML config file")
        sp.add_argument("--redis", default=None, help="Redis URL (beats REDIS_URL and the config)")
        sp.add_argument("--prefix", default=None, help="key prefix (namespace)")

    sp = sub.add_parser("replay", help="offline replay of a file; prints the final snapshot")
    sp.add_argument("--feed", required=True, help="feed name: jsonl, queue-log, calls-csv, ...")
    sp.add_argument("path", help="the recorded file to replay")
    sp.add_argument("--mapping", default=None, help="calls-csv column mapping: a name (bank) or a TOML path")
    sp.add_argument(
        "--feed-opt",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="a feed option (repeatable); `wallboard ingest --list-opts` lists them",
    )
    sp.add_argument(
        "--window",
        choices=["since_reset", "all"],
        default="since_reset",
        help="since_reset: counters restart at each daily reset (as live); all: the whole file as "
        "one window (to check a month)",
    )
    sp.add_argument("--json", action="store_true", help="print the final snapshot as JSON instead of a table")
    common(sp)
    sp.set_defaults(func=cmd_replay)

    sp = sub.add_parser(
        "ingest",
        help="long-running ingest of a live feed (the lease owner also publishes)",
        add_help=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sp.add_argument(
        "-h", "--help", action=_HelpWithFeedOptions, help="show this help, with every feed's options, and exit"
    )
    sp.add_argument("--feed", default=None, help="feed name: sim, queue-log, ami, ...")
    sp.add_argument(
        "--feed-opt",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help="a feed option, e.g. --feed-opt settle_s=0.5 (repeatable; beats WALLBOARD_FEEDS__NAME__KEY "
        "and [feeds.NAME]); listed below and by --list-opts",
    )
    sp.add_argument(
        "--list-opts", action="store_true", help="list the options of --feed NAME (or of every feed) and exit"
    )
    sp.add_argument("path", nargs="?", default=None, help="the file a file feed follows (queue-log, jsonl)")
    sp.add_argument(
        "--check",
        action="store_true",
        help="health check: list the live ingesters; exit 0 when one is alive and holds the lease "
        "(it publishes the snapshots), 1 otherwise",
    )
    sp.add_argument("--follow", action="store_true", help="queue-log: tail the file (the default for ingest)")
    sp.add_argument("--scenario", default=None, help="sim: normal, spike, demo (= --feed-opt scenario=...)")
    sp.add_argument("--seed", type=int, default=None, help="sim: random seed (= --feed-opt seed=...)")
    sp.add_argument("--speed", type=float, default=None, help="sim: time multiplier (= --feed-opt speed=...)")
    sp.add_argument(
        "--host",
        default=None,
        help="ami, freeswitch: the PBX's host; http: the address to listen on "
        "(= --feed-opt host=...; credentials: environment or secret file)",
    )
    sp.add_argument(
        "--port",
        type=int,
        default=None,
        help="ami (default 5038), freeswitch (8021), http (8780): the port (= --feed-opt port=...)",
    )
    sp.add_argument("--shard", default=None, metavar="I/N", help="only the queues/agents hashing to I of N (I=0..N-1)")
    sp.add_argument("--log", default=None, help="log to this file instead of stderr")
    sp.add_argument("--verbose", action="store_true", help="log every connection and batch (INFO), not only problems")
    telemetry.add_flags(sp)
    common(sp)
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("demo", help="a simulated centre, live, on the desk UI (embedded Redis)")
    sp.add_argument("--scenario", default="demo", help="sim scenario: demo, normal, spike")
    sp.add_argument("--seed", type=int, default=1, help="random seed of the simulated day (default 1)")
    sp.add_argument("--user", default=None, help="who you are in the demo (default rivka, a supervisor)")
    sp.add_argument(
        "--pbx",
        choices=["asterisk", "freeswitch"],
        default="asterisk",
        help="the PBX the simulated centre speaks: Asterisk AMI, or FreeSWITCH mod_callcenter (ESL)",
    )
    desk_language_flags(sp)
    common(sp)
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser(
        "tui",
        help="the supervisor's desk UI (queues, agents, callers; alerts and actions)",
        description="The supervisor's desk, live from Redis: every queue with its figures and "
        "alerts (flashing on breach), the agents with their state, queues and alerts, and the "
        "callers waiting now. Drill into a queue (Enter) to see how each figure is computed; "
        "acknowledge or snooze an alert; listen, whisper, barge or take over an agent's call; "
        "move an agent to another skill queue (for a while, undone by itself), pause and "
        "unpause; the advisor's panel (v) with the moves that relieve an overloaded queue. "
        "Actions go through the executor with your token, checked and audited. ? lists "
        "every key.",
    )
    sp.add_argument("--user", default=None, help="your name on acknowledgements (default: $WALLBOARD_USER, login)")
    sp.add_argument("--log", default=None, help="log to this file (nothing is logged to the terminal)")
    desk_language_flags(sp)
    common(sp)
    sp.set_defaults(func=cmd_tui)

    sp = sub.add_parser("snapshot", help="print the current snapshot")
    sp.add_argument("--json", action="store_true", help="the whole snapshot (agents too) as JSON")
    common(sp)
    sp.set_defaults(func=cmd_snapshot)

    sp = sub.add_parser("check-config", help="validate a config file; lists every problem")
    sp.add_argument("path", help="the TOML config file")
    sp.set_defaults(func=cmd_check_config)

    sp = sub.add_parser("redis", help="the embedded Redis server")
    sp.add_argument(
        "action", choices=["status", "stop", "start"], help="status (exit 1 when not running), stop, or start it now"
    )
    sp.set_defaults(func=cmd_redis)

    from .commands import discover

    for mod in discover():
        mod.register(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    """Runs one command. No traceback reaches the user: the project's own errors are one line each (usage
    and input 2, Redis unreachable 3); anything else is a bug, said in one line with where its traceback
    was written (``WALLBOARD_DEBUG=1`` lets it through instead)."""
    args = build_parser().parse_args(argv)
    who = f"wallboard {args.command}"
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"{who}: {e.brief()}" if len(e.problems) == 1 else e.render(), file=sys.stderr)
        return 2
    except InputError as e:
        print(f"{who}: {e}", file=sys.stderr)
        return 2
    except SettingsError as e:  # a WALLBOARD_* variable that is not what its setting takes
        print(f"{who}: an environment variable WALLBOARD_* could not be read ({e}); check its value", file=sys.stderr)
        return 2
    except StoreUnavailable as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # piped into `head` and the reader left: not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second complaint at exit
        return 141
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        if e.filename is None or os.environ.get("WALLBOARD_DEBUG"):
            return _unexpected(who, e)
        # a path given to us (a file that went away, a directory where a file was meant): the user's to fix
        print(f"{who}: cannot read {e.filename}: {e.strerror or e}; check the path", file=sys.stderr)
        return 2
    except Exception as e:
        return _unexpected(who, e)


def _redact_urls(text: str) -> str:
    """Every URL password in ``text`` (a traceback, a message) replaced by ``***``."""
    import re

    return re.sub(r"(://[^\s@/]*?:)[^\s@]*@", r"\1***@", text)


def _unexpected(who: str, e: BaseException) -> int:
    """A bug of ours: one line, the traceback in a log file (or on the terminal with WALLBOARD_DEBUG=1)."""
    if os.environ.get("WALLBOARD_DEBUG"):
        raise e
    import traceback

    text = _redact_urls("".join(traceback.format_exception(e)))
    where = None
    try:
        from .redis_server import state_dir

        log = state_dir() / "last-error.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{who} (pid {os.getpid()})\n{text}")
        where = log
    except Exception:  # noqa: BLE001 - a log that cannot be written must not hide the error itself
        pass
    first = (str(e).splitlines() or [""])[0][:200]
    detail = f"{type(e).__name__}: {_redact_urls(first)}" if first else type(e).__name__
    told = f"traceback in {where}; " if where else ""
    print(
        f"{who}: unexpected error (a bug; please report it): {detail} ({told}run again with WALLBOARD_DEBUG=1 "
        "to see it here)",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
