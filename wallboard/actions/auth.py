"""Who is asking, and may they: signed user tokens and role permissions from config.

A token is ``user.expiry.signature`` (HMAC-SHA256 over ``user.expiry`` with the centre's secret, from the
environment or a secret file, never the command line). A token is never put on the request stream: a request
carries its public part (``cred`` = ``user.expiry``, or ``user.static`` for a user's static token) and
``proof`` = HMAC-SHA256 of the request's fields under the whole token. The executor, which holds the secret,
rebuilds the token from ``cred``, checks the proof, the expiry and that the token's user is the request's user;
then the permission: each action its own, optionally limited to queues, through the user's roles. Whoever reads
an entry cannot change it or turn it into a second request (a new ``id`` breaks the proof; the same ``id`` is
refused as seen).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

from ..config import WallboardConfig


class Refused(Exception):
    """Not authenticated or not permitted: the reason is shown to the user and audited."""


def secret(config: WallboardConfig) -> bytes:
    sec = config.security
    value = os.environ.get(sec.token_secret_env)
    if not value and sec.token_secret_file:
        value = sec.token_secret_file.read_text().strip()
    if not value:
        raise Refused(f"no token secret: set {sec.token_secret_env} or security.token_secret_file")
    return value.encode()


def _sign(key: bytes, body: str) -> str:  # key: the centre's secret for a token, a token for a request
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(config: WallboardConfig, user: str, ttl_s: float | None = None, now: float | None = None) -> str:
    if "." in user:
        raise ValueError("user names may not contain '.'")
    exp = int((now or time.time()) + (ttl_s if ttl_s is not None else config.security.token_ttl_h * 3600))
    body = f"{user}.{exp}"
    return f"{body}.{_sign(secret(config), body)}"


def verify(config: WallboardConfig, token: str, user: str, now: float | None = None) -> None:
    """Raises Refused unless the token is genuine, unexpired and the user's own: signed (``wallboard token``),
    or the user's static token (``users.token_env``), which the hub also accepts, so its requests pass here."""
    u = next((x for x in config.users if x.name == user), None)
    static = os.environ.get(u.token_env) if u is not None and u.token_env else None
    if static and hmac.compare_digest(token.encode(), static.encode()):
        return
    try:
        t_user, exp, sig = token.split(".")
        exp_i = int(exp)
    except ValueError:
        raise Refused("malformed token") from None
    if not hmac.compare_digest(_sign(secret(config), f"{t_user}.{exp}"), sig):
        raise Refused("forged token (bad signature)")
    if t_user != user:
        raise Refused(f"token belongs to {t_user!r}, not {user!r}")
    if exp_i <= (now or time.time()):
        raise Refused("expired token")


def _canonical(fields: dict[str, str]) -> bytes:
    """The signed text: every field but the proof, sorted, one ``key=value`` a line (values as sent)."""
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "proof").encode()


def sign_request(fields: dict[str, str], token: str) -> dict[str, str]:
    """The stream entry of a request: its fields, the token's public part and the proof under the token."""
    parts = token.split(".")
    signed = len(parts) == 3 and parts[1].isdigit()
    cred = f"{parts[0]}.{parts[1]}" if signed else f"{fields.get('user', '')}.static"
    out = {**fields, "cred": cred}
    out["proof"] = _sign(token.encode(), _canonical(out).decode())
    return out


def verify_request(config: WallboardConfig, fields: dict[str, str], user: str, now: float | None = None) -> None:
    """Raises Refused unless ``fields`` were signed by ``user``'s genuine, unexpired token (``sign_request``)."""
    cred, proof = fields.get("cred", ""), fields.get("proof", "")
    if not cred or not proof:
        raise Refused("unsigned request (no cred/proof): send it through `wallboard act`, the desk or the hub")
    t_user, _, exp = cred.rpartition(".")
    if exp == "static":
        u = next((x for x in config.users if x.name == t_user), None)
        token = os.environ.get(u.token_env, "") if u is not None and u.token_env else ""
        if not token:
            raise Refused(f"{t_user!r} has no static token configured")
    else:
        try:
            exp_i = int(exp)
        except ValueError:
            raise Refused("malformed token") from None
        if t_user == "" or "." in t_user:
            raise Refused("malformed token")
        token = f"{t_user}.{exp}.{_sign(secret(config), f'{t_user}.{exp}')}"
        if exp_i <= (now or time.time()):
            raise Refused("expired token")
    if not hmac.compare_digest(_sign(token.encode(), _canonical(fields).decode()), proof):
        raise Refused("forged request (its proof does not match the token)")
    if t_user != user:
        raise Refused(f"token belongs to {t_user!r}, not {user!r}")


def permitted(config: WallboardConfig, user: str, action: str, queues: list[str] | None) -> None:
    """Raises Refused unless one of the user's roles grants ``action`` on every queue concerned. ``None``: what
    is concerned belongs to no queue (a call outside the queues), which only a role for every queue covers."""
    u = next((x for x in config.users if x.name == user), None)
    if u is None:
        raise Refused(f"unknown user {user!r}")
    for role_name in u.roles:
        role = config.roles.get(role_name)
        if role is None or action not in role.permissions:
            continue
        if role.queues is None or (queues is not None and all(q in role.queues for q in queues)):
            return
    scope = " on a call outside the queues" if queues is None else f" on {', '.join(queues)}" if queues else ""
    raise Refused(f"{user} may not {action}{scope}")


def allowed_actions(config: WallboardConfig, user: str) -> set[str]:
    """The actions a user's roles grant anywhere (screens offer only these keys)."""
    u = next((x for x in config.users if x.name == user), None)
    out: set[str] = set()
    for r in u.roles if u else []:
        role = config.roles.get(r)
        if role:
            out.update(role.permissions)
    return out
