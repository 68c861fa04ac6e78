/// The dashboard: counts by status, a searchable list of sagas, one saga's steps, state,
/// timeline and audit trail with the operator actions, the dead letters with their redrive, and the
/// read models with their rebuilds. Everything it shows comes from
/// `/api/v1`; text from the store is inserted as text, never as markup. The script and the
/// style are files of their own, so the page's content security policy allows no inline code.
enum DashboardPage {
    /// `GET /`
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Skald</title>
<link rel="stylesheet" href="/dashboard.css">
</head>
<body>
<header>
  <h1>Skald</h1>
  <span class="muted" id="refreshed"></span>
  <span class="spacer"></span>
  <input id="token" type="password" placeholder="bearer token (if required)" autocomplete="off">
</header>
<main>
  <section class="card full">
    <div class="tiles" id="tiles"></div>
  </section>
  <section class="card">
    <h2>Sagas</h2>
    <form class="filters" id="filters">
      <select id="f-status">
        <option value="">any status</option>
        <option>running</option><option>compensating</option><option>completed</option>
        <option>compensated</option><option value="failed_needs_operator">failed (needs operator)</option>
      </select>
      <select id="f-type"><option value="">any type</option></select>
      <input id="f-key" placeholder="business key">
      <label><input type="checkbox" id="f-stuck"> stuck</label>
      <button class="primary" type="submit">Search</button>
    </form>
    <details id="starter">
      <summary>Start a saga</summary>
      <form id="start-form" class="start">
        <select id="s-start"></select>
        <input id="s-key" placeholder="idempotency key (optional)">
        <textarea id="s-payload" rows="6" spellcheck="false">{}</textarea>
        <button class="primary" type="submit">Start</button> <span id="start-result" class="muted"></span>
      </form>
    </details>
    <div id="list-error" class="error"></div>
    <table>
      <thead><tr><th>saga</th><th>type</th><th>status</th><th>step</th><th>key</th><th>started</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p><button id="more" hidden>Load more</button> <span class="muted" id="count"></span></p>
  </section>
  <section class="card" id="detail">
    <h2>Saga</h2>
    <p class="muted">Pick a saga on the left.</p>
  </section>
  <section class="card full">
    <h2>Dead letters <span class="muted" id="dead-pending"></span></h2>
    <div id="dead-error" class="error"></div>
    <table>
      <thead><tr><th>#</th><th>when</th><th>from</th><th>why</th><th>message</th><th>saga</th><th></th></tr></thead>
      <tbody id="dead-letters"></tbody>
    </table>
  </section>
  <section class="card full">
    <h2>Read models</h2>
    <div id="projections-error" class="error"></div>
    <table>
      <thead><tr><th>projection</th><th>saga types</th><th>runner</th><th>events applied</th><th>sagas</th><th>newest event</th><th>rebuild</th><th></th></tr></thead>
      <tbody id="projections"></tbody>
    </table>
  </section>
</main>
<script src="/dashboard.js"></script>
</body>
</html>
"""#

    /// `GET /dashboard.css`
    static let style = #"""
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --mute:#6b7280; --line:#e3e6eb; --accent:#2f5bea;
          --running:#2f5bea; --compensating:#c47a00; --completed:#188038; --compensated:#6b4fbb; --failed:#c5221f; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:#141a2a; color:#fff; }
  header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
  header .spacer { flex:1; }
  header input { width:220px; }
  main { padding:16px 20px; display:grid; gap:16px; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
  .card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px; }
  .full { grid-column: 1 / -1; }
  .tiles { display:flex; gap:10px; flex-wrap:wrap; }
  .tile { flex:1; min-width:120px; border:1px solid var(--line); border-radius:8px; padding:10px; cursor:pointer; background:#fff; }
  .tile .n { font-size:24px; font-weight:600; }
  .tile .l { color:var(--mute); font-size:12px; }
  form.filters { display:flex; gap:8px; flex-wrap:wrap; align-items:center; margin-bottom:10px; }
  input, select, button { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:6px; background:#fff; }
  button { cursor:pointer; }
  button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
  button.danger { background:var(--failed); color:#fff; border-color:var(--failed); }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--mute); font-weight:500; font-size:12px; }
  tbody tr.pick { cursor:pointer; }
  tbody tr.pick:hover { background:#f0f3ff; }
  tbody tr.sel { background:#e6ecff; }
  .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; color:#fff; background:var(--mute); }
  .badge.running { background:var(--running); } .badge.compensating { background:var(--compensating); }
  .badge.completed { background:var(--completed); } .badge.compensated { background:var(--compensated); }
  .badge.failed_needs_operator { background:var(--failed); }
  code, pre { font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
  pre { background:#f3f4f6; padding:8px; border-radius:6px; overflow:auto; max-height:260px; margin:0; }
  .steps { display:flex; gap:6px; flex-wrap:wrap; margin:8px 0; }
  .step { border:1px solid var(--line); border-radius:6px; padding:6px 8px; min-width:120px; }
  .step .k { color:var(--mute); font-size:11px; }
  .step.succeeded { border-color:var(--completed); } .step.running { border-color:var(--running); }
  .step.failed, .step.timed-out { border-color:var(--failed); }
  .muted { color:var(--mute); }
  .error { color:var(--failed); }
  .actions { display:flex; gap:8px; flex-wrap:wrap; margin:8px 0; }
  details#starter { margin-bottom:10px; }
  form.start { display:grid; gap:6px; margin-top:6px; }
  form.start textarea { font:12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; padding:6px; border:1px solid var(--line); border-radius:6px; }
  h2 { font-size:15px; margin:0 0 10px; }
  h3 { font-size:13px; margin:14px 0 6px; color:var(--mute); font-weight:500; }
  @media (max-width: 1000px) { main { grid-template-columns: 1fr; } }
"""#

    /// `GET /dashboard.js`
    static let script = #"""
"use strict";
const $ = (id) => document.getElementById(id);
const tokenInput = $("token");
tokenInput.value = sessionStorage.getItem("skald.token") || "";
tokenInput.addEventListener("change", () => { sessionStorage.setItem("skald.token", tokenInput.value); refreshAll(); });

async function api(path, options = {}) {
  const headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
  if (tokenInput.value) headers["Authorization"] = "Bearer " + tokenInput.value;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((body.error && body.error.message) || ("HTTP " + response.status));
  return body;
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  return node;
}
const badge = (status) => el("span", { class: "badge " + status }, status.replaceAll("_", " "));
const when = (iso) => iso ? new Date(iso).toLocaleString() : "";

let cursor = null, selected = null;

async function loadTiles() {
  const { counts, stuck, stuckAfterSeconds } = await api("/api/v1/stats");
  const byStatus = {};
  for (const c of counts) byStatus[c.status] = (byStatus[c.status] || 0) + c.count;
  const tiles = $("tiles");
  tiles.replaceChildren();
  for (const status of ["running", "compensating", "completed", "compensated", "failed_needs_operator"]) {
    tiles.append(el("div", { class: "tile", onclick: () => { $("f-status").value = status; $("f-stuck").checked = false; search(); } },
      el("div", { class: "n" }, String(byStatus[status] || 0)), el("div", { class: "l" }, badge(status))));
  }
  tiles.append(el("div", { class: "tile", onclick: () => { $("f-status").value = ""; $("f-stuck").checked = true; search(); } },
    el("div", { class: "n" }, String(stuck)), el("div", { class: "l" }, "stuck (needs an operator, or quiet " + Math.round(stuckAfterSeconds / 60) + " min)")));
  $("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
}

async function loadTypes() {
  const { definitions } = await api("/api/v1/definitions");
  // What can be started here: each type's start messages (its newest version comes first per name).
  const starts = $("s-start");
  const seen = new Set();
  starts.replaceChildren();
  for (const d of definitions) {
    for (const s of d.subscriptions.filter((s) => s.role === "start")) {
      const value = d.name + " " + s.messageType;
      if (seen.has(value)) continue;
      seen.add(value);
      starts.append(el("option", { value }, d.name + " ← " + s.messageType));
    }
  }
  const select = $("f-type");
  const names = [...new Set(definitions.map((d) => d.name))];
  select.replaceChildren(el("option", { value: "" }, "any type"), ...names.map((n) => el("option", { value: n }, n)));
}

function listQuery() {
  const q = new URLSearchParams({ limit: "50" });
  if ($("f-status").value) q.set("status", $("f-status").value);
  if ($("f-type").value) q.set("type", $("f-type").value);
  if ($("f-key").value.trim()) q.set("key", $("f-key").value.trim());
  if ($("f-stuck").checked) q.set("stuck", "true");
  if (cursor) q.set("cursor", cursor);
  return q;
}

async function loadPage(append) {
  $("list-error").textContent = "";
  try {
    // URLSearchParams writes a space as "+", which the server reads as a plus sign.
    const page = await api("/api/v1/sagas?" + listQuery().toString().replaceAll("+", "%20"));
    const rows = $("rows");
    if (!append) rows.replaceChildren();
    for (const s of page.sagas) {
      const row = el("tr", { class: "pick" + (s.sagaId === selected ? " sel" : ""), onclick: () => show(s.sagaId) },
        el("td", {}, el("code", {}, s.sagaId)), el("td", {}, s.sagaType + " v" + s.version), el("td", {}, badge(s.status)),
        el("td", {}, s.currentStep || ""), el("td", {}, s.businessKey || ""), el("td", { class: "muted" }, when(s.createdAt)));
      row.dataset.id = s.sagaId;
      rows.append(row);
    }
    cursor = page.nextCursor || null;
    $("more").hidden = !cursor;
    $("count").textContent = rows.children.length + " shown";
  } catch (error) { $("list-error").textContent = error.message; }
}
function search() { cursor = null; loadPage(false); }

let followTimer = null;
async function show(id) {
  selected = id;
  clearTimeout(followTimer);
  for (const row of $("rows").children) row.classList.toggle("sel", row.dataset.id === id);
  const detail = $("detail");
  try {
    const [saga, timeline, replay] = await Promise.all([
      api("/api/v1/sagas/" + encodeURIComponent(id)), api("/api/v1/sagas/" + encodeURIComponent(id) + "/events"),
      api("/api/v1/sagas/" + encodeURIComponent(id) + "/replay").catch((error) => ({ result: "unknown", explanation: error.message }))]);
    const steps = el("div", { class: "steps" }, ...saga.steps.map((s) => el("div", { class: "step " + s.phase },
      el("div", {}, s.name), el("div", { class: "k" }, s.kind + " · " + s.phase + (s.compensation !== "none" ? " · undo " + s.compensation : "") + (s.attempt > 1 ? " · attempt " + s.attempt : "")))));
    const actions = el("div", { class: "actions" },
      el("button", { class: "danger", onclick: () => act(id, "abort") }, "Abort"),
      el("button", { onclick: () => act(id, "retry") }, "Retry"),
      el("button", { onclick: () => act(id, "skip") }, "Skip step"));
    const events = el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "event"), el("th", {}, "step"), el("th", {}, "at"))),
      el("tbody", {}, ...timeline.events.map((e) => el("tr", {}, el("td", {}, String(e.sequence)), el("td", {}, el("code", {}, e.type)),
        el("td", {}, e.event.step || ""), el("td", { class: "muted" }, when(e.recordedAt))))));
    const audit = saga.audit.length ? el("table", {}, el("tbody", {}, ...saga.audit.map((a) => el("tr", {},
      el("td", {}, a.action), el("td", {}, a.actor), el("td", {}, a.reason), el("td", {}, a.outcome), el("td", { class: "muted" }, when(a.at))))))
      : el("p", { class: "muted" }, "No operator actions.");
    detail.replaceChildren(
      el("h2", {}, saga.sagaType + " ", badge(saga.status)),
      el("p", {}, el("code", {}, saga.sagaId), saga.businessKey ? "  ·  key " + saga.businessKey : "",
        saga.stuckReason ? el("div", { class: "error" }, "needs an operator: " + saga.stuckReason) : ""),
      el("p", { class: "muted" }, "started " + when(saga.createdAt) + " · last event " + when(saga.updatedAt) + " · " + saga.lastSequence + " events"),
      saga.timers.length ? el("p", { class: "muted" }, "waiting: " + saga.timers.map((t) =>
        t.kind + (t.step ? " of " + t.step + (t.attempt > 1 ? " (attempt " + t.attempt + ")" : "") : "") + " at " + when(t.due)).join(" · ")) : "",
      steps, actions, el("div", { id: "act-error", class: "error" }),
      el("h3", {}, "State"), el("pre", {}, JSON.stringify(saga.state, null, 2)),
      el("h3", {}, "Timeline"), events,
      el("h3", {}, "Replay"), replay.result === "identical"
        ? el("p", { class: "muted" }, "Its log replays identically through " + replay.definition + " and folds into this snapshot.")
        : el("p", { class: "error" }, replay.explanation || replay.result),
      el("h3", {}, "Audit"), audit);
    // A saga still moving is followed: shown again every two seconds while it is picked and the tab is visible.
    if (["running", "compensating"].includes(saga.status)) {
      followTimer = setTimeout(() => { if (selected === id && document.visibilityState === "visible") show(id); }, 2000);
    }
  } catch (error) { detail.replaceChildren(el("h2", {}, "Saga"), el("p", { class: "error" }, error.message)); }
}

async function act(id, action) {
  const reason = prompt(action === "abort" ? "Why abort? (recorded in the audit log)" : "Reason (optional, recorded in the audit log)");
  if (reason === null) return;
  const body = { reason };
  if (action === "skip") {
    const step = prompt("Step to skip (empty: the stuck or running one)");
    if (step === null) return;
    if (step.trim()) body.step = step.trim();
  }
  try {
    await api("/api/v1/sagas/" + encodeURIComponent(id) + "/" + action,
      { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    await show(id);
    loadTiles();
  } catch (error) {
    // A refusal is in the audit log too: show the saga again, then why.
    await show(id);
    $("act-error").textContent = error.message;
  }
}

async function loadProjections() {
  $("projections-error").textContent = "";
  try {
    const { projections } = await api("/api/v1/projections");
    // A rebuild in progress is followed every second until it ends, whether or not the tab is visible.
    if (projections.some((p) => p.rebuild && p.rebuild.state === "running")) setTimeout(loadProjections, 1000);
    const rows = $("projections");
    rows.replaceChildren();
    if (!projections.length) rows.append(el("tr", {}, el("td", { class: "muted", colspan: "8" }, "No projection runs in this process.")));
    for (const p of projections) {
      const runner = p.lastError
        ? el("span", { class: "error" }, "failing since " + when(p.failingSince) + ": " + p.lastError)
        : (p.running ? "running" : el("span", { class: "muted" }, "not running"));
      const rebuild = p.rebuild
        ? (p.rebuild.state === "failed" ? el("span", { class: "error" }, "failed: " + p.rebuild.error)
          : p.rebuild.state + (p.rebuild.state === "succeeded" ? " (" + p.rebuild.events + " events of " + p.rebuild.sagas + " sagas)" : ""))
        : (p.rebuiltAt ? "rebuilt " + when(p.rebuiltAt) : el("span", { class: "muted" }, "never"));
      rows.append(el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.sagaTypes.length ? p.sagaTypes.join(", ") : "every type"),
        el("td", {}, runner), el("td", {}, String(p.eventsApplied)), el("td", {}, String(p.sagas)),
        el("td", { class: "muted" }, when(p.lastEventAt)), el("td", {}, rebuild),
        el("td", {}, el("button", { onclick: () => rebuildProjection(p.name) }, "Rebuild"))));
    }
  } catch (error) { $("projections-error").textContent = error.message; }
}

async function loadDeadLetters() {
  $("dead-error").textContent = "";
  try {
    const { deadLetters, pending } = await api("/api/v1/dead-letters?limit=20");
    $("dead-pending").textContent = pending ? "(" + pending + " not redriven)" : "";
    const rows = $("dead-letters");
    rows.replaceChildren();
    if (!deadLetters.length) rows.append(el("tr", {}, el("td", { class: "muted", colspan: "7" }, "None: every message was handled.")));
    for (const d of deadLetters) {
      const saga = d.sagaId ? el("a", { href: "#", onclick: (event) => { event.preventDefault(); show(d.sagaId); } }, d.sagaId) : "";
      const action = d.redrivenAt
        ? el("span", { class: "muted" }, "redriven by " + d.redrivenBy + " " + when(d.redrivenAt))
        : el("button", { onclick: () => redrive(d.id) }, "Redrive");
      rows.append(el("tr", {}, el("td", {}, String(d.id)), el("td", { class: "muted" }, when(d.deadLetteredAt)),
        el("td", {}, el("code", {}, d.sourceTopic + "/" + d.sourcePartition + "@" + d.sourceOffset)), el("td", {}, d.reason),
        el("td", {}, el("code", {}, (d.messageType || "") + (d.messageId ? " " + d.messageId : ""))), el("td", {}, saga), el("td", {}, action)));
    }
  } catch (error) { $("dead-error").textContent = error.message; }
}

async function redrive(id) {
  if (!confirm("Publish dead letter " + id + " again to the topic it came from?")) return;
  try {
    await api("/api/v1/dead-letters/" + id + "/redrive", { method: "POST", headers: { "Content-Type": "application/json" } });
  } catch (error) { $("dead-error").textContent = error.message; return; }
  loadDeadLetters();
}

async function rebuildProjection(name) {
  if (!confirm("Rebuild " + name + " from the saga store? Readers keep the old tables until it commits.")) return;
  try {
    await api("/api/v1/projections/" + encodeURIComponent(name) + "/rebuild", { method: "POST", headers: { "Content-Type": "application/json" } });
  } catch (error) { $("projections-error").textContent = error.message; }
  loadProjections();
}

$("filters").addEventListener("submit", (event) => { event.preventDefault(); search(); });
$("start-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [type, messageType] = $("s-start").value.split(" ");
  const headers = { "Content-Type": "application/json" };
  if ($("s-key").value.trim()) headers["Idempotency-Key"] = $("s-key").value.trim();
  $("start-result").textContent = "";
  try {
    const started = await api("/api/v1/sagas/" + encodeURIComponent(type) + "?messageType=" + encodeURIComponent(messageType),
      { method: "POST", headers, body: $("s-payload").value });
    $("start-result").textContent = "started " + started.sagaId;
    search();
    loadTiles();
    show(started.sagaId);
  } catch (error) {
    $("start-result").textContent = error.message;
  }
});
$("more").addEventListener("click", () => loadPage(true));
async function refreshAll() {
  try { await Promise.all([loadTiles(), loadTypes()]); } catch (error) { $("list-error").textContent = error.message; }
  search();
  loadProjections();
  loadDeadLetters();
}
refreshAll();
// Counting every saga costs the store a scan: only while someone looks.
setInterval(() => { if (document.visibilityState === "visible") { loadTiles().catch(() => {}); loadProjections(); loadDeadLetters(); } }, 5000);
"""#
}
