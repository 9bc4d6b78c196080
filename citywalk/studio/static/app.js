// citywalk Studio page: compose a Shot, follow it in the live preview, render, play, browse renders.
// Plain ES module, no build step. Every control edits `state.shot` (the same Shot the CLI reads).

const API = "/api/v1";
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") n.className = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) n.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) n.append(kid.nodeType ? kid : String(kid));
  return n;
};

const state = { shot: null, options: null, plan: null, atS: 0, presetTimes: {}, activeJob: null, playing: null,
  jobs: [], localTime: null };

// ---------------------------------------------------------------- API
class ApiError extends Error {
  constructor(status, detail) { super(formatDetail(detail)); this.status = status; this.detail = detail; }
}
function formatDetail(detail) {
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const loc = (d.loc || []).filter((x) => x !== "body" && x !== "shot").join(".");
      return loc ? `${loc}: ${d.msg}` : d.msg;
    }).join("; ");
  }
  return typeof detail === "string" ? detail : "something went wrong";
}
async function api(path, { method = "GET", json, form, raw = false } = {}) {
  const opts = { method, headers: {} };
  if (json !== undefined) { opts.body = JSON.stringify(json); opts.headers["Content-Type"] = "application/json"; }
  if (form) opts.body = form;
  const r = await fetch(API + path, opts);
  if (r.status === 401) { showLogin(); throw new ApiError(401, "a token is needed"); }
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail; } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, detail);
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

// ---------------------------------------------------------------- labels and icons
const WEATHER_LABELS = { clear: "Clear", cloudy: "Cloudy", overcast: "Overcast", wet: "Wet", wet_cloudy: "Wet, cloudy",
  after_rain: "After rain", soft_rain: "Drizzle", mid_rain: "Rain", hard_rain: "Downpour", thunderstorm: "Storm",
  fog: "Fog", light_fog: "Mist", dust_storm: "Dust", light_snow: "Snow", heavy_snow: "Blizzard" };
const TIME_LABELS = { dawn: "Dawn", morning: "Morning", noon: "Noon", afternoon: "Afternoon", golden_hour: "Golden hour",
  dusk: "Dusk", night: "Night" };
const SIZES = [[320, 180, "Draft · 320×180"], [640, 360, "360p · 640×360"], [960, 540, "540p · 960×540"],
  [1280, 720, "720p · 1280×720"], [1920, 1080, "1080p · 1920×1080"]];
const FPS = [12, 24, 30, 60];
const SVG = (paths) => `<svg viewBox="0 0 32 32" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">${paths}</svg>`;
const CLOUD = '<path d="M9 22h14a5 5 0 0 0 0-10 7 7 0 0 0-13.5 1.5A4.3 4.3 0 0 0 9 22z"/>';
const SUN = '<circle cx="16" cy="16" r="5"/><path d="M16 4v3M16 25v3M4 16h3M25 16h3M7.5 7.5l2 2M22.5 22.5l2 2M7.5 24.5l2-2M22.5 9.5l2-2"/>';
const RAIN = (n) => [[11, 25], [16, 26], [21, 25], [13.5, 28.5], [18.5, 28.5]].slice(0, n)
  .map(([x, y]) => `<path d="M${x} ${y - 1.5}l-1 3"/>`).join("");
const ICONS = {
  clear: SUN,
  cloudy: '<circle cx="11" cy="11" r="4"/><path d="M11 3v2M3 11h2M5.5 5.5l1.4 1.4M16.5 5.5l-1.4 1.4"/>' + CLOUD.replace("M9 22", "M11 24"),
  overcast: CLOUD,
  wet: '<path d="M16 5c4 5 6 8 6 11a6 6 0 0 1-12 0c0-3 2-6 6-11z"/><path d="M5 27h22"/>',
  wet_cloudy: CLOUD.replace("22h14", "19h14") + '<path d="M6 27h20"/>',
  after_rain: '<path d="M6 22a10 10 0 0 1 20 0"/><path d="M10 22a6 6 0 0 1 12 0"/><path d="M5 27h22"/>',
  soft_rain: '<path d="M9 19h14a5 5 0 0 0 0-10 7 7 0 0 0-13.5 1.5A4.3 4.3 0 0 0 9 19z"/>' + RAIN(2),
  mid_rain: '<path d="M9 19h14a5 5 0 0 0 0-10 7 7 0 0 0-13.5 1.5A4.3 4.3 0 0 0 9 19z"/>' + RAIN(3),
  hard_rain: '<path d="M9 19h14a5 5 0 0 0 0-10 7 7 0 0 0-13.5 1.5A4.3 4.3 0 0 0 9 19z"/>' + RAIN(5),
  thunderstorm: '<path d="M9 19h14a5 5 0 0 0 0-10 7 7 0 0 0-13.5 1.5A4.3 4.3 0 0 0 9 19z"/><path d="M17 19l-3 5h4l-3 5"/>',
  fog: '<path d="M5 11h22M8 16h18M5 21h20M9 26h16"/>',
  light_fog: '<path d="M6 13h20M9 19h16M7 25h14" opacity=".8"/>',
  dust_storm: '<path d="M4 12h15a3 3 0 1 0-3-3M4 18h21a3 3 0 1 1-3 3M4 24h11"/>',
  light_snow: '<path d="M16 6v20M7.3 11l17.4 10M7.3 21l17.4-10"/>',
  heavy_snow: '<path d="M16 4v24M5.6 10l20.8 12M5.6 22l20.8-12M13 6l3 3 3-3M13 26l3-3 3 3"/>',
};
const PERSON = '<svg viewBox="0 0 24 24"><circle cx="12" cy="7" r="4"/><path d="M4 22c0-5 4-8 8-8s8 3 8 8z"/></svg>';
const fmtS = (s) => (s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
const hhmm = (mins) => `${String(Math.floor(mins / 60)).padStart(2, "0")}:${String(mins % 60).padStart(2, "0")}`;
const title = (s) => String(s).replace(/_/g, " ");

// ---------------------------------------------------------------- shot edits
function edit(section, changes) {
  Object.assign(state.shot[section], changes);
  shotChanged();
}
function shotChanged({ preview = true } = {}) {
  renderControls();
  if (preview) schedulePreview();
}

// ---------------------------------------------------------------- controls
function renderStyles() {
  const grid = $("#style-grid");
  const s = state.shot.scene;
  grid.replaceChildren(...state.options.styles.map((st) => el("button", {
    class: `style-card${s.source === "procedural" && s.style === st.name ? " selected" : ""}`, type: "button",
    title: st.description, "data-style": st.name,
    onclick: () => { state.shot.scene = { ...state.shot.scene, source: "procedural", style: st.name, path: null }; shotChanged(); },
  }, el("img", { src: st.thumbnail, alt: "", loading: "lazy" }), el("span", {}, title(st.name)))));
  $("#style-blend").textContent = s.source === "procedural" && s.style.includes(",") ? `Blend: ${s.style}` : "";
}

function renderPickList(container, items, isSelected, pick, empty) {
  if (!items.length) { container.replaceChildren(el("div", { class: "empty" }, empty)); return; }
  container.replaceChildren(...items.map((it) => el("button", {
    class: `pick${isSelected(it) ? " selected" : ""}`, type: "button", disabled: it.disabled,
    onclick: () => pick(it),
  }, el("span", {}, it.name), el("span", { class: "sub" }, it.sub))));
}

function renderWorldLists() {
  const s = state.shot.scene;
  const scenes = state.options.scenes.map((sc) => ({ name: sc.name, sub: sc.status === "processed" ? (sc.place || "captured") : sc.status,
    disabled: sc.status !== "processed" }));
  renderPickList($("#scene-list"), scenes, (it) => s.source === "splat" && s.path === it.name,
    (it) => { state.shot.scene = { ...s, source: "splat", path: it.name }; shotChanged(); },
    "No captured places yet. Walk a street with your phone and upload the clip below.");
  const worlds = state.options.worlds.map((w) => ({ name: w.name, sub: `${w.source} · ${(w.bytes / 1048576).toFixed(1)} MB`, source: w.source }));
  renderPickList($("#world-list"), worlds, (it) => s.path === it.name && s.source === it.source,
    (it) => { state.shot.scene = { ...s, source: it.source, path: it.name }; shotChanged(); },
    "No worlds uploaded. OpenStreetMap extracts, glTF/OBJ/PLY models, KMZ and splats work.");
}

function whenMinutes() {
  const w = state.shot.look.when;
  const m = /^(\d{1,2}):(\d{2})$/.exec(w);
  if (m) return Number(m[1]) * 60 + Number(m[2]);
  const t = state.presetTimes[w] || state.localTime;
  if (t) { const [h, mm] = t.split(":").map(Number); return h * 60 + mm; }
  return null;
}

function renderTime() {
  const mins = whenMinutes();
  const slider = $("#time-slider");
  if (mins !== null && document.activeElement !== slider) slider.value = mins;
  const w = state.shot.look.when;
  const label = TIME_LABELS[w] ? `${TIME_LABELS[w]} · ${state.presetTimes[w] || state.localTime || ""}` : (state.localTime || w);
  $("#time-readout").textContent = label;
  $("#time-presets").replaceChildren(...state.options.times.map((t) => el("button", {
    class: `chip${w === t.name ? " selected" : ""}`, type: "button", title: t.description, "data-time": t.name,
    onclick: () => edit("look", { when: t.name }),
  }, TIME_LABELS[t.name] || t.name, state.presetTimes[t.name] ? el("small", {}, state.presetTimes[t.name]) : null)));
}

function renderWeather() {
  const current = typeof state.shot.look.weather === "string" ? state.shot.look.weather : null;
  $("#weather-grid").replaceChildren(...state.options.weathers.map((w) => {
    const b = el("button", { class: `weather${current === w.name ? " selected" : ""}`, type: "button", "data-weather": w.name,
      title: w.name, onclick: () => edit("look", { weather: w.name }) });
    b.innerHTML = SVG(ICONS[w.name] || CLOUD);
    b.append(el("span", {}, WEATHER_LABELS[w.name] || title(w.name)));
    return b;
  }));
}

function renderRigs() {
  const rig = state.shot.camera.rig;
  const rigs = state.options.rigs.filter((r) => r.name !== "keyframes" || rig === "keyframes");
  $("#rig-picker").replaceChildren(...rigs.map((r) => el("button", {
    class: `seg${rig === r.name ? " selected" : ""}`, type: "button", "data-rig": r.name, title: r.description,
    onclick: () => edit("camera", { rig: r.name }),
  }, r.name)));
  const note = state.options.rigs.find((r) => r.name === rig);
  $("#rig-note").textContent = note ? note.description : "";
}

function renderClip() {
  const out = state.shot.output;
  const plan = state.plan;
  const d = $("#duration");
  d.max = Math.max(1, Math.floor(plan.max_duration_s));
  if (document.activeElement !== d) d.value = Math.min(out.duration_s, d.max);
  $("#duration-readout").textContent = fmtS(out.duration_s);
  const sizes = SIZES.filter(([w, h]) => w <= plan.max_width_px && h <= plan.max_height_px);
  const key = `${out.size[0]}x${out.size[1]}`;
  if (!sizes.some(([w, h]) => `${w}x${h}` === key)) sizes.push([out.size[0], out.size[1], `Custom · ${out.size[0]}×${out.size[1]}`]);
  fillSelect($("#size"), sizes.map(([w, h, label]) => [`${w}x${h}`, label]), key);
  const rates = FPS.filter((f) => f <= plan.max_fps);
  if (!rates.includes(out.fps)) rates.push(out.fps);
  fillSelect($("#fps"), rates.map((f) => [String(f), `${f} fps`]), String(out.fps));
  const sc = $("#scrub");
  sc.max = out.duration_s;
  if (state.atS > out.duration_s) state.atS = out.duration_s;
  sc.value = state.atS;
  $("#scrub-readout").textContent = `${Number(state.atS).toFixed(1)} s`;
}

function fillSelect(select, pairs, value) {
  select.replaceChildren(...pairs.map(([v, label]) => el("option", { value: v, selected: v === value }, label)));
}

function renderActors() {
  const current = state.shot.actors[0] ? state.shot.actors[0].likeness : null;
  const none = el("button", { class: `actor${current ? "" : " selected"}`, type: "button", "data-actor": "",
    onclick: () => { state.shot.actors = []; shotChanged(); } }, el("div", { class: "face" }), "Nobody");
  none.querySelector(".face").innerHTML = PERSON;
  const cards = state.options.actors.map((a) => {
    const face = el("div", { class: "face" });
    if (a.thumbnail) face.style.backgroundImage = `url("${a.thumbnail}")`; else face.innerHTML = PERSON;
    return el("button", { class: `actor${current === a.name ? " selected" : ""}`, type: "button", "data-actor": a.name,
      onclick: () => { state.shot.actors = [{ likeness: a.name, placement: $("#placement").value || "ahead",
        distance_m: Number($("#distance").value || 3) }]; shotChanged(); } }, face, a.name);
  });
  $("#actor-list").replaceChildren(none, ...cards);
  const a = state.shot.actors[0];
  $("#actor-placement-row").classList.toggle("hidden", !a);
  fillSelect($("#placement"), state.options.placements.map((p) => [p, title(p)]), a ? a.placement : "ahead");
  fillSelect($("#distance"), [2, 3, 4, 6, 8].map((m) => [String(m), `${m} m`]), a ? String(a.distance_m) : "3");
}

function renderAdvanced() {
  const { scene, look, camera, output } = state.shot;
  const set = (id, v) => { const n = $(id); if (document.activeElement !== n) n.value = v ?? ""; };
  set("#seed", scene.seed); set("#date", look.date); set("#lat", look.lat); set("#lon", look.lon);
  set("#speed", camera.speed_mps); set("#fov", camera.fov_deg);
  $("#extras").replaceChildren(...state.options.extras.map((x) => el("button", {
    class: `chip${output.extras.includes(x) ? " selected" : ""}`, type: "button",
    onclick: () => { const e = new Set(output.extras); e.has(x) ? e.delete(x) : e.add(x); output.extras = [...e]; shotChanged({ preview: false }); },
  }, title(x))));
  if (document.activeElement !== $("#shot-json")) $("#shot-json").value = JSON.stringify(state.shot, null, 2);
}

function renderSummary() {
  const { scene, look, camera, output } = state.shot;
  const world = scene.source === "procedural" ? title(scene.style) : `${scene.path} (${scene.source})`;
  const weather = typeof look.weather === "string" ? (WEATHER_LABELS[look.weather] || look.weather) : "custom weather";
  const summary = $("#shot-summary");
  summary.replaceChildren(el("b", { class: "world" }, world), ` · ${TIME_LABELS[look.when] || look.when} · ${weather} · ${camera.rig} · `,
    el("b", {}, fmtS(output.duration_s)), ` · ${output.size[0]}×${output.size[1]}`);
  $("#render-label").textContent = `Render ${fmtS(output.duration_s)}`;
}

function renderControls() {
  renderStyles(); renderWorldLists(); renderTime(); renderWeather(); renderRigs(); renderClip(); renderActors();
  renderAdvanced(); renderSummary();
}

// ---------------------------------------------------------------- preview
let previewBusy = false, previewDirty = false, previewSeq = 0, lastUrl = null;
function schedulePreview() {
  previewDirty = true;
  if (!previewBusy) runPreview();
}
async function runPreview() {
  previewBusy = true; previewDirty = false;
  $("#preview-dot").classList.add("busy");
  const errBox = $("#preview-error");
  try {
    const r = await api("/preview", { method: "POST", json: { shot: state.shot, at_s: Number(state.atS) }, raw: true });
    const url = URL.createObjectURL(await r.blob());
    const img = $("#preview");
    img.src = url;
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = url;
    img.dataset.seq = String(++previewSeq);
    $("#preview-empty").classList.add("hidden");
    errBox.classList.add("hidden");
    const cached = r.headers.get("X-Preview-Cached") === "1";
    $("#preview-info").textContent = `Live preview · ${cached ? "cached" : `${Math.round(Number(r.headers.get("X-Preview-Ms")))} ms`}`;
    state.localTime = r.headers.get("X-Local-Time");
    const alt = Number(r.headers.get("X-Sun-Altitude-Deg"));
    $("#preview-sun").textContent = `${state.localTime} · sun ${alt >= 0 ? "+" : ""}${alt.toFixed(1)}°`;
    renderTime();
  } catch (e) {
    if (e.status === 429) previewDirty = true;
    errBox.textContent = e.message; errBox.classList.remove("hidden");
    $("#preview-empty").textContent = "No preview";
  } finally {
    previewBusy = false;
    if (previewDirty) setTimeout(runPreview, 30); else $("#preview-dot").classList.remove("busy");
  }
}

async function loadPresetTimes() {
  const { lat, lon, date, tz } = state.shot.look;
  const q = new URLSearchParams({ lat, lon, date });
  if (tz) q.set("tz", tz);
  try {
    const times = await api(`/times?${q}`);
    state.presetTimes = Object.fromEntries(times.map((t) => [t.name, t.local_time]));
    renderTime();
  } catch (_) { /* the form still works without the clock times */ }
}

// ---------------------------------------------------------------- render and jobs
async function startRender() {
  const btn = $("#render");
  const errLine = $("#render-error");
  errLine.classList.add("hidden");
  btn.disabled = true;
  try {
    const job = await api("/jobs", { method: "POST", json: { shot: state.shot } });
    state.activeJob = job.id;
    showProgress(job);
    pollActive();
    refreshGallery();
  } catch (e) {
    errLine.textContent = e.message; errLine.classList.remove("hidden");
    btn.disabled = false;
  }
}

function showProgress(job) {
  $("#render-progress").classList.remove("hidden");
  $("#progress-fill").style.width = `${Math.round(100 * job.fraction)}%`;
  const stage = job.state === "queued" ? `Queued${job.queue_position ? ` · ${job.queue_position} ahead` : ""}` : title(job.stage);
  $("#progress-stage").textContent = `${stage} · ${Math.round(100 * job.fraction)}%`;
  $("#progress-eta").textContent = job.eta_s != null ? `about ${fmtS(job.eta_s)} left` : "";
}

async function pollActive() {
  if (!state.activeJob) return;
  let job;
  try { job = await api(`/jobs/${state.activeJob}`); } catch (_) { setTimeout(pollActive, 1500); return; }
  showProgress(job);
  if (job.state === "done") {
    state.activeJob = null; $("#render").disabled = false;
    $("#progress-stage").textContent = "Done"; $("#progress-eta").textContent = "";
    play(job); refreshGallery();
  } else if (["failed", "cancelled"].includes(job.state)) {
    state.activeJob = null; $("#render").disabled = false;
    $("#render-progress").classList.add("hidden");
    const errLine = $("#render-error");
    errLine.textContent = `Render ${job.state}: ${job.reason || ""}`; errLine.classList.remove("hidden");
    refreshGallery();
  } else setTimeout(pollActive, 500);
}

function play(job) {
  state.playing = job.id;
  $("#player-card").classList.remove("hidden");
  const v = $("#player");
  v.src = job.files.video;
  v.dataset.job = job.id;
  v.play().catch(() => { /* autoplay may be refused; the controls are there */ });
  $("#player-title").textContent = title(job.title);
  const names = { video: "MP4", camera_track: "Camera track", depth: "Depth", frames: "Frames" };
  $("#downloads").replaceChildren(...Object.entries(job.files).filter(([k]) => names[k])
    .map(([k, url]) => el("a", { href: `${url}?download=true` }, names[k])));
  document.querySelectorAll(".shot").forEach((n) => n.classList.toggle("playing", n.dataset.job === job.id));
}

function galleryCard(job) {
  const poster = el("div", { class: "poster" });
  if (job.files.poster) poster.style.backgroundImage = `url("${job.files.poster}")`;
  else poster.textContent = job.state === "queued" ? "Waiting…" : job.state === "running" ? `${Math.round(100 * job.fraction)}%` : "";
  const del = el("button", { class: "btn-icon del", type: "button", title: job.state === "queued" || job.state === "running" ? "Cancel" : "Delete",
    onclick: async (ev) => {
      ev.stopPropagation();
      if (job.state === "queued" || job.state === "running") await api(`/jobs/${job.id}/cancel`, { method: "POST" });
      else await api(`/jobs/${job.id}`, { method: "DELETE" });
      refreshGallery();
    } }, "✕");
  const meta = el("div", { class: "meta" }, el("div", { class: "title", title: job.title }, title(job.title.split(" · ").slice(0, 3).join(" · "))),
    el("div", { class: "when" }, el("span", {}, new Date(job.created_at).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" })),
      el("span", { class: `state ${job.state}` }, job.state)),
    job.reason && job.state !== "done" ? el("div", { class: "why" }, job.reason) : null);
  let bar = null;
  if (job.state === "running") {  // width through the CSSOM: the page's CSP refuses style attributes
    const fill = el("div");
    fill.style.width = `${Math.round(100 * job.fraction)}%`;
    bar = el("div", { class: "bar" }, fill);
  }
  return el("div", { class: `shot${state.playing === job.id ? " playing" : ""}`, "data-job": job.id, role: "button", tabindex: "0",
    onclick: () => { if (job.state === "done") play(job); } }, poster, bar, meta, del);
}

let galleryTimer = null;
async function refreshGallery() {
  clearTimeout(galleryTimer);
  try {
    const { jobs } = await api("/jobs?kind=render&limit=48");
    state.jobs = jobs;
    const g = $("#gallery");
    g.replaceChildren(...(jobs.length ? jobs.map(galleryCard) : [el("div", { class: "empty" }, "Nothing rendered yet — compose a walk and press Render.")]));
    $("#gallery-count").textContent = jobs.length ? `${jobs.length} walk${jobs.length > 1 ? "s" : ""}` : "";
    const active = jobs.filter((j) => j.state === "queued" || j.state === "running");
    $("#queue-state").textContent = active.length ? `${active.length} in the queue` : "";
    galleryTimer = setTimeout(refreshGallery, active.length ? 1500 : 8000);
  } catch (_) { galleryTimer = setTimeout(refreshGallery, 5000); }
}

// ---------------------------------------------------------------- uploads
async function followJob(jobId, status, onDone) {
  const job = await api(`/jobs/${jobId}`);
  if (job.state === "done") { status.textContent = "Done."; onDone(job); return; }
  if (job.state === "failed" || job.state === "cancelled") { status.textContent = job.reason || job.state; status.classList.add("bad"); return; }
  status.textContent = `${title(job.stage)} · ${Math.round(100 * job.fraction)}%`;
  setTimeout(() => followJob(jobId, status, onDone), 1000);
}

function bindUpload(formSel, path, onDone, isJob = true) {
  const form = $(formSel);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = form.querySelector(".form-status");
    status.classList.remove("bad");
    status.textContent = "Uploading…";
    try {
      const res = await api(path, { method: "POST", form: new FormData(form) });
      if (isJob) followJob(res.id, status, onDone); else { status.textContent = "Stored."; onDone(res); }
      form.reset();
    } catch (e) { status.textContent = e.message; status.classList.add("bad"); }
  });
}

async function reloadOptions() {
  state.options = await api("/options");
  state.plan = state.options.plan;
  if (state.shot) renderControls();
}

// ---------------------------------------------------------------- wiring
function bindControls() {
  document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((x) => x.classList.toggle("active", x === t));
    document.querySelectorAll(".tab-panel").forEach((p) => p.classList.toggle("hidden", p.dataset.panel !== t.dataset.tab));
  }));
  $("#time-slider").addEventListener("input", (e) => edit("look", { when: hhmm(Number(e.target.value)) }));
  $("#duration").addEventListener("input", (e) => edit("output", { duration_s: Number(e.target.value) }));
  $("#size").addEventListener("change", (e) => edit("output", { size: e.target.value.split("x").map(Number) }));
  $("#fps").addEventListener("change", (e) => edit("output", { fps: Number(e.target.value) }));
  $("#scrub").addEventListener("input", (e) => { state.atS = Number(e.target.value); renderClip(); schedulePreview(); });
  const actorEdit = () => { if (state.shot.actors[0]) { Object.assign(state.shot.actors[0], { placement: $("#placement").value, distance_m: Number($("#distance").value) }); shotChanged(); } };
  $("#placement").addEventListener("change", actorEdit);
  $("#distance").addEventListener("change", actorEdit);
  const num = (id, section, key, after) => $(id).addEventListener("change", (e) => {
    if (e.target.value === "") return;
    edit(section, { [key]: key === "date" ? e.target.value : Number(e.target.value) });
    if (after) after();
  });
  num("#seed", "scene", "seed"); num("#speed", "camera", "speed_mps"); num("#fov", "camera", "fov_deg");
  num("#lat", "look", "lat", loadPresetTimes); num("#lon", "look", "lon", loadPresetTimes); num("#date", "look", "date", loadPresetTimes);
  $("#shot-json-apply").addEventListener("click", () => {
    try { state.shot = JSON.parse($("#shot-json").value); shotChanged(); } catch (e) { alert(`Not JSON: ${e.message}`); }
  });
  $("#prompt-go").addEventListener("click", fillFromPrompt);
  $("#prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) fillFromPrompt(); });
  $("#render").addEventListener("click", startRender);
  bindUpload("#actor-form", "/actors", async () => reloadOptions());
  bindUpload("#capture-form", "/captures", async () => reloadOptions());
  bindUpload("#world-form", "/worlds", async () => reloadOptions(), false);
}

async function fillFromPrompt() {
  const text = $("#prompt").value.trim();
  if (!text) return;
  const out = $("#prompt-result");
  try {
    const r = await api("/prompt", { method: "POST", json: { text, base: state.shot } });
    state.shot = r.shot;
    out.replaceChildren(...r.understood.map(([said, what]) => el("span", { class: "tag", title: what }, said)),
      ...r.unknown.map((w) => el("span", { class: "tag unknown", title: "not understood" }, w)),
      ...r.notes.map((n) => el("span", { class: "tag note" }, n)));
    shotChanged();
    loadPresetTimes();
  } catch (e) { out.replaceChildren(el("span", { class: "tag unknown" }, e.message)); }
}

function showLogin() {
  const dlg = $("#login");
  if (!dlg.open) dlg.showModal();
}
$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await fetch(`${API}/session`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: $("#login-token").value }) });
  if (r.ok) location.reload();
  else { $("#login-error").textContent = "That token is not accepted."; $("#login-error").classList.remove("hidden"); }
});

async function main() {
  const session = await (await fetch(`${API}/session`)).json();
  if (session.required && !session.authenticated) { showLogin(); return; }
  await reloadOptions();
  state.shot = state.options.default_shot;
  const p = state.plan;
  $("#plan-badge").innerHTML = "";
  $("#plan-badge").append(el("b", {}, p.name), ` plan · up to ${fmtS(p.max_duration_s)} · ${p.max_width_px}×${p.max_height_px}`);
  bindControls();
  renderControls();
  loadPresetTimes();
  schedulePreview();
  refreshGallery();
}
main();
