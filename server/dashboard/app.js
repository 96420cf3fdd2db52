// Flotilla dashboard: polls the node's JSON API once a second and redraws.
// Plain browser JavaScript, no libraries. Every value from the server is
// put on the page with textContent, never as HTML: keys are user data.
"use strict";

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);
const utf8 = new TextEncoder();

const view = { cluster: null, nodeFilter: "", keyFilter: "" };

// compareBytes orders two keys as the store does: by their UTF-8 bytes.
function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// keyBytes is a shard bound's exact bytes: base64 when the key is not UTF-8.
function keyBytes(text, b64) {
  if (b64) return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return utf8.encode(text);
}

// holds reports whether shard s's range [start, end) contains key k.
function holds(s, k) {
  if (compareBytes(k, keyBytes(s.start, s.start_base64)) < 0) return false;
  if (s.end === "" && !s.end_base64) return true;
  return compareBytes(k, keyBytes(s.end, s.end_base64)) < 0;
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function showKey(text, b64) {
  if (b64) return text + " (binary)";
  return text;
}

function renderNodes(c) {
  const body = $("nodes").tBodies[0];
  body.replaceChildren();
  const select = $("node-filter");
  const chosen = view.nodeFilter;
  select.replaceChildren(new Option("all", ""));
  for (const n of c.nodes) {
    const tr = document.createElement("tr");
    tr.id = "node-" + n.id;
    tr.dataset.state = n.state;
    tr.dataset.replicas = n.replicas;
    tr.dataset.leaders = n.leaders;
    tr.className = "clickable" + (String(n.id) === chosen ? " selected" : "");
    tr.title = "show this node's shards";
    tr.onclick = () => setNodeFilter(String(n.id) === view.nodeFilter ? "" : String(n.id));
    cell(tr, String(n.id), "num id");
    const st = document.createElement("span");
    st.className = "state " + n.state;
    st.textContent = n.state;
    cell(tr, "", "state-cell").appendChild(st);
    cell(tr, String(n.replicas), "num replicas");
    cell(tr, String(n.leaders), "num leaders");
    cell(tr, n.raft_addr || "–", "addr");
    cell(tr, n.client_addr || "–", "addr");
    const http = cell(tr, "", "addr");
    if (n.http_addr) {
      const a = document.createElement("a");
      a.href = "http://" + n.http_addr + "/";
      a.textContent = n.http_addr;
      a.onclick = (e) => e.stopPropagation();
      http.appendChild(a);
    } else {
      http.textContent = "–";
    }
    body.appendChild(tr);
    select.appendChild(new Option("node " + n.id, String(n.id)));
  }
  select.value = chosen;
}

function renderShards(c) {
  const body = $("shards").tBodies[0];
  body.replaceChildren();
  const key = view.keyFilter === "" ? null : utf8.encode(view.keyFilter);
  const node = view.nodeFilter === "" ? null : Number(view.nodeFilter);
  let shown = 0;
  for (const s of c.shards) {
    if (node !== null && !s.replicas.includes(node)) continue;
    if (key !== null && !holds(s, key)) continue;
    const tr = document.createElement("tr");
    tr.id = "shard-" + s.id;
    cell(tr, String(s.id), "num id");
    cell(tr, s.start === "" && !s.start_base64 ? "−∞" : showKey(s.start, s.start_base64), "key");
    cell(tr, s.end === "" && !s.end_base64 ? "+∞" : showKey(s.end, s.end_base64), "key");
    cell(tr, s.replicas.join(", "), "replicas");
    cell(tr, s.leader ? String(s.leader) : "none", "num leader");
    cell(tr, String(s.epoch), "num epoch");
    body.appendChild(tr);
    shown++;
  }
  $("shard-count").textContent = shown === c.shards.length
    ? "(" + shown + ")" : "(" + shown + " of " + c.shards.length + ")";
}

function renderMoves(c) {
  const body = $("moves").tBodies[0];
  body.replaceChildren();
  for (const m of c.moves) {
    const tr = document.createElement("tr");
    cell(tr, String(m.shard), "num");
    cell(tr, String(m.from), "num");
    cell(tr, String(m.to), "num");
    cell(tr, m.stage);
    cell(tr, new Date(m.since).toLocaleTimeString());
    body.appendChild(tr);
  }
  $("moves").hidden = c.moves.length === 0;
  $("no-moves").hidden = c.moves.length !== 0;
}

function render() {
  const c = view.cluster;
  if (!c) return;
  const live = c.nodes.filter((n) => n.state === "live").length;
  $("summary").textContent = c.nodes.length + " nodes (" + live + " live), " +
    c.shards.length + " shards, " + c.moves.length + " moves" +
    (c.meta_leader ? ", meta leader " + c.meta_leader : "");
  renderNodes(c);
  renderShards(c);
  renderMoves(c);
}

// sparkline draws values (oldest first) into an SVG as a line over an area.
function sparkline(svg, values) {
  const w = 300, h = 60, max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : w;
  const pts = values.map((v, i) => (i * step).toFixed(1) + "," + (h - (v / max) * (h - 4)).toFixed(1));
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("class", "line");
  line.setAttribute("points", pts.join(" "));
  const area = document.createElementNS(ns, "polygon");
  area.setAttribute("class", "area");
  area.setAttribute("points", (pts.length ? "0," + h + " " : "") + pts.join(" ") + (pts.length ? " " + ((values.length - 1) * step).toFixed(1) + "," + h : ""));
  svg.replaceChildren(area, line);
  svg.dataset.points = values.length;
}

// sumSeries adds up the nodes' series point by point, aligned on their
// latest points (each node samples when polled, so their points match up
// in time to within a poll).
function sumSeries(series, field) {
  const n = Math.min(...series.map((s) => s.length));
  const out = [];
  for (let k = 0; k < n; k++) {
    let v = 0;
    for (const s of series) v += s[s.length - n + k][field];
    out.push(v);
  }
  return out;
}

// renderRates draws the cluster's rates: the sum of every node whose
// /api/rates answered (got) out of the nodes asked (asked).
function renderRates(got, asked) {
  const series = got.map((r) => r.points);
  const ops = series.length ? sumSeries(series, "ops_per_sec") : [];
  const fsyncs = series.length ? sumSeries(series, "fsyncs_per_sec") : [];
  for (const el of document.querySelectorAll(".rate-nodes")) {
    el.textContent = "(" + got.length + " of " + asked + " nodes)";
  }
  $("ops-now").textContent = ops.length ? ops[ops.length - 1].toFixed(0) : "–";
  $("fsyncs-now").textContent = fsyncs.length ? fsyncs[fsyncs.length - 1].toFixed(0) : "–";
  sparkline($("ops-graph"), ops);
  sparkline($("fsyncs-graph"), fsyncs);
}

// PEER_TIMEOUT_MS bounds the wait for another node's rates: a node that
// is down must not hold up the page.
const PEER_TIMEOUT_MS = 800;

async function getJSON(path, timeoutMs) {
  const opts = { cache: "no-store" };
  if (timeoutMs) opts.signal = AbortSignal.timeout(timeoutMs);
  const resp = await fetch(path, opts);
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

async function poll() {
  try {
    const [c, own] = await Promise.all([getJSON("/api/cluster"), getJSON("/api/rates")]);
    view.cluster = c;
    render();
    const others = c.nodes.filter((n) => n.id !== own.node && n.http_addr);
    const results = await Promise.allSettled(others.map((n) => getJSON("http://" + n.http_addr + "/api/rates", PEER_TIMEOUT_MS)));
    const got = [own].concat(results.filter((r) => r.status === "fulfilled").map((r) => r.value));
    renderRates(got, c.nodes.length);
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").className = "muted";
    document.body.dataset.loaded = "yes";
  } catch (e) {
    $("status").textContent = "cannot reach the node: " + e.message;
    $("status").className = "error";
  }
  setTimeout(poll, POLL_MS);
}

// The filters live in the URL (?node=2&key=abc) so a view can be shared.
function saveFilters() {
  const q = new URLSearchParams();
  if (view.nodeFilter) q.set("node", view.nodeFilter);
  if (view.keyFilter) q.set("key", view.keyFilter);
  const s = q.toString();
  history.replaceState(null, "", s ? "?" + s : location.pathname);
}

function setNodeFilter(v) {
  view.nodeFilter = v;
  saveFilters();
  render();
}

function init() {
  const q = new URLSearchParams(location.search);
  view.nodeFilter = q.get("node") || "";
  view.keyFilter = q.get("key") || "";
  $("key-filter").value = view.keyFilter;
  $("node-filter").onchange = (e) => setNodeFilter(e.target.value);
  $("key-filter").oninput = (e) => {
    view.keyFilter = e.target.value;
    saveFilters();
    render();
  };
  poll();
}

init();
