// 📝 in the viewer (/apraksti, issue #34): four Latvian prompts for image n of the picture,
// the picture's own text first, each drawn with one tap as the user's own request; the new
// job appears in the gallery and follows its progress like any other.
"use strict";

(() => {
  const zime = window.zime;
  const box = document.getElementById("viewer-described");

  function clear() {
    box.replaceChildren();
    box.hidden = true;
  }

  function say(text) {
    box.replaceChildren(Object.assign(document.createElement("p"), { textContent: text }));
    box.hidden = false;
  }

  async function draw(description, job, n) {
    try {
      const body = JSON.stringify({ n, job: job.id });
      const { id } = await zime.api(`/api/descriptions/${description}/draw`, { method: "POST", body });
      zime.show("home");
      await zime.arrived(id);
    } catch (e) { say(zime.say("failed", { error: e.message })); }
  }

  async function describe(job, n) {
    say("…");
    try {
      const body = JSON.stringify({ n });
      const { id, prompts } = await zime.api(`/api/jobs/${job.id}/describe`, { method: "POST", body });
      say(zime.say("four"));
      prompts.forEach((text, i) => {
        const row = Object.assign(document.createElement("div"), { className: "prompt" });
        const words = Object.assign(document.createElement("span"), { textContent: `${i + 1}. ${text}` });
        const button = Object.assign(document.createElement("button"), { textContent: `${zime.say("draw")} ${i + 1}` });
        button.dataset.prompt = String(i + 1);
        button.addEventListener("click", () => draw(id, job, i + 1));
        row.append(words, button);
        box.append(row);
      });
    } catch (e) { say(zime.say("failed", { error: e.message })); }
  }

  zime.describe = describe;
  zime.clearDescribed = clear;
})();
