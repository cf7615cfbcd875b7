"""The executor's backend on FreeSWITCH: mod_callcenter's ``callcenter_config`` and an originated eavesdrop,
over the event socket, each returning the switch's own reply text (docs/PROTOCOLS_FREESWITCH.md).

- **Pause / unpause**: ``callcenter_config agent set status AGENT 'On Break'`` / ``'Available'``. mod_callcenter
  has no pause reason and no per-queue pause: the reason is kept in our audit only, and a pause is for every
  queue (a request naming one queue is refused rather than widened silently).
- **Moves**: ``tier add QUEUE AGENT LEVEL 1``, ``tier del QUEUE AGENT``, ``tier set level QUEUE AGENT LEVEL``: the
  tier level plays the penalty's role (lower is offered first), the same number both ways.
- **Listen / whisper / barge**: ``bgapi originate {vars}SUPERVISOR &eavesdrop(CALL)`` to the supervisor's phone
  (``users.device``: a dial string such as ``user/2001@default``; a bare extension gets ``user/`` in front),
  ``CALL`` being the caller's channel uuid (our call id). Listen sets ``eavesdrop_enable_dtmf=false`` (no
  accidental talking); whisper adds ``eavesdrop_whisper_bleg=true`` (the other leg of the caller's channel, the
  agent, hears the supervisor; the caller does not); barge is ``&three_way(CALL)`` (all hear); keypad mode is
  eavesdrop with DTMF on (1 / 2 / 3 switch who hears the supervisor, 0 back to listening: switch_ivr_async.c).
  ``bgapi`` answers ``+OK Job-UUID: ...`` once queued (the phone then rings), as AMI's async Originate.
- Names on the switch are ``name@domain``: the agent's ``interface`` when it is such a name, else
  ``ID@esl.domain``; a queue ``NAME@esl.domain`` unless its name has a domain already.
- One lazily opened session with no event subscription; a lost one is reopened once per action.
"""

from __future__ import annotations

import asyncio
import re

from ..config import WallboardConfig
from ..esl.client import ConnectionLost, EslClient, EslError, EslSession
from .executor import Outcome, Target

_SAFE = re.compile(r"^[A-Za-z0-9_.@/:+=-]+$")  # what a name, uuid or dial string may hold in a command line
_UUID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.-]{0,127}$")


def _password(config: WallboardConfig) -> str:
    from feeds.freeswitch import esl_password

    return esl_password(config.esl)


class FsBackend:
    def __init__(
        self, config: WallboardConfig, host: str | None = None, port: int | None = None, timeout_s: float = 5.0
    ):
        self.config = config
        _password(config)  # fail now, clearly, when nothing is set
        self.client = EslClient(
            host or config.esl.host,
            port or config.esl.port,
            lambda: _password(config),
            events="",
            keepalive_s=60.0,
            timeout_s=timeout_s,
        )
        self.timeout_s = timeout_s
        self.domain = config.esl.domain
        self._session: EslSession | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Nothing up front: the session opens with the first action (and reopens if lost)."""

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- names ----------------------------------------------------------------------------------------------

    def agent_name(self, target: Target) -> str:
        iface = target.interface or ""
        if "@" in iface and "/" not in iface:
            return iface
        return f"{target.agent}@{self.domain}"

    def queue_name(self, queue: str) -> str:
        return queue if "@" in queue else f"{queue}@{self.domain}"

    # -- the switch -----------------------------------------------------------------------------------------

    async def _do(self, verb: str, command: str, *names: str) -> Outcome:
        for name in names:  # a space or quote in a name would shift the switch's arguments
            if not _SAFE.match(name):
                return Outcome(False, f"refused before sending: {name[:40]!r} is not a name the switch takes")
        async with self._lock:  # one command at a time: the socket answers in order anyway
            for attempt in (1, 2):
                try:
                    if self._session is None or self._session.closed:
                        self._session = await self.client.connect()
                    if verb == "bgapi":
                        text = await self._session.bgapi(command, self.timeout_s)
                    else:
                        text = await self._session.api(command, self.timeout_s)
                except ConnectionLost as e:
                    self._session = None
                    if attempt == 2:
                        return Outcome(False, f"event socket connection lost: {e}")
                    continue
                except asyncio.TimeoutError:
                    return Outcome(False, f"ESL {verb} {command.split(' ')[0]}: no answer within {self.timeout_s:g} s")
                except ValueError as e:  # a line break: refused before sending
                    return Outcome(False, str(e))
                except (OSError, EslError) as e:
                    return Outcome(False, f"event socket not reachable: {e}")
                text = text.strip()
                return Outcome(text.startswith("+OK"), text or "no answer text")
        return Outcome(False, "unreachable")  # pragma: no cover

    async def queue_pause(self, target: Target, paused: bool, reason: str | None, queue: str | None) -> Outcome:
        if queue:
            return Outcome(
                False, "mod_callcenter pauses an agent in every queue (status On Break); send the pause without a queue"
            )
        status = "'On Break'" if paused else "'Available'"
        agent = self.agent_name(target)
        return await self._do("api", f"callcenter_config agent set status {agent} {status}", agent)

    async def queue_add(self, target: Target, queue: str, penalty: int) -> Outcome:
        q, agent = self.queue_name(queue), self.agent_name(target)
        return await self._do("api", f"callcenter_config tier add {q} {agent} {int(penalty)} 1", q, agent)

    async def queue_remove(self, target: Target, queue: str) -> Outcome:
        q, agent = self.queue_name(queue), self.agent_name(target)
        return await self._do("api", f"callcenter_config tier del {q} {agent}", q, agent)

    async def queue_penalty(self, target: Target, queue: str, penalty: int) -> Outcome:
        q, agent = self.queue_name(queue), self.agent_name(target)
        return await self._do("api", f"callcenter_config tier set level {q} {agent} {int(penalty)}", q, agent)

    async def spy(self, supervisor_device: str, target: Target, mode: str, keypad: bool) -> Outcome:
        call = target.call_id or ""
        if not _UUID.match(call):
            return Outcome(False, f"agent {target.agent} is on no call the switch can eavesdrop on")
        phone = supervisor_device.strip()
        if "/" not in phone:
            phone = f"user/{phone}"
        if not _SAFE.match(phone):
            return Outcome(False, f"users.device {supervisor_device!r} is not a dial string (e.g. user/2001@default)")
        name = f"origination_caller_id_name=Wallboard_{'keypad' if keypad else mode}"
        if keypad:
            app, variables = "eavesdrop", name
        elif mode == "listen":
            app, variables = "eavesdrop", f"{name},eavesdrop_enable_dtmf=false"
        elif mode == "whisper":
            app, variables = "eavesdrop", f"{name},eavesdrop_enable_dtmf=false,eavesdrop_whisper_bleg=true"
        elif mode == "barge":
            app, variables = "three_way", name
        else:
            return Outcome(False, f"unknown spy mode {mode!r}; use listen, whisper or barge")
        return await self._do("bgapi", f"originate {{{variables}}}{phone} &{app}({call})", phone, call)
