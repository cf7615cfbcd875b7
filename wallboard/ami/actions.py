"""The AMI action backend: listen / whisper / barge and queue membership, each awaiting the PBX's response and
returning ``(ok, message)`` where ``message`` is the PBX's own text (its error text on failure).

- **Spying** is ``Originate`` of ``ChanSpy`` to the supervisor's own device: ``Data: <target>,<options>``,
  ``Async: true``. Options (docs/PROTOCOLS.md#actions): ``q`` quiet, ``E`` exit when the spied call ends, plus ``w``
  whisper, ``B`` barge, or ``d`` (keypad: 4 listen, 5 whisper, 6 barge). AMI cannot change a running spy's
  mode: escalating means originating again. The target is the agent's *real device channel*: a full
  channel name (``PJSIP/1001-0000002a``), a device (``PJSIP/1001``, made an exact prefix ``PJSIP/1001-``
  so it cannot also match ``PJSIP/10010``), or a Uniqueid (option ``u``, Asterisk 13+). A ``Local/...``
  target is refused: spying a Local half gives silence (FreePBX-style members); give the agent's device
  (``agents.device`` in the config). With ``Async: true`` the response says the call was queued; the
  supervisor's phone then rings.
- **Queue actions**: QueueAdd, QueueRemove, QueuePenalty, QueuePause; ``queue_log`` writes a custom
  queue_log row, and with ``audit=True`` every successful action (spying and a redirect too) is followed by one
  recording it (``WALLBOARD`` event, the action and the supervisor who asked: ``pause (coaching) by rivka``) so
  the PBX side has a trace too.
- Every header value goes through ``protocol.header_fault``: no CR, LF or other control character anywhere,
  and no ``|`` in a QueueLog field (Asterisk writes the row as given: a ``|`` would forge fields). An audit row
  is checked before its action, so an action whose trace could not be written safely is refused, not done.
- One lazily opened session (``Events: off``); a lost one is reopened once per action before giving up.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Callable

from wallboard.config import WallboardConfig

from .client import AmiClient, AmiError, AmiSession, ConnectionLost, credentials
from .protocol import header_fault

log = logging.getLogger("wallboard.ami.actions")

SPY_OPTIONS = {"listen": "qE", "whisper": "qEw", "barge": "qEB", "keypad": "qEd"}
_UNIQUEID = re.compile(r"^\d{9,11}\.\d+$")
_CHANNEL = re.compile(r"^[A-Za-z0-9_]+/.+-[0-9a-fA-F]+$")  # Tech/resource-<hex sequence>


def _row_fault(row: dict) -> str | None:
    """Why a queue_log row's fields cannot be sent (a '|' would forge fields, CR/LF headers), else None."""
    for key, value in row.items():
        if value is not None and (fault := header_fault("QueueLog", key, str(value))):
            return fault
    return None


def spy_target(target: str) -> tuple[str, str]:
    """(ChanSpy's first argument, extra options) for a channel, device or Uniqueid; ValueError otherwise."""
    target = target.strip()
    if not target or "," in target or "(" in target:
        raise ValueError(f"not a channel, device or Uniqueid: {target!r}")
    if _UNIQUEID.match(target):
        return target, "u"
    if target.lower().startswith("local/"):
        raise ValueError(
            f"{target} is a Local channel: spying it gives silence; use the agent's real device "
            "(agents.device in the config)"
        )
    if "/" not in target:
        raise ValueError(f"not a channel, device or Uniqueid: {target!r}")
    return (target if _CHANNEL.match(target) else target + "-"), ""


class AmiActions:
    def __init__(
        self,
        host: str,
        port: int,
        creds: Callable[[], tuple[str, str]],
        *,
        auth: str = "md5",
        timeout_s: float = 5.0,
        originate_timeout_ms: int = 30000,
        audit: bool = False,
        caller_id: str = "Wallboard",
    ):
        self.client = AmiClient(
            host, port, creds, auth=auth, events="off", filters=(), timeout_s=timeout_s, keepalive_s=60.0
        )
        self.timeout_s = timeout_s
        self.originate_timeout_ms = originate_timeout_ms
        self.audit = audit
        self.caller_id = caller_id
        self._session: AmiSession | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_config(cls, config: WallboardConfig, host: str | None = None, port: int | None = None, **kw) -> AmiActions:
        credentials(config.ami)  # fail now, clearly, when nothing is set
        return cls(host or config.ami.host, port or config.ami.port, lambda: credentials(config.ami), **kw)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _do(self, action: str, fields: dict) -> tuple[bool, str]:
        async with self._lock:  # one action at a time: simple, and the PBX answers in order anyway
            for attempt in (1, 2):
                try:
                    if self._session is None or self._session.closed:
                        self._session = await self.client.connect()
                    r = await self._session.action(action, fields, self.timeout_s)
                except ConnectionLost as e:
                    self._session = None
                    if attempt == 2:
                        return False, f"AMI connection lost: {e}"
                    continue
                except asyncio.TimeoutError:
                    return False, f"AMI {action}: no response within {self.timeout_s:g} s"
                except ValueError as e:  # a field with a control character (or '|' in QueueLog): refused unsent
                    return False, str(e)
                except (OSError, AmiError) as e:
                    return False, f"AMI not reachable: {e}"
                ok = (r.get("response") or "").lower() == "success"
                return ok, r.get("message") or ("ok" if ok else "failed")
        return False, "unreachable"  # pragma: no cover

    async def _queue_action(
        self, action: str, fields: dict, queue: str | None, what: str, user: str | None
    ) -> tuple[bool, str]:
        row = self._audit_fields(queue, what, user, interface=fields.get("Interface"))
        if fault := _row_fault(row):
            return False, fault
        ok, msg = await self._do(action, fields)
        if ok and row:
            await self._do("QueueLog", row)
        return ok, msg

    def _audit_fields(
        self, queue: str | None, what: str, user: str | None, interface: str | None = None, uniqueid: str | None = None
    ) -> dict:
        """With ``audit``: the ``WALLBOARD`` queue_log row to write after a successful action (``NONE``: no queue,
        as Asterisk writes for rows outside a queue; ``unknown`` only for a caller that named nobody). Built, and
        checked, before the action: an action whose trace cannot be written safely is not done."""
        if not self.audit:
            return {}
        return {
            "Queue": queue or "NONE",
            "Event": "WALLBOARD",
            "Uniqueid": uniqueid,
            "Interface": interface,
            "Message": f"{what} by {user or 'unknown'}",
        }

    # -- listen / whisper / barge -------------------------------------------------------------------------

    async def spy(
        self,
        supervisor_device: str,
        target: str,
        mode: str = "listen",
        user: str | None = None,
        call_id: str | None = None,
        interface: str | None = None,
    ) -> tuple[bool, str]:
        """Originate ChanSpy; with ``audit``, a ``listen by rivka`` row names the call (``call_id``) and the agent
        (``interface``, else the spied target)."""
        if mode not in SPY_OPTIONS:
            return False, f"unknown spy mode {mode!r}; use one of {', '.join(SPY_OPTIONS)}"
        try:
            chan, extra = spy_target(target)
        except ValueError as e:
            return False, str(e)
        fields = {
            "Channel": supervisor_device,
            "Application": "ChanSpy",
            "Data": f"{chan},{SPY_OPTIONS[mode]}{extra}",
            "Async": "true",
            "CallerID": f"{self.caller_id} {mode} <{mode}>",
            "Timeout": self.originate_timeout_ms,
        }
        row = self._audit_fields(None, mode, user, interface=interface or target, uniqueid=call_id)
        if fault := _row_fault(row):
            return False, fault
        ok, msg = await self._do("Originate", fields)
        if ok and row:
            await self._do("QueueLog", row)
        return ok, msg

    async def redirect(
        self,
        channel: str,
        context: str,
        exten: str,
        priority: int = 1,
        user: str | None = None,
        what: str = "redirect",
        interface: str | None = None,
    ) -> tuple[bool, str]:
        """``Redirect`` a channel (its name, or its Uniqueid: Asterisk looks a channel up by either) to a
        dialplan location. Taking over a call redirects the caller's channel to the supervisor's extension: the
        caller leaves the bridge with the agent, whose leg then hangs up (audited as ``what`` by ``user``)."""
        row = self._audit_fields(None, what, user, interface=interface, uniqueid=channel)
        if fault := _row_fault(row):
            return False, fault
        ok, msg = await self._do(
            "Redirect", {"Channel": channel, "Context": context, "Exten": exten, "Priority": priority}
        )
        if ok and row:
            await self._do("QueueLog", row)
        return ok, msg

    async def listen(self, supervisor_device: str, target: str, user: str | None = None) -> tuple[bool, str]:
        return await self.spy(supervisor_device, target, "listen", user=user)

    async def whisper(self, supervisor_device: str, target: str, user: str | None = None) -> tuple[bool, str]:
        return await self.spy(supervisor_device, target, "whisper", user=user)

    async def barge(self, supervisor_device: str, target: str, user: str | None = None) -> tuple[bool, str]:
        return await self.spy(supervisor_device, target, "barge", user=user)

    # -- queue membership ---------------------------------------------------------------------------------

    async def queue_add(
        self,
        queue: str,
        interface: str,
        penalty: int | None = None,
        paused: bool | None = None,
        reason: str | None = None,
        member_name: str | None = None,
        state_interface: str | None = None,
        user: str | None = None,
    ) -> tuple[bool, str]:
        fields = {
            "Queue": queue,
            "Interface": interface,
            "Penalty": penalty,
            "Paused": paused,
            "Reason": reason,
            "MemberName": member_name,
            "StateInterface": state_interface,
        }
        return await self._queue_action("QueueAdd", fields, queue, f"add to {queue}", user)

    async def queue_remove(self, queue: str, interface: str, user: str | None = None) -> tuple[bool, str]:
        return await self._queue_action(
            "QueueRemove", {"Queue": queue, "Interface": interface}, queue, f"remove from {queue}", user
        )

    async def queue_penalty(
        self, interface: str, penalty: int, queue: str | None = None, user: str | None = None
    ) -> tuple[bool, str]:
        fields = {"Interface": interface, "Penalty": penalty, "Queue": queue}
        return await self._queue_action("QueuePenalty", fields, queue, f"penalty {penalty}", user)

    async def queue_pause(
        self, interface: str, paused: bool, queue: str | None = None, reason: str | None = None, user: str | None = None
    ) -> tuple[bool, str]:
        fields = {"Interface": interface, "Paused": bool(paused), "Queue": queue, "Reason": reason}
        what = ("pause" + (f" ({reason})" if reason else "")) if paused else "unpause"
        return await self._queue_action("QueuePause", fields, queue, what, user)

    async def queue_log(
        self,
        queue: str,
        event: str,
        uniqueid: str | None = None,
        interface: str | None = None,
        message: str | None = None,
    ) -> tuple[bool, str]:
        fields = {"Queue": queue, "Event": event, "Uniqueid": uniqueid, "Interface": interface, "Message": message}
        return await self._do("QueueLog", fields)
