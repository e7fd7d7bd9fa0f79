// Spanlens web page: traces, one trace's waterfall, proxied requests, cost.
// Plain modern JavaScript, no build step, nothing loaded from elsewhere. The key lives in
// sessionStorage and travels only in the Authorization header of fetch calls.
"use strict";

const KEY_SLOT = "spanlens.key";
const POLL_MS = 4000;
const SPAN_TYPES = ["llm", "tool", "retrieval", "embedding", "custom"];
const PALETTE = ["#5b6ee1", "#e08a1e", "#2a9d8f", "#9b5de5", "#d64f7a", "#6c9a1f", "#1e88c7", "#a0522d", "#8a94a6"];

const $ = (sel, root = document) => root.querySelector(sel);

/* ---------- small helpers ---------- */

function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const kid of kids) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : String(kid));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...kids) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid instanceof Node ? kid : String(kid));
  return node;
}

const has = (v) => v !== undefined && v !== null && v !== "";
const num = (v) => (has(v) && !Number.isNaN(Number(v)) ? Number(v) : null);

function fmtInt(v) {
  const n = num(v);
  return n === null ? "–" : Math.round(n).toLocaleString("en-US");
}

function fmtCost(v) {
  const n = num(v);
  if (n === null) return "–";
  if (n === 0) return "$0";
  if (Math.abs(n) >= 100) return "$" + n.toFixed(2);
  if (Math.abs(n) >= 1) return "$" + n.toFixed(3);
  return "$" + n.toPrecision(3).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

function fmtMs(v) {
  const n = num(v);
  if (n === null) return "–";
  if (n < 1) return n.toFixed(2) + " ms";
  if (n < 1000) return Math.round(n) + " ms";
  if (n < 60000) return (n / 1000).toFixed(n < 10000 ? 2 : 1) + " s";
  return Math.floor(n / 60000) + " m " + Math.round((n % 60000) / 1000) + " s";
}

function fmtTime(iso) {
  if (!has(iso)) return "–";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const today = new Date();
  const time = d.toLocaleTimeString("en-GB", { hour12: false });
  if (d.toDateString() === today.toDateString()) return time;
  return d.toISOString().slice(0, 10) + " " + time;
}

function tokensOf(row) {
  const t = num(row.total_tokens);
  if (t !== null && t > 0) return t;
  const i = num(row.input_tokens) || 0, o = num(row.output_tokens) || 0;
  return i + o || t;
}

function statusBadge(status) {
  const s = has(status) ? String(status) : "unknown";
  return el("span", { class: "status " + s.replace(/[^a-z_]/gi, ""), text: s });
}

function sinceFor(seconds) {
  return seconds ? new Date(Date.now() - Number(seconds) * 1000).toISOString() : "";
}

function debounce(fn, ms) {
  let t = 0;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

/* ---------- API ---------- */

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

function getKey() { return sessionStorage.getItem(KEY_SLOT) || ""; }

async function api(path, params, key = getKey()) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (has(v)) url.searchParams.set(k, v);
  let res;
  try {
    res = await fetch(url, { headers: { Authorization: "Bearer " + key, Accept: "application/json" },
      credentials: "omit", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "NETWORK", "The server could not be reached.");
  }
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(res.status, e.code || "HTTP_" + res.status, e.message || res.statusText || "Request failed");
  }
  return body || {};
}

function keyProblem(err) {
  if (err.status === 401) {
    return "This key was not accepted (" + err.message + "). It may be mistyped, revoked or from another "
      + "server: paste a current Spanlens key (sl_live_… or sl_live_pub_…).";
  }
  if (err.status === 403) return "This key may not read here: " + err.message;
  return null;
}

function showBanner(text) {
  const b = $("#banner");
  b.textContent = text || "";
  b.hidden = !text;
}

// Every view's fetch goes through here: a 401 signs out, other failures show in the banner.
async function load(path, params) {
  try {
    const body = await api(path, params);
    showBanner("");
    return body;
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      signOut(keyProblem(err));
    } else {
      showBanner(err.message + (err.code ? " (" + err.code + ")" : ""));
    }
    throw err;
  }
}

/* ---------- sign-in and routing ---------- */

function signOut(message) {
  sessionStorage.removeItem(KEY_SLOT);
  stopPolling();
  location.hash = "";
  show("signin");
  const e = $("#signin-error");
  e.textContent = message || "";
  e.hidden = !message;
  $("#key").focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $("#key").value.trim();
  const e = $("#signin-error");
  e.hidden = true;
  if (!key) return;
  try {
    await checkKey(key);
  } catch (err) {
    const problem = keyProblem(err);
    if (problem || err.status === 0) {
      e.textContent = problem || err.message;
      e.hidden = false;
      return;
    }
    // Anything else (say, a list route this server lacks) does not tell the key is bad.
  }
  sessionStorage.setItem(KEY_SLOT, key);
  $("#key").value = "";
  if (!location.hash || location.hash === "#") location.hash = "#/traces";
  else route();
}

// A read that needs a valid key: the trace list, or on a server without it, one trace
// lookup (404 for an unknown id means the key itself was accepted).
async function checkKey(key) {
  try {
    await api("/api/v1/traces", { limit: 1 }, key);
  } catch (err) {
    if (err.status !== 404) throw err;
    try { await api("/api/v1/traces/00000000000000000000000000000001", null, key); } catch (e) {
      if (e.status !== 404) throw e;
    }
  }
}

const VIEWS = ["signin", "traces", "trace", "requests", "cost"];
let current = "";

function show(name) {
  current = name;
  for (const v of VIEWS) $("#view-" + v).hidden = v !== name;
  const signedIn = name !== "signin";
  $("#nav").hidden = !signedIn;
  $("#signout").hidden = !signedIn;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === name || (name === "trace" && a.dataset.view === "traces"));
  }
}

function route() {
  if (!getKey()) { show("signin"); $("#key").focus(); return; }
  const hash = location.hash.replace(/^#\/?/, "");
  const [view, arg] = hash.split("/");
  if (view === "trace" && arg) {
    show("trace");
    stopPolling();
    openTrace(decodeURIComponent(arg));
  } else if (view === "requests") {
    show("requests");
    stopPolling();
    if (!requests.loaded) requests.reload();
  } else if (view === "cost") {
    show("cost");
    stopPolling();
    loadCost();
  } else {
    if (view !== "traces") { location.replace("#/traces"); return; }
    show("traces");
    traces.enter();
  }
}

/* ---------- keyboard in lists ---------- */

// Arrow keys move focus between rows, Home/End jump, Enter activates.
function listKeys(container, rowSelector, activate) {
  container.addEventListener("keydown", (ev) => {
    const row = ev.target.closest(rowSelector);
    if (!row) return;
    let next = null;
    if (ev.key === "ArrowDown") next = nextRow(row, rowSelector, 1);
    else if (ev.key === "ArrowUp") next = nextRow(row, rowSelector, -1);
    else if (ev.key === "Home") next = container.querySelector(rowSelector);
    else if (ev.key === "End") { const all = container.querySelectorAll(rowSelector); next = all[all.length - 1]; }
    else if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); activate(row); return; }
    else return;
    ev.preventDefault();
    if (next) { next.focus(); next.scrollIntoView({ block: "nearest" }); }
  });
  container.addEventListener("click", (ev) => {
    const row = ev.target.closest(rowSelector);
    if (row && !ev.target.closest("a")) activate(row);
  });
}

function nextRow(row, selector, step) {
  let n = step > 0 ? row.nextElementSibling : row.previousElementSibling;
  while (n && !n.matches(selector)) n = step > 0 ? n.nextElementSibling : n.previousElementSibling;
  return n;
}

/* ---------- traces list ---------- */

const traces = {
  rows: new Map(), // id → <tr>
  cursor: null,
  timer: 0,
  seq: 0,
  lastFocus: null,

  params() {
    const f = $("#trace-filters");
    return {
      since: sinceFor(f.range.value), status: f.status.value, name: f.name.value.trim(),
      model: f.model.value.trim(), user_id: f.user_id.value.trim(), session_id: f.session_id.value.trim(),
    };
  },

  enter() {
    if (!this.loaded) this.reload();
    else this.refresh();
    this.schedule();
    const back = this.lastFocus && this.rows.get(this.lastFocus);
    if (back) back.focus({ preventScroll: false });
  },

  async reload() {
    this.loaded = true;
    const seq = ++this.seq;
    let body;
    try { body = await load("/api/v1/traces", { ...this.params(), limit: 50 }); } catch { return; }
    if (seq !== this.seq) return;
    this.rows.clear();
    const tbody = $("#traces-table tbody");
    tbody.replaceChildren(this.build(body.data || [], false));
    this.cursor = body.next_cursor || null;
    this.after();
  },

  // Poll: new traces go on top, known ones update in place; scroll and focus stay.
  async refresh() {
    const seq = this.seq;
    let body;
    try { body = await api("/api/v1/traces", { ...this.params(), limit: 50 }); } catch (err) {
      if (err.status === 401 || err.status === 403) signOut(keyProblem(err));
      return;
    }
    if (seq !== this.seq) return;
    const fresh = [];
    for (const t of body.data || []) {
      const tr = this.rows.get(t.id);
      if (tr) this.fill(tr, t);
      else fresh.push(t);
    }
    if (fresh.length) {
      const wrap = $("#traces-table").parentElement;
      const before = wrap.scrollHeight;
      $("#traces-table tbody").prepend(this.build(fresh, true));
      if (wrap.scrollTop > 0) wrap.scrollTop += wrap.scrollHeight - before; // keep the rows in view still
      if (!this.loadedMore && body.next_cursor && !this.cursor) this.cursor = body.next_cursor;
    }
    this.after();
  },

  async more() {
    if (!this.cursor) return;
    const seq = this.seq;
    let body;
    try { body = await load("/api/v1/traces", { ...this.params(), limit: 50, cursor: this.cursor }); } catch { return; }
    if (seq !== this.seq) return;
    const known = (body.data || []).filter((t) => !this.rows.has(t.id));
    $("#traces-table tbody").append(this.build(known, false));
    this.cursor = body.next_cursor || null;
    this.loadedMore = true;
    this.after();
  },

  build(list, fresh) {
    const frag = document.createDocumentFragment();
    for (const t of list) {
      if (!has(t.id) || this.rows.has(t.id)) continue;
      const tr = el("tr", { tabindex: 0, class: fresh ? "fresh" : null, dataset: { id: t.id } });
      for (let i = 0; i < 7; i++) tr.append(el("td", { class: i >= 2 && i <= 5 ? "num" : null }));
      this.fill(tr, t);
      this.rows.set(t.id, tr);
      frag.append(tr);
    }
    return frag;
  },

  fill(tr, t) {
    const c = tr.children;
    const name = has(t.name) ? t.name : "(unnamed)";
    c[0].replaceChildren(el("span", { text: name }),
      t.models && t.models.length ? el("span", { class: "muted", text: "  " + [].concat(t.models).join(", ") }) : null);
    c[0].title = name + "\n" + t.id;
    c[1].textContent = fmtTime(t.started_at);
    c[1].title = t.started_at || "";
    c[2].textContent = fmtMs(t.duration_ms);
    c[3].textContent = fmtInt(t.span_count) + (num(t.error_count) ? " (" + fmtInt(t.error_count) + " err)" : "");
    c[4].textContent = fmtInt(tokensOf(t));
    c[5].textContent = fmtCost(t.total_cost_usd);
    c[6].replaceChildren(statusBadge(t.status));
  },

  after() {
    $("#traces-more").hidden = !this.cursor;
    $("#traces-empty").hidden = this.rows.size > 0;
  },

  schedule() {
    stopPolling();
    if (!$("#trace-filters").live.checked) return;
    this.timer = setInterval(() => {
      if (current === "traces" && !document.hidden) this.refresh();
    }, POLL_MS);
  },

  open(tr) {
    this.lastFocus = tr.dataset.id;
    for (const r of tr.parentElement.querySelectorAll("tr.selected")) r.classList.remove("selected");
    tr.classList.add("selected");
    location.hash = "#/trace/" + encodeURIComponent(tr.dataset.id);
  },
};

function stopPolling() { clearInterval(traces.timer); traces.timer = 0; }

/* ---------- one trace: the waterfall ---------- */

const trace = { id: null, spans: new Map(), data: null, seq: 0 };

async function openTrace(id) {
  const seq = ++trace.seq;
  if (trace.id !== id) {
    $("#trace-title").textContent = "Loading…";
    $("#trace-summary").replaceChildren();
    $("#waterfall").replaceChildren();
    $("#span-detail").hidden = true;
  }
  let body;
  try { body = await load("/api/v1/traces/" + encodeURIComponent(id)); } catch (err) {
    if (seq === trace.seq) $("#trace-title").textContent = err.status === 404 ? "Trace not found" : "Could not load the trace";
    return;
  }
  if (seq !== trace.seq) return;
  const selected = trace.id === id ? trace.selected : null;
  trace.id = id;
  trace.data = body.data || body;
  renderTrace(trace.data);
  const row = selected && $("#waterfall").querySelector('.wf-row[data-id="' + CSS.escape(selected) + '"]');
  (row || $("#waterfall .wf-row") || $("#trace-back")).focus();
  if (row) selectSpan(row);
}

function renderTrace(t) {
  $("#trace-title").textContent = has(t.name) ? t.name : "(unnamed trace)";
  const summary = [
    ["Status", statusBadge(t.status)], ["Start", fmtTime(t.started_at)], ["Duration", fmtMs(t.duration_ms)],
    ["Spans", fmtInt(t.span_count)], ["Errors", fmtInt(t.error_count)],
    ["Tokens", fmtInt(tokensOf(t)) + " (" + fmtInt(t.input_tokens) + " in / " + fmtInt(t.output_tokens) + " out)"],
    ["Cost", fmtCost(t.total_cost_usd)], ["Id", el("span", { class: "mono", text: t.id })],
  ];
  if (num(t.orphan_count)) summary.splice(5, 0, ["Orphans", fmtInt(t.orphan_count)]);
  $("#trace-summary").replaceChildren(...summary.map(([k, v]) => el("div", null, el("dt", { text: k }), el("dd", null, v))));

  // Flatten the tree depth-first (iteratively: deep traces must not overflow the stack).
  const rows = [], orphans = [];
  trace.spans.clear();
  const roots = t.spans || [];
  let lo = Infinity, hi = -Infinity;
  const stack = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push([roots[i], 0, roots[i].orphan === true]);
  while (stack.length) {
    const [node, depth, orphan] = stack.pop();
    trace.spans.set(node.id, node);
    const start = Date.parse(node.started_at), end = Date.parse(node.ended_at);
    node._start = Number.isNaN(start) ? null : start;
    node._end = Number.isNaN(end) ? null : end;
    if (node._start !== null) lo = Math.min(lo, node._start);
    hi = Math.max(hi, node._end ?? -Infinity, node._start ?? -Infinity);
    (orphan ? orphans : rows).push([node, depth]);
    const kids = node.children || [];
    for (let i = kids.length - 1; i >= 0; i--) stack.push([kids[i], depth + 1, orphan]);
  }
  const t0 = Date.parse(t.started_at);
  if (!Number.isNaN(t0)) lo = Math.min(lo, t0);
  const t1 = Date.parse(t.ended_at);
  if (!Number.isNaN(t1)) hi = Math.max(hi, t1);
  if (!Number.isFinite(lo)) lo = 0;
  if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1;
  const span = hi - lo;

  const frag = document.createDocumentFragment();
  const legend = el("div", { class: "legend" });
  for (const type of SPAN_TYPES) legend.append(el("span", null, el("i", { class: "t-" + type }), type));
  legend.append(el("span", null, el("i", { class: "t-llm wf-err-key" }), "red ring = error"));
  frag.append(legend);
  const axis = el("div", { class: "wf-axis" }, el("div", { class: "wf-name", text: "Span" }));
  const ticks = el("div", { class: "wf-ticks" });
  for (let i = 0; i < 5; i++) {
    const tick = el("div", { class: "wf-tick", text: fmtMs((span * i) / 5) });
    tick.style.left = (i * 20) + "%";
    ticks.append(tick);
  }
  axis.append(ticks);
  frag.append(axis);
  const addRows = (list) => {
    for (const [node, depth] of list) frag.append(spanRow(node, depth, lo, span));
  };
  addRows(rows);
  if (orphans.length) {
    frag.append(el("div", { class: "wf-section", text: "Orphans: parent span not in this trace (" + orphans.length + ")" }));
    addRows(orphans);
  }
  if (!rows.length && !orphans.length) frag.append(el("p", { class: "empty", text: "This trace has no spans." }));
  $("#waterfall").replaceChildren(frag);
}

function spanRow(node, depth, lo, span) {
  const type = SPAN_TYPES.includes(node.span_type) ? node.span_type : "other";
  const isErr = node.status === "error";
  const row = el("div", {
    class: "wf-row", tabindex: 0, role: "button", dataset: { id: node.id, depth: depth, type: type },
    "aria-label": node.name + (isErr ? " (error)" : ""),
  });
  const name = el("div", { class: "wf-name" }, el("span", { class: "dot t-" + type }),
    el("span", { class: "label", text: has(node.name) ? node.name : "(unnamed)" }),
    isErr ? el("span", { class: "err", title: node.status_message || "error", text: "!" }) : null);
  name.style.paddingLeft = (8 + depth * 16) + "px";
  name.title = (node.name || "") + " · " + (node.span_type || "span") + (node.model ? " · " + node.model : "");
  const track = el("div", { class: "wf-track" });
  if (node._start !== null) {
    const end = node._end ?? (lo + span);
    const left = ((node._start - lo) / span) * 100;
    const width = Math.max(((end - node._start) / span) * 100, 0);
    const bar = el("div", { class: "wf-bar t-" + type + (isErr ? " error" : "") + (node._end === null ? " open" : "") });
    bar.style.left = left + "%";
    bar.style.width = width + "%";
    const dur = el("div", { class: "wf-dur", text: node._end === null ? "running" : fmtMs(node.duration_ms) });
    if (left + width <= 85) dur.style.left = (left + width) + "%";
    else if (left > 12) dur.style.right = (100 - left) + "%";
    else { dur.style.left = left + "%"; dur.classList.add("inside"); }
    track.append(bar, dur);
  }
  row.append(name, track);
  return row;
}

function selectSpan(row) {
  const node = trace.spans.get(row.dataset.id);
  if (!node) return;
  const old = $("#waterfall .wf-row.selected");
  if (old) old.classList.remove("selected");
  row.classList.add("selected");
  trace.selected = node.id;
  const d = $("#span-detail");
  d.replaceChildren(spanDetail(node));
  d.hidden = false;
}

function kv(pairs) {
  const dl = el("dl", { class: "kv" });
  for (const [k, v] of pairs) if (has(v) || v instanceof Node) dl.append(el("dt", { text: k }), el("dd", null, v));
  return dl;
}

function spanDetail(n) {
  const frag = document.createDocumentFragment();
  frag.append(el("h2", { text: has(n.name) ? n.name : "(unnamed span)" }));
  frag.append(kv([
    ["Type", n.span_type], ["Status", statusBadge(n.status)], ["Message", n.status_message],
    ["Start", n.started_at], ["Duration", n._end === null ? "running" : fmtMs(n.duration_ms)],
    ["Provider", n.provider], ["Model", n.model], ["Service", n.service_name], ["Kind", n.kind],
    ["Source", n.source], ["Span id", n.id], ["Parent", n.parent_span_id], ["Request", n.request_id],
    ["Orphan", n.orphan ? "yes: its parent is not in this trace" : null],
  ]));
  const tokens = [["Input", n.input_tokens], ["Output", n.output_tokens], ["Cache read", n.cache_read_tokens],
    ["Cache write", n.cache_write_tokens], ["Reasoning", n.reasoning_tokens], ["Total", n.total_tokens]]
    .filter(([, v]) => has(v)).map(([k, v]) => [k, fmtInt(v)]);
  frag.append(el("h3", { text: "Tokens" }));
  frag.append(tokens.length ? el("dl", { class: "kv tokens" }, ...tokens.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]))
    : el("p", { class: "muted", text: "No token counts." }));
  frag.append(el("h3", { text: "Cost" }));
  frag.append(kv([["Cost", has(n.cost_usd) ? fmtCost(n.cost_usd) + "  (" + n.cost_usd + " USD)" : "unknown"],
    ["Source", n.cost_source || "–"]]));
  if (n.flags && n.flags.length) {
    frag.append(el("h3", { text: "Flags" }), el("div", { class: "chips" }, ...n.flags.map((f) => el("span", { class: "chip", text: f }))));
  }
  if (has(n.input)) frag.append(el("h3", { text: "Input" }), payload(n.input));
  if (has(n.output)) frag.append(el("h3", { text: "Output" }), payload(n.output));
  const attrs = n.attributes && typeof n.attributes === "object" ? Object.entries(n.attributes) : [];
  if (attrs.length) {
    attrs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const table = el("table", { class: "attrs" });
    for (const [k, v] of attrs) table.append(el("tr", null, el("td", { text: k }), el("td", { text: typeof v === "string" ? v : JSON.stringify(v) })));
    frag.append(el("h3", { text: "Attributes (" + attrs.length + ")" }), table);
  }
  if (n.metadata && typeof n.metadata === "object" && Object.keys(n.metadata).length) {
    frag.append(el("h3", { text: "Metadata" }), el("pre", { class: "json", text: JSON.stringify(n.metadata, null, 2) }));
  }
  return frag;
}

// Chat messages ([{role, content}], or {messages: [...]}) as message boxes; other values as JSON.
function payload(value) {
  let v = value;
  if (typeof v === "string") {
    try { v = JSON.parse(v); } catch { return el("pre", { class: "json", text: value }); }
  }
  const list = Array.isArray(v) ? v : v && Array.isArray(v.messages) ? v.messages
    : v && Array.isArray(v.choices) ? v.choices.map((c) => c.message || c).filter(Boolean) : null;
  if (list && list.length && list.every((m) => m && typeof m === "object" && ("role" in m || "content" in m))) {
    const box = el("div", { class: "messages" });
    for (const m of list) {
      box.append(el("div", { class: "msg" }, el("div", { class: "role", text: m.role || "message" }),
        el("pre", { text: messageText(m) })));
    }
    return box;
  }
  return el("pre", { class: "json", text: typeof v === "string" ? v : JSON.stringify(v, null, 2) });
}

function messageText(m) {
  const parts = [];
  const c = m.content;
  if (typeof c === "string") parts.push(c);
  else if (Array.isArray(c)) {
    for (const p of c) parts.push(typeof p === "string" ? p : p && typeof p.text === "string" ? p.text : JSON.stringify(p, null, 2));
  } else if (has(c)) parts.push(JSON.stringify(c, null, 2));
  for (const p of Array.isArray(m.parts) ? m.parts : []) { // gen_ai.input.messages shape
    const text = p && (typeof p.content === "string" ? p.content : typeof p.text === "string" ? p.text : null);
    parts.push(text ?? JSON.stringify(p, null, 2));
  }
  const calls = m.tool_calls || m.function_call;
  if (calls) parts.push("tool calls: " + JSON.stringify(calls, null, 2));
  return parts.join("\n") || JSON.stringify(m, null, 2);
}

/* ---------- requests ---------- */

const requests = {
  cursor: null,
  seq: 0,
  loaded: false,

  params() {
    const f = $("#request-filters");
    return { since: sinceFor(f.range.value), provider: f.provider.value.trim(), model: f.model.value.trim() };
  },

  async reload() {
    this.loaded = true;
    const seq = ++this.seq;
    let body;
    try { body = await load("/api/v1/requests", { ...this.params(), limit: 50 }); } catch { return; }
    if (seq !== this.seq) return;
    $("#requests-table tbody").replaceChildren(this.build(body.data || []));
    this.cursor = body.next_cursor || null;
    this.after();
  },

  async more() {
    if (!this.cursor) return;
    const seq = this.seq;
    let body;
    try { body = await load("/api/v1/requests", { ...this.params(), limit: 50, cursor: this.cursor }); } catch { return; }
    if (seq !== this.seq) return;
    $("#requests-table tbody").append(this.build(body.data || []));
    this.cursor = body.next_cursor || null;
    this.after();
  },

  build(list) {
    const frag = document.createDocumentFragment();
    for (const r of list) {
      const code = num(r.status_code);
      const tr = el("tr", { tabindex: 0, dataset: { id: r.id || "", trace: r.trace_id || "" } },
        el("td", { title: r.created_at || "", text: fmtTime(r.created_at) }),
        el("td", { text: r.provider || "–" }),
        el("td", { text: r.model || r.request_model || "–" }),
        el("td", { class: "num" }, el("span", { class: "status " + (code !== null && code < 400 ? "ok" : "error"), text: has(r.status_code) ? r.status_code : "–" })),
        el("td", { class: "num", text: fmtMs(r.latency_ms) }),
        el("td", { class: "num", text: fmtInt(r.input_tokens ?? r.prompt_tokens) + " / " + fmtInt(r.output_tokens ?? r.completion_tokens) }),
        el("td", { class: "num", text: fmtCost(r.cost_usd) }),
        el("td", null, r.trace_id ? el("a", { href: "#/trace/" + encodeURIComponent(r.trace_id), tabindex: -1, text: "open trace" }) : "–"));
      frag.append(tr);
    }
    return frag;
  },

  after() {
    $("#requests-more").hidden = !this.cursor;
    $("#requests-empty").hidden = $("#requests-table tbody").children.length > 0;
  },

  open(tr) {
    if (tr.dataset.trace) location.hash = "#/trace/" + encodeURIComponent(tr.dataset.trace);
  },
};

/* ---------- cost ---------- */

let costSeq = 0;
const modelColour = new Map(); // one colour per model across the cost charts
const colourOf = (model, i) => modelColour.get(model) || PALETTE[Math.min(i, PALETTE.length - 1)];

async function loadCost() {
  const seq = ++costSeq;
  const since = sinceFor($("#cost-filters").range.value);
  let byModel, byDay;
  try {
    byModel = await load("/api/v1/stats", { group_by: "model", since });
    byDay = await costByDay(since, (byModel.data || []).map((r) => r.key).filter(has));
  } catch { return; }
  if (seq !== costSeq) return;
  const models = (byModel.data || []).map((r) => ({
    ...r, key: has(r.key) ? String(r.key) : "(none)",
    p50_ms: r.p50_ms ?? r.p50_latency_ms, p95_ms: r.p95_ms ?? r.p95_latency_ms,
  }));
  const byCost = [...models].sort((a, b) => (num(b.cost_usd) || 0) - (num(a.cost_usd) || 0));
  modelColour.clear();
  byCost.forEach((m, i) => modelColour.set(m.key, PALETTE[Math.min(i, PALETTE.length - 1)]));
  renderCards(models);
  renderCostChart(byDay, since);
  renderTokens(models);
  renderLatency(models);
  renderModelTable(models);
}

// Cost per (day, model): group_by=day,model when the server has it, else group_by=day once
// per model (model=…), else day totals.
async function costByDay(since, models) {
  try {
    const body = await api("/api/v1/stats", { group_by: "day,model", since });
    const out = [];
    for (const r of body.data || []) {
      const keys = r.keys && typeof r.keys === "object" ? r.keys : {};
      let day = keys.day ?? r.day, model = keys.model ?? r.model;
      if (!has(day) || !has(model)) {
        const key = Array.isArray(r.key) ? r.key : String(r.key ?? "").split(/[|,/\t]/);
        if (!has(day)) day = key[0];
        if (!has(model)) model = key.length > 1 ? key.slice(1).join("/") : "(all)";
      }
      out.push({ day: String(day).slice(0, 10), model: String(model), cost: num(r.cost_usd) || 0 });
    }
    return out;
  } catch (err) {
    if (err.status === 401 || err.status === 403) throw err;
  }
  if (models.length) {
    try {
      const top = models.slice(0, PALETTE.length - 1);
      const pages = await Promise.all(top.map((m) => api("/api/v1/stats", { group_by: "day", model: m, since })));
      return pages.flatMap((body, i) => (body.data || []).map((r) => ({
        day: String(r.key).slice(0, 10), model: String(top[i]), cost: num(r.cost_usd) || 0,
      })));
    } catch (err) {
      if (err.status === 401 || err.status === 403) throw err;
    }
  }
  const body = await load("/api/v1/stats", { group_by: "day", since });
  return (body.data || []).map((r) => ({ day: String(r.key).slice(0, 10), model: "all models", cost: num(r.cost_usd) || 0 }));
}

function sum(list, field) { return list.reduce((a, r) => a + (num(r[field]) || 0), 0); }

function renderCards(models) {
  const calls = sum(models, "calls"), errors = sum(models, "errors");
  const cards = [
    ["Cost", fmtCost(sum(models, "cost_usd"))], ["Calls", fmtInt(calls)],
    ["Tokens", fmtInt(sum(models, "input_tokens") + sum(models, "output_tokens"))],
    ["Errors", fmtInt(errors)], ["Error rate", calls ? (100 * errors / calls).toFixed(1) + "%" : "–"],
  ];
  $("#cost-cards").replaceChildren(...cards.map(([k, v]) => el("div", { class: "card" }, el("div", { class: "v", text: v }), el("div", { class: "k", text: k }))));
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 7.5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function renderCostChart(rows, since) {
  const box = $("#chart-cost");
  // Days on the x axis: every day of the range, so gaps show as gaps.
  const days = new Set(rows.map((r) => r.day));
  if (since) {
    for (let d = new Date(since.slice(0, 10) + "T00:00:00Z"); d <= new Date(); d = new Date(d.getTime() + 86400000)) {
      days.add(d.toISOString().slice(0, 10));
    }
  }
  const dayList = [...days].filter(Boolean).sort();
  const totals = new Map();
  for (const r of rows) totals.set(r.model, (totals.get(r.model) || 0) + r.cost);
  const modelList = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a));
  if (!dayList.length || !modelList.length) { box.replaceChildren(el("p", { class: "empty", text: "No cost in this range." })); return; }
  const colour = new Map(modelList.map((m, i) => [m, colourOf(m, i)]));
  const stack = new Map(dayList.map((d) => [d, []]));
  for (const r of rows) if (stack.has(r.day) && r.cost > 0) stack.get(r.day).push(r);
  let peak = 0;
  for (const list of stack.values()) peak = Math.max(peak, list.reduce((a, r) => a + r.cost, 0));
  const top = niceMax(peak);
  const W = 960, H = 260, L = 64, R = 12, T = 10, B = 42;
  const plotW = W - L - R, plotH = H - T - B;
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Cost by model per day" });
  for (let i = 0; i <= 5; i++) {
    const y = T + plotH - (plotH * i) / 5;
    g.append(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: i ? "gridline" : "axis" }));
    g.append(svg("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, fmtCost((top * i) / 5)));
  }
  const slot = plotW / dayList.length, barW = Math.max(Math.min(slot * 0.7, 48), 2);
  const labelEvery = Math.ceil(dayList.length / 14);
  dayList.forEach((day, i) => {
    const x = L + slot * i + (slot - barW) / 2;
    let y = T + plotH;
    const list = stack.get(day).sort((a, b) => modelList.indexOf(a.model) - modelList.indexOf(b.model));
    for (const r of list) {
      const h = (r.cost / top) * plotH;
      y -= h;
      g.append(svg("rect", { x, y, width: barW, height: Math.max(h, 0.5), fill: colour.get(r.model), "data-model": r.model, "data-day": day },
        svg("title", {}, `${day} · ${r.model}: ${fmtCost(r.cost)}`)));
    }
    if (i % labelEvery === 0) g.append(svg("text", { x: L + slot * i + slot / 2, y: H - B + 16, "text-anchor": "middle" }, day.slice(5)));
  });
  const legend = el("div", { class: "legend" });
  for (const m of modelList) {
    const i = el("i");
    i.style.background = colour.get(m);
    legend.append(el("span", null, i, m + " " + fmtCost(totals.get(m))));
  }
  box.replaceChildren(g, legend);
}

function hbars(box, items, format, label) {
  if (!items.length) { box.replaceChildren(el("p", { class: "empty", text: "No data in this range." })); return; }
  const W = 460, row = 26, L = 150, R = 80, H = items.length * row + 8;
  const peak = Math.max(...items.map((i) => i.value), 0) || 1;
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  items.forEach((it, n) => {
    const y = 4 + n * row, w = ((W - L - R) * it.value) / peak;
    g.append(svg("text", { x: L - 8, y: y + 16, "text-anchor": "end" }, it.label.length > 22 ? it.label.slice(0, 21) + "…" : it.label));
    g.append(svg("rect", { x: L, y: y + 4, width: Math.max(w, 1), height: row - 10, rx: 3, fill: it.colour || PALETTE[0] },
      svg("title", {}, `${it.label}: ${format(it.value)}`)));
    g.append(svg("text", { x: L + w + 6, y: y + 16 }, format(it.value)));
  });
  box.replaceChildren(g);
}

function renderTokens(models) {
  const kinds = [["input", "input_tokens"], ["output", "output_tokens"], ["cache read", "cache_read_tokens"],
    ["cache write", "cache_write_tokens"], ["reasoning", "reasoning_tokens"]];
  const items = kinds.filter(([, f]) => models.some((m) => has(m[f])))
    .map(([label, f], i) => ({ label, value: sum(models, f), colour: PALETTE[i] }));
  hbars($("#chart-tokens"), items, fmtInt, "Tokens by kind");
}

function renderLatency(models) {
  const items = models.filter((m) => num(m.p95_ms) !== null)
    .map((m, i) => ({ label: m.key, value: num(m.p95_ms), colour: colourOf(m.key, i) }))
    .sort((a, b) => b.value - a.value).slice(0, 12);
  hbars($("#chart-latency"), items, fmtMs, "p95 latency by model");
}

function renderModelTable(models) {
  const frag = document.createDocumentFragment();
  for (const m of [...models].sort((a, b) => (num(b.cost_usd) || 0) - (num(a.cost_usd) || 0))) {
    const calls = num(m.calls) || 0, errors = num(m.errors) || 0;
    frag.append(el("tr", null, el("td", { text: m.key }), el("td", { class: "num", text: fmtInt(m.calls) }),
      el("td", { class: "num", text: fmtInt(m.input_tokens) }), el("td", { class: "num", text: fmtInt(m.output_tokens) }),
      el("td", { class: "num", text: fmtCost(m.cost_usd) }), el("td", { class: "num", text: fmtInt(m.errors) }),
      el("td", { class: "num", text: calls ? (100 * errors / calls).toFixed(1) + "%" : "–" }),
      el("td", { class: "num", text: fmtMs(m.p50_ms) }), el("td", { class: "num", text: fmtMs(m.p95_ms) })));
  }
  $("#models-table tbody").replaceChildren(frag);
}

/* ---------- wiring ---------- */

function init() {
  $("#signin-form").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", () => signOut(""));
  window.addEventListener("hashchange", route);

  const tf = $("#trace-filters");
  const retrace = () => { traces.loadedMore = false; traces.reload(); };
  tf.addEventListener("change", (ev) => { if (ev.target.name === "live") traces.schedule(); else retrace(); });
  tf.addEventListener("input", debounce((ev) => { if (ev.target.type === "search") retrace(); }, 350));
  tf.addEventListener("submit", (ev) => { ev.preventDefault(); retrace(); });
  $("#traces-more").addEventListener("click", () => traces.more());
  listKeys($("#traces-table tbody"), "tr", (tr) => traces.open(tr));

  const rf = $("#request-filters");
  rf.addEventListener("change", () => requests.reload());
  rf.addEventListener("input", debounce(() => requests.reload(), 350));
  rf.addEventListener("submit", (ev) => { ev.preventDefault(); requests.reload(); });
  $("#requests-refresh").addEventListener("click", () => requests.reload());
  $("#requests-more").addEventListener("click", () => requests.more());
  listKeys($("#requests-table tbody"), "tr", (tr) => requests.open(tr));

  $("#cost-filters").addEventListener("change", loadCost);

  $("#trace-back").addEventListener("click", () => { location.hash = "#/traces"; });
  listKeys($("#waterfall"), ".wf-row", selectSpan);
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape" || current !== "trace") return;
    if (ev.target.closest && ev.target.closest("#span-detail")) {
      const row = trace.selected && $("#waterfall").querySelector('.wf-row[data-id="' + CSS.escape(trace.selected) + '"]');
      if (row) { row.focus(); return; }
    }
    location.hash = "#/traces";
  });
  route();
}

init();
