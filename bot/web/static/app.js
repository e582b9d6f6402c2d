// The gallery (/app): a Telegram Mini App (initData in the URL fragment, sent as
// `Authorization: tma …`) or a browser signed in by a one-time link (the session cookie,
// with the page's CSRF token on every change). Everything comes from the JSON API.
"use strict";

const fragment = new URLSearchParams(location.hash.slice(1));
const initData = fragment.get("tgWebAppData") || "";
const csrf = document.querySelector('meta[name="csrf-token"]').content;
let lang = (fragment.get("tgWebAppLanguage") || navigator.language || "lv").slice(0, 2);
let oldest = null;

const TEXTS = {
  lv: { none: "Vēl nav attēlu. Uzraksti /zime … čatā.", again: "🔁 Vēlreiz", redo: "♻️ Atkārtot", variation: "🔀 V", upscale: "🔍 2×", delete: "🗑", queued: "Pieņemts: #{id}. Attēls atnāks čatā.", deleted: "Izdzēsts.", saved: "Saglabāts.", auth: "Atver galeriju no bota: /galerija", error: "Neizdevās: " },
  ru: { none: "Пока нет картинок. Напишите /zime … в чате.", again: "🔁 Ещё", redo: "♻️ Повторить", variation: "🔀 V", upscale: "🔍 2×", delete: "🗑", queued: "Принято: #{id}. Картинка придёт в чат.", deleted: "Удалено.", saved: "Сохранено.", auth: "Откройте галерею из бота: /galerija", error: "Не удалось: " },
  en: { none: "No pictures yet. Write /zime … in the chat.", again: "🔁 Again", redo: "♻️ Redo", variation: "🔀 V", upscale: "🔍 2×", delete: "🗑", queued: "Queued: #{id}. The picture will arrive in the chat.", deleted: "Deleted.", saved: "Saved.", auth: "Open the gallery from the bot: /galerija", error: "Failed: " },
};
const say = (key, values = {}) => (TEXTS[lang] || TEXTS.en)[key].replace(/\{(\w+)\}/g, (_, k) => values[k]);

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (initData) headers.Authorization = "tma " + initData;
  else if (options.method === "POST") headers["X-CSRF-Token"] = csrf;
  if (options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { ...options, headers, credentials: "same-origin" });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : {};
  if (response.status === 401) throw new Error(say("auth"));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function image(url) {  // fetched with the same auth, shown from a blob
  const headers = initData ? { Authorization: "tma " + initData } : {};
  const response = await fetch(url, { headers, credentials: "same-origin" });
  return response.ok ? URL.createObjectURL(await response.blob()) : "";
}

function message(text) { document.getElementById("message").textContent = text; }

function button(label, onClick, name) {
  const b = document.createElement("button");
  b.textContent = label;
  b.dataset.action = name;
  b.addEventListener("click", onClick);
  return b;
}

async function act(job, name, n) {
  try {
    const body = await api(`/api/jobs/${job.id}/actions/${name}`, { method: "POST", body: JSON.stringify({ n }) });
    message(name === "delete" ? say("deleted") : say("queued", { id: body.id }));
    await reload();
  } catch (e) { message(say("error") + e.message); }
}

async function card(job) {
  const el = document.createElement("article");
  el.className = "card-job";
  el.dataset.job = job.id;
  const head = document.createElement("div");
  const title = document.createElement("b");
  title.textContent = `#${job.id} `;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = job.text;
  const meta = document.createElement("div");
  meta.className = "muted";
  const options = Object.entries(job.options).filter(([key]) => key !== "v").map(([key, value]) => `${key}: ${value}`);
  meta.textContent = [job.status, job.kind, `seed ${job.seed}`, `${job.size[0]}×${job.size[1]}`, ...options].join(" · ");
  head.append(title, text, meta);
  const images = document.createElement("div");
  images.className = "images";
  for (const url of job.images) {
    const img = document.createElement("img");
    img.alt = job.text;
    img.src = await image(url);
    if (job.nsfw) img.classList.add("veiled");
    img.addEventListener("click", () => img.classList.remove("veiled"));
    images.append(img);
  }
  const actions = document.createElement("div");
  actions.className = "actions";
  if (!job.deleted && job.status === "done") {
    actions.append(button(say("again"), () => act(job, "again"), "again"));
    actions.append(button(say("redo"), () => act(job, "redo"), "redo"));
    for (let n = 1; n <= job.count; n++) {
      const suffix = job.count > 1 ? String(n) : "";
      actions.append(button(say("variation") + suffix, () => act(job, "variation", n), "variation"));
      actions.append(button(say("upscale") + (suffix ? " " + suffix : ""), () => act(job, "upscale", n), "upscale"));
    }
    actions.append(button(say("delete"), () => act(job, "delete"), "delete"));
  }
  el.append(head, images, actions);
  return el;
}

async function page(before) {
  const query = before ? `?limit=20&before=${before}` : "?limit=20";
  const { jobs } = await api("/api/me/jobs" + query);
  const gallery = document.getElementById("gallery");
  for (const job of jobs) gallery.append(await card(job));
  if (jobs.length) oldest = jobs[jobs.length - 1].id;
  document.getElementById("more").hidden = jobs.length < 20;
  return jobs.length;
}

async function reload() {
  document.getElementById("gallery").replaceChildren();
  oldest = null;
  const n = await page(null);
  if (!n) message(say("none"));
}

async function loadSettings() {
  const { settings } = await api("/api/me/settings");
  if (settings.language) lang = settings.language;
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
  } catch (e) { message(say("error") + e.message); }
});
document.getElementById("more").addEventListener("click", () => page(oldest));

(async () => {
  try {
    await loadSettings();
    message("");
    await reload();
    document.body.dataset.ready = "1";
  } catch (e) { message(e.message); document.body.dataset.ready = "error"; }
})();
