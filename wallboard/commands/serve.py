"""``wallboard serve``: the websocket hub with the TV page (``wallboard.hub``); ``wallboard ticker``: the
supervisor's message along the bottom of every TV."""

from __future__ import annotations

import sys


def register(sub, add_common) -> None:
    sp = sub.add_parser("serve", help="websocket hub for TVs: serves the TV page, /healthz and /metrics")
    sp.add_argument("--host", default=None, help="address to listen on (default: hub.host)")
    sp.add_argument("--port", type=int, default=None, help="port (default: hub.port; 0 = any free port)")
    sp.add_argument("--log", default=None, help="log to this file instead of stderr")
    sp.add_argument("--verbose", action="store_true", help="log every connection (INFO), not only problems")
    sp.add_argument(
        "--check",
        action="store_true",
        help="health check: ask the running hub's /healthz (at --host/--port, default hub.host/hub.port); "
        "exit 0 when it is ok (Redis followed, a fresh snapshot), 1 otherwise; one line",
    )
    add_common(sp)
    sp.set_defaults(func=cmd_serve)

    tp = sub.add_parser("ticker", help="set (or clear) the message shown along the bottom of every TV")
    tp.add_argument("text", nargs="?", default=None, help="the message; none: print the current one")
    tp.add_argument("--clear", action="store_true", help="remove the message")
    tp.add_argument("--minutes", type=float, default=None, help="let the message expire after this long")
    add_common(tp)
    tp.set_defaults(func=cmd_ticker)


def cmd_serve(args) -> int:
    import asyncio
    import logging

    from ..aio import stop_on_signals
    from ._context import config_from_args
    from ..hub.server import Hub
    from ..store import connect

    level = logging.INFO if args.verbose else logging.WARNING
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    if args.log:
        logging.basicConfig(filename=args.log, level=level, format=fmt)
    else:
        logging.basicConfig(stream=sys.stderr, level=level, format=fmt)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("wallboard.hub.ws").setLevel(logging.WARNING)  # the library's own chatter, as above
    config = config_from_args(args)
    if args.check:
        return check_hub(config, args.host, args.port)
    demo = getattr(args, "running_demo", None)
    shown: dict[str, str] = {}
    if demo is not None:  # the demo's throwaway viewer tokens (kept in its state file, mode 0600): the
        import os  # kiosk URLs can be printed whole, a click away

        for var, tok in demo.viewer_tokens.items():
            if not os.environ.get(var):
                os.environ[var] = shown[var] = tok
    from ..hub.tls import server_context

    tls = server_context(config.hub) is not None  # a bad certificate or key stops us here, before Redis

    async def main() -> None:
        client = await connect(config, args.redis)
        hub = Hub(config, client, host=args.host, port=args.port)
        stop = stop_on_signals()
        await hub.start()
        base = f"{'https' if tls else 'http'}://{hub.host}:{hub.port}"
        if not tls and hub.host not in ("127.0.0.1", "::1", "localhost"):
            logging.getLogger("wallboard.hub").warning(
                "serving plain http on %s: kiosk and supervisor tokens cross the network in clear; set hub.tls_cert "
                "and hub.tls_key",
                hub.host,
            )
        print(f"wallboard hub on {base}  (/healthz, /metrics)", flush=True)
        print_kiosk_urls(base, hub.layouts.values(), shown_tokens=shown, signed=_has_token_secret(config))
        try:
            await stop.wait()
        finally:
            await hub.stop()
            await client.aclose()

    asyncio.run(main())
    return 0


def check_hub(config, host: str | None, port: int | None) -> int:
    """``wallboard serve --check``: one line from the hub's ``/healthz``; 0 when it says ok."""
    import json
    import ssl
    import urllib.error
    import urllib.request

    from ..hub.tls import server_context

    host = host if host is not None else config.hub.host
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    tls = server_context(config.hub) is not None
    url = f"{'https' if tls else 'http'}://{f'[{host}]' if ':' in host else host}:{port or config.hub.port}/healthz"
    ctx = None
    if tls:  # our own hub's health, not its certificate (which names the public host, not this address)
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=5, context=ctx) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, e.read()
    except (OSError, ValueError) as e:
        print(f"hub: not running — nothing answers at {url} ({getattr(e, 'reason', e)})", flush=True)
        return 1
    try:
        h = json.loads(body)
    except ValueError:
        print(f"hub: unknown — {url} answered {status} with no health report (another program on that port?)")
        return 1
    age = h.get("snapshot_age_s")
    said = f"snapshot {h.get('snapshot_seq')}, {age} s old, " if age is not None else ""
    said += f"{h.get('clients')} screen(s)"
    ok = status == 200 and h.get("status") == "ok"
    print(f"hub: {'OK' if ok else h.get('status', status)} — {said} ({url})", flush=True)
    return 0 if ok else 1


def _has_token_secret(config) -> bool:
    from ..actions.auth import Refused, secrets

    try:
        return bool(secrets(config))
    except (Refused, OSError):
        return False


def print_kiosk_urls(base: str, layouts, environ=None, shown_tokens=None, signed: bool = False) -> list[str]:
    """One kiosk URL per layout. The token is never printed (this output ends up in logs and journals): the
    URL says TOKEN and names the variable that holds it; a layout whose variable is unset gets a warning on
    stderr, since every TV opening it with a static token is refused (``signed``: the hub has the token secret,
    so a signed kiosk token still opens it, and the line says how to make one). Returns the layouts without a
    static token. ``shown_tokens`` (variable -> token): the running demo's throwaway tokens, printed in their
    URLs."""
    import os

    env = os.environ if environ is None else environ
    shown_tokens = shown_tokens or {}
    missing = []
    if shown_tokens:
        print("kiosk URLs of the running demo (open one in a browser):", flush=True)
    else:
        print("kiosk URLs (TOKEN: the value of the variable named beside each):", flush=True)
    for lay in layouts:
        if lay.token_env in shown_tokens:
            print(f"  {lay.name}: {base}/?layout={lay.name}&token={shown_tokens[lay.token_env]}", flush=True)
            continue
        print(f"  {lay.name}: {base}/?layout={lay.name}&token=TOKEN   (TOKEN = ${lay.token_env})", flush=True)
        if not env.get(lay.token_env):
            missing.append(lay.name)
            if signed:
                print(
                    f"wallboard serve: {lay.token_env} is not set: TVs on layout {lay.name!r} need a signed kiosk "
                    f"token (`wallboard token --viewer {lay.name}`)",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            print(
                f"wallboard serve: warning: {lay.token_env} is not set: every TV on layout {lay.name!r} will be "
                f"refused; set it (any long random string) and put the same value in the kiosk URL",
                file=sys.stderr,
                flush=True,
            )
    return missing


def cmd_ticker(args) -> int:
    from ._context import config_from_args
    from ..ticker import MAX_TICKER_CHARS, ticker_key
    from ..keys import Keys
    from ..store import connect_sync

    config = config_from_args(args)
    r = connect_sync(config, args.redis)
    key = ticker_key(Keys(config.redis.prefix))
    if args.clear:
        r.delete(key)
        print("ticker cleared")
    elif args.text is not None:
        text = args.text.strip()[:MAX_TICKER_CHARS]
        r.set(key, text, ex=int(args.minutes * 60) if args.minutes else None)
        print(f"ticker: {text}")
    else:
        print(r.get(key) or "(no ticker message)")
    return 0
