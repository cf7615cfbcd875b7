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
    total: null,           // the centre total tile (null when the layout hides it)
    alerts: [],            // alert lines for the ticker, one per queue in breach
    ticker: "",            // the supervisor's message
    plan: null,            // the grid and digit size fit() chose
    fits: 0,               // how many times fit() ran (a new page of names, a resize)
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
    if (format === "score") {
      const n = Math.floor(Math.abs(v) * 100 + 0.5) * (v < 0 ? -1 : 1);
      return (n > 0 ? "+" : "") + String(n);
    }
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

  // ---- paging and layout ---------------------------------------------------------------------------

  function opt(name) {
    return !!(tv.layout && tv.layout.options && tv.layout.options[name]);
  }

  function perPage() {
    // queues per page: at most the layout's, or up to six tiles (the centre total is one of them), shared
    // evenly among the pages (six queues at five a page: 3 and 3, not 5 and a last page of one tile), so no
    // page is mostly empty and every tile is as large as that count allows
    const n = tv.queues.length;
    const total = tv.total ? 1 : 0;
    const most = tv.layout && tv.layout.per_page > 0 ? tv.layout.per_page : Math.max(1, Math.min(n, 6 - total));
    const pages = Math.max(1, Math.ceil(n / most));
    return Math.max(1, Math.ceil(n / pages));
  }

  // The widest value of each format: every figure box must hold its format's, at the one digit size.
  const TEMPLATES = { count: "888", duration: "88:88", pct: "100%", score: "-100" };

  function overflows(el) {
    // (no tolerance across: a text one pixel wider than its box is cut; down, a pixel of line height is not)
    return el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight + 1;
  }

  function anyOverflow(page) {
    // (each state of the agents row apart: they shrink in their flex row, and their words then overlap)
    for (const el of page.querySelectorAll(".card:not(.empty) :is(.qname, .flabel, .fmain, .fsub, .agents, .agents span)")) {
      if (overflows(el)) return true;
    }
    return false;
  }

  // Pick the grid (tile columns, figure columns per tile) and the digit size: the largest digits at which every
  // figure's widest value, its label, target and other window, every tile name and agents row fit (measured in
  // the page itself, with the templates in place). A portrait screen thus gets one tile per row when names
  // would not fit two across, a landscape one a wide grid.
  function fit(tiles) {
    const page = $("page");
    const vals = Array.from(page.querySelectorAll(".card:not(.empty) .fval"));
    const saved = vals.map((v) => [v.textContent, v.style.fontSize]);
    vals.forEach((v) => { v.textContent = TEMPLATES[v.dataset.format] || "888"; v.style.fontSize = ""; });
    const k = tiles, n = tv.layout.figures.length;
    const H = page.clientHeight, W = page.clientWidth;
    // candidates, the most promising first (a bound on the digit: the figure box's height or width), so most
    // are ruled out by their bound without a measurement
    const cands = [];
    for (let cols = 1; cols <= k; cols++) {
      const rows = Math.ceil(k / cols);
      if (cols * rows - k >= cols) continue; // a whole empty row
      for (let fc = n; fc >= 1; fc--) {
        const fr = Math.ceil(n / fc);
        if (fc * fr - n >= fr && fc !== n) continue; // a lopsided last row (3 + 1)
        cands.push({ cols, rows, fc, bound: Math.min(H / rows / fr / 1.8, W / cols / fc / 2) });
      }
    }
    cands.sort((a, b) => b.bound - a.bound);
    let best = null;
    for (const c of cands) {
      if (best && best.fits && c.bound * 1.3 <= best.digit) break;
      page.style.setProperty("--cols", c.cols);
      page.style.setProperty("--rows", c.rows);
      page.querySelectorAll(".figs").forEach((f) => f.style.setProperty("--fc", c.fc));
      let lo = best && best.fits ? best.digit : 8, hi = Math.max(lo + 1, c.bound * 1.3);
      page.style.setProperty("--digit", lo + "px");
      if (anyOverflow(page)) {
        if (!best) best = { cols: c.cols, rows: c.rows, fc: c.fc, digit: 8, fits: false };
        continue;
      }
      for (let i = 0; i < 8 && hi - lo > 1; i++) {
        const mid = (lo + hi) / 2;
        page.style.setProperty("--digit", mid + "px");
        if (anyOverflow(page)) hi = mid; else lo = mid;
      }
      if (!best || !best.fits || lo > best.digit) best = { cols: c.cols, rows: c.rows, fc: c.fc, digit: Math.floor(lo), fits: true };
    }
    page.style.setProperty("--cols", best.cols);
    page.style.setProperty("--rows", best.rows);
    page.querySelectorAll(".figs").forEach((f) => f.style.setProperty("--fc", best.fc));
    page.style.setProperty("--digit", best.digit + "px");
    vals.forEach((v, i) => { [v.textContent, v.style.fontSize] = saved[i]; });
    tv.plan = best;
    tv.fits += 1;
  }

  function shrinkLong(page) {
    // a value wider than its format's widest (an hour-long wait: "1:05:00") is the one allowed smaller: from
    // the ratio of lengths, then down until its row (with the target beside it) fits, measured
    for (const v of page.querySelectorAll(".card:not(.empty) .fval")) {
      if (!v.style.fontSize) continue;
      const main = v.parentElement;
      for (let i = 0; i < 8 && overflows(main); i++) {
        v.style.fontSize = parseFloat(getComputedStyle(v).fontSize) * 0.92 + "px";
      }
    }
  }

  // ---- drawing ------------------------------------------------------------------------------------

  let built = null; // key of the DOM built for the current page (tiles and figures)

  function text(key) {
    return (tv.layout && tv.layout.text && tv.layout.text[key]) || key;
  }

  function frozenNow(now) {
    // stale: timers stop at the last real value (the time of the last snapshot), they do not run on
    return tv.stale && tv.snapshot && tv.snapshot.at ? Math.min(now, Date.parse(tv.snapshot.at)) : now;
  }

  function render() {
    if (!tv.layout) return;
    const now = serverNow();
    const at = frozenNow(now);
    const per = perPage();
    tv.pages = Math.max(1, Math.ceil(tv.queues.length / per));
    tv.page = tv.pages > 1 ? Math.floor(now / (tv.layout.rotate_s * 1000)) % tv.pages : 0;
    const shown = (tv.total ? [tv.total] : []).concat(tv.queues.slice(tv.page * per, tv.page * per + per));
    const tiles = (tv.total ? 1 : 0) + Math.min(per, Math.max(1, tv.queues.length));
    const page = $("page");
    const key = JSON.stringify([tiles, innerWidth, innerHeight, shown.map((q) => q.label),
      tv.layout.figures.map((f) => f.key), !!tv.total]);
    const rebuild = key !== built;
    if (rebuild) {
      build(page, tiles);
      built = key;
    }
    let anyFlash = false;
    const cards = page.children;
    const icons = opt("level_icons");
    document.body.classList.toggle("noicons", !icons);
    shown.forEach((q, i) => {
      const card = cards[i];
      card.className = "card level-" + q.level + (q.total ? " total" : "");
      card.dataset.queue = q.name;
      card.querySelector(".qlabel").textContent = q.label + (q.channel_label ? " · " + q.channel_label : "");
      card.querySelector(".qstate").textContent = q.open ? "" : text("closed");
      const figs = card.querySelectorAll(".fig");
      q.figures.forEach((f, j) => {
        const el = figs[j];
        const meta = tv.layout.figures[j];
        const value = fmtValue(meta.format, liveValue(f, tv.snapshot && tv.snapshot.at, at));
        const flash = !tv.stale && flashes(f, now);
        anyFlash = anyFlash || flash;
        const a = f.alert;
        const quiet = f.level === "breach" && !flashes(f, now);
        el.className = "fig level-" + f.level + (flash ? " flash" : "") + (quiet ? " quiet" : "");
        el.dataset.queue = q.name;
        el.dataset.key = f.key;
        let note = "";
        if (a && a.acked_by) note = text("acked") + " " + a.acked_by;
        else if (snoozed(a, now)) note = text("snoozed") + " " + clockText(Date.parse(a.snoozed_until)).slice(0, 5);
        el.querySelector(".flabel-text").textContent =
          (f.label || meta.label) + (f.window_min ? " · " + f.window_min + " " + text("minutes") : "");
        el.querySelector(".fnote").textContent = note;
        const v = el.querySelector(".fval");
        v.dataset.format = meta.format;
        if (v.textContent !== value) v.textContent = value;
        // one digit size per screen; only a value wider than its format's widest (an hour-long wait) shrinks
        const tpl = TEMPLATES[meta.format] || "888";
        v.style.fontSize = value.length > tpl.length ? "calc(var(--digit) * " + (tpl.length / value.length) + ")" : "";
        el.querySelector(".ftarget").textContent =
          f.target !== undefined && f.target !== null ? "/ " + fmtValue(meta.format, f.target) : "";
        const tr = el.querySelector(".ftrend");
        tr.textContent = f.trend === "up" ? "▲" : f.trend === "down" ? "▼" : "";
        tr.className = "ftrend" + (f.trend_good === true ? " good" : f.trend_good === false ? " bad" : "");
        const sub = el.querySelector(".fsub");
        if (f.other) {
          const w = f.other.window === "today" ? text("today") : f.other.minutes + " " + text("minutes");
          const ov = fmtValue(meta.format, f.other.value);
          if (sub.dataset.text !== w + ov) {
            sub.textContent = w + " ";
            const b = document.createElement("b");
            b.textContent = ov;
            sub.append(b);
            sub.dataset.text = w + ov;
          }
        } else if (sub.dataset.text !== "") {
          // an empty line all the same when any figure has one: the digits of a row stay level
          sub.textContent = opt("other_window") ? "\u00a0" : "";
          sub.dataset.text = "";
        }
      });
      const ag = card.querySelector(".agents");
      if (q.agents && ag.dataset.on) {
        const labels = tv.layout.agent_labels || {};
        // the strip's parts are the projection's, in its order: a phone queue's by state; a written queue's
        // with room / busy (an agent chatting is "available" by state); the total's free / busy
        const keys = Object.keys(q.agents).join(" ");
        if (ag.dataset.keys !== keys) agentSpans(ag, Object.keys(q.agents));
        ag.querySelectorAll("span").forEach((sp) => {
          sp.querySelector("b").textContent = String(q.agents[sp.dataset.state] ?? "-");
          sp.querySelector("i").textContent = labels[sp.dataset.state] || sp.dataset.state;
        });
      }
    });
    for (let i = shown.length; i < cards.length; i++) cards[i].className = "card empty";
    if (rebuild) fit(tiles);
    shrinkLong(page);
    $("pageno").textContent = tv.pages > 1 ? text("page") + " " + (tv.page + 1) + "/" + tv.pages : "";
    $("clock").textContent = clockText(now);
    tv.anyFlash = anyFlash;
  }

  function agentSpans(ag, parts) {
    ag.textContent = "";
    for (const state of parts) {
      const sp = document.createElement("span");
      sp.className = state;
      sp.dataset.state = state;
      sp.append(document.createElement("b"), document.createElement("i"));
      sp.querySelector("i").style.fontStyle = "normal";
      ag.append(sp);
    }
    ag.dataset.keys = parts.join(" ");
  }

  function build(page, tiles) {
    page.textContent = "";
    const n = tv.layout.figures.length;
    const agents = opt("agent_states");
    for (let i = 0; i < tiles; i++) {
      const card = document.createElement("section");
      card.className = "card";
      const h = document.createElement("h2");
      h.className = "qname";
      const icon = document.createElement("span");
      icon.className = "icon";
      const label = document.createElement("span");
      label.className = "qlabel";
      const st = document.createElement("span");
      st.className = "qstate";
      h.append(icon, label, st);
      const figs = document.createElement("div");
      figs.className = "figs";
      for (let j = 0; j < n; j++) {
        const fig = document.createElement("div");
        fig.className = "fig";
        const fl = document.createElement("div");
        fl.className = "flabel";
        const fi = document.createElement("span");
        fi.className = "icon";
        const ft = document.createElement("span");
        ft.className = "flabel-text";
        const note = document.createElement("span");
        note.className = "fnote";
        fl.append(fi, ft, note);
        const main = document.createElement("div");
        main.className = "fmain";
        const val = document.createElement("span");
        val.className = "fval";
        val.dataset.format = tv.layout.figures[j].format;
        const target = document.createElement("span");
        target.className = "ftarget";
        const trend = document.createElement("span");
        trend.className = "ftrend";
        main.append(val, target, trend);
        const sub = document.createElement("div");
        sub.className = "fsub";
        fig.append(fl, main, sub);
        figs.append(fig);
      }
      const ag = document.createElement("div");
      ag.className = "agents";
      if (agents) {
        ag.dataset.on = "1";
        agentSpans(ag, ["available", "on_call", "wrap_up", "paused", "logged_in"]);
      }
      card.append(h, figs, ag);
      page.append(card);
    }
  }

  function tickerParts() {
    const parts = [];
    if (tv.ticker) parts.push({ text: tv.ticker, alert: false });
    // stale: the alert lines describe a moment gone by (the message stays, stopped and grey: tv.css)
    if (opt("ticker_alerts") && !tv.stale) for (const line of tv.alerts) parts.push({ text: line, alert: true });
    return parts;
  }

  let tickerShown = null;

  function renderTicker(force) {
    // the text changes only between two passes of a scrolling ticker (an alert line's numbers change often)
    const box = $("ticker"), span = $("ticker-text");
    const parts = tickerParts();
    const key = JSON.stringify(parts);
    if (key === tickerShown) return;
    if (!force && box.classList.contains("scroll") && tickerShown !== null && parts.length) return;
    tickerShown = key;
    box.hidden = parts.length === 0;
    span.textContent = "";
    parts.forEach((p, i) => {
      if (i) {
        const sep = document.createElement("span");
        sep.className = "tsep";
        sep.textContent = "•";
        span.append(sep);
      }
      const el = document.createElement("span");
      if (p.alert) {
        el.className = "talert";
        const icon = document.createElement("span");
        icon.className = "icon breach";
        el.append(icon);
      }
      el.append(document.createTextNode(p.text));
      span.append(el);
    });
    tv.tickerText = span.textContent;
    box.classList.remove("scroll");
    if (parts.length && span.scrollWidth > box.clientWidth) {
      box.style.setProperty("--ticker-s", Math.max(10, tv.tickerText.length / 6) + "s");
      box.classList.add("scroll");
    }
  }
  $("ticker-text").addEventListener("animationiteration", () => renderTicker(true));

  function renderStatus() {
    const now = serverNow();
    const staleAfter = ((tv.layout && tv.layout.stale_after_s) || 5) * 1000;
    const silent = tv.lastMessagePerf === null || performance.now() - tv.lastMessagePerf > staleAfter;
    const old = tv.snapshot && tv.snapshot.at ? now - Date.parse(tv.snapshot.at) > staleAfter : true;
    const stale = tv.layout !== null && (silent || old || tv.redisLost);
    const changed = stale !== tv.stale;
    tv.stale = stale;
    document.body.classList.toggle("stale", stale);
    const badge = $("stale");
    badge.hidden = !stale;
    const banner = $("stale-banner");
    banner.hidden = !stale;
    if (stale) {
      const at = tv.snapshot && tv.snapshot.at ? Date.parse(tv.snapshot.at) : null;
      const since = at !== null ? clockText(at) : "-";
      badge.textContent = text("stale") + " — " + text("no_data_since") + " " + since;
      // the age from the last snapshot's server time, counted on server time
      const age = at !== null ? Math.max(0, Math.floor((now - at) / 1000)) : null;
      $("stale-age").textContent = text("no_data_for") + " " + (age === null ? "-" : ageText(age));
      $("stale-last").textContent = text("last_update") + " " + since;
    }
    if (changed) {
      render();
      renderTicker(true);
    }
    let status = "";
    if (tv.refused) status = text("refused") + ": " + tv.refused;
    else if (!tv.connected) status = tv.layout ? text("reconnecting") : text("connecting");
    $("status").textContent = status;
    document.body.classList.toggle("connecting", !tv.layout);
    const msg = $("message");
    msg.hidden = !!tv.layout;
    if (!tv.layout) {
      $("message-icon").className = tv.refused ? "icon breach" : "icon";
      $("message-text").textContent = tv.refused ? tv.refused : "…";
    }
  }

  function ageText(s) {
    // "40 s" under two minutes, then "3:05" (m:ss), then "1:02:03"
    return s < 120 ? s + " " + text("seconds") : fmtDuration(s);
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
        tickerShown = null;
        tv.ticker = msg.ticker || "";
        tv.redisLost = !!msg.stale;
      // falls through: a state carries a projection too
      case "update":
        if (msg.snapshot) tv.snapshot = msg.snapshot;
        tv.queues = msg.queues || [];
        tv.total = msg.total || null;
        tv.alerts = msg.alerts || [];
        renderStatus();
        render();
        renderTicker(false);
        break;
      case "ticker":
        tv.ticker = msg.text || "";
        renderTicker(true);
        break;
      case "heartbeat":
        tv.redisLost = !!msg.stale;
        break;
      case "accepted":
        toast("✓ " + msg.request.type + " " + msg.request.queue + " " + msg.request.metric);
        break;
      case "refused":
        toast(msg.reason);
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
    if (!fig || tv.role !== "supervisor" || !ws || ws.readyState !== 1 || fig.dataset.queue === "__total__") return;
    if (!fig.classList.contains("level-breach") && !fig.classList.contains("level-warn")) return;
    const msg = { type: ev.shiftKey ? "snooze" : "ack", queue: fig.dataset.queue, metric: fig.dataset.key };
    ws.send(JSON.stringify(msg));
  });

  window.addEventListener("resize", () => { built = null; render(); tickerShown = null; renderTicker(true); });

  renderStatus();
  connect();
  schedule();
})();
