"""Signed tokens: the format pinned by an independent computation, purposes kept apart (a TV viewer's token is no
supervisor's, and opens no other layout), key rotation (the first secret signs, every listed one verifies, a removed
one is refused) and tampering with a token or a signed request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path

import pytest

from wallboard.actions.auth import Refused, check, issue, sign_request, verify, verify_request
from wallboard.cli import main as cli_main
from wallboard.config import load_config
from wallboard.hub.auth import Access, Denied

ROOT = Path(__file__).resolve().parent.parent
NOW = 1_800_000_000.0  # epoch seconds the tests stand at
ENV = "WALLBOARD_TOKEN_SECRET"


def config(**over):
    return load_config(
        None,
        users=[{"name": "rivka", "roles": ["supervisor"]}, {"name": "moshe", "roles": ["supervisor"]}],
        roles={"supervisor": {"permissions": ["ack"]}},
        # a layout named like a user: only the purpose tells their tokens apart
        layouts=[{"name": "floor", "queues": ["support"]}, {"name": "rivka", "queues": ["support"]}],
        queues=[{"name": "support"}],
        **over,
    )


def request(user: str = "rivka") -> dict[str, str]:
    return {"id": "r-0001", "type": "ack", "user": user, "queue": "support", "at": "2027-01-15T08:00:00Z"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_the_format_is_hmac_sha256_under_a_key_derived_per_purpose(monkeypatch):
    monkeypatch.setenv(ENV, "s3cret")
    cfg = config()
    exp = int(NOW + 600)
    for purpose, salt in (("user", b"wallboard.token.user"), ("viewer", b"wallboard.token.viewer")):
        key = hmac.new(b"s3cret", salt, hashlib.sha256).digest()
        sig = b64(hmac.new(key, f"rivka.{exp}".encode(), hashlib.sha256).digest())
        assert issue(cfg, "rivka", ttl_s=600, now=NOW, purpose=purpose) == f"rivka.{exp}.{sig}"
    # the request proof: the fields one a line, sorted, signed under a key derived from the whole token
    token = issue(cfg, "rivka", ttl_s=600, now=NOW)
    entry = sign_request(request(), token)
    text = "\n".join(f"{k}={entry[k]}" for k in sorted(entry) if k != "proof").encode()
    key = hmac.new(token.encode(), b"wallboard.request.proof", hashlib.sha256).digest()
    assert entry["cred"] == f"rivka.{exp}" and entry["proof"] == b64(hmac.new(key, text, hashlib.sha256).digest())


def test_a_token_signed_for_one_purpose_verifies_for_no_other(monkeypatch):
    monkeypatch.setenv(ENV, "s3cret")
    cfg = config()
    as_viewer = issue(cfg, "rivka", ttl_s=600, purpose="viewer")  # a kiosk token for the layout "rivka"
    as_user = issue(cfg, "rivka", ttl_s=600)
    assert check(cfg, as_viewer, "viewer")[0] == check(cfg, as_user, "user")[0] == "rivka"
    with pytest.raises(Refused, match="forged token"):
        verify(cfg, as_viewer, "rivka")  # acting as the supervisor rivka
    with pytest.raises(Refused, match="forged token"):
        check(cfg, as_user, "viewer")
    with pytest.raises(Refused, match="forged request"):  # a request signed with the kiosk token
        verify_request(cfg, sign_request(request(), as_viewer), "rivka")
    verify_request(cfg, sign_request(request(), as_user), "rivka")

    # the hub (on the wall clock): a signed kiosk token opens its own layout, read-only, and no other
    access, layouts = Access(cfg, environ={}), {lay.name: lay for lay in cfg.layouts}
    now = time.time()
    floor = issue(cfg, "floor", ttl_s=600, now=now, purpose="viewer")
    who = access.identify(layouts["floor"], floor)
    assert (who.role, who.user, who.expires) == ("viewer", None, int(now + 600))
    with pytest.raises(Denied, match="layout 'rivka' has no viewer token configured"):
        access.identify(layouts["rivka"], floor)
    who = access.identify(layouts["rivka"], as_viewer)
    assert (who.role, who.user) == ("viewer", None)  # named like rivka, and still no supervisor
    who = access.identify(layouts["rivka"], as_user)
    assert (who.role, who.user) == ("supervisor", "rivka")
    with pytest.raises(Denied):
        access.identify(layouts["floor"], as_viewer)
    # an expired kiosk token is refused like any other
    with pytest.raises(Denied):
        access.identify(layouts["floor"], issue(cfg, "floor", ttl_s=60, now=now - 3600, purpose="viewer"))


def test_rotation_the_first_secret_signs_every_listed_one_verifies(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV, "old-secret")
    cfg = config()
    old = issue(cfg, "rivka", ttl_s=600)
    old_viewer = issue(cfg, "floor", ttl_s=600, purpose="viewer")
    old_request = sign_request(request(), old)

    # rotating: the new secret first, the old one still listed (in the variable, or a file, one a line)
    secrets_file = tmp_path / "token-secret"
    secrets_file.write_text("  new-secret \n\nold-secret\n")
    for how in ("env", "file"):
        if how == "env":
            monkeypatch.setenv(ENV, "new-secret\nold-secret")
            rotating = cfg
        else:
            monkeypatch.delenv(ENV)
            rotating = config(security={"token_secret_file": str(secrets_file)})
        verify(rotating, old, "rivka")
        assert check(rotating, old_viewer, "viewer")[0] == "floor"
        verify_request(rotating, old_request, "rivka")
        fresh = issue(rotating, "rivka", ttl_s=600)
        assert fresh != old and fresh.rsplit(".", 1)[0] == old.rsplit(".", 1)[0]  # same body, new signature

    # the new secret alone: what it signed passes; what only the removed one signed is refused
    monkeypatch.setenv(ENV, "new-secret")
    verify(cfg, fresh, "rivka")
    verify_request(cfg, sign_request(request(), fresh), "rivka")
    with pytest.raises(Refused, match="forged token"):
        verify(cfg, old, "rivka")
    with pytest.raises(Refused, match="forged token"):
        check(cfg, old_viewer, "viewer")
    with pytest.raises(Refused, match="forged request"):
        verify_request(cfg, old_request, "rivka")
    with pytest.raises(Denied):
        Access(cfg, environ={}).identify(cfg.layouts[0], old_viewer)
    monkeypatch.setenv(ENV, "\n  \n")  # nothing but blank lines: no secret at all
    with pytest.raises(Refused, match=f"no token secret: set {ENV}"):
        issue(cfg, "rivka")


def test_a_tampered_token_or_request_is_refused(monkeypatch):
    monkeypatch.setenv(ENV, "s3cret")
    cfg = config()
    token = issue(cfg, "rivka", ttl_s=600, now=NOW)
    user, exp, sig = token.split(".")
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]  # the first character: all six of its bits are signature
    for forged in (f"moshe.{exp}.{sig}", f"{user}.{int(exp) + 3600}.{sig}", f"{user}.{exp}.{flipped}"):
        with pytest.raises(Refused, match="forged token"):
            check(cfg, forged, "user", now=NOW)
    for malformed in ("", "rivka", f"{user}.{exp}", f"{user}.soon.{sig}", f"a.b.{exp}.{sig}", f".{exp}.{sig}"):
        with pytest.raises(Refused, match="malformed token"):
            check(cfg, malformed, "user", now=NOW)
    with pytest.raises(Refused, match="expired token"):
        check(cfg, token, "user", now=NOW + 600)
    with pytest.raises(Refused, match="token belongs to 'rivka', not 'moshe'"):
        verify(cfg, token, "moshe", now=NOW)

    entry = sign_request(request(), token)
    verify_request(cfg, entry, "rivka", now=NOW)
    moshe = issue(cfg, "moshe", ttl_s=600, now=NOW)
    for field, value in (("queue", "tech"), ("id", "r-0002"), ("cred", moshe.rsplit(".", 1)[0]), ("user", "moshe")):
        with pytest.raises(Refused, match="forged request"):
            verify_request(cfg, {**entry, field: value}, entry["user"], now=NOW)
    with pytest.raises(Refused, match="unsigned request"):
        verify_request(cfg, {k: v for k, v in entry.items() if k != "proof"}, "rivka", now=NOW)
    # moshe's genuine request carries moshe's cred: it is no request of rivka's
    with pytest.raises(Refused, match="token belongs to 'moshe', not 'rivka'"):
        verify_request(cfg, sign_request(request("moshe"), moshe), "rivka", now=NOW)


def test_wallboard_token_issues_a_kiosk_token_for_a_layout(monkeypatch, capsys):
    monkeypatch.setenv(ENV, "s3cret")
    cfg_file = str(ROOT / "config" / "wallboard.toml")
    assert cli_main(["token", "--viewer", "floor", "--ttl-h", "1", "--config", cfg_file]) == 0
    token = capsys.readouterr().out.strip()
    cfg = load_config(Path(cfg_file))
    assert check(cfg, token, "viewer")[0] == "floor"
    with pytest.raises(Refused, match="forged token"):
        check(cfg, token, "user")
    assert cli_main(["token", "--viewer", "nope", "--config", cfg_file]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--viewer 'nope' is no layout; layouts: floor, floor-he" in err
