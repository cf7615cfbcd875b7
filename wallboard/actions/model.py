"""The request model: one typed request per action, sent by the TUI, the hub or `wallboard act` onto the
request stream. Extra fields are refused (requests come from screens and browsers)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SPY_MODES = ("listen", "whisper", "barge")
ACTIONS = ("listen", "whisper", "barge", "move", "pause", "unpause", "ack", "snooze")


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, description="Who asks (checked against the token).")
    token: str = Field(min_length=1, description="The user's signed token (`wallboard token`).")
    at: str | None = Field(None, description="When the screen sent it (ISO 8601).")


class Spy(_Request):
    """Listen, whisper or barge on an agent's current call (ChanSpy to the supervisor's own phone)."""

    type: Literal["listen", "whisper", "barge"]
    agent: str = Field(min_length=1)
    call_id: str | None = None
    keypad: bool = Field(False, description="Start in keypad mode (4 listen, 5 whisper, 6 barge on the phone).")


class Move(_Request):
    """Add an agent to a skill queue, remove it, or change its penalty; optionally reverting later."""

    type: Literal["move"] = "move"
    agent: str = Field(min_length=1)
    queue: str = Field(min_length=1)
    op: Literal["add", "remove", "penalty"] = "add"
    penalty: int = Field(0, ge=0)
    revert_after_s: float | None = Field(None, gt=0, description="Undo the move after this long.")


class Pause(_Request):
    type: Literal["pause", "unpause"]
    agent: str = Field(min_length=1)
    reason: str | None = None
    queue: str | None = Field(None, description="One queue, or all the agent's queues when unset.")


class Ack(_Request):
    type: Literal["ack", "snooze"]
    queue: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    until: str | None = Field(None, description="Snooze until (ISO 8601); default 15 minutes.")


Request = Annotated[Union[Spy, Move, Pause, Ack], Field(discriminator="type")]
REQUEST_ADAPTER: TypeAdapter[Request] = TypeAdapter(Request)


def parse_request(fields: dict[str, str]) -> Request:
    """From a stream entry (all strings): numbers and flags are converted by the model."""
    data: dict = {k: v for k, v in fields.items() if v != ""}
    if "keypad" in data:
        data["keypad"] = data["keypad"] in ("1", "true", "True")
    return REQUEST_ADAPTER.validate_python(data)


def to_fields(req: BaseModel) -> dict[str, str]:
    """For XADD: every set field as a string."""
    out = {}
    for k, v in req.model_dump(exclude_none=True).items():
        out[k] = ("1" if v else "0") if isinstance(v, bool) else str(v)
    return out


def describe(req: Request, agent_name: str | None = None) -> str:
    """What will happen, in the words a confirmation shows."""
    who = agent_name or getattr(req, "agent", "")
    if isinstance(req, Spy):
        call = f" on call {req.call_id}" if req.call_id else ""
        tail = {
            "listen": "you hear both sides; nobody hears you",
            "whisper": "the agent hears you, the caller will not hear you",
            "barge": "both the agent and the caller hear you",
        }[req.type]
        keypad = " (keypad: 4 listen, 5 whisper, 6 barge)" if req.keypad else ""
        return f"{req.type.capitalize()} to {who}{call} — {tail}{keypad}"
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
