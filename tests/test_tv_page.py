"""The TV page in real headless Chromium (Debian's ``chromium`` at /usr/bin/chromium, driven over the DevTools
protocol by ``tests/cdp.py``), served by a real hub that follows a real Redis.

Summaries are hand-built and published on the snapshot channel a few times a second (as the engine would), so
the page is fresh until the test stops the feed or the hub. Screenshots go to ``tests/artifacts/`` (ignored
by git): 1080p and 4K of the English board, 1080p of the Hebrew one, and each page of the demo's floor in both
languages at 1080p, 4K and portrait. Pixels are not compared (they change with Chromium's version): the layout
facts are, measured in the page (no text cut, one digit size, every tile on the screen, pages shared evenly).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aredis

from wallboard.aio import cancel_and_wait
from wallboard.hub.server import Hub

from .cdp import Chromium
from .conftest import redis_url
from .polling import until
from .tvdata import (
    BLENDED_LAYOUTS,
    TOKENS,
    UNMASKED,
    blended,
    breach,
    four_queues,
    make_queue,
    make_summary,
    now_utc,
    publish,
    tv_config,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(autouse=True)
def _tokens(monkeypatch):
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)


# One browser for the module (each test opens its own page): the tests and their fixtures share the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser():
    async with Chromium.launch() as b:
        yield b


@pytest_asyncio.fixture(loop_scope="module")
async def new_page(browser):
    """Open pages in the shared browser; each is closed after its test (no page outlives its hub)."""
    opened = []

    async def new(width: int, height: int):
        page = await browser.new_page(width, height)
        opened.append(page)
        return page

    yield new
    for page in opened:
        await page.close()


@pytest_asyncio.fixture(loop_scope="module")
async def redis_client():
    client = aredis.Redis.from_url(redis_url(), decode_responses=True)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="module")
async def cleanup(redis_client, prefix):
    yield
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis_client.unlink(*keys)


class Feed:
    """Publishes ``make()`` (a summary builder taking seq and now) every ``every_s``, as the engine would."""

    def __init__(self, client, prefix: str, make, every_s: float = 0.3):
        self.client, self.prefix, self.make, self.every_s = client, prefix, make, every_s
        self.seq = 0
        self.task: asyncio.Task | None = None

    async def once(self) -> None:
        self.seq += 1
        await publish(self.client, self.prefix, self.make(self.seq, now_utc()))

    async def _run(self) -> None:
        while True:
            await self.once()
            await asyncio.sleep(self.every_s)

    async def __aenter__(self) -> Feed:
        await self.once()
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc) -> None:
        await cancel_and_wait(self.task)  # its publish may swallow a cancellation (redis-py's retry)


@contextlib.asynccontextmanager
async def running_hub(config, client, port: int = 0):
    hub = Hub(config, client, port=port)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def kiosk(hub: Hub, layout: str, token: str, extra: str = "") -> str:
    return f"http://127.0.0.1:{hub.port}/?layout={layout}&token={token}{extra}"


FIGS = """Array.from(document.querySelectorAll('.card:not(.empty):not(.total)')).map(c => ({
  label: c.querySelector('.qlabel').textContent, level: c.className,
  rect: c.getBoundingClientRect().toJSON(),
  figs: Array.from(c.querySelectorAll('.fig')).map(f => ({cls: f.className, value: f.querySelector('.fval').textContent,
    label: f.querySelector('.flabel').textContent, color: getComputedStyle(f.querySelector('.fval')).color,
    height: f.querySelector('.fval').getBoundingClientRect().height}))}))"""


async def test_page_shows_numbers_breach_flashing_at_1080p_and_4k(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)
    ARTIFACTS.mkdir(exist_ok=True)

    def make(seq, now):
        return four_queues(seq, now, **breach("service_level", now))

    async with Feed(redis_client, prefix, make) as feed, running_hub(config, redis_client) as hub:
        page = await new_page(1920, 1080)
        await page.goto(kiosk(hub, "floor", TOKENS["TV_TEST_VIEWER_FLOOR"]))
        await page.wait_for(
            "window.__tv.queues.length === 4 && document.querySelectorAll('.card:not(.total) .fval').length === 16"
        )
        cards = await page.eval(FIGS)
        assert [c["label"] for c in cards] == ["Customer service", "Technical support", "Billing", "Sales"]
        support = cards[0]
        values = [f["value"] for f in support["figs"]]
        assert values[0] == "3" and values[1].startswith("1:1") and values[2:] == ["62%", "0"]
        assert [f["value"] for f in cards[2]["figs"]] == ["0", "-", "100%", "5"]
        # red on breach: the card's border and the figure (red digits, or white on red while flashing)
        assert "level-breach" in support["level"] and "level-breach" in support["figs"][2]["cls"]
        assert "flash" in support["figs"][2]["cls"] and "flash" not in support["figs"][0]["cls"]
        border = await page.eval("getComputedStyle(document.querySelector('.card.level-breach')).borderTopColor")
        assert border == "rgb(255, 59, 59)"
        assert support["figs"][0]["color"] == "rgb(53, 208, 127)"  # ok is green
        assert "Service level · 30 min" in support["figs"][2]["label"]
        # flashing: one timer, toggling at most 2 Hz (here configured at 2 Hz: every 250 ms)
        log = await page.wait_for("window.__tv.flashLog.length >= 6 && window.__tv.flashLog", timeout=5)
        gaps = [b - a for a, b in zip(log, log[1:])]
        # 2 Hz = a toggle every 250 ms; a phase may come out a little short when a faster message refines the
        # page's estimate of server time, never a flicker
        assert (log[-1] - log[0]) / len(gaps) >= 225 and min(gaps) >= 100, gaps
        assert await page.eval("document.body.innerText.length > 0")
        assert UNMASKED not in await page.eval("document.documentElement.outerHTML")
        assert UNMASKED[-4:] not in await page.eval("JSON.stringify(window.__tv.queues)")
        # the longest wait ticks on the page between snapshots: stop the feed, watch it move
        await page.eval("document.body.classList.remove('flash-on')")
        await page.screenshot(ARTIFACTS / "tv_1080p.png")
        h1080 = support["figs"][2]["height"]
        await page.set_size(3840, 2160)
        await page.wait_for("document.querySelector('.fval').getBoundingClientRect().height > %f" % (1.8 * h1080))
        cards4k = await page.eval(FIGS)
        assert 1.8 < cards4k[0]["figs"][2]["height"] / h1080 < 2.2  # the same layout, twice the pixels
        await page.screenshot(ARTIFACTS / "tv_4k.png")

        # acknowledged: the flashing stops, the colour stays, the name shows
        feed.make = lambda seq, now: four_queues(seq, now, **breach("service_level", now, acked_by="rivka"))
        await page.wait_for("!document.querySelector('.fig.flash')")
        sl = (await page.eval(FIGS))[0]["figs"][2]
        assert "level-breach" in sl["cls"] and "ack rivka" in sl["label"] and sl["color"] == "rgb(255, 59, 59)"


async def test_page_rotates_pages(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)
    async with Feed(redis_client, prefix, four_queues), running_hub(config, redis_client) as hub:
        page = await new_page(1280, 720)
        await page.goto(kiosk(hub, "single", TOKENS["TV_TEST_VIEWER_SINGLE"]))  # one queue per page, 1 s each
        await page.wait_for("window.__tv.queues.length === 3")
        seen, every_queue = set(), {"Customer service", "Technical support", "Billing"}

        async def each_page_shown():
            seen.add(await page.eval("document.querySelector('.card:not(.empty) .qlabel').textContent"))  # noqa
            return seen >= every_queue

        await until(each_page_shown, "each queue's page in turn", every=0.1)
        assert seen == every_queue  # and nothing else
        assert (await page.eval("document.getElementById('pageno').textContent")).startswith("page ")
        assert await page.eval("document.querySelectorAll('.card:not(.empty)').length") == 1


async def test_page_stale_badge_when_hub_stops_and_recovers(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)  # stale after 2 s
    async with Feed(redis_client, prefix, four_queues):
        async with running_hub(config, redis_client) as hub:
            port = hub.port
            page = await new_page(1280, 720)
            await page.goto(kiosk(hub, "floor", TOKENS["TV_TEST_VIEWER_FLOOR"], "&retry_max_ms=1000"))
            await page.wait_for("window.__tv.queues.length === 4 && window.__tv.connected")
            assert await page.eval("document.getElementById('stale').hidden")
        # the hub is gone: the page keeps the last numbers and says they are stale
        await page.wait_for("!document.getElementById('stale').hidden", timeout=6)
        badge = await page.eval("document.getElementById('stale').textContent")
        assert badge.startswith("STALE — no data since ")
        assert not await page.eval("window.__tv.connected")
        assert await page.eval("document.querySelectorAll('.card:not(.total) .fval').length") == 16
        # a hub comes back on the same port: the page reconnects by itself and the badge goes
        async with running_hub(config, redis_client, port=port):
            await page.wait_for("window.__tv.connected && document.getElementById('stale').hidden", timeout=8)


async def test_page_hebrew_right_to_left(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)
    ARTIFACTS.mkdir(exist_ok=True)

    def make(seq, now):
        return make_summary(
            seq,
            now,
            {
                "support": make_queue(
                    "Customer service",
                    now,
                    waiting_since_s=(95, 40),
                    sl=0.64,
                    available=0,
                    **breach("service_level", now),
                ),
                "tech": make_queue("Technical", now, sl=0.93, available=2),
            },
        )

    async with Feed(redis_client, prefix, make), running_hub(config, redis_client) as hub:
        await redis_client.set(f"{prefix}:{{c}}:ticker", "ישיבת צוות בשעה 14:00 — נא לעדכן זמינות")
        page = await new_page(1920, 1080)
        await page.goto(kiosk(hub, "floor-he", TOKENS["TV_TEST_VIEWER_HE"]))
        await page.wait_for(
            "window.__tv.queues.length === 2 && document.querySelectorAll('.card:not(.total) .fval').length === 8"
        )
        await page.wait_for("!document.getElementById('ticker').hidden")
        assert await page.eval("document.documentElement.dir") == "rtl"
        assert await page.eval("document.documentElement.lang") == "he"
        cards = await page.eval(FIGS)
        assert [c["label"] for c in cards] == ["שירות לקוחות", "תמיכה טכנית"]
        assert cards[0]["figs"][0]["label"] == "ממתינים"
        # right to left: the first queue is on the right, a label starts at its figure's right edge
        assert cards[0]["rect"]["left"] > cards[1]["rect"]["left"]
        geo = await page.eval("""(() => { const f = document.querySelector('.card:not(.total) .fig'), t = f.querySelector('.flabel-text');
            const fr = f.getBoundingClientRect(), tr = t.getBoundingClientRect();
            return {dir: getComputedStyle(t).direction, gapRight: fr.right - tr.right, gapLeft: tr.left - fr.left,
                    digits: getComputedStyle(f.querySelector('.fval')).direction}; })()""")
        assert geo["dir"] == "rtl" and geo["gapRight"] < geo["gapLeft"]
        assert geo["digits"] == "ltr"  # numbers and times still read left to right
        assert cards[0]["figs"][1]["value"].startswith("1:3")  # 1:35 and ticking
        # the supervisor's message, then the alert line of the queue in breach (in Hebrew)
        assert (
            await page.eval("document.getElementById('ticker-text').textContent")
            == "ישיבת צוות בשעה 14:00 — נא לעדכן זמינות•שירות לקוחות: 2 ממתינים, רמת שירות 64%"
        )
        await page.eval("document.body.classList.remove('flash-on')")
        await page.screenshot(ARTIFACTS / "tv_he_1080p.png")


@pytest.mark.parametrize(
    "layout,token,labels,figures,strips",
    [
        (
            "blended",
            "TV_TEST_VIEWER_FLOOR",
            ["Customer service", "Web help · Chat"],
            ["Waiting", "Oldest waiting", "Service level", "Agents with room"],
            ["1 free 4 on call 0 wrap-up 0 paused 5 logged in", "2 with room 4 busy 0 paused 6 logged in"],
        ),
        (
            "blended-he",
            "TV_TEST_VIEWER_HE",
            ["שירות לקוחות", "עזרה באתר · צ'אט"],
            ["ממתינים", "הוותיק בתור", "רמת שירות", "נציגים עם מקום"],
            ["1 פנויים 4 בשיחה 0 סיכום 0 בהפסקה 5 מחוברים", "2 עם מקום 4 עסוקים 0 בהפסקה 6 מחוברים"],
        ),
    ],
)
async def test_page_names_a_written_queue_s_channel(
    new_page, redis_client, prefix, cleanup, layout, token, labels, figures, strips
):
    """A chat queue beside a phone queue: its tile says its channel after its name (a phone queue's says
    nothing: voice is the usual), its longest wait reads as the oldest waiting, and its agents figure is those
    with room for one more chat. Its agents strip says the same, not voice states: with room 2, busy 4 (the 6
    logged in, none paused, less the 2 with room: chatting agents are "available" by state), paused, logged in;
    the phone queue's strip stays by state."""
    config = tv_config(prefix, layouts=BLENDED_LAYOUTS)
    async with Feed(redis_client, prefix, blended), running_hub(config, redis_client) as hub:
        page = await new_page(1920, 1080)
        await page.goto(kiosk(hub, layout, TOKENS[token]))
        await page.wait_for(
            "window.__tv.queues.length === 2 && document.querySelectorAll('.card:not(.total) .fval').length === 8"
        )
        cards = await page.eval(FIGS)
        assert [c["label"] for c in cards] == labels
        assert [f["label"] for f in cards[1]["figs"]] == figures
        assert cards[1]["figs"][0]["value"] == "2" and cards[1]["figs"][3]["value"] == "2"  # 2 waiting, 2 with room
        assert cards[0]["figs"][3]["label"] != figures[3]  # the phone queue's agents are the available
        shown = await page.eval("""Array.from(document.querySelectorAll('.card:not(.total) .agents'))
            .map(a => a.innerText.replace(/\\s+/g, ' ').trim())""")
        assert shown == strips
        ARTIFACTS.mkdir(exist_ok=True)
        await page.eval("document.body.classList.remove('flash-on')")
        await page.screenshot(ARTIFACTS / f"tv_{layout}_1080p.png")


async def test_page_shows_a_refusal(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)
    async with running_hub(config, redis_client) as hub:
        page = await new_page(1280, 720)
        await page.goto(kiosk(hub, "floor", "wrong-token"))
        status = await page.wait_for("window.__tv.refused && document.getElementById('status').textContent")
        assert status == "refused: invalid token for layout 'floor'"
        assert hub.stats.refused["token"] == 1


# ---- issue 17: stale from across the room, what a floor board shows, portrait ---------------------------------

GEOMETRY = """(() => {
  const px = (el, p) => parseFloat(getComputedStyle(el)[p]);
  const cards = Array.from(document.querySelectorAll('.card:not(.empty)'));
  const cut = (el) => el.scrollWidth > el.clientWidth + 1;
  return {
    plan: window.__tv.plan,
    digits: Array.from(document.querySelectorAll('.card:not(.empty) .fval')).map(v => px(v, 'fontSize')),
    labels: Array.from(document.querySelectorAll('.card:not(.empty) .flabel')).map(l => px(l, 'fontSize')),
    cut: cards.flatMap(c => Array.from(c.querySelectorAll('.qname, .flabel, .fmain, .fsub, .agents')))
              .filter(cut).map(e => e.textContent),
    names: cards.map(c => c.querySelector('.qlabel').textContent),
    rects: cards.map(c => c.getBoundingClientRect().toJSON()),
  }; })()"""


TICKER = """(() => { const t = document.getElementById('ticker-text');
  return {text: t.textContent, animation: getComputedStyle(t).animationName,
          color: getComputedStyle(document.getElementById('ticker')).color}; })()"""
STALE_GREY = "rgb(93, 102, 112)"  # --stale in tv.css


async def test_page_goes_unmistakably_stale_and_freezes_timers(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)  # stale after 2 s
    ARTIFACTS.mkdir(exist_ok=True)
    feed = Feed(redis_client, prefix, lambda seq, now: four_queues(seq, now, **breach("service_level", now)))
    async with running_hub(config, redis_client) as hub:
        page = await new_page(1920, 1080)
        message = ("Team meeting at 14:00 in the large room — " * 4).strip()  # wider than the screen: it scrolls
        await redis_client.set(f"{prefix}:{{c}}:ticker", message)
        async with feed:
            await page.goto(kiosk(hub, "floor", TOKENS["TV_TEST_VIEWER_FLOOR"]))
            await page.wait_for("window.__tv.plan && !window.__tv.stale && window.__tv.alerts.length === 1")
            assert await page.eval("document.getElementById('stale-banner').hidden")
            live = await page.wait_for(
                f"(() => {{ const t = {TICKER}; return t.text.includes('Customer service: 3 waiting') && t; }})()"
            )
            assert live["animation"] == "ticker" and live["color"] != STALE_GREY, live
        # the feed stopped (the hub still runs): the page goes stale on the snapshot's age
        await page.wait_for("window.__tv.stale", timeout=6)
        # the banner counts the seconds since the last snapshot, in large type
        text = await page.wait_for(
            """(() => { const t = document.getElementById('stale-age').textContent;
            return /^NO DATA FOR [3-9] s$/.test(t) && t; })()""",
            timeout=8,
        )
        big = await page.eval("parseFloat(getComputedStyle(document.getElementById('stale-age')).fontSize)")
        assert big >= 100, big  # 11 % of 1080 px: legible across the room
        fig = await page.eval("""(() => { const v = document.querySelector('.card:not(.total) .fval');
            const f = v.closest('.fig'); return {deco: getComputedStyle(v).textDecorationLine,
            color: getComputedStyle(f).color, cls: f.className}; })()""")
        assert fig["deco"] == "line-through" and fig["color"] == "rgb(93, 102, 112)", fig  # struck and grey
        assert not await page.eval("document.querySelector('.fig.flash')")  # a stale breach does not flash
        # the longest wait stops at its value at the last snapshot: 1:14 plus under a second
        waits = set()
        for _ in range(3):
            waits.add(await page.eval("document.querySelectorAll('.card:not(.total) .fval')[1].textContent"))
            await page.wait_for("document.getElementById('stale-age').textContent !== %r" % text, timeout=3)
            text = await page.eval("document.getElementById('stale-age').textContent")
        assert waits <= {"1:14", "1:15"} and len(waits) == 1, waits
        # the ticker stops and greys; the last snapshot's alert line goes, the supervisor's message stays
        ticker = await page.eval(TICKER)
        assert ticker["text"] == message, ticker["text"]
        assert ticker["animation"] == "none" and ticker["color"] == STALE_GREY, ticker
        await page.screenshot(ARTIFACTS / "tv_stale_1080p.png")


async def test_page_floor_board_total_agents_targets_alerts(new_page, redis_client, prefix, cleanup):
    config = tv_config(prefix)

    def make(seq, now):
        s = four_queues(
            seq,
            now,
            sl=0.74,
            rolling_sl=0.38,
            waiting_since_s=tuple(range(150, 0, -10)),
            **breach("service_level", now),
        )
        s.total.agent_counts.available, s.total.agent_counts.on_call, s.total.agent_counts.logged_in = 8, 16, 27
        s.total.agent_counts.free = 9  # free for the centre: the 8 available and one on a call with chat room
        s.total.waiting = 16
        return s

    async with Feed(redis_client, prefix, make), running_hub(config, redis_client) as hub:
        await redis_client.set(f"{prefix}:{{c}}:ticker", "Team meeting at 14:00")
        page = await new_page(1920, 1080)
        await page.goto(kiosk(hub, "floor", TOKENS["TV_TEST_VIEWER_FLOOR"]))
        await page.wait_for("window.__tv.plan && window.__tv.alerts.length === 1 && window.__tv.tickerText")
        total = await page.eval("""(() => { const c = document.querySelector('.card.total');
            return {name: c.querySelector('.qlabel').textContent,
                    values: Array.from(c.querySelectorAll('.fval')).map(v => v.textContent),
                    agents: c.querySelector('.agents').innerText.replace(/\\s+/g, ' ').trim()}; })()""")
        assert total["name"] == "Whole centre" and total["values"][0] == "16"
        # the centre's free (on one channel at least, as the queue tiles count them), busy = 27 - 0 paused - 9
        assert total["agents"] == "9 free 18 busy 0 paused 27 logged in"
        sl = await page.eval("""(() => { const f = document.querySelectorAll('.card:not(.total)')[0]
            .querySelectorAll('.fig')[2]; return {main: f.querySelector('.fmain').textContent,
            sub: f.querySelector('.fsub').textContent, icon: getComputedStyle(f.querySelector('.icon')).display,
            clip: getComputedStyle(f.querySelector('.icon')).clipPath}; })()""")
        # the rolling 30 minutes (what the threshold reads) against the target (its warn level, 80 %), today below
        assert sl["main"] == "38%/ 80%" and sl["sub"] == "today 74%"
        assert sl["icon"] != "none" and sl["clip"].startswith("polygon(29% 0")  # an octagon for breach
        ticker = await page.eval("window.__tv.tickerText")
        assert ticker == "Team meeting at 14:00•Customer service: 15 waiting, SL 38%"
        await page.eval("document.body.classList.remove('flash-on')")
        await page.screenshot(ARTIFACTS / "tv_floor_1080p.png")


@pytest.mark.parametrize("layout,token", [("floor", "TV_TEST_VIEWER_FLOOR"), ("floor-he", "TV_TEST_VIEWER_HE")])
async def test_page_portrait_one_digit_size_nothing_cut(new_page, redis_client, prefix, cleanup, layout, token):
    config = tv_config(prefix)
    async with Feed(redis_client, prefix, four_queues), running_hub(config, redis_client) as hub:
        for width, height, name in ((1080, 1920, "portrait"), (1920, 1080, "1080p"), (3840, 2160, "4k")):
            page = await new_page(width, height)
            await page.goto(kiosk(hub, layout, TOKENS[token]))
            await page.wait_for("window.__tv.plan && window.__tv.queues.length > 0")
            geo = await page.eval(GEOMETRY)
            assert geo["plan"]["fits"], geo["plan"]
            assert len(set(geo["digits"])) == 1, geo["digits"]  # one digit size on the screen ("2:38" as "11")
            digit = geo["digits"][0]
            assert min(geo["labels"]) >= digit / 3, (geo["labels"], digit)
            assert geo["cut"] == [], geo["cut"]  # no name, label, value or agents row cut
            if name == "portrait":  # laid out by orientation: tiles stack more rows than columns
                assert geo["plan"]["rows"] > geo["plan"]["cols"]
            else:
                assert geo["plan"]["cols"] >= geo["plan"]["rows"]
            await page.eval("document.body.classList.remove('flash-on')")
            await page.screenshot(ARTIFACTS / f"tv_{layout}_{name}.png")


async def test_page_shows_survey_figures_a_layout_chooses(new_page, redis_client, prefix, cleanup):
    """CSAT, NPS and the response rate are TV choices (the catalog's): NPS as a signed whole number."""
    layout = {"name": "quality", "queues": ["support"], "figures": ["csat", "nps", "survey_rate"]}
    config = tv_config(prefix, layouts=[{**layout, "viewer_token_env": "TV_TEST_VIEWER_FLOOR", "show_total": False}])

    def make(seq, now):
        q = make_queue("Customer service", now).model_copy(update={"csat": 2 / 3, "nps": -0.25, "survey_rate": 0.5})
        return make_summary(seq, now, {"support": q})

    async with running_hub(config, redis_client) as hub, Feed(redis_client, prefix, make):
        page = await new_page(1280, 720)
        await page.goto(kiosk(hub, "quality", TOKENS["TV_TEST_VIEWER_FLOOR"]))
        await page.wait_for("document.querySelectorAll('.card:not(.empty) .fval').length === 3")
        figs = (await page.eval(FIGS))[0]["figs"]
        # by hand: 2/3 -> 67 %, -0.25 -> -25, 0.5 -> 50 %
        assert [f["value"] for f in figs] == ["67%", "-25", "50%"]
        assert [f["label"] for f in figs] == ["CSAT", "NPS", "Surveyed"]


async def test_page_shows_occupancy_beside_its_target(new_page, redis_client, prefix, cleanup):
    """Utilisation on the TV: the queue's agents on a call or in wrap-up over those and the available, now, beside
    the day's occupancy target ([targets.queues]); the centre tile's over every agent once, beside the target
    every queue shares."""
    layout = {"name": "util", "queues": ["support", "tech"], "figures": ["service_level", "occupancy"]}
    config = tv_config(
        prefix,
        layouts=[{**layout, "viewer_token_env": "TV_TEST_VIEWER_FLOOR", "other_window": False, "trend_s": 0}],
        targets={"queues": {"*": {"occupancy": {"day": 0.85, "week": 0.9}}}},
    )

    def make(seq, now):
        sup = make_queue("Customer service", now, available=2)
        sup.agent_counts.wrap_up = 2  # 4 on call + 2 in wrap-up of 8: 75 %
        tech = make_queue("Tech", now, available=6)
        tech.agent_counts.paused = 5  # paused agents are in neither part: 4 of 10 = 40 %
        s = make_summary(seq, now, {"support": sup, "tech": tech})
        counts = s.total.agent_counts
        counts.available, counts.on_call, counts.wrap_up, counts.ringing = 7, 9, 2, 3  # 11 of 18 = 61 %
        return s

    async with running_hub(config, redis_client) as hub, Feed(redis_client, prefix, make):
        page = await new_page(1920, 1080)
        await page.goto(kiosk(hub, "util", TOKENS["TV_TEST_VIEWER_FLOOR"]))
        await page.wait_for("document.querySelectorAll('.card:not(.empty):not(.total)').length === 2")
        shown = await page.eval("""Array.from(document.querySelectorAll('.card:not(.empty)')).map(c =>
            [c.querySelector('.qlabel').textContent, Array.from(c.querySelectorAll('.fig')).map(f =>
              [f.querySelector('.flabel').textContent, f.querySelector('.fmain').textContent])])""")
        # the day's target (85 %), not the week's; by hand 6/8, 4/10 and 11/18 (ringing is in neither part)
        assert shown[0] == ["Whole centre", [["Service level", "-"], ["Occupancy", "61%/ 85%"]]]
        assert shown[1][1][1] == ["Occupancy", "75%/ 85%"]
        assert shown[2][1][1] == ["Occupancy", "40%/ 85%"]


# ---- the demo's floor on the TV page: pages shared evenly, layout facts on every screen ----------------------

DEMO = Path(__file__).resolve().parent.parent / "wallboard" / "data" / "demo.toml"
SCREENS = [(1920, 1080, "1080p"), (3840, 2160, "4k"), (1080, 1920, "portrait")]

# What a viewer across the room must be able to rely on, measured in the page: no text of a tile cut (its
# scrollWidth within its clientWidth), one digit size (a value wider than its format's widest, an hour-long
# wait, is the one allowed smaller), every tile inside the viewport.
FACTS = """(() => {
  const TPL = {count: 3, duration: 5, pct: 4, score: 4};
  const cards = Array.from(document.querySelectorAll('.card:not(.empty)'));
  const texts = cards.flatMap(c => Array.from(c.querySelectorAll(
    '.qname, .qlabel, .flabel, .flabel-text, .fmain, .fsub, .agents, .agents span')));
  const vals = Array.from(document.querySelectorAll('.card:not(.empty) .fval'));
  return {
    page: window.__tv.page, pages: window.__tv.pages, plan: window.__tv.plan,
    slots: document.querySelectorAll('.card').length,
    names: cards.map(c => c.querySelector('.qlabel').textContent),
    cut: texts.filter(e => e.scrollWidth > e.clientWidth).map(e => [e.className, e.textContent]),
    digits: Array.from(new Set(vals.filter(v => v.textContent.length <= (TPL[v.dataset.format] || 3))
      .map(v => getComputedStyle(v).fontSize))),
    outside: cards.map(c => c.getBoundingClientRect()).filter(r => r.left < 0 || r.top < 0 ||
      r.right > innerWidth + 0.5 || r.bottom > innerHeight + 0.5).length,
    viewport: [innerWidth, innerHeight],
    tall: cards.every(c => { const r = c.getBoundingClientRect(); return r.height > r.width; }),
  }; })()"""


@pytest.mark.parametrize(
    "layout,token_env", [("floor", "WALLBOARD_VIEWER_TOKEN_FLOOR"), ("floor-he", "WALLBOARD_VIEWER_TOKEN_FLOOR_HE")]
)
async def test_page_demo_floor_pages_even_and_nothing_cut(
    new_page, redis_client, prefix, cleanup, monkeypatch, layout, token_env
):
    """The demo's layout (six queues and the total) at 1080p, 4K and portrait: the queues shared evenly among
    the pages (3 and 3 with the total on each, never a last page of the total and one queue with two thirds of
    the screen empty), and on every page no text cut, one digit size, every tile on the screen."""
    from wallboard.config import load_config

    from .tvdata import demo_floor

    monkeypatch.setenv(token_env, "view-demo-1")
    config = load_config(
        DEMO,
        redis={"prefix": prefix, "url": redis_url()},
        display={"stale_after_s": 5},
        hub={"host": "127.0.0.1", "port": 0, "heartbeat_s": 0.5, "ticker_poll_s": 0.2},
    )
    # a page a second (the demo's is 10 s) so the test sees both
    config = config.model_copy(update={"layouts": [lay.model_copy(update={"rotate_s": 1}) for lay in config.layouts]})
    ARTIFACTS.mkdir(exist_ok=True)
    async with Feed(redis_client, prefix, demo_floor), running_hub(config, redis_client) as hub:
        for width, height, name in SCREENS:
            page = await new_page(width, height)
            await page.goto(kiosk(hub, layout, "view-demo-1"))
            await page.wait_for("window.__tv.plan && window.__tv.queues.length === 6")
            seen: dict[int, dict] = {}
            for _ in range(2):
                facts = await page.wait_for(
                    f"(() => {{ const f = {FACTS}; return f.pages === 2 && !({sorted(seen)}).includes(f.page) && f; }})()",
                    timeout=5,
                )
                seen[facts["page"]] = facts
                await page.eval("document.body.classList.remove('flash-on')")
                await page.screenshot(ARTIFACTS / f"tv_demo_{layout}_{name}_page{facts['page'] + 1}.png")
            shown = []
            for facts in seen.values():
                where = (layout, name, facts["page"])
                assert facts["slots"] == 4 and len(facts["names"]) == 4, (where, facts["names"])  # 1 + 3, no hole
                assert facts["plan"]["fits"], (where, facts["plan"])
                assert facts["cut"] == [], (where, facts["cut"])
                assert len(facts["digits"]) == 1, (where, facts["digits"])
                assert facts["outside"] == 0 and facts["viewport"] == [width, height], where
                shown += facts["names"][1:]
            assert len(shown) == 6 and len(set(shown)) == 6  # every queue once over the two pages
            if name == "portrait":  # laid out by orientation: more rows of tiles, or tiles taller than wide
                plan = seen[0]["plan"]
                assert plan["rows"] > plan["cols"] or all(f["tall"] for f in seen.values()), (layout, plan)
            else:
                assert seen[0]["plan"]["cols"] >= seen[0]["plan"]["rows"]
