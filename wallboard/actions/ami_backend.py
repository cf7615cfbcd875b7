"""The executor's backend on Asterisk: AMI actions (wallboard.ami.actions) for the executor's requests."""

from __future__ import annotations

from ..ami.actions import AmiActions
from ..config import WallboardConfig
from .executor import Outcome, Target


class AmiBackend:
    def __init__(
        self,
        config: WallboardConfig,
        host: str | None = None,
        port: int | None = None,
        actions: AmiActions | None = None,
    ):
        self.config = config
        self.ami = actions or AmiActions.from_config(config, host, port, audit=True)

    async def start(self) -> None:
        """Nothing to do up front: the session opens with the first action (and reopens if lost)."""

    async def close(self) -> None:
        await self.ami.close()

    @staticmethod
    def _interface(target: Target) -> str:
        return target.interface or f"Agent/{target.agent}"

    async def spy(self, supervisor_device: str, target: Target, mode: str, keypad: bool) -> Outcome:
        # the agent's real device (agents.device, else the member interface): a Local/ member gives silence
        device = target.device or target.interface
        if not device:
            return Outcome(False, f"agent {target.agent} has no device or interface in the config")
        ok, msg = await self.ami.spy(
            supervisor_device,
            device,
            "keypad" if keypad else mode,
            user=target.by,
            call_id=target.call_id,
            interface=self._interface(target),
        )
        return Outcome(ok, msg)

    async def takeover(self, supervisor_device: str, target: Target) -> Outcome:
        """Redirect of the caller's channel (by its Uniqueid, the call id) to the supervisor's extension in
        ``ami.takeover_context``: the supervisor's phone rings with the caller, the agent's leg drops. Chosen
        over barge-then-hang-up-the-agent: one action, no moment with three on the line, and the caller's
        channel (its recording, its CDR) goes on."""
        if not target.call_id:
            return Outcome(False, f"agent {target.agent} is not on a call")
        exten = supervisor_device.rsplit("/", 1)[-1].split("@", 1)[0]
        ok, msg = await self.ami.redirect(
            target.call_id,
            self.config.ami.takeover_context,
            exten,
            user=target.by,
            what="takeover",
            interface=self._interface(target),
        )
        return Outcome(ok, msg)

    # every action names the supervisor who asked (``target.by``) in the PBX's queue_log row (``... by rivka``)

    async def queue_add(self, target: Target, queue: str, penalty: int) -> Outcome:
        ok, msg = await self.ami.queue_add(
            queue, self._interface(target), penalty=penalty, member_name=target.agent, user=target.by
        )
        return Outcome(ok, msg)

    async def queue_remove(self, target: Target, queue: str) -> Outcome:
        return Outcome(*await self.ami.queue_remove(queue, self._interface(target), user=target.by))

    async def queue_penalty(self, target: Target, queue: str, penalty: int) -> Outcome:
        return Outcome(*await self.ami.queue_penalty(self._interface(target), penalty, queue=queue, user=target.by))

    async def queue_pause(self, target: Target, paused: bool, reason: str | None, queue: str | None) -> Outcome:
        return Outcome(
            *await self.ami.queue_pause(self._interface(target), paused, queue=queue, reason=reason, user=target.by)
        )
