"""What a feed adapter is, and how one is found: the feed contract.

Adapters live in ``feeds/`` and are registered in the ``wallboard.feeds`` entry-point group; the entry-point
name is the ``--feed`` name. An adapter class is built as ``Adapter(path, config, **options)`` and yields, in
the order the source gives them, ``Event`` objects and ``DeadLetter`` records (input it could not read: the
reason and the position, never a crash). Feeds know nothing of Redis or metrics.

**Capabilities** are Protocols (runtime-checkable); callers ask ``isinstance(feed, Resumable)``, never
``hasattr``. A class says which it provides in ``provides`` (``tests/test_feed_contract.py`` holds it to
that, both ways):

- ``FileFeed.read()`` — a finite source (a file, a recorded capture): an iterator.
- ``LiveFeed.follow(clock)`` — a live source: an async iterator that runs until cancelled.
- ``Resumable`` — ``cursor_key()`` and ``resume(state)``: the feed yields ``CursorMark`` items, ingest saves
  them once what they cover is applied and gives the last one back after a restart (or after Redis lost
  writes).
- ``Resyncable`` — ``request_resync()``: ask the live source for the present again (ingest does when Redis
  comes back).
- ``Redrivable`` — ``parse_record(raw, where)``: one dead letter's raw record read again on its own
  (``wallboard deadletter --redrive``).
- ``GapFilling`` — ``fill_gap(start, end)``: the events of a hole in a live source, from another record of
  it (the AMI feed's ``queue_log=PATH``).

**Options** are a pydantic model per feed (``Adapter.Options``, a ``FeedOptions``: typed, bounded,
``extra="forbid"``, each field described). ``build_options`` merges, later beating earlier: the model's
defaults, ``[feeds.NAME]`` in the config (``WALLBOARD_FEEDS__NAME__KEY`` in the environment beats the file,
as for every setting), then the options given (``--feed-opt key=value`` and the shortcut flags ``--host``,
``--port``, ``--mapping``, ...). Values from the command line are text and are parsed by the model, so
``false`` is false. Secrets are never options: a name in ``Options.secret_names`` is refused, with where to
put it instead. ``check-config`` checks every ``[feeds.NAME]`` section against its feed's model.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from .clock import Clock
from .config import WallboardConfig
from .errors import InputError
from .events import Event


# The source of an event the engine refused by what Redis knows (``engine:<the event's source>``): its raw is the
# event's JSON, not its feed's record, so ``wallboard deadletter --redrive`` applies that event again.
ENGINE_SOURCE = "engine"

# Feeds whose senders may send an exit (answered, abandoned, overflowed, callback) without ``wait_s`` for a
# conversation whose join the ingester did not see: a chat platform posting across an ingester's restart. The
# engine counts such an exit only when Redis holds its queue entry (the wait is then the entry's), and refuses it
# otherwise, as a dead letter: counted, it would be a join and an exit in the same second (a wait of 0, inside
# the service level). A close or a wrap-up (which carry no wait) of a conversation whose entry Redis does not hold
# is refused the same way: counted, it would be a completion and a handle time of a conversation never opened.
# Other feeds' exits without a wait, and their completions, are ones they saw without the join (a PBX feed
# started mid-call, a queue_log whose join predates the file or whose entry expired), counted as before.
EXITS_NEED_THEIR_ENTRY = frozenset({"http"})
_NEED_ENTRY_PREFIXES = tuple(f"{name}:" for name in sorted(EXITS_NEED_THEIR_ENTRY))


def needs_its_entry(source: str) -> bool:
    """Whether an event's source (``feed:position``) is of a feed in ``EXITS_NEED_THEIR_ENTRY``: its text before
    the first ':' is one (asked per event: no string made)."""
    return source.startswith(_NEED_ENTRY_PREFIXES) or (":" not in source and source in EXITS_NEED_THEIR_ENTRY)


@dataclass(frozen=True)
class DeadLetter:
    """Input that could not become an event: recorded with its reason and position, counted, skipped."""

    source: str  # feed name, file and position, e.g. "queue-log:/var/log/asterisk/queue_log:812"
    reason: str
    raw: str

    @property
    def digest(self) -> str:
        """The record's identity (the same position with the same content is the same record): what the dead
        letters count once by, and what a parked close is kept under."""
        return hashlib.sha1(f"{self.source}\n{self.raw}".encode("utf-8", "replace")).hexdigest()[:20]


@dataclass(frozen=True)
class CursorMark:
    """Where a live feed has read up to, in order among its events: saved (under ``key``) once the events
    before it are applied, and given back to ``feed.resume(state)`` after a restart."""

    key: str
    state: str


@runtime_checkable
class FileFeed(Protocol):
    """A finite source, read from start to end."""

    name: str

    def read(self) -> Iterator[Event | DeadLetter]: ...


Feed = FileFeed  # the name this protocol had first


@runtime_checkable
class LiveFeed(Protocol):
    """A live source, followed until cancelled (on ``clock``: inferred and timed events come out on it)."""

    name: str

    def follow(self, clock: Clock | None = None) -> AsyncIterator[Any]: ...


@runtime_checkable
class Resumable(Protocol):
    """A live feed with a cursor: it yields ``CursorMark`` items and starts again from one."""

    def cursor_key(self) -> str: ...

    def resume(self, state: str | None) -> None: ...


@runtime_checkable
class Resyncable(Protocol):
    """A live feed that can ask its source for the present again (who waits, every agent's state)."""

    def request_resync(self) -> None: ...


@runtime_checkable
class Redrivable(Protocol):
    """A feed that reads one raw record on its own, as ``read`` would at position ``where``."""

    def parse_record(self, raw: str, where: str | int) -> list[Event | DeadLetter]: ...


@runtime_checkable
class GapFilling(Protocol):
    """A live feed that fills a hole in its source from another record of it (empty when not configured)."""

    def fill_gap(self, start: datetime, end: datetime) -> list[Event]: ...


CAPABILITIES: tuple[type, ...] = (FileFeed, LiveFeed, Resumable, Resyncable, Redrivable, GapFilling)


# ---- options -------------------------------------------------------------------------------------------


class FeedOptionError(InputError, TypeError):
    """An option a feed cannot take (unknown, a secret, out of range): one line, exit 2. A TypeError too, as
    an unknown keyword argument is."""


class FeedOptions(BaseModel):
    """The base of every feed's options model."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    # names that are secrets, refused as options wherever they come from
    secret_names: ClassVar[frozenset[str]] = frozenset({"secret", "password", "passwd", "token"})

    @classmethod
    def secret_hint(cls, config: WallboardConfig) -> str:
        """Where a secret goes instead (said when one is given as an option)."""
        return "secrets come from the environment or a secret file named in the config"


class NoOptions(FeedOptions):
    """A feed that takes no options."""


O = TypeVar("O", bound=FeedOptions)


def config_section(config: WallboardConfig, feed: str) -> dict[str, Any]:
    """``[feeds.NAME]`` (also spelled with ``_`` for ``-``, as ``WALLBOARD_FEEDS__QUEUE_LOG__POLL_S`` gives
    it; the name as spelled wins)."""
    feeds = getattr(config, "feeds", None) or {}
    out: dict[str, Any] = {}
    for key in dict.fromkeys((feed.replace("-", "_"), feed)):
        section = feeds.get(key)
        if isinstance(section, dict):
            out.update(section)
    return out


def _problem(feed: str, e: ErrorDetails, origin: Mapping[str, str]) -> str:
    loc = [str(p) for p in e["loc"]]
    top = loc[0] if loc else ""
    where = f"{origin.get(top, 'option')} " if top else ""
    name = ".".join(loc) or "(options)"
    if origin.get(top) == "config":
        where, name = "", f"feeds.{feed}.{name}"
    msg = e["msg"].removeprefix("Value error, ")
    got = e.get("input")
    shown = f" (got {got!r})" if top and not isinstance(got, (dict, list)) and e["type"] != "missing" else ""
    return f"{where}{name}: {msg}{shown}"


def build_options(
    model: type[O], feed: str, config: WallboardConfig, given: Mapping[str, Any] | None = None, *, section: bool = True
) -> O:
    """The feed's options: defaults < ``[feeds.NAME]`` (env over file) < ``given`` (a ``None`` in ``given``
    is "not given"). FeedOptionError names the option, where it came from, and what is wrong."""
    data: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if section:
        for k, v in config_section(config, feed).items():
            data[k], origin[k] = v, "config"
    for k, v in (given or {}).items():
        if v is not None:
            data[k], origin[k] = v, "option"
    secret = sorted(k for k in data if k.lower() in model.secret_names)
    if secret:
        where = f"feeds.{feed}.{secret[0]} (in the config)" if origin[secret[0]] == "config" else secret[0]
        raise FeedOptionError(
            f"{feed} feed: {where}: a secret is never taken from options, the config or the "
            f"command line; {model.secret_hint(config)}"
        )
    unknown = sorted(k for k in data if k not in model.model_fields)
    if unknown:
        named = ", ".join(f"feeds.{feed}.{k}" if origin[k] == "config" else k for k in unknown)
        known = ", ".join(model.model_fields) or "(none)"
        raise FeedOptionError(f"{feed} feed: unknown option(s) {named}; known: {known}")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise FeedOptionError(f"{feed} feed: " + "; ".join(_problem(feed, x, origin) for x in e.errors())) from None


def parse_feed_opts(pairs: list[str] | None) -> dict[str, str]:
    """``["key=value", ...]`` (``--feed-opt``, repeatable) -> a dict of text values (the model parses them);
    FeedOptionError for one without ``=`` or a name."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise FeedOptionError(f"--feed-opt {pair!r}: expected key=value (e.g. --feed-opt settle_s=0.5)")
        out[key] = value
    return out


def merge_given(shortcuts: Mapping[str, Any], opts: Mapping[str, Any]) -> dict[str, Any]:
    """Shortcut flags (``--host``, ...) and ``--feed-opt`` together; the same option given both ways with two
    values is refused."""
    out = {k: v for k, v in shortcuts.items() if v is not None}
    for k, v in opts.items():
        if k in out and str(out[k]) != str(v):
            raise FeedOptionError(f"--{k.replace('_', '-')} {out[k]} and --feed-opt {k}={v} disagree; give one")
        out[k] = v
    return out


def options_model(cls: Any) -> type[FeedOptions]:
    model = getattr(cls, "Options", None)
    return model if isinstance(model, type) and issubclass(model, FeedOptions) else NoOptions


def _type_name(ann: Any) -> str:
    """A field's type as a user reads it: ``float``, ``md5|plain``, ``path``, ``datetime``; ``?`` = may be unset."""
    import types
    import typing

    args = typing.get_args(ann)
    if typing.get_origin(ann) is typing.Literal:
        return "|".join(str(a) for a in args)
    if type(None) in args and typing.get_origin(ann) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return (_type_name(rest[0]) if len(rest) == 1 else " | ".join(_type_name(a) for a in rest)) + "?"
    if typing.get_origin(ann) is dict:
        return "table"
    return {"Path": "path"}.get(getattr(ann, "__name__", ""), getattr(ann, "__name__", str(ann)))


def describe_options(name: str, cls: Any | None = None) -> str:
    """One feed's options as ``--help`` and ``--list-opts`` show them."""
    cls = cls or feed_class(name)
    model = options_model(cls)
    caps = ", ".join(p.__name__ for p in getattr(cls, "provides", ()))
    lines = [f"{name}" + (f" ({caps})" if caps else "")]
    if not model.model_fields:
        lines.append("    (no options)")
    for field, info in model.model_fields.items():
        default = info.get_default(call_default_factory=True)
        ann = _type_name(info.annotation)
        ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
        bounds = [
            f" [{op} {getattr(m, k)}]"
            for m in info.metadata
            for k, op in ops.items()
            if getattr(m, k, None) is not None
        ]
        head = f"    {field}: {ann}" + (f" = {default!r}" if default is not None else "") + "".join(bounds)
        lines.append(head)
        if info.description:
            lines += textwrap.wrap(info.description, 104, initial_indent=" " * 8, subsequent_indent=" " * 8)
    return "\n".join(lines)


def section_problems(feeds: Mapping[str, Any], config: WallboardConfig | None = None) -> list[tuple[str, str, str]]:
    """Every ``[feeds.NAME]`` section checked against its feed's options model, as ``ConfigError`` problems
    (field path, message, hint): ``feeds.ami.settle_s``, ``feeds.nosuch``, ..."""
    from .config import _problems

    cfg = config or WallboardConfig.model_construct()
    names = {n: n for n in feed_names()} | {n.replace("-", "_"): n for n in feed_names()}
    out: list[tuple[str, str, str]] = []
    for key, section in (feeds or {}).items():
        name = names.get(key)
        if name is None:
            out.append(
                (
                    f"feeds.{key}",
                    f"no feed named {key!r}; installed feeds: {', '.join(feed_names())}",
                    "use a --feed name, e.g. [feeds.ami]",
                )
            )
            continue
        if not isinstance(section, dict):
            out.append((f"feeds.{key}", "must be a table of options", "write [feeds.NAME] then key = value lines"))
            continue
        model = options_model(feed_class(name))
        for k in section:
            if k.lower() in model.secret_names:
                out.append((f"feeds.{key}.{k}", "a secret is never set in the config file", model.secret_hint(cfg)))
        data = {k: v for k, v in section.items() if k.lower() not in model.secret_names}
        try:
            model.model_validate(data)
        except ValidationError as e:
            for loc, msg, hint in _problems(e):
                if msg.startswith("Extra inputs") and "." not in loc:  # an unknown option: say which are known
                    msg = f"{msg}; {name} takes: {', '.join(model.model_fields) or '(no options)'}"
                out.append((f"feeds.{key}.{loc}", msg, hint))
    return out


class UnknownFeed(LookupError):
    pass


def feed_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="wallboard.feeds"))


def feed_class(name: str) -> Any:
    """The adapter class registered as ``name``; UnknownFeed when none is."""
    for ep in entry_points(group="wallboard.feeds"):
        if ep.name == name:
            return ep.load()
    raise UnknownFeed(f"no feed {name!r}; installed feeds: {', '.join(feed_names()) or '(none)'}")


def load_feed(name: str, path: str | None, config: WallboardConfig, **options: Any) -> Any:
    """``Adapter(path, config, **options)``: the adapter merges ``options`` over ``[feeds.NAME]`` through its
    options model (``build_options``)."""
    return feed_class(name)(path, config, **options)
