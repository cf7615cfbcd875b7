"""The hub's messages. Every message is a JSON object with a ``type`` and ``at`` (the hub's time, UTC ISO 8601
with milliseconds and a Z), so screens tick timers from server time without trusting their own clock.

Hub -> screen:

``state``      on connect: ``layout`` (figures, labels, language, rotation, flash), ``role``, ``user``, the
               projection (``snapshot`` + ``queues``, see ``projection``), ``ticker`` and ``stale``
``update``     a new projection (the whole of it: a screen that missed some keeps only the newest)
``ticker``     the supervisor's message changed (``text``, empty when cleared)
``heartbeat``  every ``hub.heartbeat_s``: ``snapshot_at`` (age of the data, for the stale badge) and ``stale``
               (true while the hub cannot read Redis: the figures are the last it had); also sent at once
               when the hub loses or regains Redis
``accepted``   a supervisor's request is on the request stream (``id``, ``request``)
``refused``    a supervisor's request was not sent (``reason``)

Screen -> hub (supervisor tokens only; a viewer that sends anything is disconnected): ``ack`` or ``snooze``
with ``queue`` and ``metric`` (``minutes`` for a snooze). Extra fields are refused.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..actions.model import Ack
from ..config import THRESHOLD_METRICS

Metric = Literal[THRESHOLD_METRICS]  # type: ignore[valid-type]


def iso_ms(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(kind: str, now: datetime, **body: Any) -> bytes:
    """One message as UTF-8 JSON bytes (sent as a text frame)."""
    return json.dumps({"type": kind, "at": iso_ms(now), **body}, separators=(",", ":"), ensure_ascii=False).encode()


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: str = Field(min_length=1, max_length=200)
    metric: Metric


class AckMessage(_ClientMessage):
    type: Literal["ack"]


class SnoozeMessage(_ClientMessage):
    type: Literal["snooze"]
    minutes: float = Field(15, gt=0, le=24 * 60)


ClientMessage = Annotated[Union[AckMessage, SnoozeMessage], Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class Malformed(ValueError):
    """A message that is not JSON, or not one of ours."""


def parse_client_message(raw: str | bytes) -> AckMessage | SnoozeMessage:
    if isinstance(raw, bytes):
        raise Malformed("binary frames are not accepted")
    try:
        data = json.loads(raw)
    except ValueError as e:
        # a plain ValueError (an integer of over 4300 digits) has no .msg
        raise Malformed(f"not JSON ({getattr(e, 'msg', str(e))})") from None
    except RecursionError:  # "[[[[..." within the size limit: json gives up past ~1000 levels
        raise Malformed("not JSON (nested too deeply)") from None
    if not isinstance(data, dict) or "type" not in data:
        raise Malformed("a message is a JSON object with a 'type'")
    try:
        return CLIENT_MESSAGE.validate_python(data)
    except ValueError as e:
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}  # type: ignore[union-attr]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Malformed(f"{where}: {first.get('msg')}"[:100]) from None


def to_request(msg: AckMessage | SnoozeMessage, user: str, now: datetime) -> Ack:
    """The request for a supervisor's message (the hub signs it with the user's token when it submits it;
    the executor checks both again)."""
    at = now.astimezone(timezone.utc).replace(microsecond=0)
    until = at + timedelta(minutes=msg.minutes) if isinstance(msg, SnoozeMessage) else None
    return Ack(type=msg.type, queue=msg.queue, metric=msg.metric, user=user, at=at, until=until)
