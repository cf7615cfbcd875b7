"""The ``[notifications]`` section: who is told of which alert, how, and when not.

Imported by ``wallboard.config`` (the root model's ``notifications`` field), so this module imports nothing of
the project at load time; the validators borrow the day and hours parsers of ``wallboard.config`` when they run.

Secrets never sit in the file: a webhook's URL (its token is in the path) and its signing secret come from an
environment variable (``url_env``, ``secret_env``) or a file (``url_file``, ``secret_file``); the SMTP password
is the ``[smtp]`` section's (``password_env`` / ``password_file``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ChannelKind = Literal["email", "webhook", "slack", "teams"]
Event = Literal["warn", "breach", "escalation", "resolved"]
_NAME = r"^[A-Za-z0-9_.@-]+$"
_ENV = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class NotifyChannel(_Section):
    """One way to reach a person. ``webhook`` posts the generic JSON body; ``slack`` posts ``{"text": ...}`` (Slack
    incoming webhooks and the tools that accept their shape: Mattermost, Rocket.Chat, Google Chat, Discord's
    ``/slack`` URL); ``teams`` posts an Adaptive Card in a ``message`` envelope (a Teams Workflows webhook)."""

    kind: ChannelKind
    name: str | None = Field(None, pattern=_NAME, description="Unique within the subscription; default: the kind.")
    to: list[str] = Field(default_factory=list, description="email: the addresses.")
    url_env: str | None = Field(None, pattern=_ENV, description="Webhooks: env var holding the URL (a secret).")
    url_file: Path | None = Field(None, description="Webhooks: or a file holding the URL.")
    secret_env: str | None = Field(
        None,
        pattern=_ENV,
        description="webhook: env var with an HMAC-SHA256 key; the body's signature goes in X-Wallboard-Signature.",
    )
    secret_file: Path | None = Field(None, description="webhook: or a file holding that key.")

    @property
    def label(self) -> str:
        return self.name or self.kind

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        bad = [a for a in v if not re.fullmatch(r"[^@\s,<>]+@[^@\s,<>]+", a)]
        if bad:
            raise ValueError(f"not an e-mail address: {', '.join(map(repr, bad))}")
        return v

    @model_validator(mode="after")
    def _shape(self) -> NotifyChannel:
        if self.kind == "email":
            if not self.to:
                raise ValueError("an email channel needs `to` (one address or more)")
            if self.url_env or self.url_file or self.secret_env or self.secret_file:
                raise ValueError("an email channel takes `to`, not a URL or secret (the SMTP settings are [smtp])")
        else:
            if self.to:
                raise ValueError(f"a {self.kind} channel takes no `to`")
            if (self.url_env is None) == (self.url_file is None):
                raise ValueError(
                    f"a {self.kind} channel needs exactly one of url_env or url_file (the URL holds "
                    "a token: it never goes in the config file)"
                )
            if (self.secret_env or self.secret_file) and self.kind != "webhook":
                raise ValueError("only a `webhook` channel is signed (secret_env / secret_file)")
            if self.secret_env and self.secret_file:
                raise ValueError("give secret_env or secret_file, not both")
        return self


class Subscription(_Section):
    """A person's choice: which queues and metrics, which events, through which channels, and when not."""

    name: str | None = Field(
        None,
        pattern=_NAME,
        description="Unique; default: the user. Name each one when a "
        "user has several: delivery records are keyed by it.",
    )
    user: str = Field(min_length=1, description="Who (a [[users]] name, or anyone's name).")
    queues: list[str] = Field(default_factory=list, description="Empty = every queue.")
    metrics: list[str] = Field(default_factory=list, description="Empty = every metric with a threshold.")
    events: list[Event] = Field(
        default_factory=lambda: ["breach", "escalation", "resolved"],
        description="Which transitions to send: warn, breach, escalation, resolved.",
    )
    escalate_after_s: float | None = Field(
        None,
        gt=0,
        description="Escalation: a breach not acknowledged this long; unset = notifications.escalate_after_s.",
    )
    quiet_hours: dict[str, str] = Field(
        default_factory=dict,
        description="e.g. { sun-thu = '22:00-07:00', "
        "'fri,sat' = '00:00-00:00' } (a span past midnight runs into the next day; "
        "equal ends = the whole day), in `timezone`.",
    )
    quiet_allow: list[Event] = Field(
        default_factory=list, description="Events still sent in quiet hours, e.g. ['escalation']."
    )
    timezone: str | None = Field(None, description="Zone of quiet_hours; unset = the centre's.")
    channels: list[NotifyChannel] = Field(min_length=1)

    @property
    def key(self) -> str:
        return self.name or self.user

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, v: dict[str, str]) -> dict[str, str]:
        from wallboard.config import check_hours

        return check_hours(v, "quiet hours")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'Asia/Jerusalem'") from None
        return v

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: list[str]) -> list[str]:
        from wallboard.config import THRESHOLD_METRICS

        bad = [m for m in v if m not in THRESHOLD_METRICS]
        if bad:
            raise ValueError(f"no metric {', '.join(map(repr, bad))}; use some of {', '.join(THRESHOLD_METRICS)}")
        return v

    @model_validator(mode="after")
    def _names(self) -> Subscription:
        labels = [c.label for c in self.channels]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise ValueError(f"channel name {', '.join(map(repr, dup))} used twice; give each channel a `name`")
        if not self.events:
            raise ValueError("events is empty: this subscription would send nothing")
        return self


class NotificationsConfig(_Section):
    """``wallboard notifier``: alerts delivered to people (docs/ALERTS.md)."""

    repeat_window_s: float = Field(
        900,
        ge=0,
        description="No second message of one kind for one (queue, metric) "
        "to one subscription within this long (a flapping breach).",
    )
    escalate_after_s: float = Field(600, gt=0, description="A breach not acknowledged this long is escalated.")
    retry_initial_s: float = Field(10, gt=0, description="First wait after a failed delivery; doubles, jittered.")
    retry_max_s: float = Field(900, gt=0, description="Longest wait between two attempts at one delivery.")
    max_attempts: int = Field(12, ge=1, description="Attempts at one delivery before it is given up (audited).")
    claim_s: float = Field(
        120,
        gt=0,
        description="A delivery claimed by a notifier that stopped is taken over by "
        "another after this long (its own restart takes it over at once).",
    )
    timeout_s: float = Field(10, gt=0, description="Per webhook request.")
    keep_h: float = Field(168, gt=0, description="How long delivery records (and their once-markers) are kept.")
    link: str | None = Field(None, description="A URL put in every message (the desk or TV page).")
    subscriptions: list[Subscription] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> NotificationsConfig:
        keys = [s.key for s in self.subscriptions]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(f"subscription {', '.join(map(repr, dup))} defined twice; give each a unique `name`")
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError("retry_max_s must be at least retry_initial_s")
        return self
