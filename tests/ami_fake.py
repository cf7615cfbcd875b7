"""A tiny fake PBX speaking AMI over TCP, for the client and feed tests (Asterisk is not installable here).

It greets, answers Challenge / Login (plain and MD5), Ping, Filter, QueueStatus (with the QueueParams /
QueueMember / QueueEntry blocks it is given) and any other action (Success, or the error set in
``errors``), records every action it received, and can push raw event text, stop answering Pings (a
half-open link) and drop connections. The protocol facts it follows are docs/PROTOCOLS.md's; it is a test
double, not a model of Asterisk.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets


class FakePbx:
    def __init__(
        self,
        username: str = "wallboard",
        secret: str = "s3cret",
        *,
        queue_status: list[str] | None = None,
        errors: dict[str, str] | None = None,
        filter_ok: bool = True,
    ):
        self.username, self.secret = username, secret
        self.queue_status = queue_status or []  # event blocks ("Key: value" lines) listed by QueueStatus
        self.errors = errors or {}  # action (lower-case) -> error message to answer with
        self.filter_ok = filter_ok
        self.answer_ping = True
        self.received: list[dict[str, str]] = []  # every action, keys as sent
        self.connections = 0
        self.logins: list[str] = []  # "plain", "md5" or "failed", per attempt
        self.port = 0
        self._clients: list[asyncio.StreamWriter] = []
        self._server: asyncio.base_events.Server | None = None
        self.logged_in = asyncio.Event()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        self.drop()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def actions(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.received if a.get("Action", "").lower() == name.lower()]

    async def push(self, text: str | bytes) -> None:
        """Write raw text to every logged-in client (LF becomes CRLF for str; bytes go as they are)."""
        data = text if isinstance(text, bytes) else text.replace("\r\n", "\n").replace("\n", "\r\n").encode()
        for w in list(self._clients):
            w.write(data)
            await w.drain()

    async def event(self, **fields: object) -> None:
        """Push one event block: event(Event="QueueCallerJoin", Queue="Q1", ...)."""
        await self.push("".join(f"{k}: {v}\n" for k, v in fields.items()) + "\n")

    def drop(self) -> None:
        """Cut every connection at once (as a PBX restart or a network loss does)."""
        for w in self._clients:
            w.transport.abort()
        self._clients.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"Asterisk Call Manager/5.0.1\r\n")
        challenge = None
        try:
            while True:
                fields: dict[str, str] = {}
                while True:
                    line = await reader.readline()
                    if not line:
                        return
                    line = line.rstrip(b"\r\n")
                    if not line:
                        break
                    k, _, v = line.decode().partition(":")
                    fields[k.strip()] = v.strip()
                if not fields:
                    continue
                self.received.append(fields)
                action = fields.get("Action", "").lower()
                aid = fields.get("ActionID", "")
                reply = {"Response": "Success", "ActionID": aid}
                if action == "challenge":
                    challenge = secrets.token_hex(8)
                    reply["Challenge"] = challenge
                elif action == "login":
                    if fields.get("AuthType", "").lower() == "md5":
                        want = hashlib.md5(((challenge or "") + self.secret).encode()).hexdigest()
                        ok, kind = challenge is not None and fields.get("Key") == want, "md5"
                    else:
                        ok, kind = fields.get("Secret") == self.secret, "plain"
                    ok = ok and fields.get("Username") == self.username
                    self.logins.append(kind if ok else "failed")
                    if not ok:  # Asterisk answers, then closes the session
                        writer.write(_block({"Response": "Error", "ActionID": aid, "Message": "Authentication failed"}))
                        await writer.drain()
                        writer.close()
                        return
                    reply["Message"] = "Authentication accepted"
                    self._clients.append(writer)
                    self.logged_in.set()
                elif action == "ping":
                    if not self.answer_ping:
                        continue
                    reply["Ping"] = "Pong"
                elif action == "filter" and not self.filter_ok:
                    reply = {"Response": "Error", "ActionID": aid, "Message": "Permission denied"}
                elif action == "queuestatus":
                    reply["EventList"] = "start"
                    reply["Message"] = "Queue status will follow"
                    out = _block(reply)
                    for b in self.queue_status:
                        out += (b.strip().replace("\n", "\r\n") + f"\r\nActionID: {aid}\r\n\r\n").encode()
                    out += _block(
                        {
                            "Event": "QueueStatusComplete",
                            "ActionID": aid,
                            "EventList": "Complete",
                            "ListItems": len(self.queue_status),
                        }
                    )
                    writer.write(out)
                    await writer.drain()
                    continue
                elif action in self.errors:
                    reply = {"Response": "Error", "ActionID": aid, "Message": self.errors[action]}
                elif action == "logoff":
                    writer.write(_block({"Response": "Goodbye", "ActionID": aid}))
                    writer.close()
                    return
                writer.write(_block(reply))
                await writer.drain()
        except (ConnectionError, OSError):
            return
        finally:
            if writer in self._clients:
                self._clients.remove(writer)


def _block(fields: dict[str, object]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode()
