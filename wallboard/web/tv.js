// The TV page of `wallboard serve`: no build step, no libraries.
//
// It connects to /ws?layout=NAME&token=TOKEN (both from this page's URL: the kiosk URL), receives the
// layout's full state, then updates, ticker changes and heartbeats (see wallboard/hub/protocol.py), and
// draws a few huge numbers per queue. Every message carries the hub's time: timers (the longest wait, the
// clock, flashing, page rotation) run on that server time plus the local monotonic clock, never on the
// TV's own wall clock. Flashing is at most 2 Hz, from one timer, in step on every screen. Reconnects back
// off (0.5 s doubling to 15 s, with jitter); a refusal (bad token, foreign origin) waits 60 s.
// Caller numbers are never sent to the page and never shown.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = Number(params.get("retry_max_ms")) || 15000;
  const REFUSED_RETRY_MS = 60000;
  const MAX_FLASH_HZ = 2;
  const RANK = { ok: 0, closed: 0, warn: 1, breach: 2 };

  const $ = (id) => document.getElementById(id);
  const tv = {
    layout: null,          // layout info from the `state` message
    role: "viewer",
    user: null,
    snapshot: null,        // {seq, at, centre}
    queues: [],
    ticker: "",
    offsetMs: null,        // server time (epoch ms) minus performance.now(), from the messages' `at`
    lastMessagePerf: null,
    connected: false,
    refused: null,         // close reason of a refusal
    retries: 0,
    page: 0,
    pages: 1,
    flashOn: false,
    flashLog: [],          // performance.now() of each flash toggle (tests check the rate)
    messages: 0,
    stale: false,
    redisLost: false,      // the hub says it cannot read Redis (`stale` in state/heartbeat): stale at once
  };
  window.__tv = tv;

  // ---- time ---------------------------------------------------------------------------------------

  function serverNow() {
    if (tv.offsetMs === null) return Date.now();
    return performance.now() + tv.offsetMs;
  }

  function anchor(at) {
    // server time - local monotonic time; a message that arrived faster gives a better estimate, so keep
    // the largest (a jump back of over a second means the server's clock was set back: follow it)
    const ms = Date.parse(at);
    if (Number.isNaN(ms)) return;
    const offset = ms - performance.now();
    if (tv.offsetMs === null || offset > tv.offsetMs || tv.offsetMs - offset > 1000) tv.offsetMs = offset;
  }

  function fmtDuration(s) {
    if (s === null || s === undefined) return "-";
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }

  function fmtValue(format, v) {
    if (v === null || v === undefined) return "-";
    if (format === "pct") return (v >= 0.995 && v < 1 ? 99 : Math.floor(v * 100 + 0.5)) + "%";
    if (format === "duration") return fmtDuration(v);
    return String(Math.trunc(v));
  }

  function liveValue(fig, snapshotAt, now) {
    if (fig.key !== "longest_wait_s") return fig.value;
    if (fig.since) return Math.max(0, (now - Date.parse(fig.since)) / 1000);
    if (fig.value === null || fig.value === undefined) return null;
    const gone = snapshotAt ? Math.max(0, (now - Date.parse(snapshotAt)) / 1000) : 0;
    return fig.value + gone;
  }

  function clockText(ms) {
    const tz = (tv.layout && tv.layout.timezone) || undefined;
    try {
      return new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit",
        hour12: false, timeZone: tz }).format(new Date(ms));
    } catch (e) {
      return new Date(ms).toISOString().slice(11, 19);
    }
  }

  // ---- alerts -------------------------------------------------------------------------------------

  function snoozed(alert, now) {
    return !!(alert && alert.snoozed_until && Date.parse(alert.snoozed_until) > now);
  }

  function flashes(fig, now) {
    // a breach flashes unless acknowledged or snoozed (a snooze that ran out flashes again)
    const a = fig.alert;
    return fig.level === "breach" && !(a && a.acked_by) && !snoozed(a, now);
  }

  function flashEnabled() {
    return !!(tv.layout && tv.layout.flash && tv.layout.flash.enabled);
  }

  function flashHz() {
    const hz = (tv.layout && tv.layout.flash && tv.layout.flash.hz) || 1;
    return Math.min(MAX_FLASH_HZ, Math.max(0.1, hz));
  }

  // ---- paging -------------------------------------------------------------------------------------

  function grid(n) {
    // queues per page and their grid, from the layout or from the screen's shape
    const per = tv.layout && tv.layout.per_page > 0 ? tv.layout.per_page : Math.min(n, 6) || 1;
    const k = Math.max(1, Math.min(per, n || 1));
    let cols = k <= 3 ? k : k === 4 ? 2 : 3;
    let rows = Math.ceil(k / cols);
    if (window.innerHeight > window.innerWidth) [cols, rows] = [rows, cols];
    return { per: k, cols, rows };
  }

  // ---- drawing ------------------------------------------------------------------------------------

  let built = null; // key of the DOM built for the current page (queues and figures)

  function text(key) {
    return (tv.layout && tv.layout.text && tv.layout.text[key]) || key;
  }

  function render() {
    if (!tv.layout) return;
    const now = serverNow();
    const g = grid(tv.queues.length);
    tv.pages = Math.max(1, Math.ceil(tv.queues.length / g.per));
    tv.page = tv.pages > 1 ? Math.floor(now / (tv.layout.rotate_s * 1000)) % tv.pages : 0;
    const shown = tv.queues.slice(tv.page * g.per, tv.page * g.per + g.per);
    const page = $("page");
    page.style.setProperty("--cols", g.cols);
    page.style.setProperty("--rows", g.rows);
    const key = JSON.stringify([g, shown.map((q) => q.name), tv.layout.figures.map((f) => f.key)]);
    if (key !== built) {
      build(page, shown, g);
      built = key;
    }
    let anyFlash = false;
    const cards = page.children;
    shown.forEach((q, i) => {
      const card = cards[i];
      card.className = "card level-" + q.level;
      card.querySelector(".qlabel").textContent = q.label;
      const state = card.querySelector(".qstate");
      state.textContent = q.open ? "" : text("closed");
      const figs = card.querySelectorAll(".fig");
      q.figures.forEach((f, j) => {
        const el = figs[j];
        const meta = tv.layout.figures[j];
        const value = fmtValue(meta.format, liveValue(f, tv.snapshot && tv.snapshot.at, now));
        const flash = flashes(f, now);
        anyFlash = anyFlash || flash;
        const a = f.alert;
        const quiet = f.level === "breach" && !flash;
        el.className = "fig level-" + f.level + (flash ? " flash" : "") + (quiet ? " quiet" : "");
        el.dataset.queue = q.name;
        el.dataset.key = f.key;
        let note = "";
        if (a && a.acked_by) note = text("acked") + " " + a.acked_by;
        else if (snoozed(a, now)) note = text("snoozed") + " " + clockText(Date.parse(a.snoozed_until)).slice(0, 5);
        el.querySelector(".flabel-text").textContent =
          meta.label + (f.window_min ? " · " + f.window_min + " " + text("minutes") : "");
        el.querySelector(".fnote").textContent = note;
        const v = el.querySelector(".fval");
        if (v.textContent !== value) v.textContent = value;
        v.style.setProperty("--len", Math.max(3, value.length));
      });
    });
    for (let i = shown.length; i < cards.length; i++) cards[i].className = "card empty";
    $("pageno").textContent = tv.pages > 1 ? text("page") + " " + (tv.page + 1) + "/" + tv.pages : "";
    $("clock").textContent = clockText(now);
    tv.anyFlash = anyFlash;
  }

  function build(page, shown, g) {
    page.textContent = "";
    const n = tv.layout.figures.length;
    for (let i = 0; i < g.per; i++) {
      const card = document.createElement("section");
      card.className = "card";
      const h = document.createElement("h2");
      h.className = "qname";
      const label = document.createElement("span");
      label.className = "qlabel";
      const st = document.createElement("span");
      st.className = "qstate";
      h.append(label, st);
      const figs = document.createElement("div");
      figs.className = "figs";
      // four figures: a row on a wide card, two by two otherwise
      const wide = (window.innerWidth / g.cols) / (window.innerHeight / g.rows) > 2.2;
      figs.style.setProperty("--fc", wide ? n : Math.ceil(n / 2) || 1);
      for (let j = 0; j < n; j++) {
        const fig = document.createElement("div");
        fig.className = "fig";
        const fl = document.createElement("div");
        fl.className = "flabel";
        const ft = document.createElement("span");
        ft.className = "flabel-text";
        const note = document.createElement("span");
        note.className = "fnote";
        fl.append(ft, note);
        const val = document.createElement("div");
        val.className = "fval";
        fig.append(fl, val);
        figs.append(fig);
      }
      card.append(h, figs);
      page.append(card);
    }
  }

  function renderTicker() {
    const box = $("ticker"), span = $("ticker-text");
    box.hidden = !tv.ticker;
    span.textContent = tv.ticker;
    box.classList.remove("scroll");
    if (tv.ticker && span.scrollWidth > box.clientWidth) {
      box.style.setProperty("--ticker-s", Math.max(10, tv.ticker.length / 6) + "s");
      box.classList.add("scroll");
    }
  }

  function renderStatus() {
    const now = serverNow();
    const staleAfter = ((tv.layout && tv.layout.stale_after_s) || 5) * 1000;
    const silent = tv.lastMessagePerf === null || performance.now() - tv.lastMessagePerf > staleAfter;
    const old = tv.snapshot && tv.snapshot.at ? now - Date.parse(tv.snapshot.at) > staleAfter : true;
    const stale = tv.layout !== null && (silent || old || tv.redisLost);
    tv.stale = stale;
    const badge = $("stale");
    badge.hidden = !stale;
    if (stale) {
      const since = tv.snapshot && tv.snapshot.at ? clockText(Date.parse(tv.snapshot.at)) : "-";
      badge.textContent = text("stale") + " — " + text("no_data_since") + " " + since;
    }
    let status = "";
    if (tv.refused) status = text("refused") + ": " + tv.refused;
    else if (!tv.connected) status = tv.layout ? text("reconnecting") : text("connecting");
    $("status").textContent = status;
    const page = $("page");
    document.body.classList.toggle("connecting", !tv.layout);
    if (!tv.layout) page.dataset.message = tv.refused ? "⛔ " + tv.refused : "…";
  }

  // ---- one timer: flashing, ticking, rotation, staleness --------------------------------------------

  let timer = null;
  let lastSecond = -1;

  function frame() {
    timer = null;
    const now = serverNow();
    const hz = flashHz();
    const halfMs = 500 / hz;
    const on = flashEnabled() && !!tv.anyFlash && Math.floor(now / halfMs) % 2 === 0;
    if (on !== tv.flashOn) {
      tv.flashOn = on;
      document.body.classList.toggle("flash-on", on);
      tv.flashLog.push(performance.now());
      if (tv.flashLog.length > 50) tv.flashLog.shift();
    }
    const second = Math.floor(now / 1000);
    if (second !== lastSecond) {
      lastSecond = second;
      render();
      renderStatus();
    }
    schedule();
  }

  function schedule() {
    if (timer !== null) return;
    const now = serverNow();
    let wait = 1000 - (now % 1000);
    if (flashEnabled() && tv.anyFlash) {
      const halfMs = 500 / flashHz();
      wait = Math.min(wait, halfMs - (now % halfMs));
    }
    timer = setTimeout(frame, Math.max(20, wait + 5));
  }

  // ---- the connection -------------------------------------------------------------------------------

  let ws = null;

  function connect() {
    const q = new URLSearchParams();
    if (params.get("layout")) q.set("layout", params.get("layout"));
    if (params.get("token")) q.set("token", params.get("token"));
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?" + q;
    ws = new WebSocket(url);
    ws.onopen = () => {
      tv.connected = true;
      renderStatus();
    };
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      tv.messages += 1;
      tv.lastMessagePerf = performance.now();
      tv.retries = 0;
      tv.refused = null;
      if (msg.at) anchor(msg.at);
      handle(msg);
    };
    ws.onclose = (ev) => {
      tv.connected = false;
      ws = null;
      let delay;
      if (ev.code === 1008) {
        tv.refused = ev.reason || "refused";
        delay = REFUSED_RETRY_MS;
      } else {
        delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** tv.retries) * (0.75 + Math.random() * 0.5);
        tv.retries += 1;
      }
      renderStatus();
      setTimeout(connect, delay);
    };
  }

  function handle(msg) {
    switch (msg.type) {
      case "state":
        tv.layout = msg.layout;
        tv.role = msg.role;
        tv.user = msg.user;
        document.documentElement.lang = msg.layout.language;
        document.documentElement.dir = msg.layout.dir;
        document.title = msg.layout.title;
        $("title").textContent = msg.layout.title;
        built = null;
        tv.ticker = msg.ticker || "";
        tv.redisLost = !!msg.stale;
        renderTicker();
      // falls through: a state carries a projection too
      case "update":
        if (msg.snapshot) tv.snapshot = msg.snapshot;
        tv.queues = msg.queues || [];
        render();
        break;
      case "ticker":
        tv.ticker = msg.text || "";
        renderTicker();
        break;
      case "heartbeat":
        tv.redisLost = !!msg.stale;
        break;
      case "accepted":
        toast("✓ " + msg.request.type + " " + msg.request.queue + " " + msg.request.metric);
        break;
      case "refused":
        toast("⛔ " + msg.reason);
        break;
    }
    renderStatus();
    // the next wake-up may change (a breach that starts flashing wants its first edge, not the next second)
    if (timer !== null) clearTimeout(timer);
    timer = null;
    schedule();
  }

  function toast(t) {
    const el = $("toast");
    el.textContent = t;
    el.hidden = false;
    setTimeout(() => { el.hidden = true; }, 4000);
  }

  // A supervisor's token may acknowledge (click) or snooze (shift+click) a breach from the screen.
  $("page").addEventListener("click", (ev) => {
    const fig = ev.target.closest(".fig");
    if (!fig || tv.role !== "supervisor" || !ws || ws.readyState !== 1) return;
    if (!fig.classList.contains("level-breach") && !fig.classList.contains("level-warn")) return;
    const msg = { type: ev.shiftKey ? "snooze" : "ack", queue: fig.dataset.queue, metric: fig.dataset.key };
    ws.send(JSON.stringify(msg));
  });

  window.addEventListener("resize", () => { built = null; render(); renderTicker(); });

  renderStatus();
  connect();
  schedule();
})();
