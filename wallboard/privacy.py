"""Caller numbers outside the desk UI. Snapshots carry them masked (``centre.mask_callers``, keeping
``mask_keep_digits``); TV projections and reports never carry them. What remains is raw input shown to people
(the dead-letter listing): ``mask_text`` masks the numbers in it, knowing where each of our input formats
keeps them, and any other phone-like run of 7 or more digits (call ids and epoch times stay readable)."""

from __future__ import annotations

import re

from .config import CentreConfig


def mask_number(number: str | None, keep: int) -> str | None:
    """``***4567``: the last ``keep`` digits (snapshots and the dead-letter listing)."""
    if not number:
        return number
    if keep <= 0:
        return "***"
    return "***" + number[-keep:] if len(number) > keep else "***" + number


# AMI headers holding a party's number (CallerIDNum, ConnectedLineNum, DestCallerIDNum, ...)
_AMI = re.compile(
    r"(?im)^([ \t]*(?:dest)?(?:calleridnum|connectedlinenum)[ \t]*:[ \t]*)"
    r"([^\r\n]*\d[^\r\n]*?)[ \t]*(?=\r?$)"
)
# our jsonl events' caller and customer (a CRM id), and a chat webhook's customer object ({"id": ...})
_JSON = re.compile(r'("(?:caller|customer)"\s*:\s*(?:\{\s*"id"\s*:\s*)?")([^"]*)(")')
# a run of digits standing alone (not part of an id like 1700000000.42, a channel like SIP/1001-00000001)
_DIGITS = re.compile(r"(?<![\w./-])(\+?\d{7,}|\+\d[\d -]{6,}\d)(?![\w./-])")  # +972-52-... written out too


def _epoch(digits: str) -> bool:
    """Epoch seconds or milliseconds of 2001-2033 (10 or 13 digits starting with 1): times, not numbers.
    A national number of 10 digits starts with a trunk 0 or, in North America, with 2-9."""
    return digits[0] == "1" and len(digits) in (10, 13)


def mask_text(text: str, keep: int) -> str:
    def field(m: re.Match) -> str:
        return m.group(1) + (mask_number(m.group(2), keep) or "") + (m.group(3) if m.lastindex == 3 else "")

    text = _AMI.sub(field, text)
    text = _JSON.sub(field, text)
    lines = []
    for line in text.split("\n"):  # queue_log: epoch|callid|queue|agent|ENTERQUEUE|url|callerid|position
        parts = line.split("|")
        if len(parts) > 6 and parts[4].strip().upper() == "ENTERQUEUE" and parts[6]:
            parts[6] = mask_number(parts[6], keep) or ""
            line = "|".join(parts)
        lines.append(line)
    return _DIGITS.sub(
        lambda m: m.group(1) if _epoch(m.group(1)) else mask_number(m.group(1), keep) or "", "\n".join(lines)
    )


def masker(centre: CentreConfig):
    """``mask_text`` under the centre's settings (the identity when ``mask_callers`` is off)."""
    if not centre.mask_callers:
        return lambda text: text
    return lambda text: mask_text(text, centre.mask_keep_digits)


def printable(text: str) -> str:
    """Text from outside as a terminal may show it: every character a terminal would act on (escape sequences,
    NUL, BEL, line breaks, bidi overrides) written as its escape, so a hostile input cannot recolour a screen,
    retitle a window or forge a line of a log."""
    return "".join(ch if ch.isprintable() or ch == "\t" else ch.encode("unicode_escape").decode("ascii") for ch in text)
