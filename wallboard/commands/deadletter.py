"""``wallboard deadletter``: list rejected input; ``--redrive`` reads it again under the current code and config.

A re-drive takes each dead letter (oldest first), finds its feed by the name its ``source`` starts with
(``queue-log:/var/log/asterisk/queue_log:812``: feed, file, position) and hands the ``raw`` record to the feed's
``parse_record(raw, where)`` — the same code the feed reads a file with. A record that now makes events has
them applied through the engine (exactly once by meaning, so a re-drive run twice, or stopped halfway and run
again, counts each call once) and only then leaves the stream, and ``:dlcount`` goes down by one. A record that
still fails stays, with the reason it fails for now (a new reason moves it to the end of the stream). Feeds
without ``parse_record`` keep their dead letters as they are: AMI (an event means something only among the
ones around it: re-mapped alone it would invent exits and states) and, for now, jsonl. Each re-drive is
recorded in the audit stream with the OS user who ran it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import Any

# Removes re-driven records and replaces still-rejected ones in one step in the centre slot (every key built
# from KEYS[1], as wallboard/lua's scripts). Only an entry this call removed counts: two re-drives at once
# never count one record out twice. ARGV: groups of op ('d' re-driven, 'r' new reason), id, source, reason, raw.
PAGE = 500  # dead letters read, re-parsed, applied and settled per round
APPLY_CHUNK = 5000  # events per engine.apply


def register(sub, add_common) -> None:
    sp = sub.add_parser(
        "deadletter",
        help="list rejected input with its reason and position; --redrive reads it again after a fix",
        description=__doc__.split("\n\n", 1)[1],
    )
    sp.add_argument("--last", type=int, default=50, help="list the latest N dead letters (default 50)")
    sp.add_argument("--json", action="store_true", help="the list (or the re-drive's outcome) as JSON")
    sp.add_argument(
        "--redrive", action="store_true", help="parse every dead letter again with its feed; apply those that now parse"
    )
    sp.add_argument(
        "--feed",
        default=None,
        help="--redrive: only the dead letters of this feed (e.g. calls-csv; with the engine's refusals of its events)",
    )
    sp.add_argument("--mapping", default=None, help="--redrive: calls-csv column mapping (a name or a TOML path)")
    sp.add_argument(
        "--window",
        choices=["since_reset", "all"],
        default="since_reset",
        help="--redrive: the counting window, as given to the replay that rejected them",
    )
    sp.add_argument("--dry-run", action="store_true", help="--redrive: say what would happen; change nothing")
    add_common(sp)
    sp.set_defaults(func=cmd_deadletter)


def cmd_deadletter(args) -> int:
    from ._context import config_from_args
    from wallboard.keys import Keys
    from wallboard.store import connect_sync

    if not args.redrive:
        given = [
            o
            for o, v in (
                ("--feed", args.feed),
                ("--mapping", args.mapping),
                ("--dry-run", args.dry_run),
                ("--window", args.window != "since_reset"),
            )
            if v
        ]
        if given:
            print(f"wallboard: {', '.join(given)} go(es) with --redrive", file=sys.stderr)
            return 2
    config = config_from_args(args)
    if args.redrive:
        return _cmd_redrive(args, config)
    from wallboard.privacy import masker, printable

    r = connect_sync(config, args.redis)
    keys = Keys(config.redis.prefix)
    total = int(r.get(keys.dlcount) or 0)
    mask = masker(config.centre)  # raw input holds caller numbers: masked here as on every screen but the desk
    entries = [
        (i, {k: mask(v) if k in ("raw", "reason") else v for k, v in f.items()})
        for i, f in r.xrevrange(keys.deadletter, count=args.last)
    ]
    if args.json:
        print(json.dumps({"total": total, "entries": [{"id": i, **f} for i, f in entries]}))
        return 0
    print(f"{total} rejected input record(s); the last {len(entries)}:")
    for rid, f in reversed(entries):
        print(
            f"{rid}  {printable(f.get('source', ''))}\n    reason: {printable(f.get('reason', ''))}\n"
            f"    input:  {printable(f.get('raw', '')[:200])}"
        )
    return 0


@dataclass
class RedriveResult:
    redriven: int = 0
    still_rejected: int = 0
    new_reason: int = 0  # of the still rejected: failing for another reason now
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    cannot: dict[str, int] = field(default_factory=dict)  # feed -> records it cannot re-read alone
    errors: dict[str, str] = field(default_factory=dict)  # "feed path" -> why its records were left alone

    def as_dict(self) -> dict[str, Any]:
        return {
            "redriven": self.redriven,
            "still_rejected": self.still_rejected,
            "new_reason": self.new_reason,
            "events": self.events,
            "applied": self.applied,
            "duplicates": self.duplicates,
            "cannot_redrive": self.cannot,
            "errors": self.errors,
        }


def split_source(source: str) -> tuple[str, str, str]:
    """``feed:path:where`` -> (feed, path, where); a path may hold colons, the position never does."""
    name, _, rest = source.partition(":")
    path, _, where = rest.rpartition(":")
    return name, path, where


def feed_of(source: str) -> str:
    """The feed a dead letter came from: the first name of its source, or for an event the engine refused
    (``engine:http:edge``: the http feed's, source edge) the name after ``engine:``."""
    from wallboard.feed import ENGINE_SOURCE

    name, _, rest = source.partition(":")
    return rest.partition(":")[0] if name == ENGINE_SOURCE else name


async def redrive(
    client,
    config,
    *,
    feed: str | None = None,
    mapping: str | None = None,
    window_mode: str = "since_reset",
    dry_run: bool = False,
) -> RedriveResult:
    """Re-drive the dead letters there are now (those a re-drive adds back are not read again)."""
    from wallboard.engine import Engine
    from wallboard.events import parse_event
    from wallboard.feed import ENGINE_SOURCE, DeadLetter, Redrivable, load_feed
    from wallboard.keys import Keys

    keys = Keys(config.redis.prefix)
    res = RedriveResult()
    newest = await client.xrevrange(keys.deadletter, count=1)
    if not newest:
        return res
    end = newest[0][0]
    # no feed_name: a re-drive is not the feed's reader and must not move its cursor
    engine = Engine(client, config, keys, window_mode=window_mode)
    await engine.start()
    feeds: dict[tuple[str, str], Any] = {}
    classes: dict[str, Any] = {}
    start = "-"
    while True:
        page = await client.xrange(keys.deadletter, min=start, max=end, count=PAGE)
        if not page:
            break
        events: list = []
        refused: list = []  # (record id, event) of the engine's dead letters
        settle_args: list[str] = []
        for rid, f in page:
            source, reason, raw = f.get("source", ""), f.get("reason", ""), f.get("raw", "")
            name, path, where = split_source(source)
            if feed is not None and feed not in (name, feed_of(source)):
                continue
            if name == ENGINE_SOURCE:  # an event the engine refused (its raw is the event): applied again below
                try:
                    refused.append((rid, parse_event(raw)))
                except ValueError:  # (pydantic's ValidationError is one) not an event: it stays as it is
                    res.still_rejected += 1
                continue
            if name not in classes:
                classes[name] = _feed_class(name)
                if classes[name] is None:
                    res.errors[name or "(no feed name)"] = "no feed of that name is installed"
            if classes[name] is None or not issubclass(classes[name], Redrivable):
                if classes[name] is not None:  # (a live feed is not even built: it would want credentials)
                    res.cannot[name] = res.cannot.get(name, 0) + 1
                res.still_rejected += 1
                continue
            key = (name, path)
            if key not in feeds:
                try:
                    options = {"mapping": mapping} if mapping and name == "calls-csv" else {}
                    feeds[key] = load_feed(name, path or None, config, **options)
                except Exception as e:  # a mapping that will not load: say so, leave them
                    feeds[key] = None
                    res.errors[f"{name} {path}"] = str(e)
            made = feeds[key]
            if made is None:
                res.still_rejected += 1
                continue
            try:
                items = made.parse_record(raw, where)
            except Exception as e:  # e.g. the mapping no longer fits the file: the record stays as it is
                hint = "; give its mapping with --mapping" if name == "calls-csv" and not mapping else ""
                res.errors.setdefault(f"{name} {path}", f"{type(e).__name__}: {e}{hint}")
                res.still_rejected += 1
                continue
            dead = [x for x in items if isinstance(x, DeadLetter)]
            if dead:  # all or nothing: a record that still makes a dead letter applies none of its events
                res.still_rejected += 1
                if dead[0].reason != reason:
                    res.new_reason += 1
                    settle_args += ["r", rid, source, dead[0].reason, raw]
                continue
            events += items
            res.redriven += 1
            settle_args += ["d", rid, "", "", ""]
        if not dry_run:
            for k in range(0, len(events), APPLY_CHUNK):  # applied before the records leave the stream
                got = await engine.apply(events[k : k + APPLY_CHUNK])
                res.applied += got.applied
                res.duplicates += got.duplicates
            if refused:  # once the feeds' events are in (an answer they bring makes a survey count now)
                got = await engine.apply([ev for _, ev in refused])
                still = {d.raw for d in got.rejected}
                res.applied += got.applied
                res.duplicates += got.duplicates
                for rid, ev in refused:
                    if ev.model_dump_json() in still:  # refused again: the record stays
                        res.still_rejected += 1
                    else:
                        res.redriven += 1
                        settle_args += ["d", rid, "", "", ""]
            if settle_args:
                await engine.scripts.run_pipeline(client, [("dead_letters_settle", keys.centre, tuple(settle_args))])
            # the lease owner builds only what changed (wallboard.incremental): without its share, its rolling
            # figures would miss the re-driven counts until its next full rebuild
            await engine.share_touched()
        res.events += len(events)
        if dry_run:
            res.still_rejected += len(refused)  # the engine decides only when they are applied
        else:
            res.events += len(refused)
        if page[-1][0] == end:
            break
        start = "(" + page[-1][0]
    return res


def _feed_class(name: str) -> Any:
    """The adapter class registered as ``name`` (None for a name no installed feed has)."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="wallboard.feeds"):
        if ep.name == name:
            return ep.load()
    return None


def _who() -> str:
    import getpass
    import os

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return f"uid {os.getuid()}"


async def audit(client, config, res: RedriveResult, what: str) -> None:
    """The re-drive on the audit trail (the fields the executor writes; ``wallboard audit`` shows it)."""
    from datetime import datetime, timezone

    from wallboard.events import utc
    from wallboard.keys import Keys

    now = datetime.now(timezone.utc)
    detail = f"dead letters re-driven {res.redriven}, still rejected {res.still_rejected} ({what})"
    entry = {
        "request": f"deadletter-redrive:{now.timestamp():.6f}",
        "type": "deadletter.redrive",
        "user": _who(),
        "agent": "",
        "queue": "",
        "metric": "",
        "detail": detail,
        "at": utc(now),
        "result": "ok" if not res.errors else "partial",
        "pbx": "",
    }
    await client.xadd(Keys(config.redis.prefix).audit, entry)


def _cmd_redrive(args, config) -> int:
    from wallboard.store import connect

    what = ", ".join(
        x
        for x in (
            f"feed {args.feed}" if args.feed else "every feed",
            f"mapping {args.mapping}" if args.mapping else "",
            f"window {args.window}" if args.window != "since_reset" else "",
        )
        if x
    )

    async def main() -> RedriveResult:
        client = await connect(config, args.redis)
        try:
            res = await redrive(
                client, config, feed=args.feed, mapping=args.mapping, window_mode=args.window, dry_run=args.dry_run
            )
            if not args.dry_run:
                await audit(client, config, res, what)
            return res
        finally:
            await client.aclose()

    res = asyncio.run(main())
    if args.json:
        print(json.dumps({**res.as_dict(), "dry_run": args.dry_run}))
    else:
        print(
            ("dry run: would have " if args.dry_run else "") + f"re-driven {res.redriven}, still rejected "
            f"{res.still_rejected}"
        )
        if res.new_reason:
            print(f"  {res.new_reason} of them fail for another reason now (see `wallboard deadletter`)")
        for name, n in sorted(res.cannot.items()):
            print(f"  {n} of them from the {name} feed, which cannot re-read one record alone: replay its source")
        print(f"{res.events} events, {res.applied} transitions applied, {res.duplicates} duplicates", file=sys.stderr)
    for where, why in sorted(res.errors.items()):
        print(f"wallboard: {where}: {why} (its dead letters were left as they are)", file=sys.stderr)
    return 1 if res.errors else 0
