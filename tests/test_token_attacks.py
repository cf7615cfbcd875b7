"""Tokens attacked as a careless operator or a writer to the request stream would: a poison ``cred`` on the stream,
a token secret file that is missing, a directory or written with a BOM and CRLF. Each is a one-line refusal,
never a traceback that stops the executor or drops a hub connection as an internal error. Real Redis, the real
executor and hub over websockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.conftest import wire
from tests.test_hub import _tokens, closed_with, recv_json, running_hub, ws_url  # noqa: F401 (autouse fixture)
from tests.test_requests_once import World, pause_fields
from tests.tvdata import four_queues, now_utc, publish, tv_config
from wallboard.actions.auth import Refused, issue, sign_request, verify, verify_request
from wallboard.cli import main as cli_main


async def test_a_poison_cred_on_the_stream_is_refused_and_the_executor_carries_on(
    redis_client, prefix, cleanup, monkeypatch
):
    """Whoever can write to the stream can write any ``cred``: an expiry in superscript digits, or longer than
    Python converts to an int, is a malformed token like any other, and the genuine request behind it is done."""
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "s3cret")
    w = World(redis_client, prefix)
    poison = []
    for exp in ("²", "9" * 5000, "１２３"):  # str.isdigit is true for all three; int() fails on the first two
        fields = {"type": "pause", "user": "rivka", "agent": "1001", "queue": "support", "id": f"poison-{len(exp)}"}
        poison.append(await w.send({**fields, "cred": f"rivka.{exp}", "proof": "x"}))
    good = await w.send(wire(pause_fields(w)))
    await w.ex.process_pending()
    out = await w.outcomes()
    assert [out[rid]["result"] for rid in poison] == ["refused: malformed token"] * 3
    assert out[good]["result"] == "ok" and w.backend.calls == [("pause", "1001")]


def _secret_file(tmp_path, raw: bytes):
    path = tmp_path / "token-secret"
    path.write_bytes(raw)
    return path


def _reading(config, path):
    """``config`` with its secrets in the file ``path``."""
    return config.model_copy(update={"security": config.security.model_copy(update={"token_secret_file": path})})


def test_a_secret_file_with_a_bom_and_crlf_holds_the_same_secrets(monkeypatch, tmp_path):
    """Notepad writes a BOM and CRLF: the file's first secret is still the one the variable held."""
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "s3cret")
    config = tv_config("p")
    token = issue(config, "rivka", ttl_s=600)
    request = sign_request({"id": "r1", "type": "ack", "user": "rivka", "queue": "support"}, token)
    at_zero = issue(config, "rivka", ttl_s=600, now=1)
    monkeypatch.delenv("WALLBOARD_TOKEN_SECRET")
    path = _secret_file(tmp_path, "\ufeffs3cret\r\n\r\ns3cret\r\n".encode())  # a duplicate line does no harm
    from_file = _reading(config, path)
    verify(from_file, token, "rivka")
    verify_request(from_file, request, "rivka")
    assert issue(from_file, "rivka", ttl_s=600, now=1) == at_zero  # the file's first secret signs as the variable did


def test_a_secret_in_the_environment_that_is_not_utf8_signs_and_verifies(monkeypatch):
    """The variable holds bytes that are not UTF-8 (Python hands them over as surrogates): every check raised
    UnicodeEncodeError, so the hub dropped the connection and the executor stopped on the request."""
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", b"\xff\xfe-raw-secret".decode("utf-8", "surrogateescape"))
    config = tv_config("p")
    token = issue(config, "rivka", ttl_s=600)
    verify(config, token, "rivka")
    verify_request(config, sign_request({"id": "r1", "type": "ack", "user": "rivka"}, token), "rivka")
    with pytest.raises(Refused, match="forged request"):
        verify_request(config, sign_request({"id": "r1", "type": "ack", "user": "rivka"}, token + "x"), "rivka")


@pytest.mark.parametrize("what", ["missing", "directory", "not utf-8"])
def test_an_unreadable_secret_file_is_a_one_line_refusal(monkeypatch, tmp_path, capsys, what):
    """Issuing, and judging a request, say which file and why; so does `wallboard token`."""
    monkeypatch.delenv("WALLBOARD_TOKEN_SECRET", raising=False)
    path = {"missing": tmp_path / "gone", "directory": tmp_path, "not utf-8": _secret_file(tmp_path, b"\xff\xfe\x00")}
    config = _reading(tv_config("p"), path[what])
    with pytest.raises(Refused, match=f"^token secret file {path[what]}: "):
        issue(config, "rivka")
    with pytest.raises(Refused, match=f"^token secret file {path[what]}: "):
        verify_request(config, {"user": "rivka", "cred": "rivka.1999999999", "proof": "x"}, "rivka", now=0)
    monkeypatch.setenv("WALLBOARD_SECURITY__TOKEN_SECRET_FILE", str(path[what]))
    assert cli_main(["token", "--user", "rivka"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"wallboard token: token secret file {path[what]}: ")


async def test_a_secret_file_gone_while_the_hub_runs_refuses_signed_tokens_cleanly(
    redis_client, prefix, cleanup, tmp_path, monkeypatch
):
    """The credential is not mounted after a restart of its unit: a signed token is refused with the usual
    policy close, not an internal error, and the static kiosk token still opens the layout."""
    monkeypatch.delenv("WALLBOARD_TOKEN_SECRET", raising=False)
    path = _secret_file(tmp_path, b"s3cret\n")
    config = _reading(tv_config(prefix), path)
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    signed = issue(config, "rivka", ttl_s=600)
    viewer = issue(config, "floor", ttl_s=600, purpose="viewer")
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub, token=signed)) as ws:
            assert (await recv_json(ws, "state"))["role"] == "supervisor"
        path.unlink()
        for token in (signed, viewer):
            async with connect(ws_url(hub, token=token)) as ws:
                assert await closed_with(ws) == (1008, "invalid token for layout 'floor'")
        async with connect(ws_url(hub)) as ws:  # the layout's static kiosk token
            assert (await recv_json(ws, "state"))["role"] == "viewer"


def test_a_blank_secret_variable_does_not_hide_the_secret_file(monkeypatch, tmp_path):
    """A unit that sets the variable empty (or to spaces) still has the file's secret, not "no token secret"."""
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "   ")
    path = _secret_file(tmp_path, b"from-the-file-0123456789\n")
    config = _reading(tv_config("p"), path)
    token = issue(config, "rivka", ttl_s=60)
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "from-the-file-0123456789")  # the file's secret, by the variable
    verify(config, token, "rivka")  # raises Refused if the first token was signed by anything else


def test_token_for_an_unknown_user_is_refused_and_a_short_secret_is_warned_about(monkeypatch, capsys):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "short")
    cfg = ["--config", str(Path(__file__).parents[1] / "config" / "wallboard.toml")]  # its users: rivka, moshe…
    assert cli_main(["token", "--user", "nobody-here", *cfg]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nobody-here' is no user of the config" in err and "rivka" in err
    assert cli_main(["token", "--user", "rivka", *cfg]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("rivka.") and "shorter than 16 bytes" in err
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "a" * 16)
    assert cli_main(["token", "--user", "rivka", *cfg]) == 0
    assert "shorter" not in capsys.readouterr().err
