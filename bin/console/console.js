// The local console's page: reads the API through /console/api (the dev runner adds the key) and
// draws with plain DOM and a hand-written SVG bar chart. Everything shown is set as text, never
// as HTML: tail payloads and error messages are producers' data.

const API = "/console/api/v1";
const MINUTES = 15;
const $ = (selector) => document.querySelector(selector);

let stream = new URLSearchParams(location.search).get("stream") ?? "";
let tail;

async function get(path) {
  const res = await fetch(`${API}${path}`, { headers: { accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok)
    throw new Error(`${path}: ${res.status} ${body.error?.code ?? ""} ${body.error?.message ?? ""}`);
  return body;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(
    ...(rows.length > 0 ? rows : [[empty]]).map((cells) => {
      const tr = document.createElement("tr");
      tr.append(...cells.map((c) => (c instanceof Node ? c : cell(String(c)))));
      // "none" across the whole row, under every heading.
      if (rows.length === 0)
        tr.firstElementChild.colSpan = tbody.closest("table").tHead?.rows[0]?.cells.length ?? 1;
      return tr;
    }),
  );
}

const bytes = (n) =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString() : "-");

async function showStreams() {
  const { streams } = await get("/streams");
  const select = $("#stream");
  if (!stream || !streams.some((s) => s.name === stream)) stream = streams[0]?.name ?? "";
  select.replaceChildren(
    ...streams.map((s) => {
      const o = document.createElement("option");
      o.value = o.textContent = s.name;
      o.selected = s.name === stream;
      return o;
    }),
  );
  fill(
    $("#streams tbody"),
    streams.map((s) => [
      s.name,
      cell(s.state, `state-${s.state}`),
      `${s.schema.subject} v${s.schema.version ?? "-"}`,
      s.updatedAt ? clock(s.updatedAt) : "-",
    ]),
    "no streams",
  );
}

function drawChart(series) {
  const svg = $("#chart");
  const ns = "http://www.w3.org/2000/svg";
  const W = 600;
  const H = 140;
  const rates = series.map((m) => m.accepted / 60);
  const max = Math.max(...rates) || 1;
  const width = W / Math.max(1, series.length);
  const shapes = series.map((m, i) => {
    const rect = document.createElementNS(ns, "rect");
    const h = (rates[i] / max) * (H - 10);
    rect.setAttribute("x", String(i * width + 1));
    rect.setAttribute("y", String(H - h));
    rect.setAttribute("width", String(Math.max(1, width - 2)));
    rect.setAttribute("height", String(h));
    rect.dataset.time = m.time;
    rect.dataset.accepted = String(m.accepted);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${clock(m.time)}: ${rates[i].toFixed(2)} records/s (${m.accepted} accepted, ${m.rejected} rejected)`;
    rect.append(title);
    return rect;
  });
  const label = (x, anchor, text) => {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", String(x));
    t.setAttribute("y", "156");
    t.setAttribute("text-anchor", anchor);
    t.textContent = text;
    return t;
  };
  const top = document.createElementNS(ns, "text");
  top.setAttribute("x", "4");
  top.setAttribute("y", "12");
  top.textContent = `max ${max < 1 ? max.toFixed(2) : max.toFixed(0)}/s`;
  svg.replaceChildren(...shapes, top, label(0, "start", clock(series[0]?.time)), label(W, "end", "now"));
  svg.dataset.accepted = String(series.reduce((n, m) => n + m.accepted, 0));
}

async function showStats() {
  if (!stream) return;
  const s = await get(`/streams/${encodeURIComponent(stream)}/stats?minutes=${MINUTES}`);
  drawChart(s.series);
  const t = s.totals;
  const figures = [
    ["accepted", t.accepted],
    ["duplicates", t.duplicates],
    ["rejected", t.rejected],
    ["delivered", t.delivered],
    ["bytes", bytes(t.bytes)],
    ["files", t.files],
    ["lag max", t.lagMaxMs === null ? "-" : `${(t.lagMaxMs / 1000).toFixed(1)} s`],
  ];
  $("#totals").replaceChildren(
    ...figures.map(([name, value]) => {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = name;
      dd.textContent = String(value);
      dd.dataset.figure = name;
      div.append(dt, dd);
      return div;
    }),
  );
  fill(
    $("#rejected tbody"),
    Object.entries(s.rejectedByCode).map(([code, n]) => [code, cell(String(n), "num")]),
    "none",
  );
}

async function showFiles() {
  if (!stream) return;
  const f = await get(`/streams/${encodeURIComponent(stream)}/files?limit=10`);
  fill(
    $("#files tbody"),
    f.files.map((x) => {
      // The file name says the shard and first sequence number; the whole key is its title.
      const name = cell(x.key.slice(x.key.lastIndexOf("/") + 1), "key");
      name.title = x.key;
      return [clock(x.modified), x.pipeline, name, cell(bytes(x.size), "num")];
    }),
    "no files yet",
  );
  fill(
    $("#undeliverable tbody"),
    f.errors.map((e) => [clock(e.eventTime), e.stage, e.code, e.message]),
    "none",
  );
}

async function showKeys() {
  const { keys } = await get("/keys");
  fill(
    $("#keys tbody"),
    keys.map((k) => [
      k.keyId,
      k.name,
      k.role,
      Array.isArray(k.streams) ? k.streams.join(", ") : k.streams,
      k.state,
      k.expiresAt ? new Date(k.expiresAt).toLocaleString() : "never",
    ]),
    "no keys",
  );
}

function follow() {
  tail?.close();
  const list = $("#tail-list");
  list.replaceChildren();
  if (!stream) return;
  const state = $("#tail-state");
  state.textContent = "connecting";
  state.dataset.live = "false";
  tail = new EventSource(`${API}/streams/${encodeURIComponent(stream)}/tail`);
  tail.addEventListener("live", () => {
    state.textContent = "live";
    state.dataset.live = "true";
  });
  tail.addEventListener("record", (e) => {
    const row = JSON.parse(e.data);
    const li = document.createElement("li");
    li.dataset.id = row._id;
    const { _id, _event_time, _receive_time, _schema_version, ...data } = row;
    li.textContent = `${clock(_event_time)}  ${_id}  ${JSON.stringify(data).slice(0, 300)}`;
    list.prepend(li);
    while (list.children.length > 100) list.lastElementChild.remove();
  });
  tail.addEventListener("error", () => {
    state.textContent = "reconnecting";
    state.dataset.live = "false";
  });
}

async function refresh() {
  try {
    await Promise.all([showStats(), showFiles()]);
    $("#status").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    $("#status").textContent = String(err.message ?? err);
  }
}

async function start() {
  try {
    await showStreams();
    await Promise.all([refresh(), showKeys()]);
  } catch (err) {
    $("#status").textContent = String(err.message ?? err);
  }
  follow();
  $("#stream").addEventListener("change", (e) => {
    stream = e.target.value;
    history.replaceState(null, "", `?stream=${encodeURIComponent(stream)}`);
    follow();
    void refresh();
  });
  setInterval(refresh, 2000);
  setInterval(() => void Promise.all([showStreams(), showKeys()]).catch(() => {}), 10_000);
}

void start();
