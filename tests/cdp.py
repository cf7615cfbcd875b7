"""A small Chrome DevTools Protocol driver for the TV page tests: Debian's real headless Chromium, driven over
its DevTools websocket with the ``websockets`` package (no Node, no browser download).

Hand-written on purpose: the tests need a dozen CDP methods (create, attach and close a target, navigate, wait for
the load event, evaluate, set the viewport, take a screenshot) over a websocket library the project already
depends on. Playwright, the well-kept choice, ships a Node.js driver in its wheel and is built against its own
Chromium revision, which it downloads (``playwright install``); pointing it at the distribution's
``/usr/bin/chromium`` through ``executable_path`` is, in its own words, at your own risk. pyppeteer is unmaintained and
downloads Chromium too; Selenium needs a chromedriver matching the browser's version. Kept to what the tests use.

    async with Chromium.launch() as browser:
        page = await browser.new_page(1920, 1080)
        await page.goto("http://127.0.0.1:8765/?layout=floor&token=...")
        await page.wait_for("window.__tv && window.__tv.queues.length > 0")
        await page.screenshot(path)
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from wallboard.aio import cancel_and_wait

from .polling import until

CHROMIUM = "/usr/bin/chromium"  # Debian's package (.ci/run installs it when missing)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
]


class CDPError(RuntimeError):
    pass


class Chromium:
    def __init__(self, proc: asyncio.subprocess.Process, ws, profile: str):
        self.proc = proc
        self.ws = ws
        self.profile = profile
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future] = {}
        self._events: list[tuple[str, str | None, asyncio.Future]] = []
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, path: str = CHROMIUM) -> Chromium:
        if not Path(path).exists():
            raise FileNotFoundError(f"{path} not found: install Debian's chromium (apt-get install -y chromium)")
        profile = tempfile.mkdtemp(prefix="wb-chromium-")
        log = Path(profile) / "stderr.log"
        with open(log, "wb") as err:
            proc = await asyncio.create_subprocess_exec(
                path,
                *FLAGS,
                f"--user-data-dir={profile}/data",
                "about:blank",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=err,
            )

        def devtools_url() -> str | None:
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("DevTools listening on "):
                    return line.split(" ", 3)[3].strip()
            if proc.returncode is not None:
                raise CDPError(f"chromium stopped: {log.read_text(errors='replace')[-2000:]}")
            return None

        try:
            url = await until(devtools_url, "chromium's DevTools address", timeout=20, every=0.05)
        except AssertionError:
            raise CDPError(f"chromium did not start: {log.read_text(errors='replace')[-2000:]}") from None
        ws = await connect(url, max_size=None, compression=None, ping_interval=None)
        return cls(proc, ws, profile)

    @classmethod
    def launch(cls, path: str = CHROMIUM) -> _Launch:
        return _Launch(path)

    async def _read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self._waiting.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    if "error" in msg:
                        fut.set_exception(CDPError(f"{msg['error'].get('message')}: {msg['error'].get('data', '')}"))
                    else:
                        fut.set_result(msg.get("result", {}))
            else:
                for entry in list(self._events):
                    method, session, fut = entry
                    if msg.get("method") == method and session in (None, msg.get("sessionId")) and not fut.done():
                        fut.set_result(msg.get("params", {}))
                        self._events.remove(entry)

    async def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30
    ) -> dict:
        mid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._waiting[mid] = fut
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self.ws.send(json.dumps(msg))
        return await asyncio.wait_for(fut, timeout)

    def expect(self, method: str, session: str | None = None) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self._events.append((method, session, fut))
        return fut

    async def new_page(self, width: int = 1920, height: int = 1080) -> Page:
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        await page.set_size(width, height)
        return page

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.send("Browser.close"), 5)
        except Exception:
            pass
        await cancel_and_wait(self._reader)
        await self.ws.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class _Launch:
    def __init__(self, path: str):
        self.path = path
        self.browser: Chromium | None = None

    async def __aenter__(self) -> Chromium:
        self.browser = await Chromium.start(self.path)
        return self.browser

    async def __aexit__(self, *exc) -> None:
        if self.browser is not None:
            await self.browser.close()


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser = browser
        self.session = session

    async def send(self, method: str, params: dict | None = None) -> dict:
        return await self.browser.send(method, params, self.session)

    async def close(self) -> None:
        info = await self.browser.send("Target.getTargetInfo", {}, self.session)
        await self.browser.send("Target.closeTarget", {"targetId": info["targetInfo"]["targetId"]})

    async def set_size(self, width: int, height: int) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    async def goto(self, url: str) -> None:
        loaded = self.browser.expect("Page.loadEventFired", self.session)
        await self.send("Page.navigate", {"url": url})
        await asyncio.wait_for(loaded, 20)

    async def eval(self, expression: str) -> Any:
        res = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        if "exceptionDetails" in res:
            raise CDPError(f"{expression!r} threw: {res['exceptionDetails'].get('exception', {}).get('description')}")
        return res["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10, interval: float = 0.05) -> Any:
        """Poll until ``expression`` is truthy (``polling.until``); returns its value."""
        return await until(lambda: self.eval(expression), f"the page: {expression}", timeout=timeout, every=interval)

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})
        path.write_bytes(base64.b64decode(data["data"]))
        return path
