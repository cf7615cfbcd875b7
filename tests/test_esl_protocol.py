"""The event socket's framing and plain-event parsing (wallboard.esl.protocol), byte by byte.

Wire facts pinned here come from FreeSWITCH's own source (signalwire/freeswitch, read at commit cc93a68):
mod_event_socket.c writes ``Content-Type: auth/request`` then a blank line as the greeting,
``Content-Type: command/reply\\nReply-Text: ...\\n\\n`` for commands, ``Content-Type: api/response`` with a
``Content-Length`` body, and events as ``Content-Length: N\\nContent-Type: text/event-plain\\n\\n`` followed
by ``switch_event_serialize`` output: ``Name: url-encoded value\\n`` lines, ``_undef_`` for an empty value,
then a blank line (or the event's own ``Content-Length`` and body)."""

from __future__ import annotations

import pytest

from wallboard.esl.protocol import Framer, ParseError, encode_command, format_event, parse_event, parse_table

EVENT_BODY = (
    b"Event-Name: CUSTOM\nCore-UUID: 7b1c3e0a-0000-4000-8000-000000000001\n"
    b"Event-Subclass: callcenter%3A%3Ainfo\nCC-Queue: support%40default\n"
    b"CC-Action: member-queue-start\nCC-Member-CID-Name: CHOUINARD%20MO\nCC-Agent-Type: _undef_\n\n"
)


def test_frames_split_anywhere_give_the_same_frames():
    wire = (
        b"Content-Type: auth/request\n\n"
        b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        + f"Content-Length: {len(EVENT_BODY)}\nContent-Type: text/event-plain\n\n".encode()
        + EVENT_BODY
        + b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    )
    whole = Framer().feed(wire)
    assert [f.content_type for f in whole] == ["auth/request", "command/reply", "text/event-plain", "api/response"]
    assert whole[1].headers["reply-text"] == "+OK accepted"
    assert whole[3].body == b"+OK\n"
    for cut in range(1, len(wire)):  # every split point: a TCP read may end anywhere
        f = Framer()
        frames = f.feed(wire[:cut]) + f.feed(wire[cut:])
        assert [(x.headers, x.body) for x in frames] == [(x.headers, x.body) for x in whole]
        assert not f.pending


def test_plain_event_values_are_url_decoded_and_undef_is_empty():
    ev = parse_event(EVENT_BODY)
    assert ev["Event-Subclass"] == "callcenter::info"
    assert ev["CC-Queue"] == "support@default"
    assert ev["CC-Member-CID-Name"] == "CHOUINARD MO"
    assert ev["CC-Agent-Type"] == ""


def test_event_with_a_body_of_its_own():
    body = b"Event-Name: BACKGROUND_JOB\nJob-UUID: abc\nContent-Length: 9\n\n+OK 1234\n"
    ev = parse_event(body)
    assert ev["Job-UUID"] == "abc" and ev["_body"] == "+OK 1234\n"


def test_format_then_parse_round_trips_awkward_values():
    fields = {"Event-Name": "CUSTOM", "CC-Member-CID-Name": "Ben: O'Hara\n100% sure", "Empty": ""}
    frame = Framer().feed(format_event(fields))[0]
    assert parse_event(frame.body) == {**fields, "Empty": ""}


def test_bad_event_lines_raise_with_a_reason():
    with pytest.raises(ParseError, match="no colon"):
        parse_event(b"Event-Name: CUSTOM\ngarbage line\n\n")
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_event(b"CC-Queue: %FF%FE\n\n")


def test_oversized_body_becomes_a_bad_frame_and_the_stream_goes_on():
    f = Framer(max_body=10)
    frames = f.feed(
        b"Content-Type: text/event-plain\nContent-Length: 20\n\n"
        + b"x" * 20
        + b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    )
    assert frames[0].error and "over the 10-byte limit" in frames[0].error
    assert frames[1].headers["reply-text"] == "+OK" and frames[1].error is None


def test_a_non_numeric_content_length_is_a_bad_frame():
    frames = Framer().feed(b"Content-Type: api/response\nContent-Length: ten\n\n")
    assert frames[0].error == "Content-Length is not a byte count: 'ten'"


def test_truncated_stream_is_reported_on_close():
    f = Framer()
    assert f.feed(b"Content-Type: text/event-plain\nContent-Length: 50\n\nEvent-Name: CUS") == []
    tail = f.close()
    assert tail is not None and tail.error.startswith("truncated")


def test_commands_with_line_breaks_are_refused():
    assert encode_command("api status") == b"api status\n\n"
    with pytest.raises(ValueError):
        encode_command("api status\n\nbgapi originate")


def test_callcenter_tables():
    # layout from mod_callcenter.c list_result_callback: header row, '|' cells, rows, then +OK
    text = "queue|agent|state|level|position\nsupport@default|1001@default|Ready|1|1\n+OK\n"
    rows, err = parse_table(text)
    assert err is None and rows == [
        {"queue": "support@default", "agent": "1001@default", "state": "Ready", "level": "1", "position": "1"}
    ]
    assert parse_table("+OK\n") == ([], None)
    assert parse_table("-ERR Invalid!\n") == ([], "-ERR Invalid!")
