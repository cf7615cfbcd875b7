"""The request model: one typed request per action, sent by the desk, the hub or `wallboard act` through
``wallboard.actions.submit`` onto the request stream. Extra fields are refused (requests come from screens and
browsers), and every number is bounded here, before anything can reach the PBX.

Every request has a unique ``id`` (the executor performs an id at most once) and a time-zone-aware ``at`` (it
refuses one that is stale or from the future). The user's token never travels: the stream entry carries the
token's public part (``cred``: user and expiry) and ``proof``, an HMAC of the entry under the whole token, so an
entry read off the stream can neither be altered nor made into a second request (see ``wallboard.actions.auth``).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal, Union

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_serializer, model_validator

SPY_MODES = ("listen", "whisper", "barge")
ACTIONS = ("listen", "whisper", "barge", "takeover", "move", "pause", "unpause", "ack", "snooze")
WIRE_ONLY = ("cred", "proof")  # stream fields that are not part of the request itself
PENALTY_MAX = 2_147_483_647  # Asterisk keeps a member's penalty in a C int and refuses a negative one
REVERT_MIN_S, REVERT_MAX_S = 60.0, 24 * 3600.0  # a temporary move lasts between a minute and a day
SNOOZE_MAX_S = 24 * 3600.0
NAME = r"^[^\x00-\x1f\x7f{}]{1,128}$"  # agent and queue names: printable, within a key's hash tag, bounded


def new_id() -> str:
    return uuid.uuid4().hex


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(
        default_factory=new_id,
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Unique per request: the executor performs an id at most once.",
    )
    user: str = Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f.{}|]+$", description="Who asks.")
    at: AwareDatetime = Field(description="When it was sent (ISO 8601 with a time zone).")

    @field_serializer("at")
    def _at(self, v: datetime) -> str:
        from ..events import utc

        return utc(v)


class Spy(_Request):
    """Listen, whisper or barge on an agent's current call (ChanSpy to the supervisor's own phone)."""

    type: Literal["listen", "whisper", "barge"]
    agent: str = Field(pattern=NAME)
    call_id: str | None = Field(None, max_length=128, pattern=r"^[^\x00-\x1f\x7f-\x9f|]*$")
    keypad: bool = Field(False, description="Start in keypad mode (4 listen, 5 whisper, 6 barge on the phone).")


class Takeover(_Request):
    """Take over an agent's current call: the caller is put through to the supervisor's own phone and the agent
    drops out (on Asterisk: Redirect of the caller's channel to the supervisor's extension)."""

    type: Literal["takeover"] = "takeover"
    agent: str = Field(pattern=NAME)
    call_id: str | None = Field(None, max_length=128, pattern=r"^[^\x00-\x1f\x7f-\x9f|]*$")


class Move(_Request):
    """Add an agent to a skill queue, remove it, or change its penalty; optionally reverting later."""

    type: Literal["move"] = "move"
    agent: str = Field(pattern=NAME)
    queue: str = Field(pattern=NAME)
    op: Literal["add", "remove", "penalty"] = "add"
    penalty: int = Field(0, ge=0, le=PENALTY_MAX)
    revert_after_s: float | None = Field(
        None, ge=REVERT_MIN_S, le=REVERT_MAX_S, description="Undo the move after this long (1 min to 24 h)."
    )


PAUSE_REASON_MAX = 64
# printable, and no '|' (queue_log's separator): no C0 or C1 controls, no bidi overrides or isolates (they turn
# the text around on a screen), no line or paragraph separators
PAUSE_REASON_PATTERN = r"^[^\x00-\x1f\x7f-\x9f|\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]*$"


class Pause(_Request):
    type: Literal["pause", "unpause"]
    agent: str = Field(pattern=NAME)
    reason: str | None = Field(None, max_length=PAUSE_REASON_MAX, pattern=PAUSE_REASON_PATTERN)
    queue: str | None = Field(None, pattern=NAME, description="One queue, or all the agent's queues when unset.")


class Ack(_Request):
    type: Literal["ack", "snooze"]
    queue: str = Field(pattern=NAME)
    metric: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    until: AwareDatetime | None = Field(None, description="Snooze until (ISO 8601); default 15 minutes.")

    @model_validator(mode="after")
    def _until_bounded(self) -> Ack:
        if self.until is not None and not (self.at < self.until <= self.at + timedelta(seconds=SNOOZE_MAX_S)):
            raise ValueError(f"until must be after at and at most {SNOOZE_MAX_S / 3600:g} h after it")
        return self

    @field_serializer("until")
    def _until(self, v: datetime | None) -> str | None:
        from ..events import utc

        return utc(v) if v is not None else None


Request = Annotated[Union[Spy, Takeover, Move, Pause, Ack], Field(discriminator="type")]
REQUEST_ADAPTER: TypeAdapter[Request] = TypeAdapter(Request)


def parse_request(fields: dict[str, str]) -> Request:
    """From a stream entry (all strings, ``cred`` and ``proof`` aside): numbers, times and flags are converted
    and bounded by the model."""
    data: dict = {k: v for k, v in fields.items() if v != "" and k not in WIRE_ONLY}
    data.setdefault("id", "")  # a request from the stream must name its id: one made up here would not be once
    if "keypad" in data:
        data["keypad"] = data["keypad"] in ("1", "true", "True")
    return REQUEST_ADAPTER.validate_python(data)


def to_fields(req: BaseModel) -> dict[str, str]:
    """The request as stream fields (every set field as a string), before ``cred`` and ``proof`` are added."""
    out = {}
    for k, v in req.model_dump(exclude_none=True).items():
        out[k] = ("1" if v else "0") if isinstance(v, bool) else str(v)
    return out


def call_words(queue: str | None, lasted_s: float | None, caller: str | None = None) -> str | None:
    """A call as a supervisor knows it, for confirmations and the audit: ``with ***5040 (Billing, 2:45 so far)``;
    without the caller ``(Billing, 2:45 so far)``; None when nothing is known (then the call's id is shown)."""
    from ..livetime import fmt_duration

    details = ([queue] if queue else []) + ([f"{fmt_duration(lasted_s)} so far"] if lasted_s is not None else [])
    tail = f"({', '.join(details)})" if details else ""
    return f"with {caller} {tail}".strip() if caller else tail or None


def describe(req: Request, agent_name: str | None = None, call: str | None = None) -> str:
    """What will happen, in the words a confirmation shows. ``call`` names the agent's call as a supervisor
    knows it (the desk: ``with ***5040 (Customer service, 2:41 so far)``); without it, its id."""
    who = agent_name or getattr(req, "agent", "")
    if isinstance(req, Spy):
        call = f" on the call {call}" if call else f" on call {req.call_id}" if req.call_id else ""
        tail = {
            "listen": "you hear both sides; nobody hears you",
            "whisper": "the agent hears you, the caller will not hear you",
            "barge": "both the agent and the caller hear you",
        }[req.type]
        keypad = " (keypad: 4 listen, 5 whisper, 6 barge)" if req.keypad else ""
        return f"{req.type.capitalize()} to {who}{call} — {tail}{keypad}"
    if isinstance(req, Takeover):
        call = f" {call}" if call else f" {req.call_id}" if req.call_id else ""
        return f"Take over {who}'s call{call} — the caller is put through to your phone; {who} drops out"
    if isinstance(req, Move):
        revert = f", back in {int(req.revert_after_s // 60)} min" if req.revert_after_s else ""
        if req.op == "add":
            return f"Add {who} to {req.queue} at penalty {req.penalty}{revert}"
        if req.op == "remove":
            return f"Remove {who} from {req.queue}{revert}"
        return f"Set {who}'s penalty in {req.queue} to {req.penalty}{revert}"
    if isinstance(req, Pause):
        where = f" in {req.queue}" if req.queue else ""
        if req.type == "pause":
            return f"Pause {who}{where}" + (f" ({req.reason})" if req.reason else "")
        return f"Unpause {who}{where}"
    return f"{req.type.capitalize()} the {req.metric} alert of {req.queue}"
