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
  const last = await window.readEvents(status.dataset.events, {}, (state) => {
    status.textContent = state.status;
    status.className = `status ${state.status}`;
    if (progress) {
      progress.textContent = state.status === "running" ? `Drawing: ${state.percent} %` : state.position ? `Queued: ${state.position}` : state.status;
    }
  });
  if (last && last.status === "done") location.reload();
}

const status = document.querySelector("#job-status[data-events]");
if (status) followJob(status);
