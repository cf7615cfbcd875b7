"""`wallboard act` (a request from a script), `wallboard audit` (the trail), `wallboard token` (issue a user
token), `wallboard executor` (the one process with PBX credentials)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from .. import telemetry
from ..aio import stop_on_signals
from ..actions.model import ACTIONS


def register(sub, add_common) -> None:
    sp = sub.add_parser("act", help=f"send an action request ({', '.join(ACTIONS)})")
    sp.add_argument(
        "action",
        choices=list(ACTIONS),
        help="what to do: spy on an agent's call (listen, whisper, barge), take it over, move an agent "
        "between skill queues, pause/unpause an agent, acknowledge or snooze a queue's alert",
    )
    sp.add_argument("--agent", help="the agent's id (listen, whisper, barge, takeover, move, pause, unpause)")
    sp.add_argument("--queue", help="the queue (move: the skill queue; pause: only in it; ack/snooze: the alert's)")
    sp.add_argument(
        "--op",
        choices=["add", "remove", "penalty"],
        default=None,
        help="move: add to the queue, remove from it, or change the penalty (default add)",
    )
    sp.add_argument("--penalty", type=int, default=None, help="move: the penalty in the queue (0 = first; default 0)")
    sp.add_argument("--revert-min", type=float, default=None, help="move: undo it after this many minutes")
    sp.add_argument("--reason", default=None, help="pause: the reason shown on the boards (e.g. lunch, coaching)")
    sp.add_argument(
        "--call-id", default=None, help="listen/whisper/barge/takeover: only if the agent is still on this call"
    )
    sp.add_argument("--metric", default=None, help="ack/snooze: the alert's metric")
    sp.add_argument("--until", default=None, help="snooze: until (ISO 8601)")
    sp.add_argument("--keypad", action="store_true", help="spy in keypad mode")
    sp.add_argument(
        "--user",
        default=os.environ.get("WALLBOARD_USER") or os.environ.get("USER"),
        help="who asks (the token's user; default $WALLBOARD_USER, else $USER)",
    )
    sp.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the outcome (0: don't)")
    add_common(sp)
    sp.set_defaults(func=cmd_act)

    sp = sub.add_parser("audit", help="the audit trail of requests and their outcomes")
    sp.add_argument("--last", type=int, default=50, help="how many of the latest entries (default 50)")
    sp.add_argument("--json", action="store_true", help="the entries as a JSON list, newest first")
    add_common(sp)
    sp.set_defaults(func=cmd_audit)

    sp = sub.add_parser("token", help="issue a signed token for a user or a TV layout (needs the token secret)")
    who = sp.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the user the token is for (a [[users]] name for actions)")
    who.add_argument("--viewer", metavar="LAYOUT", help="a read-only kiosk token for this layout's TVs")
    sp.add_argument("--ttl-h", type=float, default=None, help="lifetime in hours (default security.token_ttl_h)")
    add_common(sp)
    sp.set_defaults(func=cmd_token)

    sp = sub.add_parser("executor", help="run the executor: authorise, perform through the PBX, audit")
    sp.add_argument("--host", default=None, help="PBX host: AMI, or ESL with pbx.kind = freeswitch (default: config)")
    sp.add_argument("--port", type=int, default=None, help="PBX port: AMI (5038) or ESL (8021) (default: config)")
    sp.add_argument("--log", default=None, help="log to this file instead of stderr")
    sp.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 0 when an executor is alive (it marks Redis every few seconds), 1 otherwise; one line",
    )
    telemetry.add_flags(sp)
    add_common(sp)
    sp.set_defaults(func=cmd_executor)


def _token() -> str:
    tok = os.environ.get("WALLBOARD_TOKEN", "")
    path = os.environ.get("WALLBOARD_TOKEN_FILE")
    if not tok and path:
        tok = open(path).read().strip()
    return tok


def cmd_act(args) -> int:
    from pydantic import ValidationError

    from ..actions.model import REQUEST_ADAPTER
    from ..actions.submit import submit
    from ._context import config_from_args
    from ..clock import SystemClock
    from ..keys import Keys
    from ..store import connect

    config = config_from_args(args)
    token = _token()
    data = {"type": args.action, "user": args.user or "", "at": SystemClock().now()}
    for field, value in (
        ("agent", args.agent),
        ("queue", args.queue),
        ("op", args.op),
        ("penalty", args.penalty),
        ("reason", args.reason),
        ("call_id", args.call_id),
        ("metric", args.metric),
        ("until", args.until),
    ):
        if value is not None:
            data[field] = value
    if args.revert_min is not None:
        data["revert_after_s"] = args.revert_min * 60
    if args.keypad:
        data["keypad"] = True
    try:
        req = REQUEST_ADAPTER.validate_python(data)
    except ValidationError as e:
        for err in e.errors():
            where = ".".join(str(p) for p in err["loc"][1:]).replace("revert_after_s", "revert-min (x60 s)")
            print(f"wallboard act: {where}: {err['msg']}", file=sys.stderr)
        return 2
    if not token:
        print(
            "wallboard act: no token: set WALLBOARD_TOKEN or WALLBOARD_TOKEN_FILE (`wallboard token --user NAME`)",
            file=sys.stderr,
        )
        return 2
    keys = Keys(config.redis.prefix)

    async def send() -> int:
        r = await connect(config, args.redis)
        try:
            [rid] = await submit(r, keys, [req], token)
            print(f"request {rid} sent")
            if args.wait <= 0:
                return 0
            deadline = time.monotonic() + args.wait
            last = f"{max(0, int(rid.split('-')[0]) - 1000)}-0"  # an audit entry may share the request's ms
            while time.monotonic() < deadline:
                for _, entries in await r.xread({keys.audit: last}, count=100, block=500) or []:
                    for eid, f in entries:
                        last = eid
                        if f.get("request") == rid:
                            pbx = f" — PBX: {f['pbx']}" if f.get("pbx") else ""
                            print(f"{f['result']}: {f.get('detail', '')}{pbx}")
                            return 0 if f["result"] == "ok" else 1
            print("no outcome yet: is `wallboard executor` running?", file=sys.stderr)
            return 1
        finally:
            await r.aclose()

    return asyncio.run(send())


def cmd_audit(args) -> int:
    from ._context import config_from_args
    from ..keys import Keys
    from ..store import connect_sync

    config = config_from_args(args)
    r = connect_sync(config, args.redis)
    entries = r.xrevrange(Keys(config.redis.prefix).audit, count=args.last)
    if args.json:
        print(json.dumps([{"id": i, **f} for i, f in entries]))
        return 0
    for eid, f in reversed(entries):
        who = f.get("user", "")
        what = f.get("detail") or f"{f.get('type', '')} {f.get('queue', '')} {f.get('metric', '')}".strip()
        pbx = f" — PBX: {f['pbx']}" if f.get("pbx") else ""
        print(f"{f.get('at', '')}  {who:<10} {what}  => {f.get('result', '')}{pbx}")
    return 0


def cmd_token(args) -> int:
    from ..actions.auth import MIN_SECRET_BYTES, Refused, issue, secrets
    from ._context import config_from_args

    import math

    ttl = args.ttl_h
    if ttl is not None and not (math.isfinite(ttl) and 0 < ttl <= 8760):  # nan, inf, 0, negative, past a year
        print(
            f"wallboard token: --ttl-h {ttl:g} is not a lifetime; give hours, more than 0 and at most 8760 "
            "(a year), e.g. --ttl-h 12",
            file=sys.stderr,
        )
        return 2
    config = config_from_args(args)
    if args.viewer is not None and not any(lay.name == args.viewer for lay in config.layouts):
        known = ", ".join(lay.name for lay in config.layouts) or "none"
        print(f"wallboard token: --viewer {args.viewer!r} is no layout; layouts: {known}", file=sys.stderr)
        return 2
    try:
        ttl_s = ttl * 3600 if ttl is not None else None
        signing = secrets(config)[0]  # no secret, an unreadable file: said first, whoever the token is for
        if args.viewer is None and not any(u.name == args.user for u in config.users):
            known = ", ".join(u.name for u in config.users) or "none"
            print(
                f"wallboard token: --user {args.user!r} is no user of the config (its role says what it may do); "
                f"users: {known}",
                file=sys.stderr,
            )
            return 2
        if len(signing) < MIN_SECRET_BYTES:
            print(
                f"wallboard token: warning: the signing secret is shorter than {MIN_SECRET_BYTES} bytes; anyone "
                "who guesses it can sign tokens (make one with `openssl rand -base64 32`)",
                file=sys.stderr,
            )
        if args.viewer is not None:
            print(issue(config, args.viewer, ttl_s=ttl_s, purpose="viewer"))
        else:
            print(issue(config, args.user, ttl_s=ttl_s))
    except (Refused, ValueError) as e:  # no secret; a user name with a '.'
        print(f"wallboard token: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_executor(args) -> int:
    import logging

    from ..actions.executor import Executor
    from ._context import config_from_args
    from ..store import connect

    logging.basicConfig(filename=args.log, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = config_from_args(args)
    if args.check:
        return telemetry.check_command(config, args, "executor")

    async def main() -> None:
        client = await connect(config, args.redis)
        if config.pbx.kind == "freeswitch":  # mod_callcenter over the event socket (--host/--port: ESL's)
            from ..actions.fs_backend import FsBackend

            backend = FsBackend(config, host=args.host, port=args.port)
        else:
            from ..actions.ami_backend import AmiBackend

            backend = AmiBackend(config, host=args.host, port=args.port)
        await backend.start()
        ex = Executor(client, config, backend)
        stop_on_signals(ex.stop)
        try:
            with telemetry.metrics_served(args, ex.metrics.registry, "executor"):
                await ex.run()
        finally:
            await backend.close()
            await client.aclose()

    asyncio.run(main())
    return 0
