"""``calls-csv``: call records, one row per call (CSV or TSV), turned into queue events.

A **mapping** (a small TOML file) says how to read a file: the delimiter, whether there is a header, the
time zone of the times, which column holds which field, what each outcome value means, and the **profile**
(the reading rules, written in Python here). Built-in mappings live in ``feeds/mappings/NAME.toml`` and are
chosen by name (``--mapping bank``); any other mapping is given by its path.

Profiles:

- ``generic`` — one row per queue entry: call id, queue, join time, wait, outcome (answered / abandoned /
  overflowed), talk, agent. Answered: join, answer at join + wait, completion at answer + talk (when a talk
  is given). Abandoned / overflowed: join, leave at join + wait. See ``feeds/mappings/generic.toml``.
- ``bank`` — the Technion SEE "Anonymous Bank" records (1999; ``feeds/mappings/bank.toml``), read as
  docs/PROTOCOLS.md#real-captures-and-data-sets says:

  * the queue is the service ``type``; the call id is ``f"{vru+line}-{call_id}"`` (``call_id`` alone repeats);
  * times are local wall clock (Asia/Jerusalem); ``date`` is the day of ``vru_entry``; every other time of
    day is placed on the day that puts it nearest to ``vru_entry`` (so ``0:00:10`` after ``23:59:50`` is the
    next day, while an exit a few minutes *before* the entry — the 291 rows with a negative ``vru_time`` —
    stays on the same day);
  * ``0:00:00`` in the ``q_*`` / ``ser_*`` columns means "not applicable", unless the other columns of the
    same group say it happened (then it is a real midnight: one February row queued at exactly 0:00:00, two
    rows were served from exactly 0:00:00);
  * AGENT = answered: queued (join at ``q_start``, answered at ``q_start + q_time`` with wait ``q_time``) or
    served straight from the voice menu (join and answer at ``vru_exit``, wait 0); the talk ends at
    ``ser_exit`` (never before the answer: service can start before ``q_exit``) with ``talk_s = ser_time``;
    no service times, no completion. ``NO_SERVER`` is no agent. AGENT with neither queue nor service times
    is a dead letter;
  * HANG after queueing = abandoned at ``q_start + q_time`` with wait ``q_time``; HANG without a queue start
    hung up in the voice menu: never offered, no events (counted in ``not_offered``);
  * PHANTOM rows are ignored (counted in ``phantom``).

Rows are not in time order, so ``read()`` reads the whole file, builds every event, sorts them by (time,
order within the call) with a stable sort, and yields them; the dead letters (malformed rows: wrong column
count, unparsable time or number, a time or duration out of range, unknown outcome) come first, in file
order, each naming its column. A stray quote that would swallow the lines after it rejects its own line only:
the lines after it are read again. ``parse_record(raw, line)`` reads one record the same way (for
``wallboard deadletter --redrive``), the columns taken from the file's header.
Event ids are stable for the same file: ``csv:{file name}:{line}:j`` (join), ``:a`` (answer or leave),
``:c`` (completion); the file name keeps two months' line 812 apart. Times are made aware with the
mapping's zone (``timezone=`` overrides it; no zone at all = the centre's) and carried with their fixed UTC
offset, so that subtracting two event times gives the real elapsed time across a summer-time change.
After ``read()`` the feed carries its counters: ``rows`` (data rows, header and blank lines excluded) =
``offered`` (= ``answered`` + ``abandoned`` + ``overflowed``) + ``not_offered`` + ``phantom`` + ``dead``.
"""

from __future__ import annotations

import csv
import io
import math
import os
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feeds.mapping_file import MappingError, load_mapping_file
from wallboard.config import WallboardConfig
from wallboard.events import (
    MAX_SECONDS,
    OVERFLOW_REASONS,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    Event,
    OverflowReason,
)
from wallboard.feed import DeadLetter, FeedOptions, FileFeed, Redrivable, build_options

Meaning = Literal["answered", "abandoned", "overflowed", "not_offered", "ignore"]

# Order of a call's events at the same second: join, then answer/leave, then completion.
JOIN, LEAVE, COMPLETE = 0, 1, 2
_HALF_DAY_S = 12 * 3600
# Times a row may give (1970 to year 5138, as the queue_log feed): a wait or talk of 1e20 s would otherwise
# reach datetime as an OverflowError instead of a dead letter naming the column.
_MAX_EPOCH = 1e11
_MAX_SECONDS = MAX_SECONDS  # the event model's limit: two talk times of 1e308 s sum to inf, which Redis refuses


class Mapping(BaseModel):
    """One mapping file (see feeds/mappings/*.toml)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", description="Defaults to the file's stem.")
    description: str = ""
    profile: Literal["generic", "bank"] = Field("generic", description="The reading rules (Python, in this module).")
    delimiter: str = Field(",", min_length=1, max_length=1)
    quoting: bool = Field(True, description="Honour CSV quotes; false for plain TAB files (faster).")
    header: bool = Field(True, description="The first line names the columns.")
    encoding: str = "utf-8"
    timezone: str | None = Field(None, description="Zone of naive times; unset = the centre's timezone.")
    time_format: str = Field("iso", description="'iso', 'epoch' or a strptime format (generic profile).")
    date_format: str = Field("%Y-%m-%d", description="strptime format of a date column (bank profile).")
    overflow_reason: OverflowReason = Field("timeout", description="Reason of an overflow without a reason column.")
    columns: dict[str, str | int] = Field(description="field = column header name (or 0-based index without header)")
    outcomes: dict[str, Meaning] = Field(description="value in the file = what it means")
    no_agent: list[str] = Field(default_factory=list, description="Agent values that mean 'no agent'.")
    queue_names: dict[str, str] = Field(default_factory=dict, description="Queue value in the file = queue name.")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'Asia/Jerusalem'") from None
        return v


# Fields each profile needs (required) and may use (optional).
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "generic": (
        ("call_id", "queue", "joined_at", "wait_s", "outcome"),
        ("talk_s", "agent", "caller", "overflow_reason", "customer"),
    ),
    "bank": (
        (
            "vru_line",
            "call_id",
            "queue",
            "date",
            "vru_entry",
            "vru_exit",
            "q_start",
            "q_exit",
            "q_time",
            "outcome",
            "ser_start",
            "ser_exit",
            "ser_time",
            "server",
        ),
        ("vru_time", "customer"),
    ),
}


def load_mapping(mapping: str | os.PathLike[str]) -> Mapping:
    """A built-in mapping by name (``bank``) or a mapping file by path."""
    m, where = load_mapping_file(mapping, Mapping)
    required, optional = _FIELDS[m.profile]
    missing = [f for f in required if f not in m.columns]
    unknown = [f for f in m.columns if f not in required and f not in optional]
    if missing or unknown:
        raise MappingError(
            f"{where}: profile {m.profile!r} "
            + (f"needs columns for {missing}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"has no field(s) {unknown} (it reads {list(required + optional)})" if unknown else "")
        )
    return m


class _Bad(Exception):
    """A row that cannot be read; the message names the column."""


class CallsCsvOptions(FeedOptions):
    """``[feeds.calls-csv]`` / ``--feed-opt`` (shortcut: --mapping)."""

    mapping: str = Field(
        "bank",
        min_length=1,
        description="Column mapping: a built-in name (bank, generic) or "
        "the path of a mapping TOML. Shortcut: --mapping.",
    )
    timezone: str | None = Field(
        None, description="Zone of the file's times (unset: the mapping's, else centre.timezone)."
    )

    @field_validator("mapping", mode="before")
    @classmethod
    def _path(cls, v: Any) -> Any:
        return os.fspath(v) if isinstance(v, os.PathLike) else v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (an IANA name, e.g. Asia/Jerusalem)") from None
        return v or None


class CallsCsvFeed:
    name = "calls-csv"
    Options = CallsCsvOptions
    provides = (FileFeed, Redrivable)

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        config: WallboardConfig,
        mapping: str | os.PathLike[str] | None = None,
        **options: Any,
    ):
        opts = self.options = build_options(CallsCsvOptions, self.name, config, {"mapping": mapping, **options})
        if not path:
            raise ValueError("the calls-csv feed reads a file: give its path")
        self.path = os.fspath(path)
        self.config = config
        self.mapping = load_mapping(opts.mapping)
        zone = opts.timezone or self.mapping.timezone
        self.tz = ZoneInfo(zone) if zone else config.centre.tz
        self._file_tag = Path(self.path).name
        self._idx: dict[str, int] = {}
        self._width: int | None = None  # columns per record, from the header (or the first row)
        self._tods: dict[str, int] = {}  # caches: a month repeats its days and times of day
        self._days: dict[str, date] = {}
        self._day_base: dict[date, float | None] = {}
        self._offsets: dict[timedelta | None, timezone] = {}
        self._hour_offsets: dict[float, timezone | bool] = {}
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.rows = 0
        self.offered = 0
        self.answered = 0
        self.abandoned = 0
        self.overflowed = 0
        self.not_offered = 0
        self.phantom = 0
        self.dead = 0
        self.events = 0

    @property
    def counters(self) -> dict[str, int]:
        keys = ("rows", "offered", "answered", "abandoned", "overflowed", "not_offered", "phantom", "dead", "events")
        return {k: getattr(self, k) for k in keys}

    # -- reading ---------------------------------------------------------------------------------------

    def read(self) -> Iterator[Event | DeadLetter]:
        self._reset_counters()
        built: list[tuple[float, int, Any]] = []
        dead: list[DeadLetter] = []
        self._width = None
        with open(self.path, encoding=self.mapping.encoding, errors="replace", newline="") as f:
            for got in self._records(f, self.mapping.header):
                if isinstance(got, DeadLetter):
                    dead.append(got)
                else:
                    built.extend(got)
        if self._width is None:  # not one line with anything on it: no header, no rows
            what = "no header line and no rows" if self.mapping.header else "no rows"
            raise MappingError(
                f"{self.path} is empty ({what}); give a call-record file (mapping {self.mapping.name!r})"
            )
        built.sort(key=lambda item: (item[0], item[1]))  # stable: equal keys keep file order
        self.events = len(built)
        yield from dead
        for _, _, ev in built:
            yield ev

    def parse_record(self, raw: str, where: str | int) -> list[Event | DeadLetter]:
        """One record on its own, as ``read`` would make it at line ``where`` (same ids, same checks), for
        ``wallboard deadletter --redrive``. The columns come from the file's header (or, without one, its
        first row's width); a mapping that does not fit the file raises MappingError, as ``read`` does."""
        self._reset_counters()
        line_no = int(where)
        if self._width is None:
            try:
                with open(self.path, encoding=self.mapping.encoding, errors="replace", newline="") as f:
                    for _ in self._records(f, self.mapping.header, layout_only=True):
                        pass
            except OSError as e:
                if self.mapping.header:
                    return [self._dead(line_no, f"cannot read the header of {self.path}: {e.strerror or e}", raw)]
            if self._width is None and self.mapping.header:
                return [self._dead(line_no, f"cannot read the header of {self.path}: the file is empty", raw)]
        got: list[Any] = list(self._records(io.StringIO(raw + "\n", newline=""), False, first_line=line_no))
        if len(got) != 1:  # a raw record is one record (an unclosed quote gives more: all but the first are lines)
            return [self._dead(line_no, "the record does not read as one CSV record", raw)]
        if isinstance(got[0], DeadLetter):
            return [got[0]]
        self.events = len(got[0])
        return [ev for _, _, ev in sorted(got[0], key=lambda item: (item[0], item[1]))]

    def _records(
        self, source: Any, header: bool, first_line: int = 1, layout_only: bool = False
    ) -> Iterator[list[tuple[float, int, Any]] | DeadLetter]:
        """Each data record of ``source`` (lines) -> its events (time, order, event) or its dead letter. The
        header (or the first row, without one) sets the columns and the width; ``layout_only`` stops there."""
        m = self.mapping
        profile: Callable[[list[str], int], list[tuple[float, int, Any]]] = (
            self._bank_row if m.profile == "bank" else self._generic_row
        )
        lines = _Lines(iter(source), first_line - 1)
        reader = csv.reader(
            lines, delimiter=m.delimiter, quoting=csv.QUOTE_MINIMAL if m.quoting else csv.QUOTE_NONE, strict=False
        )
        row: list[str] | None
        error: str | None
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:  # an unclosed quote ran past the field size limit
                row, error = None, str(e)
            else:
                error = None
            taken = lines.taken
            line_no = lines.line_no - len(taken) + 1
            lines.taken = []
            raw = "".join(taken).rstrip("\r\n")
            if not raw.strip():
                continue
            if row is None and self._width is None:
                raise MappingError(f"{self.path}: the first line does not read as CSV: {error}")
            if row is not None and self._width is None:
                self._width = len(row)
                self._idx = self._columns(row) if header else self._columns(None, len(row))
                if layout_only:
                    return
                if header:
                    continue
            if row is None or (len(row) != self._width and len(taken) > 1):
                # An unclosed quote swallows the lines after it: only its own line is rejected, the others are
                # read again (else one stray quote would drop the rest of the file into one dead letter).
                lines.push_back(taken[1:])
                first = taken[0].rstrip("\r\n")
                self.rows += 1
                why = error or f"expected {self._width} columns, found {len(row or ())}"
                yield self._dead(line_no, f"{why} (an unclosed quote? the lines after it are read again)", first)
                continue
            self.rows += 1
            yield self._record(profile, row, line_no, raw)

    def _record(
        self, profile: Callable, row: list[str], line_no: int, raw: str
    ) -> list[tuple[float, int, Any]] | DeadLetter:
        """One data record -> all of its events, or one dead letter and nothing else."""
        if len(row) != self._width:
            return self._dead(line_no, f"expected {self._width} columns, found {len(row)}", raw)
        try:
            return profile(row, line_no)
        except _Bad as e:
            return self._dead(line_no, str(e), raw)
        except ValidationError as e:  # an event the model refuses: still this row's fault, not a crash
            first = e.errors()[0]
            where = ".".join(str(x) for x in first["loc"]) or "(event)"
            return self._dead(line_no, f"event field {where}: {first['msg']}", raw)
        except (OverflowError, ValueError) as e:  # a backstop: the range checks should come first
            return self._dead(line_no, f"a value out of range: {e}", raw)

    def _dead(self, line_no: int, reason: str, raw: str) -> DeadLetter:
        self.dead += 1
        return DeadLetter(f"{self.name}:{self.path}:{line_no}", reason, raw)

    def _columns(self, header: list[str] | None, width: int | None = None) -> dict[str, int]:
        """Column index per mapped field, from the header's names (or the numbers the mapping gives). A file
        that does not fit is one MappingError naming every column missing and, where it can tell, why: no
        header line at all (the first line is data), or a delimiter other than the mapping's."""
        m = self.mapping
        idx: dict[str, int] = {}
        names = [h.strip() for h in header] if header is not None else None
        width = len(names) if names is not None else width or 0
        missing: list[str] = []
        for field, col in m.columns.items():
            if isinstance(col, int):
                if not 0 <= col < width:
                    raise MappingError(
                        f"{self.path}: mapping {m.name!r} wants column {col} for {field}; "
                        f"the file has {width} columns (0 to {width - 1})"
                    )
                idx[field] = col
            elif names is None:
                raise MappingError(
                    f"mapping {m.name!r}: column {col!r} is named but the mapping says there is no header"
                )
            elif col in names:
                idx[field] = names.index(col)
            else:
                missing.append(f"{col!r} ({field})" if col != field else repr(col))
        if missing:
            raise MappingError(
                f"{self.path} line 1: mapping {m.name!r} wants column(s) {', '.join(missing)}; "
                f"{self._header_problem(names or [])}"
            )
        return idx

    def _header_problem(self, names: list[str]) -> str:
        """What is wrong with a header that lacks mapped columns, in a few words, with what to do."""
        m = self.mapping
        wanted = {str(c) for c in m.columns.values() if isinstance(c, str)}
        shown = ", ".join(repr(n[:30]) for n in names[:8]) + (", ..." if len(names) > 8 else "")
        delim = {",": "comma", "\t": "TAB", ";": "semicolon", "|": "bar"}
        if len(names) == 1:
            others = [d for d in delim if d != m.delimiter and d in names[0]]
            if others:
                return (
                    f"the header is one column {names[0][:60]!r}: the file seems split by "
                    f"{delim[others[0]]}, the mapping by {delim.get(m.delimiter, repr(m.delimiter))} "
                    "(use a mapping with its delimiter)"
                )
        if not wanted & set(names):
            looks_like_data = any(_time_of_day(n) is not None or _is_number(n) for n in names)
            if looks_like_data:
                return (
                    f"no header line (the first line reads as data: {shown}); add the header line, or use "
                    "a mapping with header = false and column numbers"
                )
            return f"the header names none of the mapped columns (it has {shown}); is this the right --mapping?"
        return f"the header lacks some columns (it has {shown})"

    def _src(self, line_no: int) -> str:
        return f"{self.name}:{self.path}:{line_no}"

    def _ids(self, line_no: int) -> tuple[str, str, str]:
        base = f"csv:{self._file_tag}:{line_no}"
        return f"{base}:j", f"{base}:a", f"{base}:c"

    def _dt(self, epoch: float) -> datetime:
        """Local time of the mapping's zone, carried with its fixed UTC offset (+02:00 / +03:00): subtracting
        two datetimes of one ZoneInfo in Python ignores a summer-time change between them; fixed offsets don't.

        Fast path (replay speed, docs/PERFORMANCE.md): the fixed offset is looked up per UTC hour, for hours
        that have one offset and no repeated wall-clock time from end to end (all but the hour of a change);
        the datetime made with it equals the one made through the zone."""
        hour = epoch // 3600
        fixed = self._hour_offsets.get(hour)
        if fixed is None:
            fixed = self._hour_offsets[hour] = self._hour_offset(hour)
        if isinstance(fixed, timezone):
            return datetime.fromtimestamp(epoch, fixed)
        local = datetime.fromtimestamp(epoch, self.tz)
        off = local.utcoffset()
        assert off is not None  # a time in a zone (self.tz) has an offset
        fixed = self._offsets.get(off)
        if fixed is None:
            fixed = self._offsets[off] = timezone(off)
        return local.replace(tzinfo=fixed)

    def _hour_offset(self, hour: float) -> timezone | bool:
        """The fixed offset of a UTC hour (``hour`` = epoch // 3600) if it is the same, with no fold, at both
        ends of the hour; False otherwise (then every time of that hour goes through the zone)."""
        first = datetime.fromtimestamp(hour * 3600, self.tz)
        last = datetime.fromtimestamp(math.nextafter(hour * 3600 + 3600, -math.inf), self.tz)
        off = first.utcoffset()
        if off is None or off != last.utcoffset() or first.fold or last.fold:
            return False
        fixed = self._offsets.get(off)
        if fixed is None:
            fixed = self._offsets[off] = timezone(off)
        return fixed

    def _meaning(self, row: list[str]) -> Meaning:
        value = row[self._idx["outcome"]].strip()
        meaning = self.mapping.outcomes.get(value)
        if meaning is None:
            known = sorted(self.mapping.outcomes)
            raise _Bad(f"column {self._colname('outcome')!r}: unknown outcome {value!r} (known: {known})")
        return meaning

    def _colname(self, field: str) -> str:
        return str(self.mapping.columns[field])

    def _agent(self, value: str) -> str | None:
        value = value.strip()
        return None if not value or value in self.mapping.no_agent else value

    def _queue(self, value: str, field: str = "queue") -> str:
        value = value.strip()
        if not value:
            raise _Bad(f"column {self._colname(field)!r}: empty queue")
        return self.mapping.queue_names.get(value, value)

    def _number(self, row: list[str], field: str, *, allow_negative: bool = False) -> float:
        text = row[self._idx[field]].strip()
        try:
            v = float(text)
        except ValueError:
            raise _Bad(f"column {self._colname(field)!r}: {text!r} is not a number") from None
        if v != v or v in (float("inf"), float("-inf")) or (v < 0 and not allow_negative) or abs(v) >= _MAX_SECONDS:
            raise _Bad(f"column {self._colname(field)!r}: {text[:40]!r} is not a valid duration")
        return v

    def _count(self, meaning: Meaning) -> None:
        self.offered += 1
        if meaning == "answered":
            self.answered += 1
        elif meaning == "abandoned":
            self.abandoned += 1
        else:
            self.overflowed += 1

    # -- the bank profile -----------------------------------------------------------------------------

    def _bank_row(self, row: list[str], line_no: int) -> list[tuple[float, int, Any]]:
        ix = self._idx
        tod_cache = self._tods

        def cell(field: str) -> str:
            return row[ix[field]].strip()

        def tod(field: str) -> int:
            text = row[ix[field]]
            v = tod_cache.get(text)
            if v is None:
                v = _time_of_day(text.strip())
                if v is None:
                    raise _Bad(f"column {self._colname(field)!r}: {text.strip()!r} is not a time of day H:MM:SS")
                tod_cache[text] = v
            return v

        def seconds(field: str, allow_negative: bool = False) -> int:
            text = cell(field)
            try:
                v = int(text)
            except ValueError:
                raise _Bad(f"column {self._colname(field)!r}: {text!r} is not a whole number of seconds") from None
            if v < 0 and not allow_negative:
                raise _Bad(f"column {self._colname(field)!r}: negative duration {v}")
            if abs(v) >= _MAX_SECONDS:
                raise _Bad(f"column {self._colname(field)!r}: {text[:40]!r} is too long a duration")
            return v

        vru_line, call_no = cell("vru_line"), cell("call_id")
        if not vru_line or not call_no:
            raise _Bad(f"column {self._colname('vru_line' if not vru_line else 'call_id')!r}: empty")
        queue_raw = cell("queue")
        date_text = cell("date")
        day = self._days.get(date_text)
        if day is None:
            try:
                day = datetime.strptime(date_text, self.mapping.date_format).date()
            except ValueError:
                raise _Bad(f"column {self._colname('date')!r}: {date_text!r} is not a date") from None
            self._days[date_text] = day
        vru_entry, vru_exit = tod("vru_entry"), tod("vru_exit")
        if "vru_time" in ix:
            seconds("vru_time", allow_negative=True)  # checked, not used (negative in 291 rows, see above)
        q_start, q_exit, q_time = tod("q_start"), tod("q_exit"), seconds("q_time")
        ser_start, ser_exit, ser_time = tod("ser_start"), tod("ser_exit"), seconds("ser_time")
        server = cell("server")
        meaning = self._meaning(row)

        if meaning == "ignore":
            self.phantom += 1
            return []
        queued = bool(q_start or q_exit or q_time)  # "0:00:00" everywhere = no queue
        served = bool(ser_start or ser_exit or ser_time)
        if meaning == "not_offered" or (meaning != "answered" and not queued):
            self.not_offered += 1  # hung up in the voice menu
            return []
        if meaning == "answered" and not queued and not served:
            raise _Bad(
                f"column {self._colname('outcome')!r}: {cell('outcome')} with neither queue nor service times "
                f"({self._colname('q_start')} and {self._colname('ser_start')} are 0:00:00)"
            )
        queue = self._queue(queue_raw)

        day_base = self._day_base

        def at(tod_s: int) -> float:
            """Epoch of a time of day of this call: on the day that puts it nearest to vru_entry."""
            delta = tod_s - vru_entry
            shift = 1 if delta < -_HALF_DAY_S else -1 if delta > _HALF_DAY_S else 0
            d = day + timedelta(days=shift) if shift else day
            base = day_base.get(d, 0.5)
            if base == 0.5:
                base = day_base[d] = _uniform_day_base(d, self.tz)
            if base is None:  # a summer-time change that day
                return _local_epoch(d, tod_s, self.tz)
            return base + tod_s

        src = self._src(line_no)
        jid, aid, cid = self._ids(line_no)
        common = {"source": src, "queue": queue, "call_id": f"{vru_line}-{call_no}"}
        if queued:
            join_e, wait = at(q_start), float(q_time)
        else:  # served straight from the voice menu
            join_e, wait = at(vru_exit), 0.0
        leave_e = self._in_range(join_e + wait, "q_time")
        customer = cell("customer") if "customer" in ix else ""
        # customer_id 0: not identified (the documentation); an id a spreadsheet wrote as a float ("6.02E+11", 24
        # January rows) stands for many customers: not identified either. The engine hashes the id, never stores it
        who = customer if customer.isascii() and customer.isdigit() and customer.strip("0") else None
        join = CallerJoined(id=jid, ts=self._dt(join_e), customer=who, **common)
        out: list[tuple[float, int, Any]] = [(join_e, JOIN, join)]
        if meaning == "answered":
            agent = self._agent(server)
            answered = CallerAnswered(id=aid, ts=self._dt(leave_e), agent=agent, wait_s=wait, **common)
            out.append((leave_e, LEAVE, answered))
            if served:
                end_e = max(at(ser_exit), leave_e)  # service may start (and end) before the recorded answer
                done = CallCompleted(id=cid, ts=self._dt(end_e), agent=agent, talk_s=float(ser_time), **common)
                out.append((end_e, COMPLETE, done))
        elif meaning == "abandoned":
            out.append((leave_e, LEAVE, CallerAbandoned(id=aid, ts=self._dt(leave_e), wait_s=wait, **common)))
        else:
            reason = self.mapping.overflow_reason
            left = CallerOverflowed(id=aid, ts=self._dt(leave_e), reason=reason, wait_s=wait, **common)
            out.append((leave_e, LEAVE, left))
        self._count(meaning)
        return out

    # -- the generic profile --------------------------------------------------------------------------

    def _generic_row(self, row: list[str], line_no: int) -> list[tuple[float, int, Any]]:
        ix = self._idx

        def opt(field: str) -> str | None:
            if field not in ix:
                return None
            v = row[ix[field]].strip()
            return v or None

        call_id = row[ix["call_id"]].strip()
        if not call_id:
            raise _Bad(f"column {self._colname('call_id')!r}: empty call id")
        queue = self._queue(row[ix["queue"]])
        join_e = self._in_range(self._parse_time(row[ix["joined_at"]].strip(), "joined_at"), "joined_at")
        meaning = self._meaning(row)
        if meaning == "ignore":
            self.phantom += 1
            return []
        if meaning == "not_offered":
            self.not_offered += 1
            return []
        wait = self._number(row, "wait_s")
        talk = self._number(row, "talk_s") if opt("talk_s") is not None else None
        agent = self._agent(row[ix["agent"]]) if "agent" in ix else None
        reason: str = self.mapping.overflow_reason
        if meaning == "overflowed" and (given := opt("overflow_reason")) is not None:
            reason = given
            if reason not in OVERFLOW_REASONS:
                raise _Bad(f"column {self._colname('overflow_reason')!r}: {reason!r} is not one of {OVERFLOW_REASONS}")
        src = self._src(line_no)
        jid, aid, cid = self._ids(line_no)
        leave_e = self._in_range(join_e + wait, "wait_s")
        common = {"source": src, "queue": queue, "call_id": call_id}
        out: list[tuple[float, int, Any]] = [
            (
                join_e,
                JOIN,
                CallerJoined(id=jid, ts=self._dt(join_e), caller=opt("caller"), customer=opt("customer"), **common),
            )
        ]
        if meaning == "answered":
            answered = CallerAnswered(id=aid, ts=self._dt(leave_e), agent=agent, wait_s=wait, **common)
            out.append((leave_e, LEAVE, answered))
            if talk is not None:
                end_e = self._in_range(leave_e + talk, "talk_s")
                out.append(
                    (end_e, COMPLETE, CallCompleted(id=cid, ts=self._dt(end_e), agent=agent, talk_s=talk, **common))
                )
        elif meaning == "abandoned":
            out.append((leave_e, LEAVE, CallerAbandoned(id=aid, ts=self._dt(leave_e), wait_s=wait, **common)))
        else:
            out.append(
                (leave_e, LEAVE, CallerOverflowed(id=aid, ts=self._dt(leave_e), reason=reason, wait_s=wait, **common))
            )
        self._count(meaning)
        return out

    def _in_range(self, epoch: float, field: str) -> float:
        if not 0 <= epoch < _MAX_EPOCH:  # also nan
            raise _Bad(f"column {self._colname(field)!r}: puts the time out of range (1970 to year 5138)")
        return epoch

    def _parse_time(self, text: str, field: str) -> float:
        fmt = self.mapping.time_format
        try:
            if fmt == "epoch":
                return float(text)
            dt = datetime.fromisoformat(text) if fmt == "iso" else datetime.strptime(text, fmt)
        except ValueError:
            raise _Bad(f"column {self._colname(field)!r}: {text!r} is not a time ({fmt})") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        return dt.timestamp()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _time_of_day(text: str) -> int | None:
    """'H:MM:SS' to seconds since midnight; None if it is not one."""
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 2 for p in parts):
        return None
    h, mi, s = int(parts[0]), int(parts[1]), int(parts[2])
    if h >= 24 or mi >= 60 or s >= 60 or len(parts[1]) != 2 or len(parts[2]) != 2:
        return None
    return h * 3600 + mi * 60 + s


def _uniform_day_base(d: date, tz: ZoneInfo) -> float | None:
    """Epoch of local midnight when the day has one UTC offset throughout; None on a day with a change."""
    start = datetime.combine(d, time(0), tzinfo=tz)
    end = datetime.combine(d, time(23, 59, 59), tzinfo=tz)
    if start.utcoffset() != end.utcoffset():
        return None
    return start.timestamp()


def _local_epoch(d: date, tod_s: int, tz: ZoneInfo) -> float:
    """Local wall clock to epoch. An ambiguous time (the hour repeated when summer time ends) is read as
    its first occurrence (fold=0); a time skipped when summer time starts, with the offset before it."""
    h, rem = divmod(tod_s, 3600)
    return datetime.combine(d, time(h, rem // 60, rem % 60), tzinfo=tz).timestamp()


class _Lines:
    """Feeds csv.reader line by line, keeping the raw lines of the current record and the line number."""

    def __init__(self, f: Any, line_no: int = 0):
        self._f = f
        self._back: list[str] = []  # lines to read again, last first
        self.line_no = line_no
        self.taken: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._back.pop() if self._back else next(self._f)
        self.line_no += 1
        self.taken.append(line)
        return line

    def push_back(self, lines: list[str]) -> None:
        self._back.extend(reversed(lines))
        self.line_no -= len(lines)
