"""One notification: its words, its bodies per channel kind, and sending it once.

A **note** is the plain dict the notifier builds for one delivery (``id`` = the delivery id, ``transition``,
``kind`` = warn | breach | escalation | resolved, queue and metric with labels, value and limits, times, who
acknowledged). ``render_text`` gives its one-line and long wording; ``webhook_body`` the JSON a channel kind
posts:

- ``webhook``: the generic body ``{"schema": "wallboard.notification/1", "id", "transition", "kind", ...,
  "title", "text"}`` with ``Idempotency-Key`` / ``X-Wallboard-Delivery`` headers (the delivery id: a receiver
  can drop the copy a crash mid-send may cause) and, with a secret, ``X-Wallboard-Signature: sha256=<hex>``
  (HMAC-SHA256 of the body).
- ``slack``: ``{"text": ...}`` -- Slack incoming webhooks, and the tools that accept their shape.
- ``teams``: ``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "content": <Adaptive Card 1.4>}]}`` -- what a Teams *Workflows* "post to a channel when a webhook request is
  received" flow takes (the Office 365 connectors' MessageCard is retired).

Senders raise ``DeliveryError`` (``permanent`` when trying again cannot help: an HTTP 4xx other than 408/429, a
missing secret). Error texts name the host, never the URL (its path holds the token) nor a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import ssl
import urllib.error
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..config import SmtpConfig
from .settings import NotificationsConfig, NotifyChannel

SCHEMA = "wallboard.notification/1"
USER_AGENT = "wallboard-notifier/1"
_KIND_WORD = {"warn": "WARNING", "breach": "BREACH", "escalation": "ESCALATION", "resolved": "RESOLVED"}
_COLOUR = {"warn": "warning", "breach": "attention", "escalation": "attention", "resolved": "good"}


class DeliveryError(RuntimeError):
    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


# --- words -----------------------------------------------------------------------------------------------


def fmt(metric: str, value: float | None) -> str:
    from ..projection import FIGURE_FORMAT, fmt_value

    return fmt_value(FIGURE_FORMAT.get(metric, "count"), value)


def metric_label(metric: str) -> str:
    from ..projection import FIGURE_LABELS

    return FIGURE_LABELS["en"].get(metric, metric.replace("_s", "").replace("_", " ").capitalize())


def _mins(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m} min" if m else f"{int(seconds)} s"


def render_text(note: dict) -> tuple[str, str]:
    """(title, text) of a note, in the centre's words."""
    kind, q, m = note["kind"], note["queue_label"], note["metric_label"]
    value = fmt(note["metric"], note.get("value"))
    limit_level = "warn" if note.get("level") == "warn" else "breach"
    limit = note.get(limit_level)
    side = "at or above" if note.get("direction", "above") == "above" else "at or below"
    limit_txt = f"{limit_level} {side} {fmt(note['metric'], limit)}" if limit is not None else ""
    local = note.get("local_since", note["since"])
    if kind in ("warn", "breach"):
        title = f"{_KIND_WORD[kind]}: {q} — {m} {value}"
        text = f"{q}: {m} is {value} ({limit_txt}) since {local}."
    elif kind == "escalation":
        title = f"ESCALATION: {q} — {m} {value}, not acknowledged"
        text = (
            f"{q}: {m} has been in breach for {_mins(note.get('duration_s') or 0)} and nobody has "
            f"acknowledged it ({value}; {limit_txt}). Acknowledge it on the desk or the TV."
        )
    else:
        why = " (the queue closed)" if note.get("closed") else ""
        title = f"RESOLVED: {q} — {m} back to normal{why}"
        text = f"{q}: {m} is {value} again, after {_mins(note.get('duration_s') or 0)} in alert{why}."
        if note.get("acked_by"):
            text += f" Acknowledged by {note['acked_by']}."
    if note.get("link"):
        text += f"\n{note['link']}"
    return title, f"{note.get('centre', '')}: {text}" if note.get("centre") else text


# --- bodies ----------------------------------------------------------------------------------------------


def webhook_body(kind: str, note: dict) -> dict:
    title, text = render_text(note)
    if kind == "slack":
        return {"text": f"*{title}*\n{text}"}
    if kind == "teams":
        facts = [
            {"title": "Queue", "value": note["queue_label"]},
            {"title": "Metric", "value": note["metric_label"]},
            {"title": "Value", "value": fmt(note["metric"], note.get("value"))},
            {"title": "Since", "value": note.get("local_since", note["since"])},
        ]
        body = [
            {
                "type": "TextBlock",
                "text": title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": _COLOUR.get(note["kind"], "default"),
            },
            {"type": "TextBlock", "text": text, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ]
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if note.get("link"):
            card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the wallboard", "url": note["link"]}]
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }
    keep = (
        "id",
        "transition",
        "kind",
        "centre",
        "queue",
        "queue_label",
        "metric",
        "metric_label",
        "level",
        "value",
        "warn",
        "breach",
        "direction",
        "window",
        "since",
        "at",
        "acked_by",
        "duration_s",
        "closed",
        "subscription",
        "user",
        "link",
    )
    return {"schema": SCHEMA, **{k: note.get(k) for k in keep}, "title": title, "text": text}


# --- secrets ---------------------------------------------------------------------------------------------


def _secret(env: str | None, path: Path | None, what: str) -> str | None:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError as e:
            raise DeliveryError(f"cannot read the {what} file {path}: {e.strerror}", permanent=True) from None
    if env:
        v = os.environ.get(env, "").strip()
        if not v:
            raise DeliveryError(f"the {what} is not set: ${env} is empty", permanent=True)
        return v
    return None


def channel_url(ch: NotifyChannel) -> str:
    url = _secret(ch.url_env, ch.url_file, f"{ch.label} URL")
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"the {ch.label} URL is not an http(s) URL", permanent=True)
    return url  # type: ignore[return-value]


# --- senders ---------------------------------------------------------------------------------------------


class WebhookSender:
    """POSTs JSON with the standard library (in a thread), certificates checked against the system's store
    (or ``tls_context``). Success is a 2xx answer; redirects are not followed."""

    def __init__(self, cfg: NotificationsConfig, tls_context: ssl.SSLContext | None = None):
        self.cfg = cfg
        self.tls_context = tls_context

    async def send(self, ch: NotifyChannel, note: dict) -> str:
        url = channel_url(ch)
        body = json.dumps(webhook_body(ch.kind, note), separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": note["id"],
            "X-Wallboard-Delivery": note["id"],
        }
        key = _secret(ch.secret_env, ch.secret_file, f"{ch.label} signing secret")
        if key:
            headers["X-Wallboard-Signature"] = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
        host = urlsplit(url).hostname
        return await asyncio.to_thread(self._post, url, host, body, headers)

    def _post(self, url: str, host: str | None, body: bytes, headers: dict) -> str:
        class _NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **kw):  # a redirect could carry the body elsewhere
                return None

        handlers = [_NoRedirect()]
        if self.tls_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self.tls_context))
        opener = urllib.request.build_opener(*handlers)
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with opener.open(req, timeout=self.cfg.timeout_s) as resp:
                return f"HTTP {resp.status} from {host}"
        except urllib.error.HTTPError as e:
            permanent = 400 <= e.code < 500 and e.code not in (408, 425, 429)
            raise DeliveryError(f"HTTP {e.code} from {host}", permanent=permanent) from None
        except (urllib.error.URLError, OSError, ssl.SSLError) as e:
            reason = getattr(e, "reason", e)
            raise DeliveryError(f"{host}: {type(reason).__name__}: {str(reason)[:160]}") from None


def compose_mail(note: dict, ch: NotifyChannel, smtp: SmtpConfig, when: datetime) -> EmailMessage:
    title, text = render_text(note)
    msg = EmailMessage()
    msg["Subject"] = title
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(ch.to)
    msg["Date"] = format_datetime(when)
    domain = smtp.sender.rsplit("@", 1)[-1].strip("> ") or "wallboard.local"
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in note["id"])
    digest = hashlib.sha256(note["id"].encode()).hexdigest()[:24]
    msg["Message-ID"] = f"<wallboard.notify.{digest}.{safe[:60]}@{domain}>"
    msg["X-Wallboard-Delivery"] = note["id"]
    msg["X-Wallboard-Kind"] = note["kind"]
    msg.set_content(text + "\n")
    return msg


class MailSender:
    """Through the ``[smtp]`` settings (``wallboard.reports.mail.SmtpMailer``: its password from the environment
    or a file, never logged). The Message-ID is the same for every attempt at one delivery."""

    def __init__(self, smtp: SmtpConfig, mailer=None):
        from ..reports.mail import SmtpMailer

        self.smtp = smtp
        self.mailer = mailer or SmtpMailer(smtp)

    async def send(self, ch: NotifyChannel, note: dict, when: datetime) -> str:
        from ..reports.mail import SmtpFailure

        try:
            await self.mailer.send(compose_mail(note, ch, self.smtp, when))
        except SmtpFailure as e:
            raise DeliveryError(str(e)) from None
        return f"mailed to {len(ch.to)} address(es) via {self.smtp.host}"
