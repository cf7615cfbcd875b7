"""Who may connect to the hub, and what they may send.

- **Viewer**: the layout's read-only kiosk token (``layouts.viewer_token_env``, default
  ``WALLBOARD_VIEWER_TOKEN_<NAME>``), or a token signed for viewing that layout (``wallboard token --viewer
  NAME``, purpose ``viewer``: it is no supervisor's token and opens no other layout), in the kiosk URL. A viewer
  sees its layout and can change nothing.
- **Supervisor**: a user's own token: the value of the user's ``users.token_env``, or a token signed by
  ``wallboard token`` (checked with ``wallboard.actions.auth.verify`` when the hub has the token secret). A
  supervisor may view any layout and send ``ack`` / ``snooze`` when one of the user's roles grants it on that
  queue (``wallboard.actions.auth.permitted``); the hub puts the request, with the user's name and token, on
  the request stream (signed with the token, ``wallboard.actions.submit``), where the executor checks both
  again. A connection with a signed token is closed when the token expires; its frames are rate-limited per
  connection (``hub.connection_rate_per_s``, ``hub.connection_burst``) and per user
  (``security.action_rate_per_min``), and excess frames are refused at the hub, never put on the stream.
- **Metrics**: ``/metrics`` wants ``Authorization: Bearer`` with the value of ``hub.metrics_token_env``
  (default ``WALLBOARD_METRICS_TOKEN``); while that is unset it answers loopback clients only. The TV page and
  ``/healthz`` are public: the page holds no data (the figures come over ``/ws``, with a token) and probes
  need ``/healthz`` without credentials (it tells only whether Redis is followed, the client count and seq).
- **Origin**: a browser's ``Origin`` must be the hub's own (the page it serves) or in ``hub.allowed_origins``
  (``*`` allows any). A client that sends no Origin is not a browser page and is judged by its token alone.

Tokens are read from the environment at each connection (a rotated token needs no restart) and compared in
constant time. They are never logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..actions.auth import Refused, check, permitted, verify
from ..config import LayoutConfig, WallboardConfig


log = logging.getLogger(__name__)


class Denied(Exception):
    """The connection is refused; the message is the close reason (no secrets in it)."""


@dataclass(frozen=True)
class Identity:
    role: Literal["viewer", "supervisor"]
    user: str | None  # the supervisor's name; None for a viewer
    token: str
    expires: float | None = None  # a signed token's expiry (epoch seconds): the connection closes then


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _loopback(host: str | None) -> bool:
    try:
        ip = ipaddress.ip_address((host or "").split("%")[0])
    except ValueError:
        return False
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback  # ::ffff:127.0.0.1 on a dual-stack socket


class Access:
    def __init__(self, config: WallboardConfig, environ: Mapping[str, str] | None = None):
        self.config = config
        self.environ = environ if environ is not None else os.environ

    def identify(self, layout: LayoutConfig, token: str | None) -> Identity:
        if not token:
            raise Denied("missing token: open the layout's kiosk URL (…&token=…)")
        for user in self.config.users:
            expected = self.environ.get(user.token_env) if user.token_env else None
            if expected and _same(token, expected):
                return Identity("supervisor", user.name, token)
        signed_by = self._signed_user(token)
        if signed_by is not None:
            return Identity("supervisor", signed_by, token, float(token.split(".")[1]))
        expires = self._signed_viewer(layout, token)
        if expires is not None:
            return Identity("viewer", None, token, expires)
        viewer = self.environ.get(layout.token_env)
        if viewer and _same(token, viewer):
            return Identity("viewer", None, token)
        if not viewer:
            raise Denied(f"layout {layout.name!r} has no viewer token configured")
        raise Denied(f"invalid token for layout {layout.name!r}")

    def _signed_user(self, token: str) -> str | None:
        """The user of a genuine, unexpired signed token (``user.expiry.signature``) of a configured user."""
        user = token.split(".", 1)[0]
        if token.count(".") != 2 or not any(u.name == user for u in self.config.users):
            return None
        try:
            verify(self.config, token, user)
        except Refused as e:  # forged, expired, or no secret on this hub
            log.warning("signed token of %s not accepted: %s", user, e)
            return None
        return user

    def _signed_viewer(self, layout: LayoutConfig, token: str) -> float | None:
        """The expiry of a genuine, unexpired token signed for viewing this layout."""
        if token.count(".") != 2 or token.split(".", 1)[0] != layout.name:
            return None
        try:
            return float(check(self.config, token, "viewer")[1])
        except Refused as e:
            log.warning("signed viewer token of layout %s not accepted: %s", layout.name, e)
            return None

    def may(self, user: str, kind: str, queue: str) -> str | None:
        """None when one of the user's roles grants ``kind`` on ``queue``; else the reason it does not."""
        try:
            permitted(self.config, user, kind, [queue])
        except Refused as e:
            return str(e)
        return None

    def metrics_denied(self, authorization: str | None, peer_host: str | None) -> str | None:
        """None when ``/metrics`` may answer; else the reason. With the token env var set, only its bearer;
        unset, only loopback clients (a scraper on the same host), so nothing is exposed by default."""
        env = self.config.hub.metrics_token_env
        expected = self.environ.get(env)
        if expected:
            scheme, _, given = (authorization or "").partition(" ")
            if scheme.lower() == "bearer" and given and _same(given.strip(), expected):
                return None
            return "metrics: missing or wrong bearer token" if authorization else "metrics: bearer token required"
        if _loopback(peer_host):
            return None
        return f"metrics: only loopback clients while {env} is unset; set it and send it as a bearer token"

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        if origin is None:
            return True
        allowed = self.config.hub.allowed_origins
        if "*" in allowed or origin in allowed:
            return True
        return host is not None and origin in (f"http://{host}", f"https://{host}")
