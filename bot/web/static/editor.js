// "Labot apgabalu": paint over the part of a picture to redraw (pointer events: a finger
// and a mouse alike), say what to draw there, and send it. The strokes live on a canvas of
// the picture's own size laid over it; the mask sent is that canvas as black and white
// (painted: white), a PNG of the picture's size.
"use strict";

(() => {
  const zime = window.zime;
  const canvas = document.getElementById("editor-canvas");
  const picture = document.getElementById("editor-picture");
  const ctx = canvas.getContext("2d");
  let size = 0.06; // of the picture's width
  let erasing = false;
  let drawing = null; // the pointer painting now
  let history = [];
  let target = null; // { job, n }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
  }

  function pen() {
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.lineWidth = Math.max(2, size * canvas.width);
    ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "rgba(255, 64, 64, 0.55)";
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    history.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    if (history.length > 30) history.shift();
    drawing = event.pointerId;
    pen();
    const [x, y] = point(event);
    ctx.beginPath();
    ctx.arc(x, y, ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    ctx.beginPath();
    ctx.moveTo(x, y);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (drawing !== event.pointerId) return;
    const [x, y] = point(event);
    ctx.lineTo(x, y);
    ctx.stroke();
  });
  for (const end of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(end, (event) => { if (drawing === event.pointerId) drawing = null; });
  }

  for (const b of document.querySelectorAll("#editor [data-size]")) {
    b.addEventListener("click", () => {
      size = Number(b.dataset.size);
      erasing = false;
      for (const o of document.querySelectorAll("#editor .tools button")) o.classList.toggle("on", o === b);
    });
  }
  document.getElementById("editor-eraser").addEventListener("click", (event) => {
    erasing = !erasing;
    event.target.classList.toggle("on", erasing);
  });
  document.getElementById("editor-undo").addEventListener("click", () => {
    const last = history.pop();
    if (last) ctx.putImageData(last, 0, 0);
  });
  document.getElementById("editor-clear").addEventListener("click", () => {
    history.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  });
  document.getElementById("editor-cancel").addEventListener("click", () => zime.back());

  function mask() { // painted pixels white, the rest black, at the picture's size
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const o = out.getContext("2d");
    const strokes = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const bw = o.createImageData(canvas.width, canvas.height);
    for (let i = 0; i < strokes.data.length; i += 4) {
      const v = strokes.data[i + 3] > 0 ? 255 : 0;
      bw.data[i] = bw.data[i + 1] = bw.data[i + 2] = v;
      bw.data[i + 3] = 255;
    }
    o.putImageData(bw, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }

  document.getElementById("editor-draw").addEventListener("click", async () => {
    if (!target) return;
    const form = new FormData();
    form.append("mask", await mask(), "mask.png");
    form.append("text", document.getElementById("editor-text").value);
    form.append("n", String(target.n));
    try {
      const body = await zime.api(`/api/jobs/${target.job.id}/edit`, { method: "POST", body: form });
      zime.show("home");
      await zime.arrived(body.id);
    } catch (e) { zime.message(zime.say("failed", { error: e.message })); zime.show("home"); }
  });

  zime.openEditor = async (job, n) => {
    target = { job, n };
    const url = job.count > 1 ? `/api/jobs/${job.id}/images/${n}` : `/api/jobs/${job.id}/images/0`;
    picture.src = await zime.blob(url);
    await picture.decode();
    canvas.width = picture.naturalWidth;
    canvas.height = picture.naturalHeight;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    history = [];
    document.getElementById("editor-text").value = "";
    zime.show("editor");
  };
})();
