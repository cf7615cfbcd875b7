"""E-mail: a report as a message (HTML body, plain-text alternative, HTML and CSV attachments) and sending it by
SMTP with aiosmtplib (plain, STARTTLS or implicit TLS; login with a password from the environment or a file).

The password is read when a message is sent, passed to the SMTP client only, and never logged or put in an
error message.
"""

from __future__ import annotations

import os
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from ..config import SmtpConfig
from .render_csv import render_csv
from .render_html import pct, render_html, secs


class SmtpFailure(RuntimeError):
    """Sending failed; the message says how (never with the password)."""


def compose(
    rep: dict,
    *,
    sender: str,
    recipients: list[str],
    subject: str,
    message_id: str,
    date: datetime,
    lang: str = "en",
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["X-Wallboard-Period"] = rep["period"]["key"]
    if rep.get("kind") == "scorecard":  # the agents' scorecards (reports.scorecard)
        from . import scorecard
        from .render_html import render_scorecard_html

        text, html, table = scorecard_summary(rep, lang), render_scorecard_html(rep, lang), scorecard.render_csv(rep)
        stem = f"scorecards-{rep['period']['key']}"
    else:
        text, html, table = plain_summary(rep, lang), render_html(rep, lang), render_csv(rep, lang)
        stem = f"report-{rep['period']['key']}"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    msg.add_attachment(html, subtype="html", charset="utf-8", filename=f"{stem}.html")
    msg.add_attachment(table, subtype="csv", charset="utf-8", filename=f"{stem}.csv")
    return msg


def stable_message_id(prefix: str, schedule: str, period_key: str, sender: str) -> str:
    """The same for every attempt at one schedule's period, so a receiver can drop a second copy."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "wallboard.local"
    safe = "".join(ch if ch.isalnum() or ch in "-._" else "-" for ch in f"{prefix}.{schedule}.{period_key}")
    return f"<wallboard.{safe}@{domain}>"


def plain_summary(rep: dict, lang: str = "en") -> str:
    w = PLAIN[lang]
    lines = [f"{rep['centre']} — {rep['period']['label']} ({rep['timezone']})", ""]
    for n in rep["notes"]:
        lines.append(f"{w['note']}: {n}")
    if rep["gaps"]:
        lines.append(w["gaps"].format(n=len(rep["gaps"])))
    lines.append(w["head"])
    for name, q in rep["queues"].items():
        t = q["total"]
        lines.append(
            f"  {q['label']}: {t['offered']} / {t['answered']} / {t['abandoned']} / "
            f"{pct(t['service_level'])} / {secs(t['asa_s'])} / {pct(t['abandon_rate'])}"
        )
    t = rep["total"]
    lines.append(f"  {w['all']}: {t['offered']} / {t['answered']} / {t['abandoned']} / {pct(t['service_level'])}")
    lines += ["", w["attached"]]
    return "\n".join(lines) + "\n"


def scorecard_summary(doc: dict, lang: str = "en") -> str:
    """The scorecards' plain-text part: per agent the period's targets met and the figures that missed theirs."""
    w = PLAIN[lang]
    lines = [f"{doc['centre']} — {doc['period']['label']} ({doc['timezone']})", ""]
    if doc.get("team"):
        lines.append(w["team"].format(role=doc["team"]["role"], queues=", ".join(doc["team"]["queues"])))
    for n in doc["notes"]:
        lines.append(f"{w['note']}: {n}")
    for aid, a in doc["agents"].items():
        judged = [f for f in a["total"] if f["met"] is not None]
        missed = [f["figure"] for f in judged if not f["met"]]
        line = f"  {a['name'] or aid} ({aid}): " + w["met"].format(n=len(judged) - len(missed), m=len(judged))
        lines.append(line + (f"; {w['missed']}: {', '.join(missed)}" if missed else ""))
    if not doc["agents"]:
        lines.append(w["nobody"])
    lines += ["", w["attached_cards"]]
    return "\n".join(lines) + "\n"


# the plain-text part's words (the HTML's are ``reports.words``)
PLAIN = {
    "en": {
        "note": "Note",
        "gaps": "Gaps in the data: {n} (see the report).",
        "head": "queue: offered / answered / abandoned / SL / ASA / abandon rate",
        "all": "all queues",
        "attached": "The full report is attached (HTML, and CSV for a spreadsheet).",
        "team": "Team of {role}: {queues}",
        "met": "{n} of {m} targets met",
        "missed": "missed",
        "nobody": "No agent worked in this period.",
        "attached_cards": "Each agent's figures per day beside the targets are attached (HTML, and CSV).",
    },
    "he": {
        "note": "הערה",
        "gaps": "פערים בנתונים: {n} (ראו בדוח).",
        "head": "תור: הוצעו / נענו / ננטשו / רמת שירות / זמן מענה / נטישה",
        "all": "כל התורים",
        "attached": "הדוח המלא מצורף (HTML, ו-CSV לגיליון אלקטרוני).",
        "team": "הצוות של {role}: {queues}",
        "met": "הושגו {n} מתוך {m} יעדים",
        "missed": "לא הושגו",
        "nobody": "אף נציג לא עבד בתקופה זו.",
        "attached_cards": "הנתונים של כל נציג לפי יום לצד היעדים מצורפים (HTML, ו-CSV).",
    },
}


def smtp_password(smtp: SmtpConfig) -> str | None:
    if smtp.password_file:
        try:
            return smtp.password_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise SmtpFailure(f"cannot read the SMTP password file {smtp.password_file}: {e.strerror}") from None
    return os.environ.get(smtp.password_env) or None


class SmtpMailer:
    """Sends one message per call through the configured server. ``tls_context`` overrides certificate checks
    (a private CA); by default the system's trust store is used."""

    def __init__(self, smtp: SmtpConfig, tls_context: ssl.SSLContext | None = None):
        self.smtp = smtp
        self.tls_context = tls_context

    async def send(self, msg: EmailMessage) -> None:
        import aiosmtplib

        s = self.smtp
        password = smtp_password(s) if s.username else None
        if s.username and password is None:
            raise SmtpFailure(f"smtp.username is set but no password: set ${s.password_env} or smtp.password_file")
        try:
            await aiosmtplib.send(
                msg,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=password,
                use_tls=s.tls == "tls",
                start_tls=s.tls == "starttls",
                tls_context=self.tls_context,
                timeout=s.timeout_s,
            )
        except aiosmtplib.SMTPException as e:
            raise SmtpFailure(f"SMTP {s.host}:{s.port}: {type(e).__name__}: {_clean(str(e), password)}") from None
        except (OSError, ssl.SSLError) as e:
            raise SmtpFailure(f"SMTP {s.host}:{s.port}: {type(e).__name__}: {_clean(str(e), password)}") from None


def _clean(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text
