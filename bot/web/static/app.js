// The gallery (/app): a Telegram Mini App (initData in the URL fragment, sent as
// `Authorization: tma …`) or a browser signed in by a one-time link (the session cookie,
// with the page's CSRF token on every change). Everything comes from the JSON API, every
// word in the user's Zīme language (the server's catalogs). A grid of thumbnails, a viewer
// with the picture full size and its actions, live progress over Server-Sent Events, and
// the region editor (editor.js).
"use strict";

const fragment = new URLSearchParams(location.hash.slice(1));
const initData = fragment.get("tgWebAppData") || "";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const zime = (window.zime = { lang: "lv", texts: {}, jobs: new Map(), following: new Set() });
const FOLLOW_MAX = 4; // the server's event streams per user
let oldest = null;
let loading = false;

const say = (key, values = {}) => (zime.texts[key] || key).replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");
zime.say = say;

function authHeaders() {
  const headers = { "Accept-Language": zime.lang };
  if (initData) headers.Authorization = "tma " + initData;
  return headers;
}
zime.authHeaders = authHeaders;

async function api(path, options = {}) {
  const headers = { ...authHeaders(), ...(options.headers || {}) };
  if (!initData && options.method === "POST") headers["X-CSRF-Token"] = csrf;
  if (options.body && !(options.body instanceof FormData)) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : {};
  if (response.status === 401) throw new Error(say("auth"));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}
zime.api = api;

async function blob(url) { // fetched with the same auth, shown from a blob
  const response = await fetch(url, { headers: authHeaders(), credentials: "same-origin" });
  return response.ok ? URL.createObjectURL(await response.blob()) : "";
}
zime.blob = blob;

function message(text) { document.getElementById("message").textContent = text; }
zime.message = message;

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

// Telegram: theme colours and the back button (the client's own, or ours in a browser)
function postEvent(type, data = {}) {
  const proxy = window.TelegramWebviewProxy;
  if (proxy) proxy.postEvent(type, JSON.stringify(data));
  else if (window.parent !== window) window.parent.postMessage(JSON.stringify({ eventType: type, eventData: data }), "*");
}
window.Telegram = { WebView: { receiveEvent: (type) => { if (type === "back_button_pressed") back(); } } };
window.addEventListener("message", (event) => {
  try { if (JSON.parse(event.data).eventType === "back_button_pressed") back(); } catch (e) { /* not ours */ }
});
function theme() {
  let params = {};
  try { params = JSON.parse(fragment.get("tgWebAppThemeParams") || "{}"); } catch (e) { params = {}; }
  const map = { bg_color: "--bg", text_color: "--fg", hint_color: "--muted", button_color: "--accent", secondary_bg_color: "--card" };
  for (const [key, variable] of Object.entries(map)) if (params[key]) document.documentElement.style.setProperty(variable, params[key]);
  postEvent("web_app_ready");
}

// screens: the gallery, the viewer of one picture, the region editor
const screens = ["home", "viewer", "editor"];
function show(name) {
  for (const s of screens) document.getElementById(s).hidden = s !== name;
  const deeper = name !== "home";
  document.getElementById("back").hidden = !deeper || !!initData;
  postEvent("web_app_setup_back_button", { is_visible: deeper });
  document.body.dataset.screen = name;
  window.scrollTo(0, 0);
}
zime.show = show;
function back() {
  const now = document.body.dataset.screen;
  if (now === "editor") show("viewer");
  else if (now === "viewer") show("home");
}
zime.back = back;

// the grid
function statusLine(job, state) {
  if (state && state.status === "queued") return state.position ? say("queued", { position: state.position }) : "…";
  if (state && state.status === "running") return say("drawing", { percent: state.percent });
  return job.status_text || job.status;
}

async function card(job) {
  const node = el("article", { className: "card-job" });
  node.dataset.job = job.id;
  node.dataset.status = job.status;
  if (job.thumb) {
    const img = el("img", { alt: job.text, loading: "lazy" });
    img.src = await blob(job.thumb);
    if (job.nsfw) img.classList.add("veiled");
    node.append(img);
  } else {
    node.append(el("div", { className: "pending" }, el("span", { className: "state", textContent: statusLine(job) })));
  }
  node.append(el("span", { className: "caption", textContent: job.text }));
  node.addEventListener("click", () => openViewer(job.id));
  return node;
}

async function place(job, first = false) {
  zime.jobs.set(job.id, job);
  const gallery = document.getElementById("gallery");
  const fresh = await card(job);
  const old = gallery.querySelector(`[data-job="${job.id}"]`);
  if (old) old.replaceWith(fresh);
  else if (first) gallery.prepend(fresh);
  else gallery.append(fresh);
  if (job.status === "queued" || job.status === "running") follow(job.id);
  return fresh;
}

async function fetchJob(id) { return api(`/api/jobs/${id}?lang=${zime.lang}`); }

// live progress: the job's event stream until its final state, then its picture
async function follow(id) {
  if (zime.following.has(id) || zime.following.size >= FOLLOW_MAX) return;
  zime.following.add(id);
  try {
    await window.readEvents(`/api/jobs/${id}/events`, authHeaders(), (state) => progress(id, state));
  } catch (e) { /* the page goes on; a reload shows the state */ } finally {
    zime.following.delete(id);
  }
  const job = await fetchJob(id);
  await place(job);
  if (document.body.dataset.screen === "viewer" && zime.viewing === id) openViewer(id);
}

function progress(id, state) {
  const job = zime.jobs.get(id);
  if (!job) return;
  const node = document.querySelector(`#gallery [data-job="${id}"] .state`);
  if (node) node.textContent = statusLine(job, state);
  if (zime.viewing === id) document.getElementById("viewer-status").textContent = statusLine(job, state);
}

// a new job from an action or an edit: in the grid at once, followed to its picture
async function arrived(id) {
  const job = await fetchJob(id);
  await place(job, true);
  message(say("queued_new", { id }));
  return job;
}
zime.arrived = arrived;

// the viewer
async function openViewer(id) {
  const job = zime.jobs.get(id) || (await fetchJob(id));
  zime.jobs.set(id, job);
  zime.viewing = id;
  const pictures = document.getElementById("viewer-pictures");
  pictures.replaceChildren();
  for (const url of job.images) {
    const img = el("img", { alt: job.text, className: "full" });
    img.src = await blob(url);
    if (job.nsfw) img.classList.add("veiled");
    img.addEventListener("click", () => { if (img.classList.contains("veiled")) img.classList.remove("veiled"); else img.classList.toggle("zoomed"); });
    pictures.append(img);
  }
  document.getElementById("viewer-text").textContent = job.text;
  const meta = [job.options_text, say("model_line", { model: job.model_name }), say("seed", { seed: job.seed })];
  document.getElementById("viewer-meta").textContent = meta.filter(Boolean).join(" · ");
  document.getElementById("viewer-status").textContent = statusLine(job);
  const actions = document.getElementById("viewer-actions");
  actions.replaceChildren();
  zime.clearDescribed();
  if (job.status === "done" && !job.deleted) {
    const button = (key, name, n, label) => {
      const b = el("button", { textContent: label || say(key) });
      b.dataset.action = name;
      if (n) b.dataset.n = n;
      b.addEventListener("click", () => act(job, name, n));
      actions.append(b);
    };
    button("again", "again");
    button("redo", "redo");
    for (let n = 1; n <= job.count; n++) {
      const suffix = job.count > 1 ? ` ${n}` : "";
      button("variation", "variation", n, say("variation") + suffix);
      button("upscale", "upscale", n, say("upscale") + suffix);
      button("zoom", "zoom", n, say("zoom") + suffix);
      const edit = el("button", { textContent: say("edit") + suffix });
      edit.dataset.action = "edit";
      edit.addEventListener("click", () => zime.openEditor(job, n));
      const describe = el("button", { textContent: say("describe") + suffix });
      describe.dataset.action = "describe";
      describe.addEventListener("click", () => zime.describe(job, n));
      actions.append(edit, describe);
    }
    button("delete", "delete");
  }
  show("viewer");
}
zime.openViewer = openViewer;

async function act(job, name, n) {
  try {
    const body = await api(`/api/jobs/${job.id}/actions/${name}`, { method: "POST", body: JSON.stringify({ n }) });
    if (name === "delete") {
      document.querySelector(`#gallery [data-job="${job.id}"]`)?.remove();
      zime.jobs.delete(job.id);
      message(say("deleted"));
      show("home");
      return;
    }
    show("home");
    await arrived(body.id);
  } catch (e) { message(say("failed", { error: e.message })); show("home"); }
}

// paging by scrolling
async function page() {
  if (loading) return 0;
  loading = true;
  try {
    const query = `?limit=20&lang=${zime.lang}` + (oldest ? `&before=${oldest}` : "");
    const { jobs } = await api("/api/me/jobs" + query);
    for (const job of jobs) await place(job);
    if (jobs.length) oldest = jobs[jobs.length - 1].id;
    document.getElementById("more").hidden = jobs.length < 20;
    return jobs.length;
  } finally { loading = false; }
}

async function loadSettings() {
  const browser = (navigator.language || "").slice(0, 2);
  const { settings, lang, texts } = await api(`/api/me/settings?browser=${browser}`);
  zime.lang = lang;
  zime.texts = texts;
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = say(node.dataset.t);
  document.getElementById("editor-text").placeholder = say("what");
  const form = document.getElementById("settings");
  form.count.value = String(settings.count || 1);
  form.aspect.value = settings.aspect ? settings.aspect.join(":") : "";
  form.private.checked = !!settings.private;
  form.language.value = settings.language || "";
  form.model.value = settings.model || "";
  form.fast.checked = !!settings.fast;
}

document.getElementById("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { count: Number(form.count.value), aspect: form.aspect.value || null, private: form.private.checked, language: form.language.value || null, model: form.model.value.trim() || null, fast: form.fast.checked };
  try {
    await api("/api/me/settings", { method: "POST", body: JSON.stringify(body) });
    message(say("saved"));
  } catch (e) { message(say("failed", { error: e.message })); }
});
document.getElementById("more").addEventListener("click", () => page());
document.getElementById("back").addEventListener("click", back);
new IntersectionObserver((entries) => {
  if (entries.some((e) => e.isIntersecting) && oldest && !document.getElementById("more").hidden) page();
}).observe(document.getElementById("sentinel"));

(async () => {
  theme();
  show("home");
  try {
    await loadSettings();
    message("");
    if (!(await page())) message(say("none"));
    const edit = Number(new URLSearchParams(location.search).get("edit") || 0);
    if (edit) { await openViewer(edit); zime.openEditor(zime.jobs.get(edit), 1); }
    document.body.dataset.ready = "1";
  } catch (e) { message(e.message); document.body.dataset.ready = "error"; }
})();
