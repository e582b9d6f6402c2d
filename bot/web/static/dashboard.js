// The dashboard's only script (the Content-Security-Policy allows no inline script):
// flagged pictures stay blurred until clicked, and a job page that is still waiting or
// drawing follows the job's event stream (the session cookie) and shows its picture once
// it is done.
"use strict";

document.addEventListener("click", (event) => {
  const img = event.target.closest("img.veiled");
  if (img) {
    event.preventDefault();
    img.classList.remove("veiled");
  }
});

async function followJob(status) {
  const progress = document.getElementById("job-progress");
  const response = await fetch(status.dataset.events, { credentials: "same-origin" });
  if (!response.ok || !response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let last = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const parts = buffer.split("\n\n");
    buffer = parts.pop();
    for (const part of parts) {
      const line = part.split("\n").find((l) => l.startsWith("data: "));
      if (!line) continue;
      last = JSON.parse(line.slice(6));
      status.textContent = last.status;
      status.className = `status ${last.status}`;
      if (progress) {
        progress.textContent = last.status === "running" ? `Drawing: ${last.percent} %` : last.position ? `Queued: ${last.position}` : last.status;
      }
    }
  }
  if (last && last.status === "done") location.reload();
}

const status = document.querySelector("#job-status[data-events]");
if (status) followJob(status);
