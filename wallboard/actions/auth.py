"""Who is asking, and may they: signed tokens with a purpose, request proofs, and role permissions from config.

A signed token is ``subject.expiry.signature``, made and checked by itsdangerous (``Signer``: HMAC-SHA256 under a
key derived from the centre's secret and the token's **purpose**, its salt). A token signed for one purpose never
verifies for another: a TV viewer's token (``viewer``, the subject a layout) is no supervisor's (``user``, the
subject a user name), whatever the two names are. The secrets come from the environment or a secret file, never
the command line: one a line, the first signs, every line verifies, so an operator rotates the secret without
logging everybody out (docs/DEPLOY.md, "Tokens and rotating the token secret").

A token is never put on the request stream: a request carries its public part (``cred`` = ``user.expiry``, or
``user.static`` for a user's static token) and ``proof``, a signature of the request's fields under the whole
token (purpose ``request``). The executor, which holds the secrets, rebuilds the token from ``cred`` under each
secret, checks the proof, the expiry and that the token's user is the request's user; then the permission: each
action its own, optionally limited to queues, through the user's roles. Whoever reads an entry cannot change it or
turn it into a second request (a new ``id`` breaks the proof; the same ``id`` is refused as seen).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Literal

from itsdangerous import Signer

from ..config import WallboardConfig

Purpose = Literal["user", "viewer"]
# the salt of each purpose: part of the signed format (a new salt logs everybody out)
_SALTS: dict[str, bytes] = {
    "user": b"wallboard.token.user",
    "viewer": b"wallboard.token.viewer",
    "request": b"wallboard.request.proof",
}


class Refused(Exception):
    """Not authenticated or not permitted: the reason is shown to the user and audited."""


# an expiry is epoch seconds in ASCII digits: str.isdigit alone passes '²' (int() fails) and 5,000 digits (past
# Python's int conversion limit), which anyone writing to the request stream could send
_EXPIRY_DIGITS = 18
MIN_SECRET_BYTES = 16  # `wallboard token` warns below this (openssl rand -base64 32 gives 44)


def _expiry(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _EXPIRY_DIGITS else None


def secrets(config: WallboardConfig) -> list[bytes]:
    """The token secrets, the signing one first: the lines of ``security.token_secret_env``'s value, else of
    ``security.token_secret_file`` (blank lines and surrounding spaces ignored)."""
    sec = config.security
    value = os.environ.get(sec.token_secret_env)
    if not (value or "").strip() and sec.token_secret_file:  # set but blank: the file still counts
        try:  # utf-8-sig: a BOM (Notepad) is no part of the first secret
            value = sec.token_secret_file.read_text(encoding="utf-8-sig")
        except OSError as e:  # not mounted, a directory, unreadable
            raise Refused(f"token secret file {sec.token_secret_file}: {e.strerror or e}") from e
        except UnicodeError:  # raw bytes (`openssl rand 32`): a newline among them would split the secret
            raise Refused(
                f"token secret file {sec.token_secret_file}: not text (UTF-8); make one with `openssl rand -base64 32`"
            ) from None
    # surrogateescape: the environment's bytes that are not UTF-8 come back as they were, not as an exception
    keys = [line.strip().encode("utf-8", "surrogateescape") for line in (value or "").splitlines() if line.strip()]
    if not keys:
        raise Refused(f"no token secret: set {sec.token_secret_env} or security.token_secret_file")
    return keys


def _signer(key: bytes, purpose: str) -> Signer:
    return Signer(key, salt=_SALTS[purpose], sep=".", key_derivation="hmac", digest_method=hashlib.sha256)


def issue(
    config: WallboardConfig, user: str, ttl_s: float | None = None, now: float | None = None, purpose: Purpose = "user"
) -> str:
    """A token for ``user`` (purpose ``user``) or for the layout named ``user`` (purpose ``viewer``), signed with
    the first secret, valid ``ttl_s`` (default ``security.token_ttl_h``)."""
    if not user or "." in user:
        raise ValueError(f"{'layout' if purpose == 'viewer' else 'user'} names may not be empty or contain '.'")
    exp = int((now or time.time()) + (ttl_s if ttl_s is not None else config.security.token_ttl_h * 3600))
    return _signer(secrets(config)[0], purpose).sign(f"{user}.{exp}").decode()


def genuine(config: WallboardConfig, token: str, purpose: Purpose) -> tuple[str, int]:
    """(subject, expiry) of a token signed for ``purpose`` under any of the secrets, expired or not; else Refused
    (malformed, or forged: a wrong signature, a removed secret, or signed for another purpose)."""
    subject, _, exp = token.rpartition(".")[0].partition(".")
    expiry = _expiry(exp)
    if not subject or expiry is None or token.count(".") != 2:
        raise Refused("malformed token")
    if not any(_signer(key, purpose).validate(token) for key in secrets(config)):
        raise Refused("forged token (bad signature)")
    return subject, expiry


def check(config: WallboardConfig, token: str, purpose: Purpose, now: float | None = None) -> tuple[str, int]:
    """``genuine`` and unexpired."""
    subject, exp = genuine(config, token, purpose)
    if exp <= (now or time.time()):
        raise Refused("expired token")
    return subject, exp


def verify(config: WallboardConfig, token: str, user: str, now: float | None = None) -> None:
    """Raises Refused unless the token is genuine, unexpired and the user's own: signed (``wallboard token``) for
    a user, or the user's static token (``users.token_env``), which the hub also accepts, so its requests pass
    here."""
    u = next((x for x in config.users if x.name == user), None)
    static = os.environ.get(u.token_env) if u is not None and u.token_env else None
    if static and hmac.compare_digest(token.encode(), static.encode()):
        return
    t_user, exp = genuine(config, token, "user")
    if t_user != user:
        raise Refused(f"token belongs to {t_user!r}, not {user!r}")
    if exp <= (now or time.time()):
        raise Refused("expired token")


def _canonical(fields: dict[str, str]) -> bytes:
    """The signed text: every field but the proof, sorted, one ``key=value`` a line (values as sent)."""
    return "\n".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "proof").encode()


def _proof(token: str, fields: dict[str, str]) -> str:
    return _signer(token.encode(), "request").get_signature(_canonical(fields)).decode()


def sign_request(fields: dict[str, str], token: str) -> dict[str, str]:
    """The stream entry of a request: its fields, the token's public part and the proof under the token."""
    parts = token.split(".")
    signed = len(parts) == 3 and parts[1].isdigit()
    cred = f"{parts[0]}.{parts[1]}" if signed else f"{fields.get('user', '')}.static"
    out = {**fields, "cred": cred}
    out["proof"] = _proof(token, out)
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
        tokens = [token]
    else:
        expiry = _expiry(exp)
        if t_user == "" or "." in t_user or expiry is None:
            raise Refused("malformed token")
        if expiry <= (now or time.time()):
            raise Refused("expired token")
        # the user's token as each secret signs it: the one that signed it makes the proof match
        tokens = [_signer(key, "user").sign(cred).decode() for key in secrets(config)]
    if not any(hmac.compare_digest(_proof(t, fields), proof) for t in tokens):
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
