"""AMI framing and parsing: CRLF/LF, blank-line ends, case-insensitive keys, the guards against bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.ami.protocol import Framer, Message, ParseError, encode_action, parse, peek_event


def frames(data: bytes, step: int = 7, max_line: int = 64) -> tuple[list, object]:
    f = Framer(max_line=max_line)
    out = []
    for i in range(0, len(data), step):  # fed in small pieces: lines and blocks straddle chunks
        out += f.feed(data[i : i + step])
    return out, f.close()


def test_crlf_and_lf_and_blank_line_ends_a_message():
    out, tail = frames(b"Event: A\r\nKey: v\r\n\r\nevent: B\nX: 1\n\n\n\nEvent: C\nQ: 2")
    assert [b.lines for b in out] == [[b"Event: A", b"Key: v"], [b"event: B", b"X: 1"]]
    assert [b.line_no for b in out] == [1, 4]
    assert tail.lines == [b"Event: C", b"Q: 2"] and tail.line_no == 9  # unterminated: the caller decides


def test_overlong_line_is_dropped_without_buffering_and_flags_its_block():
    long = b"X: " + b"y" * 500
    out, tail = frames(b"Event: A\n" + long + b"\nZ: 1\n\nEvent: B\nK: v\n\n", step=50)
    assert out[0].error == "line 2 is longer than 64 bytes"
    assert out[0].lines[0] == b"Event: A" and out[0].lines[-1] == b"Z: 1"
    assert out[1].error is None and out[1].lines == [b"Event: B", b"K: v"]
    assert tail is None


def test_keys_are_case_insensitive_and_values_trimmed():
    f = parse([b"event: AgentConnect", b"HoldTime: 3", b"AccountCode: ", b"Value: a: b"])
    assert f == {"event": "AgentConnect", "holdtime": "3", "accountcode": "", "value": "a: b"}
    m = Message(f)
    assert m.name == "agentconnect" and m.get("holdtime") == "3"
    assert peek_event([b"EVENT: QueueCallerJoin", b"x"]) == "queuecallerjoin"
    assert peek_event([b"Response: Success"]) is None


@pytest.mark.parametrize(
    "lines, reason",
    [
        ([b"Event: A", b"no colon here"], "line 2 has no colon: 'no colon here'"),
        ([b"Event: A", b"Name: caf\xff"], "line 2 is not UTF-8 (byte 0xff at column 10)"),
        ([b"Event: A", b": v"], "line 2 has an empty key"),
    ],
)
def test_parse_errors_name_the_line(lines, reason):
    with pytest.raises(ParseError) as e:
        parse(lines)
    assert str(e.value) == reason


def test_encode_action_refuses_line_breaks():
    assert encode_action("Ping", "wb1", {"Paused": True, "Queue": None}) == (
        b"Action: Ping\r\nActionID: wb1\r\nPaused: true\r\n\r\n"
    )
    with pytest.raises(ValueError):
        encode_action("QueueAdd", "wb2", {"Queue": "q1\r\nAction: Originate"})


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["QueueLog", "Originate", "Redirect", "QueuePause"]))
def test_no_header_carries_a_line_break_and_no_queue_log_field_a_pipe(value, action):
    """Whatever the value: either refused, or sent as one header line whose value is the value itself, with no
    control character, and without '|' in a QueueLog action (the PBX writes that row as given)."""
    try:
        wire = encode_action(action, "wb3", {"Message": value, "Uniqueid": "1796603886.393"}).decode()
    except ValueError as e:
        assert "Message" in str(e)
        assert any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value) or (action == "QueueLog" and "|" in value)
        return
    lines = wire.split("\r\n")
    assert lines[:2] == [f"Action: {action}", "ActionID: wb3"] and lines[-2:] == ["", ""]
    assert lines[2:-2] == [f"Message: {value}", "Uniqueid: 1796603886.393"]
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)
    assert action != "QueueLog" or "|" not in value
