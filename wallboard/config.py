"""Configuration: one TOML file, ``WALLBOARD_*`` environment overrides, command-line flags on top.

Precedence: command-line flag > ``WALLBOARD_*`` environment (nested with ``__``, e.g.
``WALLBOARD_CENTRE__TIMEZONE``) > config file > defaults. ``REDIS_URL`` is honoured too (it beats the
file's ``redis.url``). ``load_config`` raises ``ConfigError`` with every problem, each naming its field path
and a hint; ``wallboard check-config`` prints them.
"""

from __future__ import annotations

from collections import Counter
import os
import re
import tomllib
from contextvars import ContextVar
from datetime import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from . import catalog
from .actions.model import PAUSE_REASON_MAX, PAUSE_REASON_PATTERN
from .channels import DEFAULTS as CHANNEL_DEFAULTS, WRITTEN, Channel
from .notify.settings import NotificationsConfig  # the [notifications] section (wallboard notifier)

SlFormula = Literal["answered", "excl_short_abandons", "all_offered", "abandons_good"]
WindowKind = Literal["since_reset", "rolling"]
Direction = Literal["above", "below"]

# Metrics a threshold may read: the names used in snapshots (the catalog's metrics with a direction).
THRESHOLD_METRICS = catalog.threshold_metrics()
# What a role may grant: the request types of wallboard.actions.model (a test keeps the two the same).
PERMISSIONS = ("listen", "whisper", "barge", "takeover", "move", "pause", "unpause", "ack", "snooze")
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RE = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


class _Section(BaseModel):
    # inf and nan are legal TOML floats; no setting of ours means either (a NaN threshold never compares)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# the pause reasons a centre gets unless it lists its own (the desk translates these: ``reason.<name>`` in its words)
DEFAULT_PAUSE_REASONS = ("break", "coaching", "meeting", "lunch", "training", "other")


class CentreConfig(_Section):
    name: str = "Contact centre"
    timezone: str = Field("UTC", description="IANA zone of the centre; the daily reset and hours use it.")
    reset_time: str = Field("00:00", description="Local time of the daily reset of since-reset counters (HH:MM).")
    week_start: Literal["sunday", "monday", "saturday"] = "sunday"
    rolling_minutes: int = Field(30, ge=1, le=1440, description="Length of the rolling window, in minutes.")
    mask_callers: bool = Field(True, description="Mask caller numbers on screens and in logs.")
    mask_keep_digits: int = Field(4, ge=0, le=20)
    entry_expiry_h: float = Field(48, gt=0, description="How long a queue-entry marker (per-call record) lives.")
    open_conversation_expiry_h: float = Field(
        336,
        gt=0,
        description="How long an answered written conversation (chat, e-mail) stays open with no event: its entry "
        "and the agent's open slot are kept until its close, or this long after its last event should the close "
        "never come (a lost close would otherwise hold the agent's slot for ever).",
    )
    bucket_expiry_h: float = Field(72, gt=0, description="How long minute buckets live (reports roll them up).")
    caller_expiry_s: float = Field(
        0, ge=0, description="Drop a waiting caller whose leave never arrives after this long (0 = never)."
    )
    pause_reasons: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PAUSE_REASONS),
        min_length=1,
        max_length=9,
        description="The reasons the desk offers when a supervisor pauses an agent (keys 1-9, in this order); "
        "the ones agents give on their phones belong here too, so the floor and the desk speak alike.",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; use an IANA name such as 'Asia/Jerusalem' or 'UTC'")
        return v

    @field_validator("reset_time")
    @classmethod
    def _reset(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @field_validator("pause_reasons")
    @classmethod
    def _reasons(cls, v: list[str]) -> list[str]:
        for r in v:
            if not r.strip() or len(r) > PAUSE_REASON_MAX or not re.fullmatch(PAUSE_REASON_PATTERN, r):
                raise ValueError(f"pause reason {r!r}: 1 to {PAUSE_REASON_MAX} printable characters, no '|'")
        if len(set(v)) != len(v):
            raise ValueError("pause reasons must be unique")
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_hhmm(v: str) -> time:
    m = re.fullmatch(r"(\d\d):(\d\d)", v)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"{v!r} is not a time of day; write HH:MM, e.g. '07:30'")
    return time(int(m[1]), int(m[2]))


def check_hours(v: dict[str, str], what: str) -> dict[str, str]:
    """Days -> 'HH:MM-HH:MM' spans (business hours, quiet hours), each day set and time checked."""
    for days, span in v.items():
        expand_days(days)
        m = _HOURS_RE.match(span)
        if not m:
            raise ValueError(f"{what} for {days!r}: {span!r} is not 'HH:MM-HH:MM'")
        parse_hhmm(f"{m[1]}:{m[2]}")
        parse_hhmm(f"{m[3]}:{m[4]}")
    return v


class Threshold(_Section):
    warn: float | None = Field(None, description="Level at which the metric shows 'warn'.")
    breach: float | None = Field(None, description="Level at which the metric shows 'breach' (and flashes).")
    direction: Direction = Field("above", description="'above': high is bad (waits); 'below': low is bad (SL).")
    window: WindowKind = Field("since_reset", description="Which window's value is compared.")
    margin: float = Field(0, ge=0, description="Hysteresis: how far back past a level before it clears.")
    hold_s: float = Field(0, ge=0, description="Hysteresis: how long it must stay back before it clears.")
    min_calls: int | None = Field(None, ge=0, description="Offered calls needed before a ratio may breach.")

    @model_validator(mode="after")
    def _order(self) -> Threshold:
        if self.warn is not None and self.breach is not None:
            bad = self.breach < self.warn if self.direction == "above" else self.breach > self.warn
            if bad:
                side = "at or above" if self.direction == "above" else "at or below"
                raise ValueError(
                    f"breach {self.breach} must be {side} warn {self.warn} for direction '{self.direction}'"
                )
        return self


class QueueConfig(_Section):
    name: str = Field(min_length=1)
    label: str | None = Field(None, description="Display name on screens.")
    channel: Channel = Field(
        "voice",
        description="voice, chat, messaging, email or social: the defaults of sl_threshold_s, short_abandon_s "
        "and thresholds (when left out) follow it (wallboard.channels), and agents serve it up to their capacity.",
    )
    sl_threshold_s: float = Field(
        20, gt=0, description="Answered within this many seconds counts for SL (default by channel: voice 20)."
    )
    short_abandon_s: float = Field(
        5, ge=0, description="Abandoned within this many seconds is a short abandon (default by channel: voice 5)."
    )
    sl_formula: SlFormula = "excl_short_abandons"
    count_overflow: bool = Field(False, description="Count overflowed calls in SL denominators.")
    min_calls: int = Field(10, ge=0, description="Offered calls needed before a ratio may breach.")
    wrapup_s: float = Field(0, ge=0, description="Wrap-up time after each call (used where the PBX hides it).")
    hours: dict[str, str] = Field(
        default_factory=dict,
        description="Business hours, e.g. { sun-thu = '08:00-20:00', fri = '08:00-13:00' }; empty = always open.",
    )
    thresholds: dict[str, Threshold] = Field(
        default_factory=dict, description="Per metric; a queue with none gets its channel's (voice: none)."
    )

    @model_validator(mode="before")
    @classmethod
    def _channel_defaults(cls, data: Any) -> Any:
        """What the file leaves out follows the channel (an e-mail queue's SL is 4 hours, not 20 s)."""
        if isinstance(data, dict) and data.get("channel", "voice") in CHANNEL_DEFAULTS:
            d = CHANNEL_DEFAULTS[data.get("channel", "voice")]
            data = {**data}
            data.setdefault("sl_threshold_s", d.sl_threshold_s)
            data.setdefault("short_abandon_s", d.short_abandon_s)
            if "thresholds" not in data:
                data["thresholds"] = {m: dict(t) for m, t in d.thresholds.items()}
        return data

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: dict[str, str]) -> dict[str, str]:
        return check_hours(v, "hours")

    @field_validator("thresholds")
    @classmethod
    def _metrics(cls, v: dict[str, Threshold]) -> dict[str, Threshold]:
        for metric in v:
            if metric not in THRESHOLD_METRICS:
                raise ValueError(f"no metric {metric!r}; thresholds take one of {', '.join(THRESHOLD_METRICS)}")
        return v


def expand_days(spec: str) -> list[str]:
    """'sun-thu' -> ['sun', 'mon', 'tue', 'wed', 'thu']; 'fri' -> ['fri']; 'sat,sun' too."""
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip().lower()
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"{spec!r}: days are {', '.join(DAYS)}")
            i = DAYS.index(a)
            while True:
                out.append(DAYS[i])
                if DAYS[i] == b:
                    break
                i = (i + 1) % 7
        elif part in DAYS:
            out.append(part)
        else:
            raise ValueError(f"{spec!r}: days are {', '.join(DAYS)} (ranges like 'sun-thu')")
    return out


class AgentConfig(_Section):
    id: str = Field(min_length=1)
    name: str | None = None
    skills: dict[str, int] = Field(default_factory=dict, description="queue = penalty (0 is best).")
    interface: str | None = Field(None, description="PBX interface, e.g. 'PJSIP/1001', mapped to this agent.")
    device: str | None = Field(None, description="Device the supervisor's ChanSpy targets, if not the interface.")
    capacity: dict[Channel, int] = Field(
        default_factory=dict,
        description="Items handled at once per channel, e.g. { voice = 1, chat = 3, email = 5 }; a channel left "
        "out takes its default (voice 1, chat 3, messaging, email and social 5); 0 = never that channel.",
    )
    voice_blocks_written: bool = Field(
        False, description="While on a voice call (or ringing) the agent takes no new written conversation."
    )

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, v: dict[str, int]) -> dict[str, int]:
        for ch, n in v.items():
            if not 0 <= n <= 50:
                raise ValueError(f"capacity for {ch}: {n} is not a number of items from 0 to 50")
        return v

    def capacity_of(self, channel: str) -> int:
        return self.capacity.get(channel, CHANNEL_DEFAULTS[channel].capacity)  # type: ignore[call-overload]


class AgentAlerts(_Section):
    long_call_s: float = Field(900, gt=0)
    long_wrap_s: float = Field(120, gt=0)
    long_pause_s: dict[str, float] = Field(
        default_factory=lambda: {"default": 900.0}, description="Per pause reason; 'default' for the rest."
    )
    missed_in_row: int = Field(3, ge=1)


class RedisConfig(_Section):
    url: str | None = Field(None, description="redis:// rediss:// or unix://; unset = the embedded server.")
    cluster: bool = Field(False, description="The URL is a node of a Redis Cluster (as redis+cluster:// says).")
    prefix: str = Field(
        "wb",
        min_length=1,
        max_length=64,
        pattern=r"^[^{}\s\x00-\x1f\x7f]+$",
        description="Key prefix, so centres or test runs can share a server (no braces: they "
        "would move every key's hash tag).",
    )
    password_file: Path | None = None
    # rediss:// only: the server's CA (else the system's), and a client certificate where the server asks for one
    tls_ca_file: Path | None = Field(None, description="rediss://: CA file that signed the server's certificate.")
    tls_cert_file: Path | None = Field(None, description="rediss://: client certificate (PEM) if the server wants one.")
    tls_key_file: Path | None = Field(None, description="rediss://: the client certificate's private key (PEM).")
    retry_initial_s: float = Field(0.2, gt=0, description="First wait after Redis is lost; doubles each time.")
    retry_max_s: float = Field(
        2,
        gt=0,
        description="Longest wait between two tries to reach Redis: screens stay "
        "stale at most about this long after it is back (bench/soak.py measures it).",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None:
            problem = redis_url_problem(v)
            if problem:
                raise ValueError(problem)
        return v


class EngineConfig(_Section):
    batch_size: int = Field(100, ge=1, le=10000, description="Events per script call.")
    tick_s: float = Field(1.0, gt=0)
    lease_ms: int = Field(5000, ge=500)
    publish_min_interval_ms: int = Field(
        100, ge=0, description="Leading-edge coalescing of snapshots: at most one per this for changes."
    )
    publish_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Coalescing under load: a publish for a change starts no sooner than the previous one's "
        "CPU time / publish_share after that one began (nor than publish_min_interval_ms, nor later than "
        "publish_max_interval_ms), so publishing for changes takes about this share of the owner's CPU; cheap "
        "publishes go out every publish_min_interval_ms.",
    )
    publish_max_interval_ms: int = Field(
        250, ge=0, description="Coalescing under load never holds a change back longer than this (and a tick)."
    )
    quiet_ms: int = Field(
        200,
        ge=0,
        description="After this long without input, the next batch is applied at once rather than gathered for 50 ms.",
    )
    incremental: bool = Field(
        True,
        description="The lease owner rebuilds only the queues and agents that changed "
        "(a sharded ingester always builds in full).",
    )
    full_rebuild_s: float = Field(
        30.0,
        gt=0,
        description="With incremental snapshots: a full rebuild at least "
        "this often (and after a Redis reconnect or a new lease).",
    )
    deltas: bool = Field(
        True,
        description="With incremental snapshots: publish what changed (a delta) and a full snapshot "
        "every full_publish_s or when a view asks; off: a full snapshot every time.",
    )
    full_publish_s: float = Field(
        5.0, gt=0, description="With deltas: a full snapshot at least this often (it refreshes waits and times)."
    )
    health_ttl_s: int = Field(10, ge=1)


class DisplayConfig(_Section):
    flash: bool = Field(True, description="Flash breaches (off for photosensitive floors).")
    flash_hz: float = Field(1.0, gt=0, le=2, description="At most 2 Hz.")
    stale_after_s: float = Field(5, gt=0)
    keys: dict[str, str] = Field(default_factory=dict, description="Binding id = key, to remap keys.")
    language: Literal["en", "he"] = Field(
        "en", description="The desk's language (wallboard tui): 'he' is Hebrew, right to left."
    )


class RoleConfig(_Section):
    permissions: list[str] = Field(default_factory=list, description="e.g. ['listen', 'move', 'ack'].")
    queues: list[str] | None = Field(None, description="Limit to these queues; unset = all.")

    @field_validator("permissions")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [p for p in v if p not in PERMISSIONS]
        if unknown:
            raise ValueError(
                f"no permission {', '.join(map(repr, unknown))}; a role grants some of {', '.join(PERMISSIONS)}"
            )
        return v


class UserConfig(_Section):
    name: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)
    device: str | None = Field(None, description="Supervisor's phone for listen/whisper/barge.")
    token_env: str | None = Field(None, description="Environment variable holding this user's token.")


class SecurityConfig(_Section):
    token_secret_env: str = Field(
        "WALLBOARD_TOKEN_SECRET",
        description="Env var with the secrets that sign tokens, one a line: the first signs, every one verifies "
        "(rotation: docs/DEPLOY.md).",
    )
    token_secret_file: Path | None = Field(None, description="Or a file holding those secrets, one a line.")
    token_ttl_h: float = Field(
        12, gt=0, le=8760, description="Lifetime of a token issued by `wallboard token` (at most a year)."
    )
    action_rate_per_min: int = Field(30, ge=1, description="Actions one user may request per minute.")


class HubConfig(_Section):
    """``wallboard serve``: the websocket hub that pushes each layout to TVs and serves the TV page."""

    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    tls_cert: Path | None = Field(None, description="PEM certificate (chain): set with tls_key to serve https/wss.")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert.")
    metrics_token_env: str = Field(
        "WALLBOARD_METRICS_TOKEN",
        description="Env var with the bearer token /metrics "
        "asks for; while unset, /metrics answers loopback clients only.",
    )
    client_buffer: int = Field(
        16, ge=1, description="Messages a client may fall behind (latest wins) before it is dropped as too slow."
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Page origins (scheme://host[:port]) allowed to connect besides the hub's own; '*' = any.",
    )
    max_message_bytes: int = Field(4096, ge=256, le=1 << 20, description="Largest message a client may send.")
    connection_rate_per_s: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="Requests one connection may send a second (sustained); excess frames are refused at the hub.",
    )
    connection_burst: int = Field(10, ge=1, le=10_000, description="Requests one connection may send at once.")
    write_buffer_bytes: int = Field(
        65536, ge=1024, description="Per-client send buffer cap; past it the client gets only the newest message."
    )
    slow_client_s: float = Field(10, gt=0, description="A client unable to take a message this long is dropped.")
    heartbeat_s: float = Field(2, gt=0, description="Heartbeat to every client (server time, snapshot age).")
    ticker_poll_s: float = Field(1, gt=0, description="How often the ticker message is read from Redis.")

    @model_validator(mode="after")
    def _tls_pair(self) -> HubConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise ValueError(
                f"hub.{given} is set but hub.{missing} is not: TLS needs both the certificate and its "
                "private key (PEM files); set both, or neither for plain http"
            )
        return self


# Figures a TV layout may show (snapshot names; agents_available is the queue's available agents): the catalog's.
if TYPE_CHECKING:
    BoardFigure = str  # the choices are made at import time, which mypy cannot see
else:
    BoardFigure = Literal[catalog.tv_figures()]


class LayoutConfig(_Section):
    """A TV layout: what ``wallboard board --layout NAME`` and the kiosk page ``/?layout=NAME&token=...`` show."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="Used in the kiosk URL and --layout.")
    title: str | None = Field(None, description="Heading on the screen; unset = the centre's name.")
    queues: list[str] = Field(default_factory=list, description="Queues in display order; empty = every queue.")
    figures: list[BoardFigure] = Field(
        default_factory=lambda: ["waiting", "longest_wait_s", "service_level", "agents_available"],
        min_length=1,
        description="Huge numbers per queue, in order.",
    )
    labels: dict[str, str] = Field(
        default_factory=dict, description="Display text for a figure or a queue (beats the language's defaults)."
    )
    language: Literal["en", "he"] = Field("en", description="Labels and direction: 'he' is right to left.")
    rotate_s: float = Field(10, ge=1, description="Seconds per page when the queues do not fit on one.")
    per_page: int = Field(
        0, ge=0, description="Queues per page at most (pages share the queues evenly); 0 = as many as fit the screen."
    )
    # What a floor board shows besides the figures (each can be turned off per layout).
    show_total: bool = Field(True, description="A centre total tile first on every page (agents counted once).")
    agent_states: bool = Field(
        True, description="A second row per tile: agents available, on call, wrap-up, paused, logged in."
    )
    targets: bool = Field(
        True, description="The target beside a figure with a threshold: its warn level ('SL 38% / 80%')."
    )
    other_window: bool = Field(
        True,
        description="Beside a windowed figure, its other window (today beside the "
        "rolling minutes, and the other way round).",
    )
    trend_s: float = Field(
        300, ge=0, description="A trend arrow: each figure against its value this many seconds ago; 0 = no arrows."
    )
    ticker_alerts: bool = Field(
        True,
        description="An alert line in the ticker per queue in breach "
        "('Customer service: 14 waiting, SL 38%'), beside the supervisor's "
        "message.",
    )
    level_icons: bool = Field(
        True, description="A shape besides the colour for warn (triangle) and breach (octagon), for colour-blind staff."
    )
    viewer_token_env: str | None = Field(
        None, description="Env var holding this layout's read-only kiosk token; unset = WALLBOARD_VIEWER_TOKEN_<NAME>."
    )

    @property
    def token_env(self) -> str:
        return self.viewer_token_env or "WALLBOARD_VIEWER_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", self.name.upper())


class AmiConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username_env: str = "WALLBOARD_AMI_USER"
    secret_env: str = "WALLBOARD_AMI_SECRET"
    secret_file: Path | None = None
    keepalive_s: float = Field(
        2,
        gt=0,
        description="Send a Ping this often (a half-open link is found within "
        "keepalive_s + keepalive_timeout_s: 4 s by default).",
    )
    keepalive_timeout_s: float | None = Field(
        None,
        gt=0,
        description="Drop the link when nothing at all comes back within this long after a Ping; unset = keepalive_s.",
    )
    takeover_context: str = Field(
        "from-internal",
        description="Take over a call: the caller's channel is "
        "redirected to the supervisor's extension (users.device 'PJSIP/2001' -> 2001) "
        "in this dialplan context, which must dial it.",
    )


class PbxConfig(_Section):
    """Which telephony system the executor acts on (the feeds are chosen with ``--feed``)."""

    kind: Literal["asterisk", "freeswitch"] = Field(
        "asterisk", description="'asterisk': AMI actions; 'freeswitch': mod_callcenter over the event socket."
    )


class EslConfig(_Section):
    """FreeSWITCH's event socket (mod_event_socket), for the freeswitch feed and executor."""

    host: str = "127.0.0.1"
    port: int = Field(8021, ge=1, le=65535)
    password_env: str = "WALLBOARD_ESL_PASSWORD"
    password_file: Path | None = Field(None, description="File holding the event-socket password.")
    domain: str = Field("default", description="Domain of queue and agent names on the switch (name@domain).")
    keepalive_s: float = Field(
        2,
        gt=0,
        description="Send `api status` this often (half-open link found within keepalive_s + keepalive_timeout_s).",
    )
    keepalive_timeout_s: float | None = Field(None, gt=0, description="Unset = keepalive_s.")
    tier_poll_s: float = Field(5, gt=0, description="Tier changes raise no event: the tier table is read this often.")


class SmtpConfig(_Section):
    host: str = "localhost"
    port: int = Field(25, ge=1, le=65535)
    tls: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str = "WALLBOARD_SMTP_PASSWORD"
    password_file: Path | None = Field(None, description="File holding the SMTP password (beats password_env).")
    sender: str = "wallboard@localhost"
    timeout_s: float = Field(30, gt=0, description="Per SMTP connection.")
    retry_initial_s: float = Field(60, gt=0, description="First wait after a failed send; doubles each time.")
    retry_max_s: float = Field(3600, gt=0, description="Longest wait between two attempts at one report.")


class HistoryConfig(_Section):
    interval_keep_days: int = Field(35, ge=1, description="How long 15-minute interval rollups are kept.")
    daily_keep_days: int = Field(400, ge=1, description="How long daily rollups are kept (reports reach this far).")
    late_h: float = Field(
        2, ge=0, description="Each rollup recomputes this far behind what it rolled up last (late events)."
    )


class SurveysConfig(_Section):
    """Post-contact surveys (``survey_response`` events): what counts as satisfied."""

    top_box: dict[str, int] = Field(
        default_factory=lambda: {"1-5": 4},
        description="CSAT scale ('LO-HI') = its lowest satisfied score (1-5: 4 and 5); a scale not listed: its "
        "two highest scores. The 0-10 scale is NPS (promoters 9-10, detractors 0-6).",
    )

    @field_validator("top_box")
    @classmethod
    def _scales(cls, v: dict[str, int]) -> dict[str, int]:
        for scale, top in v.items():
            m = re.fullmatch(r"(0|1)-([2-9]|10)", scale)
            if m is None or scale == "0-10":
                raise ValueError(f"top_box: {scale!r} is not a CSAT scale 'LO-HI' (0-10 is NPS)")
            if not int(m[1]) < top <= int(m[2]):
                raise ValueError(f"top_box: {scale} = {top} is not a score above the lowest of that scale")
        return v


class FcrConfig(_Section):
    """First contact resolution (docs/REPORTS.md): on only when a salt is set."""

    days: int = Field(7, ge=1, le=90, description="A repeat contact within this many days means not resolved.")
    groups: dict[str, list[str]] = Field(
        default_factory=dict,
        description="A matter spanning several queues: group = [queues]; a queue not listed is its own matter.",
    )
    salt_env: str = Field(
        "WALLBOARD_FCR_SALT", description="Environment variable holding the salt customers are hashed with."
    )
    salt_file: Path | None = Field(None, description="Or a file holding it (wins).")


# Agent figures a scorecard target may name (the catalog's agent metrics with a good direction)
AGENT_TARGETS = tuple(m.name for m in catalog.AGENT if m.worse is not None)


# Queue figures a target may name: the catalog's queue ratios with a good direction, and the queue's agents'
# occupancy (utilisation: live, its agents busy now; in reports, their time over the span)
QUEUE_TARGETS = (*(m.name for m in catalog.QUEUE if m.kind == "ratio" and m.worse is not None), "occupancy")


class PeriodTargets(_Section):
    """A figure's target per report period; one left out is the day's."""

    day: float | None = None
    week: float | None = None
    month: float | None = None


TARGET_HINT = "a share is a fraction (80 % is written 0.8), a count or a time 0 or more"


def _target_value_problem(figure: str, scope: Literal["queue", "agent"], v: Any) -> str | None:
    """Why ``v`` (as written) cannot be ``figure``'s target, or None (a non-number is left to the model's types)."""
    if isinstance(v, bool):  # pydantic would take true as 1.0
        return f"{str(v).lower()} is not a target: write a number"
    if not isinstance(v, (int, float)) or v != v:
        return None
    # a queue's occupancy is its agents' (the agent figure's bounds)
    m = catalog.get(figure, "agent" if figure == "occupancy" else scope)
    if m.fmt == "pct":  # a share: SL, answer and abandon rates, occupancy, CSAT
        if not 0 <= v <= 1:
            as_pct = f" ({v:g} % is written {v / 100:g})" if 1 < v <= 100 else ""
            return f"{v:g} is not a share between 0 and 1{as_pct}"
    elif m.fmt == "score":  # NPS: -1 (all detractors) to 1 (all promoters)
        if not -1 <= v <= 1:
            as_pct = f" (an NPS of {v:g} is written {v / 100:g})" if 1 < abs(v) <= 100 else ""
            return f"{v:g} is not a score between -1 and 1{as_pct}"
    elif v < 0:
        what = "a time in seconds" if m.unit == "seconds" else "a rate" if m.kind == "ratio" else "a count"
        return f"{v:g} is negative: {what} is 0 or more"
    return None


def _target_errors(loc: tuple, figure: str, value: Any, scope: Literal["queue", "agent"]) -> list[InitErrorDetails]:
    """The problems of one written target (a number, or a table of periods), as pydantic line errors at their
    place in the file (``targets.agents.occupancy.day``)."""

    def error(where: tuple, msg: str, v: Any, kind: str = "target_value") -> InitErrorDetails:
        return {"type": PydanticCustomError(kind, msg), "loc": where, "input": v}

    known = AGENT_TARGETS if scope == "agent" else QUEUE_TARGETS
    if figure not in known:
        msg = f"{figure!r} is not {'an agent' if scope == 'agent' else 'a queue'} figure with a target"
        return [error(loc, f"{msg} (one of {', '.join(known)})", value, "target_figure")]
    if isinstance(value, dict):
        if not value:
            return [error(loc, "an empty table sets no target: give day, week or month, or one number", value)]
        return [
            error((*loc, period), problem, value[period])
            for period in ("day", "week", "month")
            if period in value and (problem := _target_value_problem(figure, scope, value[period]))
        ]
    problem = _target_value_problem(figure, scope, value)
    return [error(loc, problem, value)] if problem else []


def _raise_target_errors(errors: list[InitErrorDetails]) -> None:
    if errors:  # each named at its own path (a ValueError here would name only the section)
        raise ValidationError.from_exception_data("TargetsConfig", errors)


class TargetsConfig(_Section):
    """Targets the figures are held to (docs/REPORTS.md)."""

    queues: dict[str, dict[str, float | PeriodTargets]] = Field(
        default_factory=dict,
        description="[targets.queues.NAME] (NAME '*': every queue not listed): figure = target, or "
        "{ day = .., week = .., month = .. }; shown beside the figure on the desk and the TV (the day's) and met or "
        "missed per day, week and month in reports.",
    )

    @field_validator("queues", mode="before")
    @classmethod
    def _queue_values(cls, v: Any) -> Any:
        if isinstance(v, dict):
            _raise_target_errors(
                [
                    e
                    for q, figs in v.items()
                    if isinstance(figs, dict)
                    for k, t in figs.items()
                    for e in _target_errors((q, k), k, t, "queue")
                ]
            )
        return v

    agents: dict[str, float | PeriodTargets] = Field(
        default_factory=dict,
        description="Agent scorecards: figure = target for every agent, e.g. calls_per_hour = 8, occupancy = 0.85, "
        "answer_rate = 0.95, aht_s = 300, csat = 0.8, or { day = .., week = .., month = .. } (met at or past it in "
        "the figure's good direction). A counted figure's (calls_handled, missed, ...) bare number or day target is "
        "per day logged in: a week or month without its own is judged against it times the days the agent was "
        "logged in (docs/REPORTS.md).",
    )

    @field_validator("agents", mode="before")
    @classmethod
    def _agent_values(cls, v: Any) -> Any:
        if isinstance(v, dict):
            _raise_target_errors([e for k, t in v.items() for e in _target_errors((k,), k, t, "agent")])
        return v


class ReportSchedule(_Section):
    name: str
    period: Literal["day", "week", "month"] = "day"
    at: str = "07:00"
    recipients: list[str] = Field(default_factory=list)
    queues: list[str] | None = None
    language: Literal["en", "he"] = Field("en", description="The e-mailed report's language: 'he' is right to left.")
    kind: Literal["report", "scorecard"] = Field(
        "report",
        description="'scorecard': the agents' scorecards (each figure per day and for the period beside "
        "[targets.agents]), e.g. for a team lead's morning review; 'report': the queue and agent report.",
    )
    role: str | None = Field(
        None, description="A team lead's view: only the role's queues and their agents (as `report --role`)."
    )
    agents: list[str] | None = Field(None, description="Only these agents (as `report --agent`).")


class WallboardConfig(BaseSettings):
    """The whole configuration (see config/wallboard.toml)."""

    model_config = SettingsConfigDict(env_prefix="WALLBOARD_", env_nested_delimiter="__", extra="forbid")

    centre: CentreConfig = Field(default_factory=CentreConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    display: DisplayConfig = Field(default_factory=DisplayConfig)
    agent_alerts: AgentAlerts = Field(default_factory=AgentAlerts)
    queues: list[QueueConfig] = Field(default_factory=list)
    agents: list[AgentConfig] = Field(default_factory=list)
    roles: dict[str, RoleConfig] = Field(default_factory=dict)
    users: list[UserConfig] = Field(default_factory=list)
    hub: HubConfig = Field(default_factory=HubConfig)
    layouts: list[LayoutConfig] = Field(default_factory=list, description="TV layouts (board and kiosk page).")
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    ami: AmiConfig = Field(default_factory=AmiConfig)
    pbx: PbxConfig = Field(default_factory=PbxConfig)
    esl: EslConfig = Field(default_factory=EslConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    reports: list[ReportSchedule] = Field(default_factory=list)
    history: HistoryConfig = Field(default_factory=HistoryConfig)
    surveys: SurveysConfig = Field(default_factory=SurveysConfig)
    targets: TargetsConfig = Field(default_factory=TargetsConfig)
    fcr: FcrConfig = Field(default_factory=FcrConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)
    feeds: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="[feeds.NAME]: a feed's own options (e.g. [feeds.http]), checked by that "
        "feed when it is built; a command-line flag beats them.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # flags (init) > WALLBOARD_* environment > the TOML file > defaults
        return (init_settings, env_settings, InitSettingsSource(settings_cls, init_kwargs=_FILE_DATA.get()))

    @model_validator(mode="after")
    def _cross(self) -> WallboardConfig:
        problems = cross_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(f"{where}: {msg}" for where, msg in problems))
        return self

    def queue(self, name: str) -> QueueConfig:
        """The queue's config; a queue not in the file gets the defaults (unknown queues are created on the fly)."""
        for q in self.queues:
            if q.name == name:
                return q
        return QueueConfig(name=name)

    def layout(self, name: str | None) -> LayoutConfig:
        """The named layout; without a name the first one, else every queue with the default figures.
        Raises KeyError for a name not in the file."""
        if name is None:
            return self.layouts[0] if self.layouts else LayoutConfig(name="default")
        for lay in self.layouts:
            if lay.name == name:
                return lay
        raise KeyError(name)

    def agent_by_interface(self) -> dict[str, str]:
        return {a.interface: a.id for a in self.agents if a.interface}


def cross_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Checks across sections (names defined twice, skills for queues that don't exist, unknown roles), on
    plain data, so they can be listed even when a field elsewhere is wrong."""
    out: list[tuple[str, str]] = []

    def seq(name: str) -> list[dict]:
        v = data.get(name) or []
        return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []

    def strs(v: Any) -> list[str]:  # names as the file gives them; a list or a table there is not one
        return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []

    def twice(v: list[str]) -> list[str]:  # by counting once (list.count per name was quadratic: 5,000 agents ~1 s)
        return sorted(n for n, c in Counter(v).items() if n and c > 1)

    names = strs([q.get("name") for q in seq("queues")])
    for n in twice(names):
        out.append(("queues", f"queue {n!r} is defined twice; each [[queues]] needs its own name"))
    ids = strs([a.get("id") for a in seq("agents")])
    for n in twice(ids):
        out.append(("agents", f"agent id {n!r} is defined twice"))
    known = {n for n in names if n}
    for i, a in enumerate(seq("agents")):
        skills = given if isinstance(given := a.get("skills"), dict) else {}
        for q in skills:
            if known and q not in known:
                out.append(
                    (
                        f"agents.{i}.skills",
                        f"agent {a.get('id')} is skilled for queue {q!r}, which has no [[queues]] entry",
                    )
                )
    lnames = strs([x.get("name") for x in seq("layouts")])
    for n in twice(lnames):
        out.append(("layouts", f"layout {n!r} is defined twice; each [[layouts]] needs its own name"))
    for i, lay in enumerate(seq("layouts")):
        for q in strs(lay.get("queues")):
            if known and q not in known:
                out.append(
                    (
                        f"layouts.{i}.queues",
                        f"layout {lay.get('name')} shows queue {q!r}, which has no [[queues]] entry",
                    )
                )
    roles = given if isinstance(given := data.get("roles"), dict) else {}
    for rname, role in roles.items():
        for q in strs(role.get("queues") if isinstance(role, dict) else None):
            if known and q not in known:
                out.append(
                    (f"roles.{rname}.queues", f"role {rname} is limited to queue {q!r}, which has no [[queues]] entry")
                )
    for i, u in enumerate(seq("users")):
        for r in strs(u.get("roles")):
            if r not in roles:
                out.append((f"users.{i}.roles", f"role {r!r} is not defined under [roles]"))
    for i, sch in enumerate(seq("reports")):
        team = sch.get("role")
        if isinstance(team, str) and team not in roles:
            out.append((f"reports.{i}.role", f"schedule {sch.get('name')}: role {team!r} is not defined under [roles]"))
    channels = {nm: q.get("channel", "voice") for q in seq("queues") if isinstance(nm := q.get("name"), str)}
    targets = given if isinstance(given := data.get("targets"), dict) else {}
    for q, figs in (tq if isinstance(tq := targets.get("queues"), dict) else {}).items():
        if isinstance(figs, dict) and "occupancy" in figs and channels.get(q) in WRITTEN:
            out.append(
                (
                    f"targets.queues.{q}.occupancy",
                    f"queue {q} is a written queue ({channels[q]}): it has no occupancy (its agents' load is their "
                    "slots in use), so this target would never be shown or judged; remove it",
                )
            )
    return out


def config_warnings(config: WallboardConfig) -> list[tuple[str, str]]:
    """What loads but is likely a mistake, as (field path, message): a target for a queue of no [[queues]] entry
    (a typo goes silent; not an error, as queues also appear on the fly)."""
    known = {q.name for q in config.queues}
    return [
        (
            f"targets.queues.{q}",
            f"no [[queues]] entry is named {q!r}: these targets apply only if a queue of that name appears on the "
            "fly (a typo?)",
        )
        for q in config.targets.queues
        if q != "*" and known and q not in known
    ]


class ConfigError(Exception):
    """Every problem found, each as (field path, message, hint)."""

    def __init__(self, problems: list[tuple[str, str, str]], path: Path | None = None):
        self.problems = problems
        self.path = path
        super().__init__(self.render())

    def brief(self) -> str:
        """The problems as the command line shows them: one problem in one line (what, where, what to do);
        several as ``render()`` lists them."""
        if len(self.problems) != 1:
            return self.render()
        field, msg, hint = self.problems[0]
        tail = f" (hint: {hint})" if hint else ""
        if field == "(file)":  # a file-level message starts with the file's path itself
            return msg + tail
        if field.endswith("(environment)"):  # not from the file: no path head
            return f"{field}: {msg}{tail}"
        return (f"{self.path}: " if self.path else "") + f"{field}: {msg}{tail}"

    def render(self) -> str:
        head = f"{self.path}: " if self.path else ""
        lines = [f"{head}{len(self.problems)} problem(s) in the configuration:"]
        for field, msg, hint in self.problems:
            lines.append(f"  {field}: {msg}" + (f"\n      hint: {hint}" if hint else ""))
        return "\n".join(lines)


_HINTS = {
    "missing": "add this setting",
    "extra_forbidden": "remove it, or check its spelling against config/wallboard.toml",
    "literal_error": "use one of the values listed",
    "int_parsing": "write a whole number",
    "float_parsing": "write a number",
    "finite_number": "write a finite number (inf and nan mean nothing here)",
    "bool_parsing": "write true or false",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than_equal": "use a smaller value",
    "string_too_short": "it may not be empty",
    "dict_type": "write a table, e.g. { key = value }",
    "list_type": "write a list, e.g. [ ... ]",
    "target_value": TARGET_HINT,
    "target_figure": "use one of the figures listed (docs/REPORTS.md)",
}


_SCALAR_BRANCHES = {"float", "int", "str", "bool"}


def _union_branches(errors: list) -> list:
    """A value that fails a union (``float | PeriodTargets``) fails each member, and pydantic puts the member's
    name in the path (``...service_level.float``, ``...service_level.PeriodTargets.day``). Keep the member the
    value was written for (a table: the model's; anything else: the scalar's) and drop the name from the path,
    so the problem is named where it is in the file."""
    models = {c.__name__ for c in globals().values() if isinstance(c, type) and issubclass(c, BaseModel)}

    def branch(e) -> int | None:
        return next((i for i, p in enumerate(e["loc"]) if p in _SCALAR_BRANCHES or p in models), None)

    unions: dict[tuple, dict[str, list]] = {}
    for e in errors:
        i = branch(e)
        if i is not None:
            unions.setdefault(tuple(e["loc"][:i]), {}).setdefault(e["loc"][i], []).append(e)
    out = []
    for e in errors:
        i = branch(e)
        members = unions.get(tuple(e["loc"][:i])) if i is not None else None
        if i is None or members is None or len(members) < 2:
            out.append(e)
            continue
        whole = next((x["input"] for m in _SCALAR_BRANCHES & set(members) for x in members[m]), None)
        if (e["loc"][i] in models) != isinstance(whole, dict):
            continue  # the other member's complaint: not what was written
        out.append({**e, "loc": (*e["loc"][:i], *e["loc"][i + 1 :])})
    return out


def _problems(err: ValidationError) -> list[tuple[str, str, str]]:
    out = []
    for e in _union_branches(err.errors()):
        # an empty key ("" = 1, legal TOML) shows as "", else its problem would read as the top level's
        loc = ".".join(str(p) if p != "" else '""' for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        hint = _HINTS.get(e["type"], "")
        if e["type"] == "finite_number":
            msg = f"{msg}, not {e.get('input')!r}"
        if e["type"] == "value_error":
            hint = "see the message; config/wallboard.toml shows a working example"
            if loc == "redis.url":
                hint = REDIS_URL_HINT
            elif loc.startswith("roles.") and loc.endswith(".permissions"):
                hint = "grant only the permissions listed; spell them as the action names"
        out.append((loc, msg, hint))
    return out


def _cross_hint(where: str) -> str:
    return "remove the target" if where.startswith("targets.") else "fix the name, or add the missing entry"


def load_config(path: str | Path | None = None, **flags: Any) -> WallboardConfig:
    """Load the TOML file (optional) under ``WALLBOARD_*`` and ``REDIS_URL`` from the environment, under
    ``flags`` (command-line values, as nested dicts). Raises ConfigError listing every problem."""
    data: dict[str, Any] = {}
    p = Path(path) if path else None
    if p is not None:
        data = _read_toml(p)
    section = data.get("redis")
    file_url = section.get("url") if isinstance(section, dict) else None
    if isinstance(file_url, str) and _url_password(file_url):
        # a config file is copied, committed and shown on screens; secrets come from the environment or files
        raise ConfigError(
            [
                (
                    "redis.url",
                    "holds a password (secrets never go in the config file)",
                    "set REDIS_URL in the environment, or put the password in the file named by redis.password_file",
                )
            ],
            p,
        )
    env_problems: list[tuple[str, str, str]] = []
    if isinstance(file_url, str) and (problem := redis_url_problem(file_url)):
        # named even when REDIS_URL or a flag overrides it: check-config checks the file
        env_problems.append(("redis.url", problem, REDIS_URL_HINT))
    env_redis = os.environ.get("REDIS_URL")
    if env_redis and "url" not in (flags.get("redis") or {}):
        problem = redis_url_problem(env_redis)
        if problem:  # named as the variable it came from (else it would read as the file's redis.url)
            env_problems.append(("REDIS_URL (environment)", problem, REDIS_URL_HINT))
        else:  # the conventional variable beats the file, as WALLBOARD_REDIS__URL would
            flags = {**flags, "redis": {"url": env_redis, **flags.get("redis", {})}}
    token = _FILE_DATA.set(data)
    try:
        cfg = WallboardConfig(**flags)
    except ValidationError as e:
        # list the cross-section problems one by one, also when a field elsewhere is wrong
        cross = cross_problems(data)
        problems = [x for x in _problems(e) if not (x[0] == "(top level)" and any(m in x[1] for _, m in cross))]
        problems += [(where, msg, _cross_hint(where)) for where, msg in cross]
        seen = {(f, m) for f, m, _ in env_problems}
        raise ConfigError(env_problems + [x for x in problems if (x[0], x[1]) not in seen], p) from None
    except RecursionError:  # a value nested hundreds deep in WALLBOARD_* or flags
        raise ConfigError([("(top level)", "a value is nested too deeply to check", "flatten it")], p) from None
    finally:
        _FILE_DATA.reset(token)
    if env_problems:
        raise ConfigError(env_problems, p)
    return cfg


def _read_toml(p: Path) -> dict[str, Any]:
    """The file's TOML; ConfigError (one file-level problem) when it cannot be read or parsed."""

    def bad(msg: str, hint: str) -> ConfigError:
        return ConfigError([("(file)", msg, hint)], p)

    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise bad(f"{p} does not exist", "give the path of a TOML file, e.g. config/wallboard.toml") from None
    except IsADirectoryError:
        raise bad(
            f"{p} is a directory, not a file", "give the path of a TOML file in it, e.g. config/wallboard.toml"
        ) from None
    except NotADirectoryError:
        raise bad(f"{p} does not exist (a part of its path is a file)", "give the path of a TOML file") from None
    except PermissionError:
        raise bad(f"{p} cannot be read: permission denied", "check the file's owner and mode") from None
    except OSError as e:
        raise bad(f"{p} cannot be read: {e.strerror or e}", "give the path of a readable TOML file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise bad(
            f"{p} is not UTF-8 text: byte 0x{raw[e.start]:02x} at line {line}",
            "save the file as UTF-8, as TOML requires",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise bad(f"{p} is not valid TOML: {e}", "fix the TOML syntax at that line") from None
    except RecursionError:  # tomllib recurses once per level of nested arrays or inline tables
        raise bad(
            f"{p} is not usable TOML: arrays or inline tables nested too deeply to read",
            "a configuration nests a few levels at most; flatten it",
        ) from None
    try:
        _depth_ok(data)
    except RecursionError:
        raise bad(
            f"{p} is not usable TOML: tables nested more than {_MAX_DEPTH} deep",
            "a configuration nests a few levels at most; flatten it",
        ) from None
    return data


_MAX_DEPTH = 64  # far deeper than any setting, far shallower than Python's recursion limit


def _depth_ok(v: Any, depth: int = 0) -> None:
    """Raise RecursionError for data nested past _MAX_DEPTH (validation recurses through it)."""
    if depth > _MAX_DEPTH:
        raise RecursionError
    if isinstance(v, dict):
        for x in v.values():
            _depth_ok(x, depth + 1)
    elif isinstance(v, list):
        for x in v:
            _depth_ok(x, depth + 1)


REDIS_URL_HINT = "write redis://[user@]host[:port][/db], rediss://... (TLS) or unix:///path/to/redis.sock"


def redact_url_text(url: str) -> str:
    """A URL, even a malformed one, with any password replaced by ``***`` (for messages)."""
    return re.sub(r"(://[^@/]*?:).*@", r"\1***@", url, count=1) if "@" in url else url


def redis_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a Redis URL (None when it can). Never echoes a password."""
    shown = repr(redact_url_text(url))
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number 0-65535
    except ValueError as e:
        return f"{shown} is not a valid URL: {e}"
    if parts.scheme not in REDIS_SCHEMES:
        schemes = ", ".join(s + "://" for s in REDIS_SCHEMES)
        return f"{shown} has scheme {parts.scheme or '(none)'!r}; a Redis URL starts with one of {schemes}"
    if parts.scheme == "unix":
        if not parts.path:
            return f"{shown} names no socket file"
        return None
    db = parts.path.strip("/")  # redis-py would quietly take a path that is no number as database 0
    if db and not db.isdigit():
        return f"{shown}: the database number {db!r} is not a whole number"
    return None


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # a malformed URL is the URL's own problem, reported where it is used
        return None


_FILE_DATA: ContextVar[dict[str, Any]] = ContextVar("_FILE_DATA", default={})
