"""FreeSWITCH event socket (mod_event_socket) framing and parsing: bytes -> frames -> messages
(docs/PROTOCOLS_FREESWITCH.md).

- **Frames.** A frame is a block of ``Name: value`` header lines ending in a blank line (LF; a CR before it is
  tolerated), then, when the headers carry ``Content-Length``, exactly that many bytes of body. The switch
  writes every frame that way: ``auth/request``, ``command/reply`` (``Reply-Text``), ``api/response`` (the
  command's output as body), ``text/event-plain`` (the event as body), ``text/disconnect-notice``. The
  ``Framer`` is incremental (bytes in, frames out), so the live client and the simulated switch share it.
  A header line longer than ``max_line`` or a body longer than ``max_body`` is never buffered whole: the frame
  becomes a bad frame (its reason for the dead letter) and the stream goes on after it.
- **Plain events.** An event's body is itself ``Name: value`` lines whose values are URL-encoded (``%20``,
  ``%3A``...: mod_event_socket escapes every value so a newline cannot break the framing), then optionally its
  own ``Content-Length`` and body (``BACKGROUND_JOB`` carries the command's output there). An empty value is
  written ``_undef_``. ``parse_event`` decodes strict UTF-8 after unquoting and raises ``ParseError`` with a
  reason on anything else.
- **Commands.** ``encode_command`` refuses a line break (it would smuggle a second command in).
- **Tables.** ``callcenter_config ... list`` answers a ``|``-separated table, a header row first, then
  ``+OK``; ``parse_table`` turns it into dicts keyed by column name (so older column sets still read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes

MAX_LINE = 65536  # longest header line we accept (real ones are well under 1 KiB)
MAX_BODY = 4 * 1024 * 1024  # largest body we accept (a plain event is a few KiB; a big api answer less)
_RAW_KEEP = 4000  # how much of a bad frame a dead letter keeps
UNDEF = "_undef_"  # switch_event_serialize's spelling of an empty value


class ParseError(ValueError):
    """The frame or event cannot be read; the text is the dead letter's reason."""


@dataclass(slots=True)
class Frame:
    headers: dict[str, str]  # outer headers, lower-case keys (values are not URL-encoded at this level)
    body: bytes = b""
    number: int = 0  # 1-based frame number in the stream
    error: str | None = None  # a framing problem: the frame is a dead letter
    raw_head: list[bytes] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").lower()

    def raw(self) -> str:
        text = b"\n".join(self.raw_head) + (b"\n\n" + self.body if self.body else b"")
        return text[:_RAW_KEEP].decode("utf-8", "replace")


class Framer:
    """Incremental framer: ``feed(bytes)`` returns the frames completed so far."""

    def __init__(self, max_line: int = MAX_LINE, max_body: int = MAX_BODY):
        self.max_line, self.max_body = max_line, max_body
        self._buf = bytearray()
        self._head: list[bytes] = []
        self._need: int | None = None  # body bytes still expected for the current frame
        self._skip = 0  # body bytes of an oversized frame still to discard
        self._skipping_line = False
        self._error: str | None = None
        self._n = 0
        self._pending_headers: dict[str, str] = {}

    @property
    def pending(self) -> bool:
        """True when part of a frame has been read (a disconnect now truncates it)."""
        return bool(self._head or self._buf or self._need is not None or self._skip)

    def feed(self, data: bytes) -> list[Frame]:
        out: list[Frame] = []
        buf = self._buf
        buf += data
        pos = 0
        while True:
            if self._skip:  # the rest of an oversized body: drop it as it streams in
                take = min(self._skip, len(buf) - pos)
                pos += take
                self._skip -= take
                if self._skip:
                    break
                continue
            if self._need is not None:
                if len(buf) - pos < self._need:
                    break
                body = bytes(buf[pos : pos + self._need])
                pos += self._need
                self._need = None
                out.append(self._finish(body))
                continue
            i = buf.find(b"\n", pos)
            if i < 0:
                break
            line = bytes(buf[pos:i])
            pos = i + 1
            if self._skipping_line:  # the tail of an over-long line, already recorded
                self._skipping_line = False
                continue
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_line:
                self._too_long(line)
            elif line:
                self._head.append(line)
            elif self._head:
                frame = self._end_of_head()
                if frame is not None:
                    out.append(frame)
        del buf[:pos]
        if self._need is None and not self._skip and len(buf) > self.max_line:
            if not self._skipping_line:
                self._too_long(bytes(buf[:200]))
            self._skipping_line = True
            buf.clear()
        return out

    def close(self) -> Frame | None:
        """What is left when the stream ends mid-frame: a bad frame, or None."""
        if not self.pending:
            return None
        head = self._head or [bytes(self._buf[:200])]
        self._n += 1
        frame = Frame({}, b"", self._n, "truncated: the connection closed inside a frame", head)
        self._head, self._need, self._skip, self._error = [], None, 0, None
        self._buf.clear()
        return frame

    def _too_long(self, line: bytes) -> None:
        self._head.append(line[:200] + b"...")
        self._error = self._error or f"a header line is longer than {self.max_line} bytes"

    def _end_of_head(self) -> Frame | None:
        headers: dict[str, str] = {}
        for raw in self._head:
            key, sep, value = raw.decode("utf-8", "replace").partition(":")
            if sep and key.strip():
                headers.setdefault(key.strip().lower(), value.strip())
        length = headers.get("content-length")
        if length is not None and self._error is None:
            if not length.isdigit():
                self._error = f"Content-Length is not a byte count: {length[:40]!r}"
            elif int(length) > self.max_body:
                self._error = f"Content-Length {length} is over the {self.max_body}-byte limit"
                self._skip = int(length)
            elif int(length) > 0:
                self._need = int(length)
                self._pending_headers = headers
                return None
        return self._finish(b"", headers)

    def _finish(self, body: bytes, headers: dict[str, str] | None = None) -> Frame:
        if headers is None:
            headers = self._pending_headers
        self._n += 1
        frame = Frame(headers, body, self._n, self._error, self._head)
        self._head, self._error = [], None
        return frame


def parse_event(body: bytes) -> dict[str, str]:
    """A ``text/event-plain`` body -> {header name: decoded value} (names as sent; the first of a repeated
    name wins; ``_undef_`` becomes ""). A body of its own (after the event's ``Content-Length``) is returned
    under the key ``_body``. Raises ParseError naming the bad line."""
    fields: dict[str, str] = {}
    head, sep, rest = body.partition(b"\n\n")
    lines = head.split(b"\n")
    for n, raw in enumerate(lines, 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw:
            continue
        key, colon, value = raw.partition(b": ")
        if not colon:
            key, colon, value = raw.partition(b":")
        if not colon:
            raise ParseError(f"event line {n} has no colon: {raw[:80].decode('utf-8', 'replace')!r}")
        if not key.strip():
            raise ParseError(f"event line {n} has an empty name")
        try:
            name = key.strip().decode("ascii")
            text = unquote_to_bytes(value.strip()).decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError(f"event line {n} is not UTF-8 once decoded") from None
        if name not in fields:
            fields[name] = "" if text == UNDEF else text
    if sep and rest:
        length = fields.get("Content-Length")
        fields["_body"] = (
            rest[: int(length)].decode("utf-8", "replace")
            if length and length.isdigit()
            else rest.decode("utf-8", "replace")
        )
    return fields


def encode_command(command: str) -> bytes:
    """One command as wire bytes (``auth``, ``event``, ``api``, ``bgapi``...). A line break is refused: it
    would end the command early and start another."""
    if "\r" in command or "\n" in command:
        raise ValueError("an event-socket command may not contain a line break")
    return (command + "\n\n").encode("utf-8")


def quote_value(value: str) -> str:
    """A value as a plain event writes it (switch_url_encode: everything but unreserved characters)."""
    from urllib.parse import quote

    return quote(value, safe="-_.!~*'()") if value else UNDEF


def format_event(fields: dict[str, str], body: str | None = None) -> bytes:
    """An event as a ``text/event-plain`` frame (what the simulated switch writes)."""
    text = "".join(f"{k}: {quote_value(v)}\n" for k, v in fields.items())
    if body:
        data = body.encode("utf-8")
        inner = text.encode("utf-8") + f"Content-Length: {len(data)}\n\n".encode() + data
    else:
        inner = (text + "\n").encode("utf-8")
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


def parse_table(text: str) -> tuple[list[dict[str, str]], str | None]:
    """A ``callcenter_config ... list`` answer -> (rows keyed by column, error). The answer is a header row,
    data rows, then ``+OK``; no rows at all is ``+OK`` alone; a refusal is ``-ERR ...`` (returned as the
    error). A row with a different number of cells than the header is skipped (a ``|`` in a value)."""
    lines = [ln for ln in text.replace("\r", "").split("\n") if ln != ""]
    if lines and lines[0].startswith("-ERR"):
        return [], lines[0]
    if lines and lines[-1].startswith("+OK"):
        lines = lines[:-1]
    if not lines:
        return [], None
    cols = lines[0].split("|")
    rows = []
    for ln in lines[1:]:
        cells = ln.split("|")
        if len(cells) == len(cols):
            rows.append(dict(zip(cols, cells)))
    return rows, None
