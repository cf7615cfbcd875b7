"""No Lua script touches keys of two hash tags (DESIGN.md, Redis: cluster-ready layout).

(a) Statically: every key a script passes to ``redis.call`` is built from ``base`` (= ``KEYS[1]``), no script
    reads any other ``KEYS`` entry, and the store calls every script with exactly one key.
(b) At run time, on the real Redis: MONITOR shows each EVALSHA followed by the commands its script ran
    (``[0 lua]`` lines); every key those commands touch carries the hash tag of the script's one key, and
    every key left in the namespace carries exactly one hash tag.
"""

from __future__ import annotations

import inspect
import os
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

import wallboard
import wallboard.store as store_mod
from wallboard.events import (
    AgentMissed,
    AgentStateChanged,
    CallbackDone,
    CallbackRequested,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    OutboundCall,
    WrapupCompleted,
)
from wallboard.feed import DeadLetter
from wallboard.store import SCRIPT_NAMES, Scripts


def redis_url() -> str:
    """The test server (conftest starts a private one when REDIS_URL is unset)."""
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


LUA_DIR = Path(wallboard.__file__).parent / "lua"
LUA_FILES = sorted(LUA_DIR.glob("*.lua"))

# ---------------------------------------------------------------------------------------------------------
# (a) static analysis of the Lua sources
# ---------------------------------------------------------------------------------------------------------

# 1-based positions (among the arguments after the command name) of the key arguments of the commands our
# scripts may call. A script using a command not listed here fails the test until the table is taught it.
KEY_ARGS: dict[str, list[int] | str] = {
    "GET": [1],
    "SET": [1],
    "INCR": [1],
    "INCRBY": [1],
    "EXPIRE": [1],
    "PEXPIRE": [1],
    "PERSIST": [1],
    "TTL": [1],
    "EXISTS": "all",
    "DEL": "all",
    "UNLINK": "all",
    "HGET": [1],
    "HSET": [1],
    "HMGET": [1],
    "HMSET": [1],
    "HGETALL": [1],
    "HVALS": [1],
    "HDEL": [1],
    "HINCRBY": [1],
    "HINCRBYFLOAT": [1],
    "HEXISTS": [1],
    "HLEN": [1],
    "HSETNX": [1],
    "ZADD": [1],
    "ZREM": [1],
    "ZCARD": [1],
    "ZSCORE": [1],
    "ZRANGE": [1],
    "ZRANGEBYSCORE": [1],
    "ZREMRANGEBYSCORE": [1],
    "ZINCRBY": [1],
    "SADD": [1],
    "SREM": [1],
    "SISMEMBER": [1],
    "SMEMBERS": [1],
    "SCARD": [1],
    "XADD": [1],
    "XDEL": [1],
    "DECRBY": [1],
    "LPUSH": [1],
    "RPUSH": [1],
    "LRANGE": [1],
    "LTRIM": [1],
}
REDIS_API_OK = {
    "call",
    "pcall",
    "log",
    "error_reply",
    "status_reply",
    "sha1hex",
    "setresp",
    "LOG_WARNING",
    "LOG_NOTICE",
    "LOG_VERBOSE",
    "LOG_DEBUG",
}
IDENT = r"[A-Za-z_]\w*"


def strip_comments(src: str) -> str:
    """Remove Lua comments (``--`` to end of line, ``--[[ ... ]]``), keeping strings intact."""
    out, i, n = [], 0, len(src)
    while i < n:
        ch = src[i]
        if ch in "'\"":
            j = i + 1
            while j < n and src[j] != ch:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i : j + 1])
            i = j + 1
        elif src.startswith("[[", i):
            j = src.find("]]", i + 2)
            j = n if j < 0 else j + 2
            out.append(src[i:j])
            i = j
        elif src.startswith("--", i):
            m = re.match(r"--\[(=*)\[", src[i:])
            if m:
                end = src.find("]" + m.group(1) + "]", i)
                i = n if end < 0 else end + len(m.group(1)) + 2
            else:
                j = src.find("\n", i)
                i = n if j < 0 else j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _split_args(src: str, open_at: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at ``open_at``: top-level comma split, string- and bracket-aware."""
    depth, i, start, args = 0, open_at, open_at + 1, []
    while i < len(src):
        ch = src[i]
        if ch in "'\"":
            j = i + 1
            while src[j] != ch:
                j += 2 if src[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                args.append(src[start:i].strip())
                return [a for a in args if a], i
        elif ch == "," and depth == 1:
            args.append(src[start:i].strip())
            start = i + 1
        i += 1
    raise ValueError(f"unbalanced call at offset {open_at}")


def _top_split(expr: str, sep: str = ",") -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(expr):
        ch = expr[i]
        if ch in "'\"":
            j = i + 1
            while j < len(expr) and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(expr[start:i].strip())
            start = i + 1
        i += 1
    parts.append(expr[start:].strip())
    return parts


_STMT_END = re.compile(r"\s*(?:;|\bthen\b|\bend\b|\belse\b|\belseif\b|\bdo\b|\bbreak\b|\breturn\b|$)")


def _rhs_at(code: str, pos: int) -> str:
    """The right-hand side of an assignment starting at ``pos`` (up to the end of its statement)."""
    line_end = code.find("\n", pos)
    rest = code[pos : len(code) if line_end < 0 else line_end]
    # cut at the first top-level statement end (';', or a keyword closing an if/for body on the same line)
    depth, i = 0, 0
    while i < len(rest):
        ch = rest[i]
        if ch in "'\"":
            j = i + 1
            while j < len(rest) and rest[j] != ch:
                j += 2 if rest[j] == "\\" else 1
            i = j + 1
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and (ch == ";" or re.match(r"\s(?:then|end|else|elseif|do|break|return|local)\b", rest[i:])):
            return rest[:i].strip()
        i += 1
    return rest.strip()


class LuaKeyChecker:
    """Checks that every key a script passes to redis.call/pcall is derived from ``base = KEYS[1]``."""

    def __init__(self, src: str):
        self.code = strip_comments(src)
        self.problems: list[str] = []

    # -- derivation -----------------------------------------------------------------------------------------
    def _assignments(self, name: str) -> list[str]:
        """Every expression assigned to ``name`` anywhere in the script (scopes merged: conservative)."""
        exprs = []
        lhs_re = re.compile(rf"(?<![\w.:\]])((?:local\s+)?{IDENT}(?:\s*,\s*{IDENT})*)\s*=(?!=)")
        for m in lhs_re.finditer(self.code):
            if self.code[max(0, m.start() - 1)] in "~<>=":
                continue
            names = [x.strip() for x in m.group(1).removeprefix("local").split(",")]
            if name not in names:
                continue
            rhs = _top_split(_rhs_at(self.code, m.end()))
            idx = names.index(name)
            exprs.append(rhs[idx] if idx < len(rhs) else "nil")
        return exprs

    def _param_args(self, name: str) -> list[str] | None:
        """If ``name`` is a function parameter: the expressions passed for it at every call site."""
        found = None
        for m in re.finditer(rf"function\s+({IDENT})\s*\(([^)]*)\)", self.code):
            params = [p.strip() for p in m.group(2).split(",") if p.strip()]
            if name not in params:
                continue
            found = found or []
            fname, idx = m.group(1), params.index(name)
            calls = [
                c
                for c in re.finditer(rf"(?<![\w.:]){fname}\s*\(", self.code)
                if not re.search(r"function\s+$", self.code[: c.start()])
            ]
            if not calls:
                found.append("<function never called>")
            for c in calls:
                args, _ = _split_args(self.code, c.end() - 1)
                found.append(args[idx] if idx < len(args) else "nil")
        return found

    def _loop_keys(self, name: str) -> list[str] | None:
        """If ``name`` is the key variable of ``for name, _ in pairs(T)``: every key expression stored in T."""
        found = None
        for m in re.finditer(rf"for\s+{name}\s*(?:,\s*{IDENT}\s*)?in\s+pairs\s*\(\s*({IDENT})\s*\)", self.code):
            found = found or []
            table = m.group(1)
            stores = list(re.finditer(rf"(?<![\w.]){table}\s*\[", self.code))
            for s in stores:
                args, close = _split_args(self.code, s.end() - 1)
                if re.match(r"\s*=(?!=)", self.code[close + 1 :]):
                    found.append(args[0])
            if not found:
                found.append("<table never filled>")
        return found

    def derived(self, expr: str) -> bool:
        return self._derived(expr, frozenset()) is True

    def _derived(self, expr: str, visiting: frozenset) -> bool | None:
        """True: built from base; False: not; None: only reached through a cycle (say, a table filled from
        a function parameter of the same name) -- neutral, as long as some other source grounds it."""
        expr = expr.strip()
        while expr.startswith("(") and expr.endswith(")"):
            expr = expr[1:-1].strip()
        if expr == "base" or re.match(r"base\s*\.\.", expr):
            return True
        if not re.fullmatch(IDENT, expr) or expr in ("KEYS", "ARGV"):
            return False
        if expr in visiting:
            return None
        sources = self._assignments(expr) + (self._param_args(expr) or []) + (self._loop_keys(expr) or [])
        results = [self._derived(s, visiting | {expr}) for s in sources]
        if not results or False in results:
            return False
        return True if True in results else None

    # -- the checks -----------------------------------------------------------------------------------------
    def check(self) -> list[str]:
        code = self.code
        keys_refs = re.findall(r"KEYS\s*(\[\s*[^\]]*\])?", code)
        if keys_refs != ["[1]"]:
            self.problems.append(f"KEYS must be read exactly once, as KEYS[1]; found {['KEYS' + k for k in keys_refs]}")
        base_sets = self._assignments("base")
        if base_sets != ["KEYS[1]"]:
            self.problems.append(f"'base' must be assigned exactly once from KEYS[1]; found {base_sets}")
        for m in re.finditer(r"\bredis\s*\.\s*(\w+)", code):
            api = m.group(1)
            if api not in REDIS_API_OK:
                self.problems.append(f"redis.{api} is not an allowed API")
            elif api in ("call", "pcall") and not re.match(r"\s*\(", code[m.end() :]):
                self.problems.append(f"redis.{api} used other than as a direct call (aliased?)")
        calls = 0
        for m in re.finditer(r"\bredis\s*\.\s*p?call\s*\(", code):
            calls += 1
            args, _ = _split_args(code, m.end() - 1)
            lit = re.fullmatch(r"""(['"])(\w+)\1""", args[0]) if args else None
            if not lit:
                self.problems.append(f"command name is not a literal: {args[:1]}")
                continue
            cmd = lit.group(2).upper()
            spec = KEY_ARGS.get(cmd)
            if spec is None:
                self.problems.append(f"{cmd}: unknown to this test; add its key positions to KEY_ARGS")
                continue
            positions = range(1, len(args)) if spec == "all" else spec
            for pos in positions:
                if pos >= len(args):
                    self.problems.append(f"{cmd} called without its key argument")
                elif not self.derived(args[pos]):
                    self.problems.append(f"{cmd} key {args[pos]!r} is not built from base (KEYS[1])")
        if calls == 0:
            self.problems.append("no redis.call found (the checker could not read the script)")
        return self.problems


def test_there_are_scripts_to_check():
    names = {p.stem for p in LUA_FILES}
    assert (
        names == set(SCRIPT_NAMES) == {"queue_batch", "agent_batch", "dead_letters", "dead_letters_settle", "minutes"}
    )


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_every_script_key_is_built_from_base(path: Path):
    problems = LuaKeyChecker(path.read_text(encoding="utf-8")).check()
    assert problems == [], f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize(
    "src, expect",
    [
        ("local base = KEYS[1]\nlocal o = KEYS[2]\nredis.call('GET', o)", "KEYS"),
        ("local base = KEYS[1]\nredis.call('GET', ARGV[1])", "not built from base"),
        ("local base = KEYS[1]\nlocal k = ARGV[1] .. ':x'\nredis.call('SET', k, 1)", "not built from base"),
        (
            "local base = KEYS[1]\nlocal k = base .. ':a'\nif x then k = 'other' end\nredis.call('GET', k)",
            "not built from base",
        ),
        (
            "local base = KEYS[1]\nlocal function f(k) redis.call('DEL', k) end\nf(base .. ':a')\nf('x:' .. base)",
            "not built from base",
        ),
        (
            "local base = KEYS[1]\nlocal s = {}\ns[base .. ':a'] = true\ns['x'] = true\n"
            "for key, _ in pairs(s) do redis.call('EXPIRE', key, 5) end",
            "not built from base",
        ),
        ("local base = KEYS[1]\nredis.call('DEL', base .. ':a', 'elsewhere')", "not built from base"),
        (
            "local base = KEYS[1]\nlocal acc = {}\nlocal function put(key, v) acc[key] = v end\nput(base .. ':x', 1)\n"
            "put(ARGV[1], 2)\nfor key, v in pairs(acc) do redis.call('HSET', key, 'v', v) end",
            "not built from base",
        ),
        ("local base = KEYS[1]\nlocal c = redis.call\nc('GET', 'x')", "aliased"),
        ("local base = KEYS[1]\nredis.call('RENAME', base .. ':a', base .. ':b')", "unknown to this test"),
        ("local base = ARGV[1]\nredis.call('GET', base)", "KEYS"),
    ],
)
def test_checker_catches_a_script_that_escapes_its_slot(src, expect):
    problems = LuaKeyChecker(src).check()
    assert any(expect in p for p in problems), problems


def test_checker_accepts_a_well_formed_script():
    src = (
        "local base = KEYS[1] -- the slot\n"
        "local s = {}\n"
        "local function add(wk, by) redis.call('HINCRBY', wk, 'n', by); s[wk] = true end\n"
        "local mk = base .. ':m:' .. ARGV[1]\n"
        "add(base .. ':w', 1)\nadd(mk, 2)\n"
        "for key, _ in pairs(s) do redis.call('EXPIRE', key, 60) end\n"
        "local acc = {}\n"
        "local function put(key, v) acc[key] = v end\n"
        "put(base .. ':x', 1)\n"
        "for key, v in pairs(acc) do redis.call('HSET', key, 'v', v) end\n"
    )
    assert LuaKeyChecker(src).check() == []


class _RecordingPipe:
    """Records what Scripts.queue asks a pipeline to do (a recorder, not a Redis stand-in: nothing runs)."""

    def __init__(self):
        self.calls: list[tuple] = []

    def evalsha(self, *args):
        self.calls.append(args)


def test_store_calls_every_script_with_exactly_one_key():
    scripts = Scripts()
    scripts.shas = {name: f"sha-{name}" for name in SCRIPT_NAMES}
    pipe = _RecordingPipe()
    scripts.queue(pipe, "queue_batch", "p:{q:support}", "params", "events")
    scripts.queue(pipe, "agent_batch", "p:{a:1001}", "params", "events")
    assert pipe.calls == [
        ("sha-queue_batch", 1, "p:{q:support}", "params", "events"),
        ("sha-agent_batch", 1, "p:{a:1001}", "params", "events"),
    ]
    # and nothing else in the package runs a script by another road
    for path in Path(wallboard.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        hits = re.findall(r"\.(evalsha|eval|eval_ro|evalsha_ro|fcall|fcall_ro|register_script)\s*\(", text)
        if path == Path(store_mod.__file__):
            assert hits == ["evalsha"], hits
        else:
            assert hits == [], f"{path}: {hits}"
    assert "evalsha(self.shas[name], 1, base, *args)" in inspect.getsource(Scripts.queue)


# ---------------------------------------------------------------------------------------------------------
# (b) at run time, through MONITOR
# ---------------------------------------------------------------------------------------------------------

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=timezone.utc)
_MON_RE = re.compile(r"^(\d+\.\d+) \[(\d+) ([^\]]*)\] (.*)$", re.S)
_ARG_RE = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_ESC = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b"}


def _unescape(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            if nxt == "x":
                out.append(chr(int(s[i + 2 : i + 4], 16)))
                i += 4
                continue
            out.append(_ESC.get(nxt, nxt))
            i += 2
            continue
        out.append(s[i])
        i += 1
    return "".join(out)


def parse_monitor_line(line: str) -> tuple[str, list[str]] | None:
    """(client, [command, args...]) of one MONITOR line; client is 'lua' for commands run by a script."""
    m = _MON_RE.match(line)
    if not m:
        return None
    return m.group(3), [_unescape(a) for a in _ARG_RE.findall(m.group(4))]


def hash_tags(key: str) -> list[str]:
    """Every {...} section of a key (the cluster hashes the first; we want exactly one)."""
    return re.findall(r"\{([^{}]*)\}", key)


def cluster_tag(key: str) -> str | None:
    """The part of the key Redis Cluster hashes when it has a tag: first '{' to the first '}' after it."""
    s = key.find("{")
    if s < 0:
        return None
    e = key.find("}", s + 1)
    if e < 0 or e == s + 1:
        return None
    return key[s + 1 : e]


def test_monitor_parser_and_tag_helpers():
    client, args = parse_monitor_line('1795456905.9 [0 lua] "SET" "p:{q:a b}:x" "a \\"q\\" b\\n"')
    assert (client, args) == ("lua", ["SET", "p:{q:a b}:x", 'a "q" b\n'])
    client, args = parse_monitor_line('1.5 [0 unix:/tmp/wb/redis.sock] "EVALSHA" "ab" "1" "p:{a:7}"')
    assert (client, args) == ("unix:/tmp/wb/redis.sock", ["EVALSHA", "ab", "1", "p:{a:7}"])
    assert hash_tags("p:{q:x}:w:1") == ["q:x"] and cluster_tag("p:{q:x}:w:1") == "q:x"
    assert hash_tags("p:{q:x}:{a:1}") == ["q:x", "a:1"]
    assert cluster_tag("p:{}:x") is None and hash_tags("p:x") == []


def _events() -> list:
    def at(s: float) -> datetime:
        return T0 + timedelta(seconds=s)

    n = iter(range(1, 1000))

    def ids() -> dict:
        i = next(n)
        return {"id": f"ht:{i}", "source": f"test:{i}"}

    return [
        MemberAdded(**ids(), ts=at(0), agent="1001", queue="support", penalty=0),
        MemberAdded(**ids(), ts=at(0), agent="1002", queue="tech", penalty=0),
        MemberAdded(**ids(), ts=at(0), agent="1003", queue="billing", penalty=0),
        MemberAdded(**ids(), ts=at(1), agent="1001", queue="tech", penalty=2),
        MemberPenalty(**ids(), ts=at(2), agent="1001", queue="support", penalty=1),
        MemberRemoved(**ids(), ts=at(3), agent="1001", queue="tech"),
        AgentStateChanged(**ids(), ts=at(0), agent="1001", state="available"),
        AgentStateChanged(**ids(), ts=at(0), agent="1002", state="available"),
        AgentStateChanged(**ids(), ts=at(0), agent="1003", state="available"),
        CallerJoined(**ids(), ts=at(5), queue="support", call_id="c1", caller="0501234567"),
        AgentStateChanged(**ids(), ts=at(8), agent="1001", state="ringing", queue="support", call_id="c1"),
        CallerAnswered(**ids(), ts=at(10), queue="support", call_id="c1", agent="1001", wait_s=5, ring_s=2),
        AgentStateChanged(**ids(), ts=at(10), agent="1001", state="on_call", queue="support", call_id="c1"),
        CallerJoined(**ids(), ts=at(12), queue="tech", call_id="c2"),
        CallerJoined(**ids(), ts=at(15), queue="billing", call_id="c3"),
        CallerAbandoned(**ids(), ts=at(18), queue="billing", call_id="c3", wait_s=3),
        CallerJoined(**ids(), ts=at(20), queue="billing", call_id="c4", caller="0529876543"),
        AgentMissed(**ids(), ts=at(20), agent="1002", queue="tech", call_id="c2", ring_s=6),
        CallerAnswered(**ids(), ts=at(25), queue="tech", call_id="c2", agent="1002"),
        AgentStateChanged(**ids(), ts=at(25), agent="1002", state="on_call", queue="tech", call_id="c2"),
        CallerJoined(**ids(), ts=at(30), queue="support", call_id="c5"),
        CallerJoined(**ids(), ts=at(35), queue="tech", call_id="c6"),
        CallbackRequested(**ids(), ts=at(40), queue="support", call_id="c5", wait_s=10),
        CallerOverflowed(**ids(), ts=at(50), queue="billing", call_id="c4", reason="timeout", wait_s=30),
        DialAttempt(**ids(), ts=at(60), agent="1003", call_id="d1", number="0541112222"),
        CallCompleted(**ids(), ts=at(70), queue="support", call_id="c1", agent="1001", talk_s=60),
        AgentStateChanged(**ids(), ts=at(70), agent="1001", state="wrap_up", queue="support", call_id="c1"),
        OutboundCall(**ids(), ts=at(70), agent="1003", call_id="d1", number="0541112222"),
        WrapupCompleted(**ids(), ts=at(80), queue="support", call_id="c1", agent="1001", wrap_s=10),
        AgentStateChanged(**ids(), ts=at(80), agent="1001", state="available"),
        AgentStateChanged(**ids(), ts=at(90), agent="1003", state="paused", reason="lunch"),
        CallCompleted(**ids(), ts=at(100), queue="tech", call_id="c2", agent="1002", talk_s=75),
        CallbackDone(**ids(), ts=at(200), queue="support", call_id="c5", agent="1001"),
    ]


KEYLESS = {"TIME", "PING", "ECHO"}
EXPECTED_TAGS = {"q:support", "q:tech", "q:billing", "a:1001", "a:1002", "a:1003", "c"}  # c: the dead letters


async def test_no_script_call_touches_two_hash_tags_at_run_time(make_engine, redis_client, prefix):
    events = _events()
    kinds = {type(e).__name__ for e in events}
    assert len(kinds) == 15  # every event kind of wallboard.events

    engine = await make_engine(engine={"batch_size": 4})  # small batches: several script calls per slot
    sentinel = f"wbtest-monitor-end-{uuid.uuid4().hex}"
    mon_client = redis.Redis.from_url(redis_url(), decode_responses=True, socket_timeout=60)
    monitor = mon_client.monitor()
    monitor.__enter__()  # MONITOR is on once this returns
    lines: list[str] = []
    failure: list[BaseException] = []

    def read() -> None:
        try:
            while True:
                raw = monitor.connection.read_response()
                if isinstance(raw, bytes):
                    raw = raw.decode("utf-8", "replace")
                lines.append(raw)
                if sentinel in raw:
                    return
        except BaseException as e:  # noqa: BLE001 - reported below
            failure.append(e)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        first = await engine.apply(events)
        again = await engine.apply(events)  # the duplicate paths run too
        await engine.dead_letters([DeadLetter("test:1", "unreadable", "x|y")])  # the dead-letter scripts
        await engine.scripts.run_pipeline(
            redis_client, [("dead_letters_settle", engine.keys.centre, ("d", "0-1", "", "", ""))]
        )
        first_minute = int(T0.timestamp()) // 60 * 60  # the rollup's read of the minutes the events wrote
        minutes = tuple(str(first_minute + 60 * i) for i in range(5))
        await engine.scripts.run_pipeline(redis_client, [("minutes", engine.keys.queue("support"), minutes)])
        snap = await engine.publish(await engine.build_snapshot(T0 + timedelta(seconds=201)))
        await redis_client.get(sentinel)
        reader.join(60)
    finally:
        try:
            monitor.__exit__(None, None, None)
        finally:
            mon_client.close()
    assert not failure, failure
    assert not reader.is_alive(), "MONITOR never showed the end marker"

    # the replay did what it should (so the MONITOR trace below is of real work)
    assert first.applied == 15 and first.duplicates == 0
    assert again.applied == 0 and again.duplicates > 0
    assert snap.queues["support"].entered == 2 and snap.queues["billing"].abandoned == 1
    assert snap.agents["1003"].outbound_calls == 1 and snap.agents["1002"].missed == 1

    # group each EVALSHA with the [lua] commands that follow it
    groups: list[dict] = []
    current: dict | None = None
    stray_lua: list[list[str]] = []
    for line in lines:
        parsed = parse_monitor_line(line)
        if parsed is None:
            continue
        client, args = parsed
        if client == "lua":
            (current["cmds"] if current is not None else stray_lua).append(args)
        elif args and args[0].upper() in ("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO"):
            current = {"call": args, "cmds": []}
            groups.append(current)
        else:
            current = None
    mine = [g for g in groups if any(a.startswith(f"{prefix}:") for a in g["call"][3:4])]
    assert not [c for c in stray_lua if any(prefix in a for a in c)], "script commands without their EVALSHA"
    others_touching_us = [g for g in groups if g not in mine and any(prefix in a for c in g["cmds"] for a in c)]
    assert others_touching_us == []

    assert mine, "no EVALSHA of ours was seen"
    shas = {g["call"][1] for g in mine}
    assert shas == set(engine.scripts.shas.values())  # every script ran
    assert {g["call"][0].upper() for g in mine} == {"EVALSHA"}

    # which arguments of each script command are keys: asked of the server itself (COMMAND GETKEYS)
    sync = redis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        pipe = sync.pipeline(transaction=False)
        flat = [c for g in mine for c in g["cmds"]]
        for c in flat:
            pipe.command_getkeys(*c)
        answers = pipe.execute(raise_on_error=False)
    finally:
        sync.close()
    key_lists = iter(answers)

    tags_seen: set[str] = set()
    touched = 0
    for g in mine:
        call = g["call"]
        assert call[2] == "1", f"EVALSHA with {call[2]} keys: {call[:4]}"
        base = call[3]
        tags = hash_tags(base)
        assert len(tags) == 1 and base == f"{prefix}:{{{tags[0]}}}", base
        tag = tags[0]
        tags_seen.add(tag)
        assert g["cmds"], f"script on {base} ran no command"
        for cmd in g["cmds"]:
            keys = next(key_lists)
            if isinstance(keys, Exception):  # only a command that takes no key may have none
                assert cmd[0].upper() in KEYLESS, (cmd, keys)
                keys = []
            for k in keys:
                touched += 1
                assert hash_tags(k) == [tag] and cluster_tag(k) == tag, (
                    f"script on {base} ran {cmd[0]} on {k}, outside its hash tag {{{tag}}}"
                )
                assert k.startswith(base + ":"), (base, cmd)
    assert tags_seen == EXPECTED_TAGS
    assert touched > 50

    # every key in the namespace carries exactly one hash tag: a queue's, an agent's or the centre's
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    assert len(keys) > 20
    tags_in_keys = set()
    for k in keys:
        tags = hash_tags(k)
        assert len(tags) == 1 and k.count("{") == 1 and k.count("}") == 1, k
        assert k.startswith(f"{prefix}:{{{tags[0]}}}:"), k
        assert tags[0] in EXPECTED_TAGS | {"c"}, k
        tags_in_keys.add(tags[0])
    assert tags_in_keys == EXPECTED_TAGS | {"c"}
