"""`wallboard pbx`: the simulated centre as a PBX -- an AMI server (Asterisk, the default) or an event socket
speaking mod_callcenter (``--pbx freeswitch``, the config's ``[esl]`` host and port), and optionally a queue_log
file.

Runs until SIGTERM or SIGINT. The centre's day starts now (the ``demo`` scenario: a busy 10:00 with an overload
on ``support`` within the first minute), or ``--history-min`` earlier: that history is run at once into the
``--queue-log`` file (as a real PBX's log holds the day before a wallboard connects) and the live day goes on from
now, the scenario's times unchanged. Without ``--config`` it uses the demo configuration, as
``wallboard demo`` does. Host and port default to the config's ``[ami]`` section (127.0.0.1:5038), so a
wallboard AMI feed reading the same config finds it.

Credentials: the user name and secret come from the environment variables named in ``[ami]``
(``WALLBOARD_AMI_USER`` / ``WALLBOARD_AMI_SECRET`` by default), the event socket's password from ``[esl]``
``password_env``; unset, they are ``wallboard`` / ``demo`` and ``ClueCon`` -- demo defaults, fit only for
loopback, which is why the PBX warns when it listens elsewhere with them.
"""

from __future__ import annotations

import os
import sys

DEFAULT_USER = "wallboard"
DEFAULT_SECRET = "demo"
DEFAULT_ESL_PASSWORD = "ClueCon"  # FreeSWITCH's own shipped default, fit for loopback only


def register(sub, add_common) -> None:
    sp = sub.add_parser(
        "pbx", help="the simulated centre as a PBX: AMI server or FreeSWITCH event socket (and queue_log) until SIGTERM"
    )
    sp.add_argument(
        "--pbx",
        choices=["asterisk", "freeswitch"],
        default=None,
        help="which PBX to speak (default: config pbx.kind): AMI, or mod_callcenter over ESL",
    )
    sp.add_argument("--host", default=None, help="address to listen on (default: config ami.host / esl.host)")
    sp.add_argument(
        "--port", type=int, default=None, help="port (default: config ami.port 5038 / esl.port 8021; 0 = any)"
    )
    sp.add_argument("--scenario", default="demo", help="sim scenario: demo, normal, spike, quiet")
    sp.add_argument("--seed", type=int, default=1, help="random seed of the simulated day (default 1)")
    sp.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    sp.add_argument("--queue-log", default=None, metavar="PATH", help="also append the day to this queue_log")
    sp.add_argument(
        "--history-min",
        type=int,
        default=0,
        metavar="N",
        help="the day starts N minutes before now, run at once into the queue_log (a PBX that was up before the "
        "wallboard; an ami feed with queue_log and backfill_s reads it); spikes keep their times from now",
    )
    sp.add_argument(
        "--written-url",
        default=None,
        metavar="URL",
        help="POST the written queues' events (chat, e-mail) to this http feed, e.g. http://127.0.0.1:8780/events "
        "(token from $WALLBOARD_HTTP_TOKEN); unset: they are not sent",
    )
    sp.add_argument("--log", default=None, help="log to this file instead of stderr")
    sp.add_argument("--verbose", action="store_true", help="log every connection and action (INFO)")
    add_common(sp)
    sp.set_defaults(func=cmd_pbx)


def cmd_pbx(args) -> int:
    import asyncio
    import logging
    from datetime import timedelta

    from ..aio import stop_on_signals
    from ._context import config_from_args, demo_config_path
    from ..clock import SystemClock
    from ..sim import SimCentre, scenario_by_name
    from ..sim.ami_server import SimPbx

    level = logging.INFO if args.verbose else logging.WARNING
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if args.log:
        logging.basicConfig(filename=args.log, level=level, format=fmt)
    else:
        logging.basicConfig(stream=sys.stderr, level=level, format=fmt)
    args.config = args.config or str(demo_config_path())
    config = config_from_args(args)
    if args.speed <= 0:
        print("wallboard: --speed must be positive", file=sys.stderr)
        return 2
    if not 0 <= args.history_min <= 24 * 60:
        print("wallboard: --history-min must be 0..1440", file=sys.stderr)
        return 2
    lead_s = args.history_min * 60.0
    try:
        scenario = scenario_by_name(args.scenario, [q.name for q in config.queues]).preceded_by(lead_s)
    except ValueError as e:
        print(f"wallboard: {e}", file=sys.stderr)
        return 2
    kind = args.pbx or config.pbx.kind
    esl = kind == "freeswitch"
    if esl and lead_s:
        print("wallboard: --history-min needs the Asterisk face (its queue_log holds the history)", file=sys.stderr)
        return 2
    host = args.host or (config.esl.host if esl else config.ami.host)
    port = (config.esl.port if esl else config.ami.port) if args.port is None else args.port
    username = os.environ.get(config.ami.username_env) or DEFAULT_USER
    secret_env = config.esl.password_env if esl else config.ami.secret_env
    secret = os.environ.get(secret_env) or (DEFAULT_ESL_PASSWORD if esl else DEFAULT_SECRET)
    if secret in (DEFAULT_SECRET, DEFAULT_ESL_PASSWORD) and host not in ("127.0.0.1", "::1", "localhost"):
        print(f"wallboard: warning: the demo password on {host}; set {secret_env}", file=sys.stderr)

    async def main() -> None:
        clock = SystemClock()
        now = clock.now()
        centre = SimCentre(config, scenario, args.seed, now - timedelta(seconds=lead_s))
        if esl:
            from ..sim.esl_server import SimSwitch

            if args.queue_log:
                print("wallboard: --queue-log is written by the Asterisk face only", file=sys.stderr)
            pbx = SimSwitch(config, centre, clock, host, port, secret, speed=args.speed, domain=config.esl.domain)
            who = "event socket (mod_callcenter)"
        else:
            pbx = SimPbx(
                config, centre, clock, host, port, username, secret, speed=args.speed, queue_log=args.queue_log
            )
            who = f"AMI user {username}"
        if args.written_url:
            from ..sim.written import WrittenSender

            token = os.environ.get("WALLBOARD_HTTP_TOKEN", "")
            if not token:
                print("wallboard: --written-url needs the feed's token in WALLBOARD_HTTP_TOKEN", file=sys.stderr)
                raise SystemExit(2)
            pbx.written = WrittenSender(args.written_url, token)
        await pbx.start(live_from=now)
        print(
            f"wallboard pbx: simulated centre (scenario {scenario.name}, seed {args.seed}, speed {args.speed:g}x) "
            f"listening on {host}:{pbx.port}, {who}",
            file=sys.stderr,
            flush=True,
        )
        stop = stop_on_signals()
        try:
            await stop.wait()
        finally:
            await pbx.stop()

    asyncio.run(main())
    return 0
