"""deploy/systemd: the units operators install, checked as systemd itself reads them.

``systemd-analyze verify`` on each unit (the ingest template as its ami and queue-log instances, with their
drop-ins, and the example drop-ins as installed) must print nothing at all: it exits 0 even for unknown keys and
bad values, so its output is the verdict. A unit with a typo shows that it would say so. ``systemd-analyze
security --offline`` scores each unit's sandbox. Each ExecStart is parsed by the CLI's own parser, and the
settings the units rely on (restart, the dedicated user, the hardening, secrets only as credentials) are read
back from the files. CI installs Debian's systemd package for the binary (``.ci/run``).
"""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
SERVICES = (
    "wallboard-ingest@.service",
    "wallboard-executor.service",
    "wallboard-serve.service",
    "wallboard-scheduler.service",
    "wallboard-notifier.service",
)
INSTALLED_BIN = "/opt/wallboard/venv/bin/wallboard"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze not installed (apt install systemd)")


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """section -> key -> every value given (systemd's keys repeat)."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = out.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert section is not None, f"{path.name}: {line!r} outside a section"
        section.setdefault(key, []).append(value)
    return out


def staged(tmp_path: Path) -> Path:
    """The units as installed, in one directory: ExecStart pointing at this checkout's ``wallboard`` (verify
    checks that the binary exists), the ingest template's instances as symlinks, the example drop-ins enabled."""
    here = Path(sys.executable).parent / "wallboard"
    assert here.exists(), here
    d = tmp_path / "units"
    shutil.copytree(UNITS, d)
    for unit in d.glob("*.service"):
        unit.write_text(unit.read_text().replace(INSTALLED_BIN, str(here)))
    for example in d.glob("*.d/*.example"):
        example.rename(example.with_suffix(""))
    for instance in ("ami", "freeswitch", "queue-log"):
        (d / f"wallboard-ingest@{instance}.service").symlink_to("wallboard-ingest@.service")
    return d


def to_verify(d: Path) -> list[str]:
    return [
        str(d / n)
        for n in (
            "wallboard-ingest@ami.service",
            "wallboard-ingest@freeswitch.service",
            "wallboard-ingest@queue-log.service",
            "wallboard-executor.service",
            "wallboard-serve.service",
            "wallboard-scheduler.service",
            "wallboard-notifier.service",
            "wallboard.target",
        )
    ]


def verify(paths: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([ANALYZE, "verify", "--man=no", *paths], capture_output=True, text=True, timeout=60)


@needs_analyze
def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path):
    d = staged(tmp_path)
    # every drop-in shipped is read along with its unit
    assert sorted(p.relative_to(d).as_posix() for p in d.glob("*.d/*.conf")) == [
        "wallboard-ingest@ami.service.d/pbx.conf",
        "wallboard-ingest@freeswitch.service.d/pbx.conf",
        "wallboard-ingest@queue-log.service.d/queue-log.conf",
        "wallboard-notifier.service.d/secrets.conf",
        "wallboard-scheduler.service.d/smtp.conf",
        "wallboard-serve.service.d/tls.conf",
    ]
    done = verify(to_verify(d))
    assert done.returncode == 0 and done.stdout + done.stderr == "", done.stdout + done.stderr


@needs_analyze
def test_verify_would_name_a_mistake(tmp_path):
    """The check above can fail: a misspelt key in a unit and a bad value in a drop-in are both named."""
    d = staged(tmp_path)
    unit = d / "wallboard-executor.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    dropin = d / "wallboard-ingest@ami.service.d" / "pbx.conf"
    dropin.write_text(dropin.read_text() + "Restart=sometimes\n")
    out = verify(to_verify(d))
    said = out.stdout + out.stderr
    assert "Unknown key 'ProtectSytem'" in said or "Unknown key name 'ProtectSytem'" in said, said
    assert "pbx.conf" in said and "sometimes" in said, said


@needs_analyze
@pytest.mark.parametrize(
    "unit",
    [
        "wallboard-ingest@ami.service",
        "wallboard-executor.service",
        "wallboard-serve.service",
        "wallboard-scheduler.service",
        "wallboard-notifier.service",
    ],
)
def test_each_service_is_sandboxed(tmp_path, unit):
    """systemd's own exposure score (0 safest .. 10): at most 2.0 ("OK") for every service."""
    d = staged(tmp_path)
    out = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--threshold=20", "--no-pager", str(d / unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    last = [ln for ln in out.stdout.splitlines() if "Overall exposure level" in ln][-1]
    score = float(last.split(":")[-1].split()[0])
    assert score <= 2.0, last


@pytest.mark.parametrize("name", SERVICES)
def test_restart_user_hardening_and_credentials(name):
    unit = read_unit(UNITS / name)
    svc = unit["Service"]
    assert svc["Restart"] == ["always"] and svc["User"] == ["wallboard"] and svc["Group"] == ["wallboard"]
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]  # keeps retrying while Redis or the PBX is away
    for key, value in {
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallArchitectures": "native",
    }.items():
        assert svc.get(key) == [value], (name, key, svc.get(key))
    assert unit["Install"]["WantedBy"] == ["wallboard.target"]
    # the Redis password only as a credential, read through the config's *_file setting
    creds = dict(v.split(":", 1) for v in svc["LoadCredential"])
    assert creds["redis-password"].startswith("/etc/wallboard/credentials/")
    env = " ".join(svc.get("Environment", []))
    assert "WALLBOARD_REDIS__PASSWORD_FILE=%d/redis-password" in env
    # no secret in the unit itself (units are world-readable)
    for word in ("PASSWORD=", "SECRET=", "TOKEN="):
        assert not [e for e in svc.get("Environment", []) if word in e.upper().replace("_FILE=", "")], (name, env)


def test_the_executor_gets_its_pbx_and_token_secrets_as_credentials():
    svc = read_unit(UNITS / "wallboard-executor.service")["Service"]
    creds = dict(v.split(":", 1) for v in svc["LoadCredential"])
    assert set(creds) == {"redis-password", "pbx-secret", "token-secret"}
    env = " ".join(svc["Environment"])
    for setting in (
        "WALLBOARD_AMI__SECRET_FILE=%d/pbx-secret",
        "WALLBOARD_ESL__PASSWORD_FILE=%d/pbx-secret",
        "WALLBOARD_SECURITY__TOKEN_SECRET_FILE=%d/token-secret",
    ):
        assert setting in env


def test_the_notifier_gets_smtp_and_webhook_secrets_as_credentials_where_its_config_reads_them():
    """The notifier's drop-in: the SMTP password through its *_file setting, webhook URLs and signing keys as
    credentials that a channel's url_file / secret_file names in the service's own credentials directory."""
    from wallboard.notify.settings import NotificationsConfig

    dropin = read_unit(UNITS / "wallboard-notifier.service.d" / "secrets.conf.example")["Service"]
    creds = dict(v.split(":", 1) for v in dropin["LoadCredential"])
    assert set(creds) == {"smtp-password", "slack-url", "pager-url", "pager-hmac"}
    assert all(p.startswith("/etc/wallboard/credentials/") for p in creds.values())
    assert dropin["Environment"] == ["WALLBOARD_SMTP__PASSWORD_FILE=%d/smtp-password"]
    # the paths its comment gives are channels the config accepts (%d of wallboard-notifier.service)
    d = "/run/credentials/wallboard-notifier.service"
    text = (UNITS / "wallboard-notifier.service.d" / "secrets.conf.example").read_text()
    assert f'url_file = "{d}/slack-url"' in text and f'secret_file = "{d}/pager-hmac"' in text
    NotificationsConfig(
        subscriptions=[
            {
                "user": "rivka",
                "channels": [
                    {"kind": "slack", "url_file": f"{d}/slack-url"},
                    {
                        "kind": "webhook",
                        "name": "pager",
                        "url_file": f"{d}/pager-url",
                        "secret_file": f"{d}/pager-hmac",
                    },
                ],
            }
        ]
    )
    [line] = read_unit(UNITS / "wallboard-notifier.service")["Service"]["ExecStart"]
    assert shlex.split(line)[1] == "notifier"


def test_a_notifier_with_nothing_to_deliver_is_not_restarted_in_a_loop(tmp_path, capsys):
    """Without subscriptions the notifier exits 2 at once (before Redis): its unit does not restart on that."""
    from wallboard.cli import main as cli_main

    assert read_unit(UNITS / "wallboard-notifier.service")["Service"]["RestartPreventExitStatus"] == ["2"]
    cfg = tmp_path / "wallboard.toml"
    cfg.write_text('[centre]\ntimezone = "UTC"\n')
    assert cli_main(["notifier", "--config", str(cfg), "--redis", "redis://127.0.0.1:1/0"]) == 2
    assert "no [[notifications.subscriptions]]" in capsys.readouterr().err


def test_the_hub_gets_the_token_secret_to_check_signed_tokens():
    """Supervisors' and signed kiosk tokens reach the hub: it checks them with the executor's secret."""
    svc = read_unit(UNITS / "wallboard-serve.service")["Service"]
    creds = dict(v.split(":", 1) for v in svc["LoadCredential"])
    assert creds["token-secret"] == "/etc/wallboard/credentials/token-secret"
    assert "WALLBOARD_SECURITY__TOKEN_SECRET_FILE=%d/token-secret" in " ".join(svc["Environment"])


def test_the_credential_settings_are_the_configs_own(tmp_path, monkeypatch):
    """The WALLBOARD_* variables the units set name real settings: the config reads each file path."""
    from wallboard.config import load_config

    for var in ("REDIS_URL",):
        monkeypatch.delenv(var, raising=False)
    creds = tmp_path / "creds"
    creds.mkdir()
    settings = {}
    for name in SERVICES:
        for svc_env in read_unit(UNITS / name)["Service"].get("Environment", []):
            for word in shlex.split(svc_env):
                key, _, value = word.partition("=")
                if key.startswith("WALLBOARD_") and value.startswith("%d/"):
                    settings[key] = str(creds / value.removeprefix("%d/"))
    for dropin in UNITS.glob("*.d/*"):
        for svc_env in read_unit(dropin)["Service"].get("Environment", []):
            for word in shlex.split(svc_env):
                key, _, value = word.partition("=")
                if value.startswith("%d/"):
                    settings[key] = str(creds / value.removeprefix("%d/"))
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    config = load_config(ROOT / "config" / "wallboard.toml")
    got = {
        "WALLBOARD_REDIS__PASSWORD_FILE": config.redis.password_file,
        "WALLBOARD_AMI__SECRET_FILE": config.ami.secret_file,
        "WALLBOARD_ESL__PASSWORD_FILE": config.esl.password_file,
        "WALLBOARD_SECURITY__TOKEN_SECRET_FILE": config.security.token_secret_file,
        "WALLBOARD_SMTP__PASSWORD_FILE": config.smtp.password_file,
        "WALLBOARD_HUB__TLS_CERT": config.hub.tls_cert,
        "WALLBOARD_HUB__TLS_KEY": config.hub.tls_key,
    }
    assert set(settings) == set(got), set(settings) ^ set(got)
    for key, value in got.items():
        assert str(value) == settings[key], key


@pytest.mark.parametrize("name", SERVICES)
def test_exec_start_is_a_command_the_cli_accepts(name):
    from wallboard.cli import build_parser

    [line] = read_unit(UNITS / name)["Service"]["ExecStart"]
    argv = [w for w in shlex.split(line.replace("%i", "ami")) if not w.startswith("$")]
    assert argv[0] == INSTALLED_BIN
    args = build_parser().parse_args(argv[1:])  # exits (SystemExit) on an unknown command or option
    assert args.config == "/etc/wallboard/wallboard.toml" or str(args.config) == "/etc/wallboard/wallboard.toml"


@pytest.mark.skipif(shutil.which("systemd-sysusers") is None, reason="systemd-sysusers not installed")
def test_sysusers_creates_the_dedicated_user(tmp_path):
    """systemd-sysusers, on an empty root: a system user and group ``wallboard`` with no login shell."""
    (tmp_path / "etc").mkdir()
    for f in ("passwd", "group"):
        (tmp_path / "etc" / f).write_text("")
    subprocess.run(
        [shutil.which("systemd-sysusers"), f"--root={tmp_path}", str(UNITS / "wallboard.sysusers.conf")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    [user] = (tmp_path / "etc" / "passwd").read_text().splitlines()
    name, _, uid, gid, _, _, shell = user.split(":")
    assert name == "wallboard" and int(uid) < 1000 and shell == "/usr/sbin/nologin"
    assert (tmp_path / "etc" / "group").read_text().startswith(f"wallboard:x:{gid}:")


def test_configparser_reads_every_unit():
    """Plain INI syntax (no stray line a careless edit leaves): every file parses with repeated keys allowed."""
    for path in [*UNITS.glob("*.service"), *UNITS.glob("*.target"), *UNITS.glob("*.d/*")]:
        cp = configparser.ConfigParser(strict=False, interpolation=None)
        cp.optionxform = str  # type: ignore[assignment]
        cp.read_string(path.read_text())
        assert cp.sections(), path
